import { afterEach, describe, expect, it } from 'vitest';
import { REGISTER_TOKEN } from '../helpers/gatehouse.js';
import { http } from '../helpers/net.js';
import { until } from '../helpers/netns.js';
import { BASE_DOMAIN, PORTS, TwoMachines, type Machine, type MachineName } from '../helpers/two-machines.js';

/**
 * docs/ha.md, "Two machines, no third" (issue 15, StartLobster), in network namespaces: two proxy
 * machines `a` and `b`, each running a control-plane replica (`gatehouse up`, its own data dir and
 * nginx) and an edge (`gatehouse edge --register-listen :9876`, its own replica first, then the
 * other's). PostgreSQL runs on a third host `db`: the issue allows "one PostgreSQL, or PostgreSQL
 * with a standby", and a database on one of the two machines would die with it, so killing that
 * machine would test the database's failover, not Gatehouse's. The clients (this process, on the
 * lab's root address) send 1,000 registrations with distinct subdomains to either machine's edge,
 * and on a failure or a 3 s timeout retry on the other machine. Midway one machine dies: its cable
 * is pulled, then every process in its namespace gets SIGKILL by PID. Then every registration must
 * be stored exactly once (read from PostgreSQL) and served by the surviving machine's nginx.
 * PostgreSQL runs with its default TCP settings: a dead machine often holds the versions write lock
 * (a transaction in flight), and only the settings each Gatehouse session asks for (src/store/
 * postgres.ts) free it in seconds; without them the survivor's writes waited minutes.
 */

const N = 1000;
const CLIENTS = 8;
const TIMEOUT_MS = 3000;
const ATTEMPTS = 8;
const AUTH = { authorization: `Bearer ${REGISTER_TOKEN}`, 'content-type': 'application/json' };

let lab: TwoMachines | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
}, 60_000);

interface Outcome {
  ms: number;
  retries: number;
  /** The machine whose edge answered 2xx. */
  by: MachineName;
}

