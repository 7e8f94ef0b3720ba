/**
 * The R4 soak, shared by the benchmark (bench/cases/r4.ts) and the e2e test (test/e2e/soak.test.ts):
 * a Gatehouse with many routes and many open WebSockets takes a registration or deregistration
 * every second while a request loop runs on unchanged routes; nginx's processes and memory are
 * sampled from /proc throughout.
 */
import type { LastReload } from '../../src/drivers/nginx/driver.js';
import type { Gatehouse } from '../../src/gatehouse.js';
import { serviceSchema, type Service } from '../../src/model/service.js';
import type { Op } from '../../src/registry/registry.js';
import { httpRequest, postJson } from './http.js';
import { nginxTree } from './procmem.js';
import { sleep } from './stats.js';
import { startEchoBackend, WsFleet, type FleetTally } from './ws-fleet.js';

export interface SoakPlan {
  /** Routes present when the run starts (of which `serverBlocks` need a server block). */
  routes: number;
  serverBlocks: number;
  /** WebSockets through nginx: half opened before the run, half arriving during it. */
  sockets: number;
  seconds: number;
  /** One registration or deregistration (through the registration API) this often. */
  changeEveryMs: number;
  /** Each WebSocket sends a message (and checks the echo) this often. */
  messageEveryMs: number;
  /** Concurrent request loops on unchanged routes, a fresh connection per request. */
  requestLoops: number;
  /**
   * What changes: `simple` registrations and deregistrations through the registration API (the
   * fast lane), or services with a server block of their own written to the registry (each one a
   * reload: the comparison).
   */
  churn: 'simple' | 'server-block';
}

/** The R4 soak. */
export const R4_PLAN: SoakPlan = {
  routes: 1_000,
  serverBlocks: 50,
  sockets: 200,
  seconds: 60,
  changeEveryMs: 1_000,
  messageEveryMs: 3_000,
  requestLoops: 2,
  churn: 'simple',
};

export interface SoakTarget {
  gh: Gatehouse;
  httpPort: number;
  registerPort: number;
  registerToken: string;
  baseDomain: string;
}

export interface NginxSample {
  atMs: number;
  master: number;
  /** The master and its children. */
  processes: number;
  /** Their summed RSS. */
  rssBytes: number;
}

export interface SoakResult {
  plan: SoakPlan;
  sockets: FleetTally & { openAtEnd: number; lastExchangeOk: number };
  requests: { sent: number; failed: number; examples: string[] };
  changes: {
    registered: number;
    deregistered: number;
    /** Calls answered other than 2xx, or changes not seen through nginx within CHANGE_LIVE_MS. */
    failed: string[];
    /** From a registration's answer to its first 200 through nginx. */
    liveMs: number[];
  };
  /** Applies during the run, by how they reached nginx. */
  applies: { dynamic: number; reload: number };
  lastReload?: LastReload;
  lastApplyMode?: 'dynamic' | 'reload';
  nginx: { start: NginxSample; end: NginxSample; peakRss: NginxSample; peakProcesses: NginxSample };
}

const SAMPLE_MS = 250;
const CHANGE_LIVE_MS = 10_000;

/** A service on the backend; with a response header it needs its own server block (not the fast lane). */
function soakService(name: string, domain: string, backendPort: number, serverBlock: boolean): Service {
  return serviceSchema.parse({
    name,
    hosts: [`${name}.${domain}`],
    routes: [
      {
        upstreams: [`127.0.0.1:${backendPort}`],
        ...(serverBlock ? { headers: { response: { set: { 'X-Soak': 'server-block' } } } } : {}),
      },
    ],
  });
}

function seedServices(plan: SoakPlan, domain: string, backendPort: number): Service[] {
  return Array.from({ length: plan.routes }, (_, i) => {
    const serverBlock = i < plan.serverBlocks;
    return soakService(serverBlock ? `soak-sb-${i}` : `soak-${i}`, domain, backendPort, serverBlock);
  });
}

function sample(gh: Gatehouse, t0: number): NginxSample {
  const master = gh.edge.getStatus().proxy.pid;
  if (master === undefined) throw new Error('soak: nginx is not running');
  const tree = nginxTree(master);
  return {
    atMs: Math.round(performance.now() - t0),
    master,
    processes: tree.length,
    rssBytes: tree.reduce((n, p) => n + p.rssBytes, 0),
  };
}

/** Polls `host` with fresh connections until it answers `status`; the time taken, or undefined. */
async function until(port: number, host: string, status: number): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < CHANGE_LIVE_MS) {
    const got = await httpRequest(port, { host, timeoutMs: 2000 }).then(
      (r) => r.status,
      () => 0,
    );
    if (got === status) return performance.now() - t0;
    await sleep(5);
  }
  return undefined;
}

