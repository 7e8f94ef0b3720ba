import { Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse, type Gatehouse } from '../../src/gatehouse.js';
import type { Service } from '../../src/model/service.js';
import { loopbackSettings } from '../../test/helpers/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import type { Op } from '../../src/registry/registry.js';
import { BUILTIN_TEMPLATES, instantiate } from '../../src/sources/register/templates.js';
import { disown, disownDir, own, ownDir } from './cleanup.js';
import { httpRequest, postJson } from './http.js';

export const REGISTER_TOKEN = 'bench-register-token-0123456789';
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
export const BASE_DOMAIN = 'bench.test';

/**
 * nginx workers for every Gatehouse and the hand-written baseline. Gatehouse's default (2) on a
 * 2-core machine that also runs wrk and the backend: the same on both sides of every ratio.
 */
export const NGINX_WORKERS = 2;

export interface BenchGatehouse {
  gh: Gatehouse;
  httpPort: number;
  registerPort: number;
  /** POST /register with the token, over a keep-alive connection. */
  register(subdomain: string, backendPort: number): Promise<{ status: number; json: unknown }>;
  /** Resolves once nginx serves the registry's current version. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a whole Gatehouse in this process on free loopback ports with a temp data dir. */
export async function startBenchGatehouse(extra: Record<string, unknown> = {}): Promise<BenchGatehouse> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gh-bench-'));
  ownDir(dataDir);
  const { settings, httpPort, registerPort } = await loopbackSettings(dataDir, {
    admin_token: ADMIN_TOKEN,
    register_token: REGISTER_TOKEN,
    base_domain: BASE_DOMAIN,
    nginx_workers: NGINX_WORKERS,
    ...extra,
  });
  const gh = await startGatehouse(settings, createLogger('silent'));
  const nginxPid = gh.edge.getStatus().proxy.pid;
  if (nginxPid !== undefined) own(nginxPid);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    gh,
    httpPort,
    registerPort,
    register: (subdomain, backendPort) =>
      postJson(
        registerPort,
        '/register',
        { subdomain, backend_ip: '127.0.0.1', backend_port: backendPort, type: 'simple' },
        { authorization: `Bearer ${REGISTER_TOKEN}` },
        agent,
      ),
    settle: async (timeoutMs = 120_000) => {
      await gh.edge.waitFor(gh.registry.version, timeoutMs);
    },
    close: async () => {
      agent.destroy();
      // Gatehouse may have restarted nginx under a new pid; its close() stops whichever runs.
      await gh.close();
      if (nginxPid !== undefined) disown(nginxPid);
      await rm(dataDir, { recursive: true, force: true });
      disownDir(dataDir);
    },
  };
}

/** The host a registration of `subdomain` is served under. */
export function hostOf(subdomain: string): string {
  return `${subdomain}.${BASE_DOMAIN}`;
}

/** Exactly the service `POST /register` with `type: simple` would create. */
export function simpleService(subdomain: string, backendPort: number): Service {
  return instantiate(
    'simple',
    BUILTIN_TEMPLATES.simple as NonNullable<(typeof BUILTIN_TEMPLATES)['simple']>,
    {
      subdomain,
      backend_ip: '127.0.0.1',
      backend_port: backendPort,
      base_domain: BASE_DOMAIN,
    },
  );
}

/**
 * Brings the registry to `total` simple registrations named `${prefix}-N`, then waits until nginx
 * serves the result. Written straight into the registry, 1,000 per version: set-up, not measurement
 * (P3 and P5 measure the registration API), so it should cost seconds and few reloads.
 */
export async function seedSimple(
  bg: BenchGatehouse,
  prefix: string,
  total: number,
  backendPort: number,
): Promise<void> {
  const { registry } = bg.gh;
  const have = registry.list().filter((r) => r.service.name.startsWith(`${prefix}-`)).length;
  for (let from = have; from < total; from += 1000) {
    const ops: Op[] = [];
    for (let i = from; i < Math.min(total, from + 1000); i++) {
      ops.push({ kind: 'put', service: simpleService(`${prefix}-${i}`, backendPort) });
    }
    await registry.apply(ops, { actor: 'bench', source: 'register' });
  }
  await bg.settle();
}

/** GET through Gatehouse's nginx with a fresh connection (a pooled one could be on an old worker). */
export function proxyGet(bg: BenchGatehouse, host: string): Promise<number> {
  return httpRequest(bg.httpPort, { host, timeoutMs: 5000 }).then((r) => r.status);
}
