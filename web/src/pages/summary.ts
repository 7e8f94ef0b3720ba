/**
 * What the services list shows per service, derived from the stored service and the edge's status:
 * who may pass, where it goes, HTTPS, and how its upstreams are doing. Pure (no React, no imports),
 * so that it is unit tested on its own; the CLI has its own in src/model/summary.ts, to be unified.
 */

/** The parts of an access block the summary reads (see accessSchema). */
export interface AccessLike {
  public?: boolean;
  login?: { groups?: string[] };
  provider?: string;
  ip?: string[];
  links?: boolean;
  basic?: unknown[];
  forward_auth?: unknown;
}

export interface ServiceLike {
  name: string;
  hosts: string[];
  access?: AccessLike;
  routes?: { path?: string; upstreams: string[]; access?: AccessLike; health?: unknown }[];
  tcp?: { port: number; upstreams: string[] }[];
  tls?: 'auto' | 'none';
  suspended?: boolean;
}

/** The edge's view of upstreams: keys are `<service>-r<n> <address>` (or `-t<n>` for TCP). */
export interface EdgeHealth {
  downServers: string[];
  checkedServers?: string[];
  failingServers?: { server: string; errors: number }[];
}

export type HealthState = 'failing' | 'down' | 'healthy' | 'not checked' | 'suspended';

export interface ServiceSummary {
  access: string;
  /** True when some route admits anyone: told apart from guarded ones at a glance. */
  open: boolean;
  upstreams: string[];
  https: string;
  health: { state: HealthState; label: string };
}

/** Who may pass one access block: the admitting parts, any of which lets a request through. */
export function accessLabel(a: AccessLike | undefined): string {
  if (!a) return 'public';
  const parts: string[] = [];
  if (a.login) parts.push(a.login.groups?.length ? `sign-in (${a.login.groups.join(', ')})` : 'sign-in');
  if (a.provider) parts.push(`OIDC (${a.provider})`);
  if (a.ip) parts.push(`addresses (${a.ip.length})`);
  if (a.links) parts.push('links');
  if (a.basic) parts.push('basic');
  if (a.forward_auth) parts.push('forward auth');
  if (parts.length === 0) return a.public === false ? 'nobody' : 'public';
  return parts.join(' or ');
}

/** The service name an edge key belongs to. */
export function serviceOfKey(key: string): string {
  return key.split(' ')[0]?.replace(/-[rt][0-9]+$/, '') ?? key;
}

/** The edge's lists by service, built once per render rather than searched per row. */
export interface HealthIndex {
  down: Map<string, number>;
  failing: Map<string, number>;
  checked: Set<string>;
}

export function indexHealth(edge: EdgeHealth): HealthIndex {
  const idx: HealthIndex = { down: new Map(), failing: new Map(), checked: new Set() };
  for (const k of edge.downServers) {
    const s = serviceOfKey(k);
    idx.down.set(s, (idx.down.get(s) ?? 0) + 1);
  }
  for (const f of edge.failingServers ?? []) {
    const s = serviceOfKey(f.server);
    idx.failing.set(s, (idx.failing.get(s) ?? 0) + f.errors);
  }
  for (const k of edge.checkedServers ?? []) idx.checked.add(serviceOfKey(k));
  return idx;
}

export function healthOf(
  svc: ServiceLike,
  edge: EdgeHealth | HealthIndex | undefined,
): ServiceSummary['health'] {
  if (svc.suspended) return { state: 'suspended', label: 'suspended' };
  if (!edge) return { state: 'not checked', label: '…' };
  const idx = 'checked' in edge ? edge : indexHealth(edge);
  const errors = idx.failing.get(svc.name) ?? 0;
  if (errors) return { state: 'failing', label: `failing (${errors} error${errors === 1 ? '' : 's'})` };
  const down = idx.down.get(svc.name) ?? 0;
  if (down) return { state: 'down', label: `${down} upstream${down === 1 ? '' : 's'} down` };
  // Only an active check says "healthy"; no errors seen is not the same thing.
  if (idx.checked.has(svc.name)) return { state: 'healthy', label: 'healthy' };
  return { state: 'not checked', label: 'not checked' };
}

/** Whether a certificate name (possibly `*.domain`) covers a host. */
function covers(name: string, host: string): boolean {
  if (name === host) return true;
  return (
    name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.')
  );
}

export function summarize(
  svc: ServiceLike,
  edge: EdgeHealth | HealthIndex | undefined,
  certNames: readonly string[] = [],
): ServiceSummary {
  const routes = svc.routes ?? [];
  const labels = routes.map((r) => ({ path: r.path ?? '/', label: accessLabel(r.access ?? svc.access) }));
  const distinct = [...new Set(labels.map((l) => l.label))];
  let access: string;
  if (routes.length === 0) access = svc.tcp?.length ? 'TCP' : '';
  else if (distinct.length === 1) access = distinct[0] ?? '';
  else access = labels.map((l) => `${l.path}: ${l.label}`).join('; ');
  const upstreams = [
    ...routes.flatMap((r) => r.upstreams),
    ...(svc.tcp ?? []).flatMap((t) => t.upstreams.map((u) => `${u} (tcp :${t.port})`)),
  ];
  let https: string;
  if (svc.hosts.length === 0) https = '—';
  else if (svc.tls === 'none') https = 'off';
  else {
    const covered = svc.hosts.filter((h) => certNames.some((n) => covers(n, h))).length;
    https =
      covered === svc.hosts.length
        ? 'yes'
        : covered
          ? `${covered} of ${svc.hosts.length} hosts`
          : 'no certificate yet';
  }
  return {
    access,
    open: labels.some((l) => l.label === 'public'),
    upstreams: [...new Set(upstreams)],
    https,
    health: healthOf(svc, edge),
  };
}