async function killDuringRegistrations(victim: MachineName): Promise<void> {
  const t = await TwoMachines.start(`two${victim}`);
  lab = t;
  const dead = t.machine(victim);
  const survivor = t.machine(victim === 'a' ? 'b' : 'a');
  const machines: Machine[] = [t.a, t.b];
  const before = Number(
    (await t.query<{ v: number | null }>('select max(version) as v from versions'))[0]?.v ?? 0,
  );

  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  let killedAfter = -1;
  let killedAtMs = 0;
  let killing: Promise<number[]> | undefined;
  let next = 0;

  /** One registration: at the client's preferred machine; on failure or timeout, at the other. */
  const register = async (i: number, prefer: { m: number }) => {
    const body = JSON.stringify({
      subdomain: `r${i}`,
      backend_ip: t.lab.rootIp,
      backend_port: t.backend.port,
    });
    const t0 = performance.now();
    const seen: string[] = [];
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const m = machines[prefer.m] as Machine;
      const r = await http(PORTS.edgeRegister, m.ip, '/register', {
        address: m.ip,
        method: 'POST',
        headers: AUTH,
        body,
        timeoutMs: TIMEOUT_MS,
      }).catch((e: unknown) => ({ status: 0, body: e instanceof Error ? e.message : String(e) }));
      if (r.status === 201 || r.status === 200) {
        outcomes.push({ ms: performance.now() - t0, retries: attempt, by: m.name });
        return;
      }
      seen.push(`${m.name}: ${r.status} ${r.body.slice(0, 200)}`);
      // Like a client with two addresses: the one that failed goes to the back.
      prefer.m = 1 - prefer.m;
    }
    failures.push(`r${i}: no 2xx in ${ATTEMPTS} attempts (${seen.join('; ')})`);
  };

  const t0 = performance.now();
  // Progress, and what PostgreSQL's sessions wait on when none is made (for a failure's story).
  let lastCount = -1;
  const progress = setInterval(() => {
    const count = outcomes.length + failures.length;
    if (count === lastCount) {
      t.query<Record<string, unknown>>(
        `select client_addr, state, wait_event, left(query, 50) as q from pg_stat_activity where datname = 'gatehouse' and (state = 'idle in transaction' or wait_event_type = 'Lock')`,
      ).then(
        (rows) => console.log(`stalled at ${count}: ${JSON.stringify(rows)}`),
        (e: unknown) => console.log(`stalled at ${count}: ${String(e)}`),
      );
    }
    lastCount = count;
  }, 5000);
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const prefer = { m: c % 2 };
      while (next < N) {
        const i = next++;
        await register(i, prefer);
        if (outcomes.length + failures.length >= N / 2 && !killing) {
          killedAfter = outcomes.length;
          killedAtMs = performance.now() - t0;
          killing = dead.crash();
        }
      }
    }),
  );
  const ms = performance.now() - t0;
  clearInterval(progress);
  const killedPids = (await killing) ?? [];
  expect(killedPids.length).toBeGreaterThanOrEqual(6); // replica, edge, two nginx masters + workers
  expect(failures).toEqual([]);
  expect(outcomes.length).toBe(N);

  // Stored exactly once, as PostgreSQL has it.
  const services = await t.query<{ name: string }>(`select name from services where name ~ '^r[0-9]+$'`);
  expect(services.length).toBe(N);
  const names = new Set(services.map((s) => s.name));
  for (let i = 0; i < N; i++) expect(names.has(`r${i}`), `r${i}`).toBe(true);
  const versions = (
    await t.query<{ version: number }>(
      `select version from versions where version > ${before} order by version`,
    )
  ).map((v) => v.version);
  expect(versions).toEqual(Array.from({ length: versions.length }, (_, k) => before + 1 + k));
  const changes = await t.query<{ name: string; created: boolean; n: number }>(
    `select name, before is null as created, count(*)::int as n from changes where version > ${before} group by 1, 2`,
  );
  expect(changes.filter((c) => !c.created)).toEqual([]);
  expect(changes.filter((c) => c.n !== 1)).toEqual([]);
  expect(changes.length).toBe(N);
  expect(versions.length).toBeLessThanOrEqual(N);

  // The surviving machine's nginx (its edge's, on the public port) serves every one of them.
  const last = `r${N - 1}.${BASE_DOMAIN}`;
  const serves = async (host: string, port: number) =>
    (await http(port, host, '/', { address: survivor.ip, timeoutMs: 3000 }).catch(() => undefined))
      ?.status === 200;
  await until(
    `${survivor.name} serving`,
    async () => (await serves(last, PORTS.edgeHttp)) || undefined,
    15_000,
  );
  let served = 0;
  for (let i = 0; i < N; i++) if (await serves(`r${i}.${BASE_DOMAIN}`, PORTS.edgeHttp)) served++;
  expect(served).toBe(N);
  let servedByReplica = 0;
  for (let i = 0; i < N; i += 50)
    if (await serves(`r${i}.${BASE_DOMAIN}`, PORTS.replicaHttp)) servedByReplica++;
  expect(servedByReplica).toBe(N / 50);

  const retries = outcomes.reduce((s, o) => s + o.retries, 0);
  const retried = outcomes.filter((o) => o.retries > 0).length;
  const slow = outcomes.map((o) => o.ms).sort((x, y) => x - y);
  const pct = (p: number) => Math.round(slow[Math.min(slow.length - 1, Math.floor(slow.length * p))] ?? 0);
  const byDead = outcomes.filter((o) => o.by === dead.name).length;
  console.log(
    `two machines, ${dead.name} killed: ${N} registrations from ${CLIENTS} clients in ${Math.round(ms)} ms ` +
      `(${Math.round((N / ms) * 1000)}/s); ${dead.name} killed after ${killedAfter} answers at ${Math.round(killedAtMs)} ms ` +
      `(${killedPids.length} processes); ${byDead} answered by ${dead.name}, ${N - byDead} by ${survivor.name}; ` +
      `${retries} retries (${retried} registrations retried); median ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ` +
      `slowest ${pct(1)} ms; ${versions.length} versions v${versions[0]}..v${versions.at(-1)} gap-free, ` +
      `each subdomain created once; ${served}/${N} served by ${survivor.name}'s edge`,
  );
}

describe('two machines, no third: a replica and an edge on each, PostgreSQL on a third host', () => {
  it('machine a killed during 1,000 registrations: each stored exactly once, all served by b', async () => {
    await killDuringRegistrations('a');
  }, 240_000);

  it('machine b killed during 1,000 registrations: each stored exactly once, all served by a', async () => {
    await killDuringRegistrations('b');
  }, 240_000);
});
