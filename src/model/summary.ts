import type { Access, Service } from './service.js';
import { covers } from './tls.js';
import { endpointAddress, parseEndpoint } from './values.js';

/**
 * A service at a glance: who may pass, where it sends requests, HTTPS and state. One pure function
 * behind the API's service list, which the CLI's `service ls` and the web UI's Services page both
 * show, so that all of them tell a public service from a guarded one in the same words.
 */

/** What is known outside the service's own definition. */
export interface ServiceFacts {
  /** The names of every certificate in service (each certificate's names, flattened). */
  certNames: readonly string[];
  /** Whether the proxy has an HTTPS listener at all. */
  httpsListener: boolean;
  /** Servers marked down by active checks, as `pool address` (pool = `<service>-r<route index>`). */
  down: readonly string[];
  /** Servers under active health checks, same form. */
  checked: readonly string[];
  /** Servers nginx could not get an answer from in the last minute (passive), same form. */
  failing?: readonly { server: string; errors: number }[];
}

export interface ServiceSummary {
  /** e.g. "public", "sign-in (staff)", "OIDC (corp) or links"; routes that differ: "/: sign-in; /hook: public". */
  access: string;
  /** Whether any route (or TCP route) answers without any check: told apart at a glance. */
  public: boolean;
  /** Every upstream, HTTP and TCP, without repeats. */
  upstreams: string[];
  /** yes: a certificate covers every host; partial: some; no: none; off: tls none or no listener; "-": no HTTP hosts. */
  https: 'yes' | 'partial' | 'no' | 'off' | '-';
  /**
   * suspended (out of rotation), failing (nginx could not reach an upstream in the last minute),
   * down (every checked server down), degraded (some down), up (checked and none down), unchecked
   * (no health check and no failure seen: nothing known, which is not "healthy").
   */
  state: 'suspended' | 'failing' | 'down' | 'degraded' | 'up' | 'unchecked';
  /** The state in words, e.g. "failing (4 errors)", "1/2 down", "healthy", "not checked". */
  state_label: string;
  /** "2/3" servers down, when any are. */
  down?: string;
}

/** Who one access block admits, in words: any of the parts lets a request through. */
export function describeAccess(a: Access | undefined): string {
  if (!a) return 'public';
  const parts: string[] = [];
  if (a.login) parts.push(a.login.groups.length ? `sign-in (${a.login.groups.join(', ')})` : 'sign-in');
  if (a.provider) parts.push(`OIDC (${a.provider})`);
  if (a.ip) parts.push(`addresses (${a.ip.length})`);
  if (a.links) parts.push('links');
  if (a.api_keys) parts.push('API keys');
  if (a.basic) parts.push('basic');
  if (a.forward_auth) parts.push('forward auth');
  return parts.length ? parts.join(' or ') : 'public';
}

/** The service a `pool address` key belongs to (pools are `<service>-r<n>` or `-t<n>`). */
export function serviceOfKey(key: string): string {
  return key.split(' ')[0]?.replace(/-[rt][0-9]+$/, '') ?? key;
}

export function summarizeService(s: Service, facts: ServiceFacts): ServiceSummary {
  const labels = s.routes.map((r) => ({ path: r.path, label: describeAccess(r.access ?? s.access) }));
  // TCP routes have no gate in front of them.
  for (const t of s.tcp) labels.push({ path: `tcp :${t.port}`, label: 'public' });
  const distinct = [...new Set(labels.map((l) => l.label))];
  const access =
    distinct.length <= 1 ? (distinct[0] ?? '') : labels.map((l) => `${l.path}: ${l.label}`).join('; ');
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
  const errors = (facts.failing ?? [])
    .filter((f) => serviceOfKey(f.server) === s.name)
    .reduce((n, f) => n + f.errors, 0);
  const ratio = `${nDown}/${servers.length}`;
  const [state, state_label]: [ServiceSummary['state'], string] = s.suspended
    ? ['suspended', 'suspended']
    : errors > 0
      ? ['failing', `failing (${errors} error${errors === 1 ? '' : 's'})`]
      : nDown > 0 && nDown === servers.length
        ? ['down', `${ratio} down`]
        : nDown > 0
          ? ['degraded', `${ratio} down`]
          : nChecked > 0
            ? ['up', 'healthy']
            : ['unchecked', 'not checked'];
  return {
    access,
    public: labels.some((l) => l.label === 'public'),
    upstreams,
    https: httpsOf(s, facts),
    state,
    state_label,
    ...(nDown > 0 ? { down: ratio } : {}),
  };
}

function httpsOf(s: Service, facts: ServiceFacts): ServiceSummary['https'] {
  if (s.routes.length === 0 || s.hosts.length === 0) return '-';
  if (s.tls === 'none' || !facts.httpsListener) return 'off';
  const covered = s.hosts.filter((h) => facts.certNames.some((n) => covers(n, h))).length;
  return covered === s.hosts.length ? 'yes' : covered > 0 ? 'partial' : 'no';
}
