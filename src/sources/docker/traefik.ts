import { Draft, parseBool, parsePort, serviceName } from './draft.js';
import { chooseUpstream, exposedPorts, type ContainerFacts } from './facts.js';
import type { Opt, TraefikLabels } from './traefik-labels.js';
import { applyMiddlewares } from './traefik-middlewares.js';
import { parseRule } from './traefik-rule.js';

/**
 * Traefik HTTP routers of one container → one Gatehouse service each (a compose file written for
 * Traefik works unchanged). A router with no middleware is public, as in Traefik.
 */

/** Router options that need nothing from Gatehouse: it serves HTTP and HTTPS and orders certificates itself. */
const ROUTER_ACCEPTED =
  /^(rule|service|middlewares|entrypoints|tls|tls\.certresolver|tls\.domains\[\d+\]\.(main|sans))$/;
/** Entrypoint names that mean plain HTTP/HTTPS in the usual Traefik set-ups. */
const PUBLIC_ENTRYPOINTS = new Set(['web', 'websecure', 'http', 'https']);
const ROUTER_IGNORED: Record<string, string> = {
  priority: 'ignored: the longest matching path prefix wins',
  'tls.options': "ignored: Gatehouse's own TLS settings apply",
};

/** Service options Gatehouse uses; anything else is reported as ignored. */
const SERVICE_USED = new Set([
  'loadbalancer.server.port',
  'loadbalancer.server.scheme',
  'loadbalancer.healthcheck.path',
  'loadbalancer.healthcheck.interval',
  'loadbalancer.healthcheck.timeout',
  'loadbalancer.passhostheader',
]);

export function traefikDrafts(
  f: ContainerFacts,
  t: TraefikLabels,
  network: string | undefined,
  alone: boolean,
): Draft[] {
  const drafts: Draft[] = [];
  const sole = alone && t.routers.size === 1;
  for (const [router, opts] of t.routers) {
    const rule = opts.get('rule');
    const anchor = rule?.label ?? (opts.values().next().value as Opt).label;
    const d = new Draft(sole ? serviceName(f.name) : serviceName(f.name, router), anchor, f.name);
    d.service.labels['gatehouse/router'] = router.replace(/[^A-Za-z0-9._/-]/g, '-').slice(0, 128);
    drafts.push(d);
    for (const [key, o] of opts) {
      if (ROUTER_IGNORED[key]) d.note(o.label, ROUTER_IGNORED[key]);
      else if (!ROUTER_ACCEPTED.test(key)) d.fail(o.label, `router option ${o.raw} is not supported`);
    }
    // An entrypoint may be the way a router is kept internal; only the usual public ones are known
    // to mean nothing more than HTTP/HTTPS (fail closed; gatehouse.expose says LAN-only).
    const entry = opts.get('entrypoints');
    const unknown = entry?.value
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && !PUBLIC_ENTRYPOINTS.has(e.toLowerCase()));
    if (entry && unknown && unknown.length > 0)
      d.fail(
        entry.label,
        `entrypoint ${unknown.join(', ')} is not web/websecure: if it keeps this router internal, say so with gatehouse.expose=lan and leave entrypoints out`,
      );
    if (!rule) {
      d.fail(anchor, `router ${router} has no rule (Gatehouse needs its Host)`);
      continue;
    }
    const parsed = parseRule(rule.value);
    if ('error' in parsed) {
      d.fail(rule.label, parsed.error);
      continue;
    }
    d.service.hosts = parsed.hosts;
    d.origin(['hosts'], rule.label);
    const upstream = routerUpstream(d, f, t, router, opts.get('service'), network);
    parsed.paths.forEach((p, i) => {
      if (p.exact)
        d.note(
          rule.label,
          `Path(\`${p.value}\`) is routed as a prefix: it also matches ${p.value}/… and longer paths`,
        );
      d.service.routes.push({
        path: p.value,
        upstreams: upstream ? [upstream.address] : [],
        ...(upstream?.health ? { health: upstream.health } : {}),
      });
      d.origin(['routes', i, 'path'], rule.label);
      d.origin(['routes', i, 'upstreams'], upstream?.label ?? rule.label);
      if (upstream?.healthLabel) d.origin(['routes', i, 'health'], upstream.healthLabel);
    });
    applyMiddlewares(d, opts.get('middlewares'), t.middlewares);
  }
  return drafts;
}

interface Upstream {
  address: string;
  label: string;
  health?: { path: string; interval?: string; timeout?: string };
  healthLabel?: string;
}

/** The router's service (named, the only one defined, or the implicit one) → its upstream. */
function routerUpstream(
  d: Draft,
  f: ContainerFacts,
  t: TraefikLabels,
  router: string,
  ref: Opt | undefined,
  network: string | undefined,
): Upstream | undefined {
  let name: string | undefined;
  if (ref) {
    const [n = '', provider] = ref.value.trim().split('@');
    if (provider !== undefined && provider.toLowerCase() !== 'docker') {
      d.fail(ref.label, `service ${ref.value} is not one of this container's: not supported`);
      return undefined;
    }
    name = n;
  } else if (t.services.size === 1) {
    name = t.services.keys().next().value as string;
  } else if (t.services.size > 1) {
    d.fail(d.anchor, `router ${router} must name its service (this container defines ${t.services.size})`);
    return undefined;
  }
  const opts = name === undefined ? new Map<string, Opt>() : t.services.get(name);
  if (!opts) {
    d.fail((ref as Opt).label, `service ${name} is not defined in this container's labels`);
    return undefined;
  }
  for (const [key, o] of opts) {
    if (!SERVICE_USED.has(key)) d.note(o.label, `service option ${o.raw} is not supported: ignored`);
  }
  const portOpt = opts.get('loadbalancer.server.port');
  let port: number | undefined;
  let label = portOpt?.label ?? d.anchor;
  if (portOpt) {
    port = parsePort(portOpt.value);
    if (port === undefined) d.fail(portOpt.label, `"${portOpt.value}" is not a port (1-65535)`);
  } else {
    const exposed = exposedPorts(f);
    if (exposed.length === 1) port = exposed[0];
    else {
      label = `traefik.http.services.${name ?? f.name}.loadbalancer.server.port`;
      d.fail(label, `set the port: the image exposes ${exposed.length ? exposed.join(', ') : 'none'}`);
    }
  }
  const scheme = opts.get('loadbalancer.server.scheme');
  const https = scheme?.value.trim().toLowerCase() === 'https';
  if (scheme && !https && scheme.value.trim().toLowerCase() !== 'http')
    d.fail(scheme.label, `scheme ${scheme.value} is not supported (http or https)`);
  const pass = opts.get('loadbalancer.passhostheader');
  if (pass && parseBool(pass.value) === false)
    d.note(pass.label, 'ignored: the Host header is always passed');
  if (port === undefined) return undefined;
  const choice = chooseUpstream(f, port, network);
  if ('error' in choice) {
    d.fail(label, choice.error);
    return undefined;
  }
  const hc = opts.get('loadbalancer.healthcheck.path');
  const interval = opts.get('loadbalancer.healthcheck.interval')?.value.trim();
  const timeout = opts.get('loadbalancer.healthcheck.timeout')?.value.trim();
  return {
    address: `${https ? 'https://' : ''}${choice.address}`,
    label,
    ...(hc
      ? {
          health: {
            path: hc.value.trim(),
            ...(interval ? { interval } : {}),
            ...(timeout ? { timeout } : {}),
          },
          healthLabel: hc.label,
        }
      : {}),
  };
}
