import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseListen, type Settings } from '../model/settings.js';
import { checkDb, openSqlite } from '../store/db.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Diagnostics that need no running Gatehouse: nginx and its modules, ports, data dir, database. */
export async function runDoctor(s: Settings, gatehouseRunning: boolean): Promise<Check[]> {
  const checks: Check[] = [];
  const version = await new Promise<string | undefined>((resolve) =>
    execFile(s.nginx_bin, ['-v'], (err, _out, stderr) => resolve(err ? undefined : stderr.trim())),
  );
  checks.push({
    name: 'nginx',
    ok: !!version,
    detail: version ?? `${s.nginx_bin} not found: run the quick-start installer`,
  });
  for (const mod of ['ngx_stream_module.so', 'ngx_http_js_module.so']) {
    const path = join(s.nginx_modules_dir, mod);
    checks.push({
      name: `module ${mod}`,
      ok: existsSync(path),
      detail: existsSync(path) ? path : `${path} missing`,
    });
  }
  const ports: [string, number | undefined, string | undefined][] = [
    ['HTTP port', s.http_port, undefined],
    ['API listener', parseListen(s.api_listen).port, parseListen(s.api_listen).host],
    ['registration listener', parseListen(s.register_listen).port, parseListen(s.register_listen).host],
  ];
  for (const [name, port, host] of ports) {
    if (!port) continue;
    const free = await portFree(port, host);
    checks.push({
      name,
      ok: free || gatehouseRunning,
      detail: free
        ? `${port} free`
        : gatehouseRunning
          ? `${port} in use (Gatehouse is running)`
          : `${port} is in use by another program`,
    });
  }
  try {
    await mkdir(s.data_dir, { recursive: true });
    const probe = join(s.data_dir, `.doctor-${process.pid}`);
    await writeFile(probe, 'ok');
    await rm(probe);
    accessSync(s.data_dir, constants.W_OK);
    checks.push({ name: 'data dir', ok: true, detail: `${s.data_dir} writable` });
  } catch (err) {
    checks.push({ name: 'data dir', ok: false, detail: `${s.data_dir}: ${(err as Error).message}` });
  }
  checks.push(workerReach(s.data_dir));
  try {
    const db = await openSqlite(join(s.data_dir, 'gatehouse.db'));
    const detail = await checkDb(db);
    await db.destroy();
    checks.push({ name: 'database', ok: true, detail });
  } catch (err) {
    checks.push({ name: 'database', ok: false, detail: (err as Error).message });
  }
  return checks;
}

function portFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * nginx workers run as an unprivileged user and write request buffers below the data dir, so every
 * directory above it must be enterable by others (o+x).
 */
function workerReach(dataDir: string): Check {
  const blocked: string[] = [];
  for (let dir = resolve(dataDir); ; dir = dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) blocked.push(dir);
    } catch {
      // not created yet
    }
    if (dir === dirname(dir)) break;
  }
  return blocked.length
    ? {
        name: 'worker access',
        ok: false,
        detail: `nginx workers cannot enter ${blocked.join(', ')}: chmod o+x, or pick another data dir`,
      }
    : { name: 'worker access', ok: true, detail: 'nginx workers can reach the data dir' };
}
