/**
 * `npm run build && node dist/bench/callgrind.js [requests]`: instructions per request in nginx,
 * counted by valgrind's callgrind, for Gatehouse's route types and the hand-written baselines of P1.
 * Instructions are not seconds, but they are the same from run to run whatever else the machine is
 * doing, so a change to the Lua hot path or the config shows up here when wrk's ratios are noise.
 *
 * Each target runs as one nginx process (`master_process off`) under callgrind. After a warm-up
 * (keepalive pools filled, LuaJIT's traces compiled) the counters are zeroed, `requests` requests
 * are sent over 4 keep-alive connections, and the counters are dumped: the dump ÷ requests is the
 * figure. Gatehouse's config is the one the bench's Gatehouse renders for P1's two services,
 * copied with its paths moved to a directory of its own. CG_KEEP=1 keeps the dumps (for
 * callgrind_annotate) and prints where; CG_ONLY=name,name measures only those targets.
 * CG_LOG=off|old|lua changes Gatehouse's copy: its main access log off, in the text format before
 * issue 18, or with a Lua counter in the log phase (docs/observability.md: what the log costs).
 *
 * Under each figure, where Lua runs, its handlers' share (inclusive, per request): set_by_lua,
 * the balancer (and within it set_current_peer, C), log_by_lua.
 */
import { spawn, execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile, chmod } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addServices, checkLanes, FAST_HOST, FULL_HOST } from './cases/p1.js';
import { startBackend } from './lib/backend.js';
import { disown, disownDir, own, ownDir, stopChild } from './lib/cleanup.js';
import { startBenchGatehouse, NGINX_WORKERS } from './lib/gatehouse.js';
import { handConfig } from './lib/hand-nginx.js';
import { freePort, httpRequest, mapLimit } from './lib/http.js';
import { sleep } from './lib/stats.js';

const run = promisify(execFile);
const WARMUP = 300;

/** The Lua module's entry points, inclusive, as callgrind_annotate names them. */
const LUA_PARTS: [string, string][] = [
  ['set_by_lua', 'ngx_http_lua_filter_set_by_lua_inline'],
  ['balancer', 'ngx_http_lua_balancer_handler_inline'],
  ['set_current_peer', 'ngx_http_lua_ffi_balancer_set_current_peer'],
  ['log_by_lua', 'ngx_http_lua_log_handler'],
];

/** "set_by_lua 2.4k, balancer 3.5k, …" per request from a dump; "" where no Lua ran. */
async function luaParts(dump: string, requests: number): Promise<string> {
  const { stdout } = await run('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const parts: string[] = [];
  for (const [label, fn] of LUA_PARTS) {
    const line = new RegExp(`^\\s*([\\d,]+) \\([^)]*\\)\\s+\\S*:${fn} \\[`, 'm').exec(stdout);
    if (line?.[1])
      parts.push(`${label} ${(Number(line[1].replace(/,/g, '')) / requests / 1000).toFixed(2)}k`);
  }
  return parts.join(', ');
}

interface Target {
  name: string;
  /** The nginx.conf to run and its prefix. */
  conf: string;
  prefix: string;
  port: number;
  host: string;
}

/** Copies Gatehouse's current generation into `dir`, its paths and listen port moved there. */
async function snapshotGatehouse(dir: string, backendPort: number): Promise<{ conf: string; port: number }> {
  const bg = await startBenchGatehouse();
  try {
    await addServices(bg, backendPort);
    await checkLanes(bg);
    const dataDir = bg.gh.settings.data_dir;
    const prefix = join(dataDir, 'nginx');
    const gen = await realpath(join(prefix, 'current'));
    const to = join(dir, 'gh');
    await cp(gen, join(to, 'gen'), { recursive: true });
    for (const d of ['logs', 'run', 'sock', 'tmp'])
      await mkdir(join(to, d), { recursive: true, mode: 0o755 });
    const port = await freePort();
    const listen = new RegExp(`listen (\\[::\\]:)?${bg.httpPort}\\b`, 'g');
    for (const name of await readdir(join(to, 'gen'))) {
      const file = join(to, 'gen', name);
      const text = await readFile(file, 'utf8');
      const moved = text
        .split(gen)
        .join(join(to, 'gen'))
        .split(prefix)
        .join(to)
        .split(dataDir)
        .join(join(to, 'data'))
        .replace(listen, (_m, v6: string | undefined) => `listen ${v6 ?? ''}${port}`)
        .replace(/access_log (\S+\/logs\/access\.log) gh_main ([^;]*);/g, (line) =>
          process.env.CG_LOG === 'off' ? 'access_log off;' : line,
        )
        .replace(/log_format gh_main [^\n]*;/, (line) =>
          process.env.CG_LOG === 'old'
            ? `log_format gh_main '$remote_addr [$time_iso8601] "$host" "$request" $status $body_bytes_sent $request_time';`
            : process.env.CG_LOG === 'lua'
              ? line +
                '\n    log_by_lua_block { local d = ngx.shared.gh_health; local k = (ngx.var.gh_pool or ngx.var.host) .. " " .. ngx.var.status; d:incr(k, 1, 0); d:incr(k .. " t", tonumber(ngx.var.request_time) or 0, 0); d:incr(k .. " b", tonumber(ngx.var.bytes_sent) or 0, 0) }'
              : line,
        );
      await writeFile(file, moved);
    }
    return { conf: join(to, 'gen', 'nginx.conf'), port };
  } finally {
    await bg.close();
  }
}

async function handTargets(dir: string, backendPort: number): Promise<Target[]> {
  const prefix = join(dir, 'hand');
  await mkdir(join(prefix, 'tmp'), { recursive: true, mode: 0o755 });
  const ports = { minimalPort: 0, keepalivePort: 0, forwardingPort: 0, headersPort: 0 };
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const conf = join(prefix, 'nginx.conf');
  await writeFile(conf, handConfig(prefix, { backendPort, workers: NGINX_WORKERS, ...ports }));
  const t = (name: string, port: number): Target => ({ name, conf, prefix, port, host: 'localhost' });
  return [
    t('nginx-keepalive', ports.keepalivePort),
    t('nginx-keepalive-headers', ports.headersPort),
    t('nginx-minimal', ports.minimalPort),
  ];
}

async function untilServing(port: number, host: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited()) throw new Error('nginx under callgrind exited');
    const status = await httpRequest(port, { host, timeoutMs: 5000 }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`nginx under callgrind not serving ${host} (${status})`);
    await sleep(200);
  }
}

