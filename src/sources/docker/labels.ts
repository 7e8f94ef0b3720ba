import type { Service } from '../../model/service.js';
import { Draft, finish, list, parseBool, parsePort, serviceName, type Problem } from './draft.js';
import { chooseUpstream, exposedPorts, type ContainerFacts } from './facts.js';
import { groupTraefikLabels } from './traefik-labels.js';
import { traefikDrafts } from './traefik.js';

export type { Problem } from './draft.js';

/**
 * One container's labels → the services it asks for, and what is wrong or left out. Pure: the same
 * facts always give the same services. Two dialects: Gatehouse's own (`gatehouse.*`) and Traefik's
 * (`traefik.*`), each opted into with its `enable` label.
 */

export interface ParseOptions {
  /** docker_network: which network's address to use when a container is on several. */
  network?: string;
  /** Sources `gatehouse.access=vpn-only` admits (vpnOnlySources); default VPN_RANGES. */
  vpnOnly?: string[];
}

export interface ParsedContainer {
  services: Service[];
  problems: Problem[];
  /** Each service's defining label (its domain or router rule), for problems found later. */
  anchors: Map<string, string>;
}

/**
 * Sources admitted by `gatehouse.access=vpn-only`: RFC 1918, CGNAT (100.64.0.0/10, where Tailscale
 * and Headscale put their clients) and IPv6 unique-local addresses. Loopback is not among them.
 */
export const VPN_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

/**
 * What `vpn-only` admits under the settings: vpn_only_sources `private` (default): VPN_RANGES;
 * `vpn`: only vpn_range (the tunnel addresses of VPN clients and sites). vpn_only_extra is added
 * to either.
 */
export function vpnOnlySources(s: {
  vpn_only_sources: 'private' | 'vpn';
  vpn_only_extra: string[];
  vpn_range: string;
}): string[] {
  const base = s.vpn_only_sources === 'vpn' ? [s.vpn_range] : VPN_RANGES;
  return [...new Set([...base, ...s.vpn_only_extra])];
}

const KEYS = ['domain', 'port', 'path', 'auth', 'access', 'groups', 'healthcheck', 'tls.upstream', 'expose'];
/** Container-wide labels, not route settings. */
const TOP = ['enable', 'network'];

interface Value {
  value: string;
  label: string;
}

export function parseContainer(f: ContainerFacts, opts: ParseOptions = {}): ParsedContainer {
  const problems: Problem[] = [];
  const drafts: Draft[] = [];
  const own = Object.entries(f.labels).filter(([k]) => /^gatehouse\./i.test(k));
  const network =
    f.labels['gatehouse.network']?.trim() || f.labels['traefik.docker.network']?.trim() || opts.network;
  const enable = f.labels['gatehouse.enable'];
  const on = enable === undefined ? undefined : parseBool(enable);
  if (enable !== undefined && on === undefined) {
    problems.push({ label: 'gatehouse.enable', message: `"${enable}" is not true or false` });
  } else if (on === true) {
    drafts.push(...gatehouseDrafts(f, own, network, opts.vpnOnly ?? VPN_RANGES));
  } else if (on === undefined && own.some(([k]) => !TOP.includes(k.slice(10).toLowerCase()))) {
    problems.push({
      label: own[0]?.[0] ?? 'gatehouse.enable',
      message: 'gatehouse.enable=true is missing: not published',
    });
  }

  const t = groupTraefikLabels(f.labels);
  const tOn = t.enable ? parseBool(t.enable.value) : undefined;
  if (t.enable && tOn === undefined) {
    problems.push({ label: t.enable.label, message: `"${t.enable.value}" is not true or false` });
  } else if (tOn === true) {
    problems.push(...t.problems);
    // Traefik would make up a Host from the container name (its defaultRule); there is no such name here.
    if (t.routers.size === 0 && t.problems.length === 0)
      problems.push({ label: 'traefik.enable', message: 'no router: name the host in a router rule' });
    drafts.push(...traefikDrafts(f, t, network, drafts.length === 0));
  } else if (tOn === undefined && t.routers.size > 0) {
    // Traefik's exposedByDefault would publish it; Gatehouse only publishes what opted in.
    problems.push({ label: 'traefik.enable', message: 'traefik.enable=true is missing: not published' });
  }

  // gatehouse.auth/access/groups say who may reach this container; they do not reach into Traefik
  // routers, so a router that would come out open beside them is refused rather than published.
  const guarded = own.some(([k]) => /^gatehouse\.(?:[^.]+\.)?(auth|access|groups)$/i.test(k));
  const services: Service[] = [];
  const anchors = new Map<string, string>();
  for (const d of drafts) {
    const done = finish(d);
    problems.push(...done.problems);
    if (!done.service) continue;
    if (guarded && d.anchor.toLowerCase().startsWith('traefik.') && isOpen(done.service)) {
      problems.push({
        label: d.anchor,
        message:
          'this Traefik router would be public beside gatehouse.* access labels: give it an access middleware or describe it with gatehouse.* labels; not published',
      });
      continue;
    }
    if (anchors.has(done.service.name)) {
      problems.push({
        label: d.anchor,
        message: `service name ${done.service.name} is used twice: not published`,
      });
      continue;
    }
    anchors.set(done.service.name, d.anchor);
    services.push(done.service);
  }
  // A container-wide problem (an unknown label, say) fails each of its services: say it once.
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.label}\n${p.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return { services, problems: unique, anchors };
}

