/**
 * P5's load generator, a process of its own: `clients` concurrent clients (keep-alive, or a fresh
 * connection per registration), each posting
 * registrations with fresh subdomains back to back until the time is up, then one message with the
 * tally to the parent.
 */
import { Agent } from 'node:http';
import { postJson } from './http.js';
import { isLoadPlan, type LoadPlan, type LoadResult } from './register-load.js';
import { percentile } from './stats.js';

interface Tally {
  landed: string[];
  statuses: Record<string, number>;
  latencies: number[];
}

async function client(
  id: number,
  plan: LoadPlan,
  agent: Agent | undefined,
  end: number,
  tally: Tally,
): Promise<void> {
  const auth = { authorization: `Bearer ${plan.token}` };
  for (let n = 0; Date.now() < end; n++) {
    const subdomain = `${plan.prefix}-${id}-${n}`;
    const body = { subdomain, backend_ip: '127.0.0.1', backend_port: plan.backendPort, type: 'simple' };
    const t0 = performance.now();
    const status = await postJson(plan.registerPort, '/register', body, auth, agent).then(
      (r) => String(r.status),
      () => 'error',
    );
    tally.latencies.push(performance.now() - t0);
    tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
    if (status.startsWith('2')) tally.landed.push(subdomain);
  }
}

async function main(): Promise<void> {
  const plan: unknown = JSON.parse(process.argv[2] ?? 'null');
  if (!isLoadPlan(plan)) throw new Error('register-load-child: bad plan');
  const agent = plan.newConnection ? undefined : new Agent({ keepAlive: true, maxSockets: plan.clients });
  const tally: Tally = { landed: [], statuses: {}, latencies: [] };
  const start = performance.now();
  const end = Date.now() + plan.seconds * 1000;
  await Promise.all(Array.from({ length: plan.clients }, (_, i) => client(i, plan, agent, end, tally)));
  // Until the last answer, not the deadline: a registration counts once it has been answered.
  const elapsedMs = performance.now() - start;
  agent?.destroy();
  const l = tally.latencies;
  const result: LoadResult = {
    kind: 'result',
    elapsedMs,
    landed: tally.landed,
    statuses: tally.statuses,
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
