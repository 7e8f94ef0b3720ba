/**
 * P13R's load generator, a process of its own: `clients` concurrent clients, client i posting to
 * replica i % n, each registration on a fresh connection (an agent registering itself), back to back
 * until the time is up; then one message with the tally to the parent.
 */
import { postJson } from './http.js';
import { isSpreadPlan, type SpreadPlan, type SpreadResult } from './spread-load.js';
import { percentile } from './stats.js';

interface Tally {
  landed: string[];
  statuses: Record<string, number>;
  latencies: number[];
  perPort: number[];
}

async function client(id: number, plan: SpreadPlan, end: number, tally: Tally): Promise<void> {
  const auth = { authorization: `Bearer ${plan.token}` };
  const which = id % plan.registerPorts.length;
  const port = plan.registerPorts[which] as number;
  for (let n = 0; Date.now() < end; n++) {
    const subdomain = `${plan.prefix}-${id}-${n}`;
    const body = { subdomain, backend_ip: '127.0.0.1', backend_port: plan.backendPort, type: 'simple' };
    const t0 = performance.now();
    const status = await postJson(port, '/register', body, auth).then(
      (r) => String(r.status),
      () => 'error',
    );
    tally.latencies.push(performance.now() - t0);
    tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
    if (status.startsWith('2')) {
      tally.landed.push(subdomain);
      tally.perPort[which] = (tally.perPort[which] ?? 0) + 1;
    }
  }
}

async function main(): Promise<void> {
  const plan: unknown = JSON.parse(process.argv[2] ?? 'null');
  if (!isSpreadPlan(plan)) throw new Error('spread-load-child: bad plan');
  const tally: Tally = { landed: [], statuses: {}, latencies: [], perPort: plan.registerPorts.map(() => 0) };
  const start = performance.now();
  const end = Date.now() + plan.seconds * 1000;
  await Promise.all(Array.from({ length: plan.clients }, (_, i) => client(i, plan, end, tally)));
  // Until the last answer, not the deadline: a registration counts once it has been answered.
  const elapsedMs = performance.now() - start;
  const l = tally.latencies;
  const result: SpreadResult = {
    kind: 'result',
    elapsedMs,
    landed: tally.landed,
    statuses: tally.statuses,
    perPort: tally.perPort,
    latencyMs: l.length
      ? { p50: percentile(l, 50), p99: percentile(l, 99), max: percentile(l, 100) }
      : { p50: 0, p99: 0, max: 0 },
  };
  process.send?.(result, () => process.exit(0));
}

process.on('disconnect', () => process.exit(0));
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