export async function runSoak(target: SoakTarget, plan: SoakPlan = R4_PLAN): Promise<SoakResult> {
  const { gh, httpPort, registerPort, baseDomain } = target;
  const backend = await startEchoBackend();
  const fleet = new WsFleet(httpPort, plan.messageEveryMs);
  try {
    const seeds = seedServices(plan, baseDomain, backend.port);
    const ops: Op[] = seeds.map((service) => ({ kind: 'put', service }));
    await gh.registry.apply(ops, { actor: 'soak', source: 'api' });
    await gh.edge.waitFor(gh.registry.version, 60_000);
    const hosts = seeds.map((s) => s.hosts[0] as string);
    // Sockets spread over the routes, both lanes; the first half open before the run.
    const socketHosts = Array.from(
      { length: plan.sockets },
      (_, j) => hosts[(j * 7) % hosts.length] as string,
    );
    const before = socketHosts.slice(0, Math.floor(plan.sockets / 2));
    const during = socketHosts.slice(before.length);
    for (let i = 0; i < before.length; i += 20)
      await Promise.all(before.slice(i, i + 20).map((h) => fleet.open(h)));

    const t0 = performance.now();
    const endAt = t0 + plan.seconds * 1000;
    const samples: NginxSample[] = [sample(gh, t0)];
    const sampler = setInterval(() => {
      try {
        samples.push(sample(gh, t0));
      } catch {
        // nginx restarting: the next sample sees the new master.
      }
    }, SAMPLE_MS);
    const applies = { dynamic: 0, reload: 0 };
    let seenApplies = gh.edge.getStatus().applies;
    const unsubscribe = gh.edge.onSettled(() => {
      const s = gh.edge.getStatus();
      if (s.applies === seenApplies) return;
      seenApplies = s.applies;
      if (s.lastApplyMode) applies[s.lastApplyMode]++;
    });

    // Requests on unchanged routes, a fresh connection each.
    const requests = { sent: 0, failed: 0, examples: [] as string[] };
    const requestLoop = async () => {
      while (performance.now() < endAt) {
        const host = hosts[Math.floor(Math.random() * hosts.length)] as string;
        const r = await httpRequest(httpPort, { host, timeoutMs: 5000 }).catch((e: unknown) => ({
          status: 0,
          body: String(e),
        }));
        requests.sent++;
        if (r.status !== 200 || r.body !== 'ok\n') {
          requests.failed++;
          if (requests.examples.length < 20)
            requests.examples.push(`${host}: ${r.status} ${r.body.slice(0, 80)}`);
        }
        await sleep(5);
      }
    };

    // A registration or deregistration every changeEveryMs, through the registration API.
    const changes: SoakResult['changes'] = { registered: 0, deregistered: 0, failed: [], liveMs: [] };
    const auth = { authorization: `Bearer ${target.registerToken}` };
    const live: string[] = [];
    const checks: Promise<void>[] = [];
    const register = async (subdomain: string, remove: boolean): Promise<number> => {
      const body = remove
        ? { subdomain }
        : { subdomain, backend_ip: '127.0.0.1', backend_port: backend.port, type: 'simple' };
      return (await postJson(registerPort, remove ? '/deregister' : '/register', body, auth)).status;
    };
    const writeServerBlock = async (name: string, remove: boolean): Promise<number> => {
      const service = soakService(name, baseDomain, backend.port, true);
      await gh.registry.apply([remove ? { kind: 'delete', name } : { kind: 'put', service }], {
        actor: 'soak',
        source: 'api',
      });
      return remove ? 200 : 201;
    };
    const change = async (i: number) => {
      const remove = i % 2 === 1 && live.length > 2;
      const subdomain = remove ? (live.shift() as string) : `soak-churn-${i}`;
      const host = `${subdomain}.${baseDomain}`;
      const status = await (
        plan.churn === 'simple' ? register(subdomain, remove) : writeServerBlock(subdomain, remove)
      ).catch((e: unknown) => String(e));
      if (typeof status !== 'number' || status < 200 || status > 299) {
        changes.failed.push(`${remove ? 'deregister' : 'register'} ${subdomain}: ${status}`);
        return;
      }
      if (remove) changes.deregistered++;
      else {
        changes.registered++;
        live.push(subdomain);
      }
      const ms = await until(httpPort, host, remove ? 404 : 200);
      if (ms === undefined)
        changes.failed.push(`${host}: not ${remove ? 'gone' : 'live'} within ${CHANGE_LIVE_MS} ms`);
      else if (!remove) changes.liveMs.push(ms);
    };
    const changer = async () => {
      const n = Math.floor((plan.seconds * 1000) / plan.changeEveryMs);
      for (let i = 0; i < n; i++) {
        await sleep(Math.max(0, t0 + i * plan.changeEveryMs - performance.now()));
        checks.push(change(i));
      }
    };
    // The second half of the sockets arrives over the first 80 % of the run.
    const arrivals = async () => {
      const gap = (plan.seconds * 800) / Math.max(1, during.length);
      for (const [k, host] of during.entries()) {
        await sleep(Math.max(0, t0 + k * gap - performance.now()));
        void fleet.open(host);
      }
    };

    await Promise.all([changer(), arrivals(), ...Array.from({ length: plan.requestLoops }, requestLoop)]);
    await Promise.all(checks);
    const end = sample(gh, t0);
    clearInterval(sampler);
    unsubscribe();
    samples.push(end);
    const fin = await fleet.finish();
    const status = gh.edge.getStatus();
    const max = (f: (s: NginxSample) => number) => samples.reduce((a, b) => (f(b) > f(a) ? b : a));
    return {
      plan,
      sockets: { ...fleet.tally, openAtEnd: fin.open, lastExchangeOk: fin.lastExchangeOk },
      requests,
      changes,
      applies,
      ...(status.lastReload ? { lastReload: status.lastReload } : {}),
      ...(status.lastApplyMode ? { lastApplyMode: status.lastApplyMode } : {}),
      nginx: {
        start: samples[0] as NginxSample,
        end,
        peakRss: max((s) => s.rssBytes),
        peakProcesses: max((s) => s.processes),
      },
    };
  } finally {
    await fleet.finish().catch(() => undefined);
    await backend.close();
  }
}
