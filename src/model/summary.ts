import type { Access, Service } from './service.js';
import { covers } from './tls.js';
import { endpointAddress, parseEndpoint } from './values.js';

/**
 * A service at a glance: who may pass, where it sends requests, HTTPS and state. One pure function
 * shared by the API's service list, the CLI's `service ls` and the web UI's Services page, so all
 * three tell a public service from a guarded one the same way.
 */

/** What is known outside the service's own definition. */
export interface ServiceFacts {
  /** The names of every certificate in service (each certificate's names, flattened). */
  certNames: readonly string[];
  /** Whether the proxy has an HTTPS listener at all. */
  httpsListener: boolean;
  /** Servers marked down, as `pool address` (pool = `<service>-r<route index>`). */
  down: readonly string[];
  /** Servers under active health checks, same form. */
  checked: readonly string[];
}

export interface ServiceSummary {
  /** e.g. "public", "login (staff)", "oidc (corp)", "ip + links"; routes that differ: "public | login". */
  access: string;
  /** Whether any route (or TCP route) answers without any check: told apart at a glance. */
  public: boolean;
  /** Every upstream, HTTP and TCP, without repeats. */
  upstreams: string[];
  /** yes: a certificate covers every host; partial: some; no: none; off: tls none or no listener; "-": no HTTP hosts. */
  https: 'yes' | 'partial' | 'no' | 'off' | '-';
  /**
   * suspended (out of rotation), down (every checked server down), degraded (some down), up (checked
   * and none down), unchecked (no health check: nothing known, which is not "healthy").
   */
  state: 'suspended' | 'down' | 'degraded' | 'up' | 'unchecked';
  /** "2/3" servers down, when any are. */
  down?: string;
}

/** One access block in words: what admits a request, "public" when nothing is asked. */
export function describeAccess(a: Access | undefined): string {
  if (!a) return 'public';
  const parts: string[] = [];
  if (a.login) parts.push(a.login.groups.length ? `login (${a.login.groups.join(',')})` : 'login');
  if (a.provider) parts.push(`oidc (${a.provider})`);
  if (a.ip) parts.push('ip');
  if (a.links) parts.push('links');
  if (a.basic) parts.push('basic');
  if (a.forward_auth) parts.push('forward-auth');
  return parts.length ? parts.join(' + ') : 'public';
}

export function summarizeService(s: Service, facts: ServiceFacts): ServiceSummary {
  const modes = s.routes.map((r) => describeAccess(r.access ?? s.access));
  // TCP routes have no gate in front of them.
  if (s.tcp.length) modes.push('public');
  const distinct = [...new Set(modes)];
  const upstreams = [...new Set([...s.routes, ...s.tcp].flatMap((r) => r.upstreams))];
  const down = new Set(facts.down);
  const checked = new Set(facts.checked);
  const servers = s.routes.flatMap((r, i) =>
    r.upstreams.map((u) => {
      const ep = parseEndpoint(u, true);
      return `${s.name}-r${i} ${typeof ep === 'string' ? u : endpointAddress(ep)}`;
    }),
  );
  const nDown = servers.filter((k) => down.has(k)).length;
  const nChecked = servers.filter((k) => checked.has(k) || down.has(k)).length;
  const state: ServiceSummary['state'] = s.suspended
    ? 'suspended'
    : nDown > 0 && nDown === servers.length
      ? 'down'
      : nDown > 0
        ? 'degraded'
        : nChecked > 0
          ? 'up'
          : 'unchecked';
  return {
    access: distinct.join(' | '),
    public: modes.includes('public'),
    upstreams,
    https: httpsOf(s, facts),
    state,
    ...(nDown > 0 ? { down: `${nDown}/${servers.length}` } : {}),
  };
}

function httpsOf(s: Service, facts: ServiceFacts): ServiceSummary['https'] {
  if (s.routes.length === 0 || s.hosts.length === 0) return '-';
  if (s.tls === 'none' || !facts.httpsListener) return 'off';
  const covered = s.hosts.filter((h) => facts.certNames.some((n) => covers(n, h))).length;
  return covered === s.hosts.length ? 'yes' : covered > 0 ? 'partial' : 'no';
}
