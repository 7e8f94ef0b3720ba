import { Resolver } from 'node:dns/promises';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBind, type Bind } from '../../test/helpers/bind.js';
import { startTestGatehouse, type TestGatehouse } from '../../test/helpers/gatehouse.js';
import { freePort } from '../../test/helpers/net.js';
import type { BenchContext } from '../lib/context.js';
import { disownDir, own, ownDir } from '../lib/cleanup.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, percentile, round, sleep } from '../lib/stats.js';

const ZONE = 'p18.test';
/** What the public records point at (dns_records_target) and what LAN clients get (lan_dns_address). */
const PUBLIC = '203.0.113.18';
const LAN = '192.168.18.10';
/** Services created one after the other, each timed until both servers answer it. */
const SERVICES = 40;
/** Give up on one service after this long (the figure is then this: a MISS). */
const GIVE_UP_MS = 10_000;
/** How often each server is asked while waiting. */
const POLL_MS = 5;

/** Polls `ask` until it answers exactly `want`; the time from `t0`, or GIVE_UP_MS. */
async function answeredAt(ask: () => Promise<string[]>, want: string, t0: number): Promise<number> {
  while (performance.now() - t0 < GIVE_UP_MS) {
    const got = await ask();
    if (got.length === 1 && got[0] === want) return performance.now() - t0;
    await sleep(POLL_MS);
  }
  return GIVE_UP_MS;
}

/**
 * P18 (issue 17): a service created through the API → its host answered by the LAN resolver (a
 * managed Unbound Gatehouse runs, split horizon) and by the zone's provider (a real BIND, written
 * with RFC 2136 by external records). Each of SERVICES services is created alone and timed until
 * both answer its address (the LAN one on Unbound, the public one on BIND); polled every 5 ms.
 * Unbound forwards every other name to BIND, whose zone wildcard answers 127.0.0.1: before its
 * records exist a host gets that, never the expected address.
 */
export async function p18(_ctx: BenchContext): Promise<CaseResult> {
  // BIND's and the test helpers' temp dirs go here, removed at the end.
  const runDir = await mkdtemp(join(tmpdir(), 'gh-bench-p18-'));
  ownDir(runDir);
  // nginx's workers enter the data dirs below it (they may not list it).
  await chmod(runDir, 0o711);
  const before = process.env.GATEHOUSE_TEST_RUN_DIR;
  process.env.GATEHOUSE_TEST_RUN_DIR = runDir;
  let bind: Bind | undefined;
  let t: TestGatehouse | undefined;
  const lan: number[] = [];
  const pub: number[] = [];
  const both: number[] = [];
  const notes: string[] = [];
  try {
    bind = await startBind(ZONE);
    const unboundPort = await freePort();
    t = await startTestGatehouse({
      dns_records: 'on',
      dns_records_target: PUBLIC,
      dns_records_ttl: 60,
      lan_dns: 'unbound',
      lan_dns_address: LAN,
      lan_dns_unbound_listen: `127.0.0.1@${unboundPort}`,
      lan_dns_forward: bind.server.replace(':', '@'),
      auth_host: `auth.${ZONE}`,
    });
    const nginxPid = t.gh.edge.getStatus().proxy.pid;
    if (nginxPid !== undefined) own(nginxPid);
    const added = await t.api('POST', '/api/v1/dns-providers', {
      name: 'bind',
      type: 'rfc2136',
      zone: ZONE,
      server: bind.server,
      tsig_name: bind.tsigName,
      tsig_secret: bind.tsigSecret,
    });
    if (added.status !== 201) throw new Error(`P18: DNS provider refused: ${added.body}`);
    const ask = (server: string) => {
      const r = new Resolver({ timeout: 500, tries: 1 });
      r.setServers([server]);
      return (name: string) => r.resolve4(name).catch(() => [] as string[]);
    };
    const onBind = ask(bind.server);
    const onUnbound = ask(`127.0.0.1:${unboundPort}`);
    // Warm-up: the managed Unbound answers and the first pass of external records is done.
    await answeredAt(() => onUnbound(`auth.${ZONE}`), LAN, performance.now());
    await answeredAt(() => onBind(`auth.${ZONE}`), PUBLIC, performance.now());
    for (let i = 0; i < SERVICES; i++) {
      const host = `svc${i}.${ZONE}`;
      const t0 = performance.now();
      const put = await t.api('PUT', `/api/v1/services/svc${i}`, {
        hosts: [host],
        routes: [{ upstreams: ['127.0.0.1:9'] }],
      });
      if (put.status !== 201) throw new Error(`P18: service refused: ${put.body}`);
      const [l, p] = await Promise.all([
        answeredAt(() => onUnbound(host), LAN, t0),
        answeredAt(() => onBind(host), PUBLIC, t0),
      ]);
      if (Math.max(l, p) >= GIVE_UP_MS)
        notes.push(`P18: ${host} not answered by both within ${GIVE_UP_MS} ms`);
      lan.push(round(l));
      pub.push(round(p));
      both.push(round(Math.max(l, p)));
      // Spaced like services added by hand or by a compose file, not one burst.
      await sleep(150);
    }
  } finally {
    await t?.close();
    await bind?.close();
    if (before === undefined) delete process.env.GATEHOUSE_TEST_RUN_DIR;
    else process.env.GATEHOUSE_TEST_RUN_DIR = before;
    await rm(runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    disownDir(runDir);
  }
  const summary = (xs: number[]) =>
    `p50 ${median(xs)} ms, p99 ${percentile(xs, 99)} ms, max ${Math.max(...xs)} ms over ${xs.length}`;
  const rows: Row[] = [
    {
      id: 'P18',
      measure: 'service created → its record answered by Unbound (LAN) and BIND (provider), p99',
      value: percentile(both, 99),
      unit: 'ms',
      goal: { op: '<=', value: 1000 },
      detail: `both: ${summary(both)}`,
    },
    {
      id: 'P18',
      measure: 'same, Unbound alone (split horizon, unbound-control)',
      value: percentile(lan, 99),
      unit: 'ms',
      detail: summary(lan),
    },
    {
      id: 'P18',
      measure: 'same, BIND alone (external records, RFC 2136 via nsupdate)',
      value: percentile(pub, 99),
      unit: 'ms',
      detail: summary(pub),
    },
  ];
  return { rows, notes, data: { lanMs: lan, publicMs: pub, bothMs: both } };
}
