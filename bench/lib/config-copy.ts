import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { disownDir, own, ownDir, stopChild } from './cleanup.js';
import type { BenchGatehouse } from './gatehouse.js';
import { freePort, httpRequest } from './http.js';
import { sleep } from './stats.js';

export interface ConfigCopy {
  port: number;
  stop: () => Promise<void>;
}

/**
 * A copy of the Gatehouse's live nginx config in a prefix of its own, on its own port: the same
 * routes and Lua, each generated file passed through `edit` (which turns something off to compare
 * with). Serving once `probeHost` answers 200. Our child; `label` names it in errors. `dataFiles`:
 * files of the data dir the config reads (CrowdSec's decisions), copied to the same place.
 */
export async function startConfigCopy(
  bg: BenchGatehouse,
  label: string,
  probeHost: string,
  edit: (text: string, file: string) => string,
  dataFiles: string[] = [],
): Promise<ConfigCopy> {
  const dir = await mkdtemp(join(tmpdir(), `gh-copy-${label}-`));
  ownDir(dir);
  // nginx's workers run as nobody when started as root: they must reach the prefix.
  await chmod(dir, 0o755);
  const dataDir = bg.gh.settings.data_dir;
  const prefix = join(dataDir, 'nginx');
  const gen = await realpath(join(prefix, 'current'));
  await cp(gen, join(dir, 'gen'), { recursive: true });
  for (const d of ['logs', 'run', 'sock', 'tmp', 'data'])
    await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  for (const f of dataFiles) {
    await mkdir(dirname(join(dir, 'data', f)), { recursive: true, mode: 0o755 });
    await cp(join(dataDir, f), join(dir, 'data', f));
  }
  const port = await freePort();
  const listen = new RegExp(`listen (\\[::\\]:)?${bg.httpPort}\\b`, 'g');
  for (const name of await readdir(join(dir, 'gen'))) {
    const file = join(dir, 'gen', name);
    const text = (await readFile(file, 'utf8'))
      .split(gen)
      .join(join(dir, 'gen'))
      .split(prefix)
      .join(dir)
      .split(dataDir)
      .join(join(dir, 'data'))
      .replace(listen, (_m, v6: string | undefined) => `listen ${v6 ?? ''}${port}`);
    await writeFile(file, edit(text, name));
  }
  const conf = join(dir, 'gen', 'nginx.conf');
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  if (child.pid === undefined) throw new Error(`${label}: nginx did not start`);
  own(child.pid);
  const stop = async () => {
    await stopChild(child, 'SIGQUIT');
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await httpRequest(port, { host: probeHost, timeoutMs: 2000 }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return { port, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${label}: the copy of nginx is not serving (${status}): ${stderr.slice(-1000)}`);
    }
    await sleep(100);
  }
}
