import { chmod, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, receiver, type Received } from '../../test/helpers/alerts.js';
import { startTestGatehouse, type TestGatehouse } from '../../test/helpers/gatehouse.js';
import { startServer, type TestServer } from '../../test/helpers/net.js';
import type { BenchContext } from '../lib/context.js';
import { disownDir, own, ownDir } from '../lib/cleanup.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, round, sleep } from '../lib/stats.js';

/** The rule's hold time (N). */
const HOLD_S = 5;
/** The service's health check interval (how soon Gatehouse can know). */
const HEALTH_INTERVAL = '500ms';
const ROUNDS = 5;
/** Give up on one round after this long (the figure is then this: a MISS). */
const GIVE_UP_MS = 30_000;
const POLL_MS = 5;

/** Waits until the receiver holds a message whose title starts with `prefix` past index `from`. */
async function arrived(got: Received[], from: number, prefix: string, t0: number): Promise<number> {
  while (performance.now() - t0 < GIVE_UP_MS) {
    if (got.slice(from).some((g) => String(json(g.body).title).startsWith(prefix)))
      return performance.now() - t0;
    await sleep(POLL_MS);
  }
  return GIVE_UP_MS;
}

/**
 * P20 (issue 18): an upstream goes down → the alert arrives at a local webhook receiver: ≤ N s + 1 s,
 * N the rule's hold time. A real Gatehouse (nginx) proxies a service whose one backend is health
 * checked every 500 ms; the upstream_down rule holds for 5 s and goes to a webhook channel on
 * loopback. Each round stops the backend (closes its socket), times until the [FIRING] message is
 * received, starts it again on the same port and waits for [RESOLVED].
 */
export async function p20(_ctx: BenchContext): Promise<CaseResult> {
  const runDir = await mkdtemp(join(tmpdir(), 'gh-bench-p20-'));
  ownDir(runDir);
  await chmod(runDir, 0o711);
  const before = process.env.GATEHOUSE_TEST_RUN_DIR;
  process.env.GATEHOUSE_TEST_RUN_DIR = runDir;
  let t: TestGatehouse | undefined;
  let hook: { url: string; got: Received[]; server: Server } | undefined;
  let app: TestServer | undefined;
  const fire: number[] = [];
  const resolve: number[] = [];
  const notes: string[] = [];
  const backend = (port = 0) => startServer((_req, res) => res.writeHead(200).end('ok'), port);
  try {
    t = await startTestGatehouse({ base_domain: 'p20.test' });
    const nginxPid = t.gh.edge.getStatus().proxy.pid;
    if (nginxPid !== undefined) own(nginxPid);
    hook = await receiver();
    const ch = await t.api('POST', '/api/v1/alert-channels', {
      name: 'hook',
      type: 'webhook',
      url: `${hook.url}/in`,
    });
    if (ch.status !== 201) throw new Error(`P20: channel refused: ${ch.body}`);
    const r = await t.api('PUT', '/api/v1/alert-rules/upstream_down', { hold_s: HOLD_S });
    if (r.status !== 200) throw new Error(`P20: rule refused: ${r.body}`);
    app = await backend();
    const port = app.port;
    const put = await t.api('PUT', '/api/v1/services/app?wait=true', {
      hosts: ['app.p20.test'],
      routes: [
        {
          upstreams: [`127.0.0.1:${port}`],
          health: { path: '/health', interval: HEALTH_INTERVAL, timeout: '400ms' },
        },
      ],
    });
    if (put.status !== 201) throw new Error(`P20: service refused: ${put.body}`);
    await sleep(1000);
    for (let i = 0; i < ROUNDS; i++) {
      const from = hook.got.length;
      const t0 = performance.now();
      await app?.close();
      app = undefined;
      const f = await arrived(hook.got, from, '[FIRING] Upstream down', t0);
      fire.push(round(f));
      if (f >= GIVE_UP_MS) notes.push(`P20: round ${i + 1}: no firing alert within ${GIVE_UP_MS} ms`);
      const t1 = performance.now();
      app = await backend(port);
      const rs = await arrived(hook.got, from, '[RESOLVED] Upstream down', t1);
      resolve.push(round(rs));
      if (rs >= GIVE_UP_MS) notes.push(`P20: round ${i + 1}: no resolved message within ${GIVE_UP_MS} ms`);
      await sleep(500);
    }
    const firing = hook.got.filter((g) => String(json(g.body).title).startsWith('[FIRING]')).length;
    if (firing !== ROUNDS) notes.push(`P20: ${firing} firing messages for ${ROUNDS} outages (want one each)`);
  } finally {
    await app?.close();
    hook?.server.closeAllConnections();
    hook?.server.close();
    await t?.close();
    if (before === undefined) delete process.env.GATEHOUSE_TEST_RUN_DIR;
    else process.env.GATEHOUSE_TEST_RUN_DIR = before;
    await rm(runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    disownDir(runDir);
  }
  const rows: Row[] = [
    {
      id: 'P20',
      measure: `upstream down → firing alert at a local webhook, hold N = ${HOLD_S} s (health check ${HEALTH_INTERVAL}), max`,
      value: Math.max(...fire),
      unit: 'ms',
      goal: { op: '<=', value: HOLD_S * 1000 + 1000 },
      detail: `median ${median(fire)} ms; rounds: ${fire.join(', ')} ms`,
    },
    {
      id: 'P20',
      measure: 'upstream back → resolved message at the webhook (no hold), max',
      value: Math.max(...resolve),
      unit: 'ms',
      detail: `median ${median(resolve)} ms; rounds: ${resolve.join(', ')} ms`,
    },
  ];
  return {
    rows,
    notes,
    data: { holdS: HOLD_S, healthInterval: HEALTH_INTERVAL, fireMs: fire, resolveMs: resolve },
  };
}