/** Whether anyone may reach a service (no access rule on it or on any of its routes). */
function isOpen(s: Service): boolean {
  const open = (a: Service['access']) => !a || a.public === true;
  return s.routes.some((r) => open(r.access ?? s.access));
}

/**
 * `gatehouse.<key>` describes the container's service; `gatehouse.<name>.<key>` another one, named
 * `<container>-<name>`, which inherits every `gatehouse.<key>` it does not set itself. The unnamed
 * one is a service only when it has a domain.
 */
function gatehouseDrafts(
  f: ContainerFacts,
  own: [string, string][],
  network: string | undefined,
  vpnOnly: string[],
): Draft[] {
  const defaults = new Map<string, Value>();
  const groups = new Map<string, Map<string, Value>>();
  const broken = new Map<string | undefined, Problem[]>();
  const blame = (group: string | undefined, p: Problem) =>
    broken.set(group, [...(broken.get(group) ?? []), p]);
  for (const [label, value] of own) {
    const key = label.slice('gatehouse.'.length).toLowerCase();
    if (TOP.includes(key)) continue;
    if (KEYS.includes(key)) {
      defaults.set(key, { value, label });
      continue;
    }
    const m = /^([^.]+)\.(.+)$/.exec(key);
    const group = m?.[1];
    if (group && KEYS.includes(m[2] as string)) {
      if (!/^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$/.test(group)) {
        blame(group, { label, message: 'a service name part is 1-30 lowercase letters, digits and "-"' });
      }
      if (!groups.has(group)) groups.set(group, new Map());
      groups.get(group)?.set(m[2] as string, { value, label });
    } else {
      // An unknown key may have been meant to restrict access: nothing it could apply to is published.
      blame(group && groups.has(group) ? group : undefined, {
        label,
        message: `unknown label (known: ${KEYS.join(', ')})`,
      });
    }
  }
  const names: (string | undefined)[] = [...groups.keys()];
  if (defaults.has('domain') || groups.size === 0) names.unshift(undefined);
  const drafts: Draft[] = [];
  for (const group of names) {
    const get = (k: string) =>
      (group === undefined ? undefined : groups.get(group)?.get(k)) ?? defaults.get(k);
    const labelOf = (k: string) => get(k)?.label ?? `gatehouse.${group === undefined ? '' : `${group}.`}${k}`;
    const domain = get('domain');
    const d = new Draft(serviceName(f.name, group), labelOf('domain'), f.name);
    for (const p of [...(broken.get(undefined) ?? []), ...(group ? (broken.get(group) ?? []) : [])])
      d.fail(p.label, p.message);
    drafts.push(d);
    if (!domain) {
      d.fail(labelOf('domain'), 'set the domain(s) to publish, e.g. gatehouse.domain=app.example.com');
      continue;
    }
    d.service.hosts = list(domain.value);
    d.origin(['hosts'], domain.label);
    const port = portOf(d, f, get('port'), labelOf('port'));
    const tls = get('tls.upstream');
    const https = tls ? parseBool(tls.value) : false;
    if (https === undefined) d.fail(labelOf('tls.upstream'), `"${tls?.value}" is not true or false`);
    const choice = port === undefined ? undefined : chooseUpstream(f, port, network);
    if (choice && 'error' in choice) d.fail(labelOf('port'), choice.error);
    const address = choice && 'address' in choice ? choice.address : '';
    const health = get('healthcheck');
    d.service.routes.push({
      path: get('path')?.value.trim() ?? '/',
      upstreams: [`${https ? 'https://' : ''}${address}`],
      ...(health ? { health: { path: health.value.trim() } } : {}),
    });
    d.origin(['routes', 0, 'path'], labelOf('path'));
    d.origin(['routes', 0, 'upstreams'], labelOf('port'));
    d.origin(['routes', 0, 'health'], labelOf('healthcheck'));
    const expose = get('expose');
    if (expose) {
      d.service.expose = expose.value.trim().toLowerCase();
      d.origin(['expose'], expose.label);
    }
    applyAccess(d, vpnOnly, get('auth'), get('access'), get('groups'));
  }
  return drafts;
}

