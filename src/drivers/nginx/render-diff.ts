import type { EdgeConfig, Pool, Site } from '../../compile/edge-config.js';
import type { RenderEnv } from './env.js';

/** What render-memo.ts compares to tell whether the rendering before can be built on. */

/** The environment as a key (`down` apart: compared as a set). */
export function envKey(env: RenderEnv): string {
  return JSON.stringify({ ...env, down: undefined });
}

export function sameDown(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === b) return true;
  const x = a ?? new Set<string>();
  const y = b ?? new Set<string>();
  if (x.size !== y.size) return false;
  for (const k of x) if (!y.has(k)) return false;
  return true;
}

/** Whether the config-wide parts (all but sites and pools) are the same. */
export function sameShell(a: EdgeConfig, b: EdgeConfig): boolean {
  if (a.listeners.http !== b.listeners.http || a.listeners.https !== b.listeners.https) return false;
  if (!!a.crowdsec !== !!b.crowdsec) return false;
  if (!samePairs(a.tls.hosts, b.tls.hosts)) return false;
  const ca = a.tls.certs;
  const cb = b.tls.certs;
  if (ca.length !== cb.length) return false;
  for (let i = 0; i < ca.length; i++)
    if (ca[i]?.id !== cb[i]?.id || ca[i]?.fingerprint !== cb[i]?.fingerprint) return false;
  return samePairs(a.acme, b.acme) && JSON.stringify(a.tcp) === JSON.stringify(b.tcp);
}

/**
 * What of a config the memo compares the next one with, copied: a caller may change its config's
 * arrays in place (site and route objects are taken as they are: compile never changes them).
 */
export function snapshot(cfg: EdgeConfig): EdgeConfig {
  return {
    ...cfg,
    listeners: { ...cfg.listeners },
    sites: cfg.sites.slice(),
    pools: [],
    tls: { certs: cfg.tls.certs.map((c) => ({ ...c })), hosts: cfg.tls.hosts.map(([h, id]) => [h, id]) },
    acme: cfg.acme.map(([t, k]) => [t, k]),
    tcp: JSON.parse(JSON.stringify(cfg.tcp)) as EdgeConfig['tcp'],
  };
}

export function samePairs(a: [string, string][], b: [string, string][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as [string, string];
    const y = b[i] as [string, string];
    if (x[0] !== y[0] || x[1] !== y[1]) return false;
  }
  return true;
}

function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Same hosts and the same route objects (compile keeps a route's object while it is unchanged). */
export function sameSite(a: Site, b: Site): boolean {
  return a === b || (sameArray(a.hosts, b.hosts) && sameArray(a.routes, b.routes));
}

export function samePool(a: Pool, b: Pool): boolean {
  return (
    a.id === b.id &&
    a.scheme === b.scheme &&
    a.lb === b.lb &&
    a.down === b.down &&
    sameArray(a.servers, b.servers) &&
    a.health?.path === b.health?.path &&
    a.health?.intervalMs === b.health?.intervalMs &&
    a.health?.timeoutMs === b.health?.timeoutMs
  );
}
