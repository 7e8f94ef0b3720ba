import type { Problem } from './draft.js';

/**
 * Traefik's docker labels, grouped: routers, services and middlewares by name with their options.
 * Option keys are matched case-insensitively (as Traefik does); names and header names keep their
 * case. Labels of kinds Gatehouse has nothing for (TCP/UDP routers, ...) come back as problems.
 */

export interface Opt {
  value: string;
  /** The label as written, for problems. */
  label: string;
  /** The option path as written (header names keep their case). */
  raw: string;
}

export interface Middleware {
  name: string;
  type: string;
  /** The label that defines it (first seen), for problems about the whole middleware. */
  label: string;
  opts: Map<string, Opt>;
}

export interface TraefikLabels {
  enable?: Opt;
  network?: Opt;
  routers: Map<string, Map<string, Opt>>;
  services: Map<string, Map<string, Opt>>;
  middlewares: Map<string, Middleware>;
  problems: Problem[];
}

function put(into: Map<string, Map<string, Opt>>, name: string, opt: Opt): void {
  let m = into.get(name);
  if (!m) into.set(name, (m = new Map()));
  m.set(opt.raw.toLowerCase(), opt);
}

export function groupTraefikLabels(labels: Record<string, string>): TraefikLabels {
  const out: TraefikLabels = {
    routers: new Map(),
    services: new Map(),
    middlewares: new Map(),
    problems: [],
  };
  for (const [label, value] of Object.entries(labels)) {
    const parts = label.split('.');
    if (parts[0]?.toLowerCase() !== 'traefik') continue;
    const lower = parts.map((p) => p.toLowerCase());
    const key = lower.slice(1).join('.');
    if (key === 'enable') {
      out.enable = { value, label, raw: 'enable' };
      continue;
    }
    if (key === 'docker.network') {
      out.network = { value, label, raw: 'docker.network' };
      continue;
    }
    const [kind, section, name] = [lower[1], lower[2], parts[3]];
    if (kind === 'http' && name && parts.length > 4) {
      const raw = parts.slice(4).join('.');
      if (section === 'routers') {
        put(out.routers, name, { value, label, raw });
        continue;
      }
      if (section === 'services') {
        put(out.services, name, { value, label, raw });
        continue;
      }
      if (section === 'middlewares') {
        const type = (lower[4] as string).replace('ipwhitelist', 'ipallowlist');
        // `...middlewares.gz.compress=true` has no option: the type alone.
        const optRaw = parts.slice(5).join('.');
        const mw = out.middlewares.get(name);
        if (!mw) {
          out.middlewares.set(name, {
            name,
            type,
            label,
            opts: new Map([[optRaw.toLowerCase(), { value, label, raw: optRaw }]]),
          });
        } else if (mw.type !== type) {
          // One middleware, two types: Traefik refuses it too. Unusable, so anything using it fails.
          mw.type = 'conflicting types';
        } else {
          mw.opts.set(optRaw.toLowerCase(), { value, label, raw: optRaw });
        }
        continue;
      }
    }
    if (kind === 'tcp' || kind === 'udp') {
      out.problems.push({
        label,
        message: `${kind.toUpperCase()} routing by Traefik labels is not supported`,
      });
    } else {
      out.problems.push({ label, message: 'not supported: ignored' });
    }
  }
  return out;
}