async function send(t: Target, n: number, agent: Agent): Promise<void> {
  const statuses = await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    4,
    async () => {
      const r = await httpRequest(t.port, { host: t.host, agent, timeoutMs: 30_000 });
      return r.status;
    },
  );
  const bad = statuses.filter((s) => s !== 200).length;
  if (bad > 0) throw new Error(`${t.name}: ${bad} of ${n} requests did not answer 200`);
}

/** Instructions per request of one target. */
async function measure(t: Target, requests: number, out: string): Promise<{ per: number; lua: string }> {
  const file = join(out, `${t.name}.%p`);
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      // LuaJIT writes machine code and patches it: valgrind must see code change outside the stack.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${file}`,
      'nginx',
      ...['-p', t.prefix, '-c', t.conf, '-e', join(t.prefix, `error-${t.name}.log`)],
      ...['-g', 'daemon off; master_process off;'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('valgrind did not start');
  own(pid);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    await untilServing(t.port, t.host, () => child.exitCode !== null).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${stderr.slice(-2000)}`);
    });
    await send(t, WARMUP, agent);
    await run('callgrind_control', ['-z', String(pid)]);
    await send(t, requests, agent);
    await run('callgrind_control', ['-d', String(pid)]);
    const dump = (await readdir(out)).find((f) => f.startsWith(`${t.name}.${pid}.`));
    if (!dump) throw new Error(`${t.name}: no callgrind dump`);
    const text = await readFile(join(out, dump), 'utf8');
    const total = /^summary: (\d+)/m.exec(text)?.[1];
    if (!total) throw new Error(`${t.name}: no summary in ${dump}`);
    return { per: Number(total) / requests, lua: await luaParts(join(out, dump), requests) };
  } finally {
    agent.destroy();
    await stopChild(child, 'SIGQUIT', 30_000);
    disown(pid);
  }
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 2000);
  if (!Number.isInteger(requests) || requests < 100) throw new Error('requests: an integer ≥ 100');
  const dir = await mkdtemp(join(tmpdir(), 'gh-callgrind-'));
  ownDir(dir);
  // nginx's workers run as nobody when started as root: they must reach the prefix.
  await chmod(dir, 0o755);
  const out = join(dir, 'dumps');
  await mkdir(out);
  const backend = await startBackend();
  try {
    const gh = await snapshotGatehouse(dir, backend.port);
    const prefix = join(dir, 'gh');
    const targets: Target[] = [
      { name: 'gatehouse-fast', conf: gh.conf, prefix, port: gh.port, host: FAST_HOST },
      { name: 'gatehouse-full', conf: gh.conf, prefix, port: gh.port, host: FULL_HOST },
      ...(await handTargets(dir, backend.port)),
    ];
    const only = process.env.CG_ONLY?.split(',');
    for (const t of targets.filter((x) => !only || only.includes(x.name))) {
      const { per, lua } = await measure(t, requests, out);
      process.stdout.write(`${t.name.padEnd(26)} ${Math.round(per).toLocaleString('en')} instr/request\n`);
      if (lua) process.stdout.write(`${''.padEnd(26)} Lua: ${lua}\n`);
    }
  } finally {
    await backend.stop();
    if (process.env.CG_KEEP) {
      process.stdout.write(`dumps kept in ${out}\n`);
      disownDir(dir);
    } else {
      await rm(dir, { recursive: true, force: true });
      disownDir(dir);
    }
  }
}

await main();