function portOf(d: Draft, f: ContainerFacts, port: Value | undefined, label: string): number | undefined {
  if (port) {
    const n = parsePort(port.value);
    if (n === undefined) d.fail(port.label, `"${port.value}" is not a port (1-65535)`);
    return n;
  }
  const exposed = exposedPorts(f);
  if (exposed.length === 1) return exposed[0];
  d.fail(label, `set the container port: the image exposes ${exposed.length ? exposed.join(', ') : 'none'}`);
  return undefined;
}

/**
 * `auth` says who (required: signed in; none: anyone), `access` from where (public: anywhere,
 * vpn-only: `vpnOnly` (see vpnOnlySources), link-only: holders of a temporary link). Without either, sign-in is
 * required. `groups` implies sign-in. vpn-only with sign-in needs both (a deny rule for every other
 * address); link-only with sign-in admits either.
 */
function applyAccess(d: Draft, vpnOnly: string[], auth?: Value, reach?: Value, groups?: Value): void {
  const a = auth?.value.trim().toLowerCase();
  const r = reach?.value.trim().toLowerCase();
  if (auth && a !== 'required' && a !== 'none') d.fail(auth.label, `"${auth.value}" is not required or none`);
  if (reach && r !== 'public' && r !== 'vpn-only' && r !== 'link-only')
    d.fail(reach.label, `"${reach.value}" is not public, vpn-only or link-only`);
  const groupList = groups ? list(groups.value) : [];
  if (groups && a === 'none') d.fail(groups.label, 'groups need sign-in (gatehouse.auth=required)');
  const login = a === 'required' || (a === undefined && (r === undefined || groupList.length > 0));
  const access = (d.service.access ??= {});
  if (login) {
    access.login = { groups: groupList };
    if (groups) d.origin(['access', 'login', 'groups'], groups.label);
  }
  if (r === 'vpn-only') {
    if (login) d.onlyFrom(vpnOnly, (reach as Value).label);
    else access.ip = [...vpnOnly];
  } else if (r === 'link-only') {
    access.links = true;
  } else if (!login) {
    access.public = true;
  }
  if (reach) d.origin(['access'], reach.label);
  if (login) d.origin(['access', 'login'], auth?.label ?? groups?.label ?? d.anchor);
}
