import type { BenchContext } from '../lib/context.js';
import { BASE_DOMAIN, startBenchGatehouse, type BenchGatehouse } from '../lib/gatehouse.js';
import { httpRequest } from '../lib/http.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, round } from '../lib/stats.js';
import { alternate, errorCount, medianRps, pairedRatio, type WrkResult, type WrkTarget } from '../lib/wrk.js';

const ROUNDS = 8;
const SECONDS = 3;
const PUBLIC_HOST = `p4-public.${BASE_DOMAIN}`;
const LOGIN_HOST = `p4-login.${BASE_DOMAIN}`;
const PORTAL = `auth.${BASE_DOMAIN}`;

/**
 * Two services alike in everything but access: one public, one login-guarded (both with a second
 * route, so both get a server block with keepalive upstreams: the comparison is of the gate's check
 * alone, not of the fast lane).
 */
async function addServices(bg: BenchGatehouse, backendPort: number): Promise<void> {
  const upstreams = [`127.0.0.1:${backendPort}`];
  const meta = { actor: 'bench', source: 'api' } as const;
  const routes = [
    { path: '/', upstreams },
    { path: '/other/', upstreams },
  ];
  await bg.gh.registry.put({ name: 'p4-public', hosts: [PUBLIC_HOST], routes }, meta);
  await bg.gh.registry.put({ name: 'p4-login', hosts: [LOGIN_HOST], routes, access: { login: {} } }, meta);
  await bg.settle();
}

/** Signs in through the portal (through nginx, as a browser would) and returns the cookie. */
async function signIn(bg: BenchGatehouse): Promise<string> {
  await bg.gh.gate.users.create({
    username: 'bench',
    password: 'bench password 1',
    email: 'bench@bench.test',
    name: 'Bench',
    first_name: '',
    last_name: '',
    role: 'user',
    groups: [],
  });
  await bg.gh.gate.refreshAvailability();
  const res = await httpRequest(bg.httpPort, {
    host: PORTAL,
    method: 'POST',
    path: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'username=bench&password=bench+password+1&rd=',
  });
  const cookie = /gh_session=[^;]+/.exec(String(res.headers['set-cookie'] ?? ''))?.[0];
  if (res.status !== 200 || !cookie) throw new Error(`P4: sign-in failed (${res.status})`);
  const check = await httpRequest(bg.httpPort, { host: LOGIN_HOST, headers: { cookie } });
  if (check.status !== 200) throw new Error(`P4: the session does not pass (${check.status})`);
  const without = await httpRequest(bg.httpPort, { host: LOGIN_HOST });
  if (without.status !== 401)
    throw new Error(`P4: the guarded route passes without a session (${without.status})`);
  return cookie;
}

function latencies(runs: Map<string, WrkResult[]>, name: string, key: 'p50Ms' | 'p99Ms'): number {
  return median((runs.get(name) ?? []).map((r) => r[key] ?? NaN));
}

/** P4: a login-guarded route with a valid session ÷ the same route public; the gate's added latency. */
export async function p4(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await startBenchGatehouse();
  try {
    await addServices(bg, backend.port);
    const cookie = await signIn(bg);
    // The same cookie on both, so the only difference is the check.
    const targets: WrkTarget[] = [
      { name: 'public', port: bg.httpPort, host: PUBLIC_HOST, headers: { cookie } },
      { name: 'login', port: bg.httpPort, host: LOGIN_HOST, headers: { cookie } },
    ];
    const load = await alternate(targets, ROUNDS, SECONDS);
    // One connection: latency without queueing, so a difference is the check's own cost.
    const lat = await alternate(targets, ROUNDS, SECONDS, { connections: 1, latency: true });
    const added = (key: 'p50Ms' | 'p99Ms') =>
      median(
        (lat.get('login') ?? []).map(
          (r, i) => (r[key] ?? NaN) - ((lat.get('public') ?? [])[i]?.[key] ?? NaN),
        ),
      );
    const notes = [...load, ...lat]
      .map(([name, runs]) => [name, errorCount(runs)] as const)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `P4: ${name} saw ${n} errors (non-2xx or socket) under load`);
    const rows: Row[] = [
      {
        id: 'P4a',
        measure: 'login route (valid session) ÷ same route public',
        value: round(pairedRatio(load, 'login', 'public'), 3),
        unit: 'ratio',
        goal: { op: '>=', value: 0.85 },
        detail: `${Math.round(medianRps(load, 'login'))} / ${Math.round(medianRps(load, 'public'))} req/s (medians); ${ROUNDS}×${SECONDS}s, 16 connections`,
      },
      {
        id: 'P4b',
        measure: "gate's added latency p50",
        value: round(added('p50Ms'), 3),
        unit: 'ms',
        goal: { op: '<=', value: 0.5 },
        detail: `p50 ${round(latencies(lat, 'login', 'p50Ms'), 3)} vs ${round(latencies(lat, 'public', 'p50Ms'), 3)} ms; 1 connection`,
      },
      {
        id: 'P4c',
        measure: "gate's added latency p99",
        value: round(added('p99Ms'), 3),
        unit: 'ms',
        detail: `p99 ${round(latencies(lat, 'login', 'p99Ms'), 3)} vs ${round(latencies(lat, 'public', 'p99Ms'), 3)} ms; 1 connection`,
      },
    ];
    return {
      rows,
      notes,
      data: {
        load: Object.fromEntries(load),
        latency: Object.fromEntries(lat),
      },
    };
  } finally {
    await bg.close();
  }
}
