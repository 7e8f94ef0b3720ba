import { execFile, execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLS_LUA } from '../../src/drivers/nginx/tls-lua.js';
import { tlsCertLines, tlsHttp, tlsInit, tlsState } from '../../src/drivers/nginx/tls-dynamic.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import type { BenchContext } from '../lib/context.js';
import { disownDir, own, ownDir, stopChild } from '../lib/cleanup.js';
import { freePort } from '../lib/http.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, round, sleep } from '../lib/stats.js';
import { parseWrk, type WrkResult } from '../lib/wrk.js';

const ROUNDS = 6;
const SECONDS = 3;
/** wrk sends the URL's host as SNI: the Lua table is keyed by it. */
const SNI = '127.0.0.1';

/**
 * P13: new TLS handshakes per second, certificate chosen per handshake by Gatehouse's Lua
 * (`ssl_certificate_by_lua`, the table in shared memory, parsed certificates cached per worker) ÷
 * the same certificate named in the config (`ssl_certificate`). One nginx, one worker, two ports
 * that differ only in that; `return 200` (no upstream), `Connection: close` on every request and no
 * session resumption, so each request is a full handshake. wrk's own handshakes share the machine:
 * the ratio understates the server-side cost a little.
 */
export async function p13(_ctx: BenchContext): Promise<CaseResult> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-tls-'));
  ownDir(dir);
  const rows: Row[] = [];
  const notes: string[] = [];
  const data: Record<string, unknown> = {};
  try {
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'tmp'), { mode: 0o755 });
    await mkdir(join(dir, 'keys'), { mode: 0o700 });
    for (const kind of ['ec', 'rsa'] as const) {
      const { master, staticPort, luaPort, stop } = await startTlsNginx(dir, kind);
      try {
        const runs = await alternateTls(master, staticPort, luaPort);
        const ratios = runs.lua.map((r, i) => r.rps / (runs.static[i]?.rps ?? NaN));
        const errors = [...runs.lua, ...runs.static].reduce((n, r) => n + r.non2xx + r.socketErrors, 0);
        if (errors > 0) notes.push(`P13 ${kind}: ${errors} errors during load`);
        data[kind] = runs;
        const name = kind === 'ec' ? 'ECDSA P-256' : 'RSA 2048';
        const cpuRatios = runs.lua.map((r, i) => r.perCpuSecond / (runs.static[i]?.perCpuSecond ?? NaN));
        const med = (xs: TlsRun[], f: (r: TlsRun) => number) => round(median(xs.map(f)));
        rows.push(
          {
            id: 'P13',
            measure: `new TLS handshakes/s, Lua-chosen ÷ config certificate (${name})`,
            value: round(median(ratios), 3),
            unit: 'ratio',
            goal: { op: '>=', value: 0.9 },
            detail: `median of ${ROUNDS} paired ${SECONDS}s rounds; Lua ${med(runs.lua, (r) => r.rps)}/s, config ${med(runs.static, (r) => r.rps)}/s`,
          },
          {
            id: 'P13',
            measure: `handshakes per worker CPU second, Lua ÷ config (${name})`,
            value: round(median(cpuRatios), 3),
            unit: 'ratio',
            goal: { op: '>=', value: 0.9 },
            detail: `the same rounds, nginx worker CPU from /proc (steadier on a busy machine); Lua ${med(runs.lua, (r) => r.perCpuSecond)}, config ${med(runs.static, (r) => r.perCpuSecond)}`,
          },
        );
      } finally {
        await stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
  return { rows, notes, data };
}

/** `wrk` over HTTPS to 127.0.0.1 (the URL's host is its SNI), a new connection for each request. */
function wrk(port: number, seconds: number, connections = 16): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '-H',
    'Connection: close',
    `https://${SNI}:${port}/`,
  ];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk: ${err.message} ${stderr}`.trim()));
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(new Error(`wrk: ${(e as Error).message}\n${stdout}`));
      }
    });
  });
}

/** CPU time (user + system, in clock ticks) nginx's worker has used: its cost, whatever else runs. */
function workerTicks(master: number): number {
  const kids = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/);
  return kids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return sum + Number(fields[11]) + Number(fields[12]);
  }, 0);
}

interface TlsRun extends WrkResult {
  /** Handshakes (requests) per second of the worker's CPU time. */
  perCpuSecond: number;
}

async function alternateTls(master: number, staticPort: number, luaPort: number) {
  await wrk(staticPort, 1);
  await wrk(luaPort, 1);
  const runs = { static: [] as TlsRun[], lua: [] as TlsRun[] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (['static', 'lua'] as const) : (['lua', 'static'] as const);
    for (const which of order) {
      const t0 = workerTicks(master);
      const res = await wrk(which === 'static' ? staticPort : luaPort, SECONDS);
      const cpuSeconds = (workerTicks(master) - t0) / 100;
      runs[which].push({ ...res, perCpuSecond: res.requests / cpuSeconds });
    }
  }
  return runs;
}

async function startTlsNginx(
  dir: string,
  kind: 'ec' | 'rsa',
): Promise<{ master: number; staticPort: number; luaPort: number; stop: () => Promise<void> }> {
  const keys = join(dir, 'keys');
  const newkey =
    kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const cert = join(keys, 'bench.crt');
  const key = join(keys, 'bench.key');
  execFileSync(
    'openssl',
    ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${SNI}`],
    {
      stdio: 'pipe',
    },
  );
  const pem = await readFile(cert, 'utf8');
  const fp = new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
  await writeFile(join(keys, `${fp}.crt`), pem);
  await writeFile(join(keys, `${fp}.key`), await readFile(key), { mode: 0o600 });
  await writeFile(join(keys, 'fallback.crt'), pem);
  await writeFile(join(keys, 'fallback.key'), await readFile(key), { mode: 0o600 });
  const gen = join(dir, kind);
  await mkdir(gen, { recursive: true });
  await writeFile(join(gen, 'tls.lua'), TLS_LUA);
  await writeFile(join(gen, 'tls.tsv'), tlsState({ certOf: new Map([[SNI, fp]]) }));
  const env: RenderEnv = {
    prefix: dir,
    genDir: gen,
    statusSocket: join(dir, 'status.sock'),
    generation: kind,
    modulesDir: '/usr/lib/nginx/modules',
    workers: 1,
    tlsDir: keys,
  };
  const [staticPort, luaPort] = [await freePort(), await freePort()];
  const common = ['ssl_protocols TLSv1.2 TLSv1.3;', 'ssl_session_cache off;', 'ssl_session_tickets off;'];
  const conf = [
    `load_module ${env.modulesDir}/ndk_http_module.so;`,
    `load_module ${env.modulesDir}/ngx_http_lua_module.so;`,
    'worker_processes 1;',
    `pid ${dir}/${kind}.pid;`,
    'events { worker_connections 4096; }',
    'http {',
    '    access_log off;',
    `    client_body_temp_path ${dir}/tmp/body;`,
    '    lua_package_path "/usr/share/lua/5.1/?.lua;;";',
    ...tlsHttp(1).map((l) => `    ${l}`),
    '    init_by_lua_block {',
    '        require "resty.core"',
    ...tlsInit(env).map((l) => `        ${l}`),
    '    }',
    ...common.map((l) => `    ${l}`),
    '    server {',
    `        listen 127.0.0.1:${staticPort} ssl;`,
    `        ssl_certificate ${cert};`,
    `        ssl_certificate_key ${key};`,
    '        location / { return 200 "ok\\n"; }',
    '    }',
    '    server {',
    `        listen 127.0.0.1:${luaPort} ssl;`,
    ...tlsCertLines(env).map((l) => `        ${l}`),
    '        location / { return 200 "ok\\n"; }',
    '    }',
    '}',
    '',
  ].join('\n');
  const confPath = join(gen, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = spawn(
    'nginx',
    ['-p', dir, '-c', confPath, '-e', join(dir, `${kind}-error.log`), '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  if (child.pid === undefined) throw new Error('P13: nginx did not start');
  own(child.pid);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = () => stopChild(child, 'SIGQUIT');
  // Serving once each port completes a request (a failed handshake is an error, not a wait).
  const deadline = Date.now() + 10_000;
  for (const port of [staticPort, luaPort]) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`P13: nginx exited: ${stderr}`);
      const r = await wrk(port, 1, 1).catch(() => undefined);
      if (r && r.requests > 0 && r.non2xx === 0) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`P13: nginx not serving TLS on ${port}: ${stderr}`);
      }
      await sleep(50);
    }
  }
  return { master: child.pid, staticPort, luaPort, stop };
}
