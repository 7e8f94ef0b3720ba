import type { EdgeConfig, Pool, Site } from '../../compile/edge-config.js';
import { httpsPortPart, indent, listen } from './common.js';
import { acmeLocation } from './acme.js';
import { filePath, lit } from './escape.js';
import type { FastEntry } from './lanes.js';
import type { RenderEnv } from './env.js';
import { siteServer } from './site.js';

/**
 * HTTPS: server blocks on the https port for every host a certificate covers, a redirect from HTTP
 * for those hosts, and a default server that refuses the handshake for names Gatehouse has no
 * certificate for. Certificates and keys are files named by fingerprint in `env.tlsDir`, written by
 * the driver (never part of the rendered, hashed config).
 */
export interface TlsPlan {
  /** host → certificate fingerprint. */
  certOf: Map<string, string>;
}

export function tlsPlan(cfg: EdgeConfig): TlsPlan {
  // No HTTPS listener on this edge (an agent's `--edge-https-port 0`): certificates serve no host.
  if (cfg.listeners.https <= 0) return { certOf: new Map() };
  const fp = new Map(cfg.tls.certs.map((c) => [c.id, c.fingerprint]));
  return { certOf: new Map(cfg.tls.hosts.map(([h, id]) => [h, fp.get(id) as string])) };
}

export function tlsHttpPreamble(plan: TlsPlan, env: RenderEnv): string[] {
  if (plan.certOf.size === 0) return [];
  const resolvers = (env.resolvers ?? []).filter((r) => /^[0-9a-fA-F.:[\]]+$/.test(r));
  return [
    // OCSP stapling where the certificate names a responder (nginx fetches it through a resolver).
    ...(resolvers.length > 0
      ? [
          `resolver ${resolvers.join(' ')} valid=300s;`,
          'resolver_timeout 5s;',
          'ssl_stapling on;',
          'ssl_stapling_verify on;',
        ]
      : []),
    // Modern defaults: TLS 1.2 and 1.3, the library's cipher choice, session resumption.
    'ssl_protocols TLSv1.2 TLSv1.3;',
    'ssl_prefer_server_ciphers off;',
    'ssl_session_cache shared:gh_tls:10m;',
    'ssl_session_timeout 1d;',
    'ssl_session_tickets off;',
  ];
}

export function certFiles(fingerprint: string, env: RenderEnv): string[] {
  const dir = filePath(env.tlsDir ?? `${env.prefix}/tls`);
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new Error(`unsafe fingerprint ${fingerprint}`);
  return [`ssl_certificate ${dir}/${fingerprint}.crt;`, `ssl_certificate_key ${dir}/${fingerprint}.key;`];
}

function tlsListen(cfg: EdgeConfig, env: RenderEnv, extra = ''): string[] {
  return listen(cfg.listeners.https, env.ipv6, ` ssl${extra}`);
}

/** Hosts grouped by the certificate that serves them, in a stable order. */
function byCert(hosts: string[], plan: TlsPlan): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const h of hosts) {
    const fp = plan.certOf.get(h);
    if (!fp) continue;
    const g = groups.get(fp);
    if (g) g.push(h);
    else groups.set(fp, [h]);
  }
  return [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The https side: fast-lane hosts by certificate, full sites by certificate, the refusing default. */
export function tlsServers(
  cfg: EdgeConfig,
  env: RenderEnv,
  plan: TlsPlan,
  fast: FastEntry[],
  full: Site[],
  pools: Map<string, Pool>,
): string[] {
  if (plan.certOf.size === 0) return [];
  const gen = filePath(env.genDir);
  const lines = [
    '# HTTPS: names without a certificate are refused at the handshake',
    'server {',
    ...tlsListen(cfg, env, ' default_server').map(indent),
    '    ssl_reject_handshake on;',
    '}',
    '',
  ];
  for (const [fp, hosts] of byCert(
    fast.map((f) => f.host),
    plan,
  )) {
    lines.push(
      'server {',
      ...tlsListen(cfg, env).map(indent),
      `    server_name ${hosts.map(lit).join(' ')};`,
      ...certFiles(fp, env).map(indent),
      `    include ${gen}/pages.conf;`,
      `    include ${gen}/fast-lane.conf;`,
      '}',
      '',
    );
  }
  full.forEach((site, i) => {
    for (const [fp, hosts] of byCert(site.hosts, plan)) {
      lines.push(
        ...siteServer({ hosts, routes: site.routes }, i, cfg, pools, env, {
          listen: tlsListen(cfg, env),
          extra: certFiles(fp, env),
          https: true,
        }),
      );
    }
  });
  return lines;
}

/** On HTTP, hosts with a certificate are sent to HTTPS. */
export function httpsRedirect(cfg: EdgeConfig, env: RenderEnv, plan: TlsPlan, except?: string): string[] {
  const hosts = [...plan.certOf.keys()].filter((h) => h !== except);
  if (hosts.length === 0) return [];
  const port = httpsPortPart(cfg.listeners.https, env.gate?.publicOrigin);
  return [
    '# HTTP → HTTPS for hosts with a certificate',
    'server {',
    ...listen(cfg.listeners.http, env.ipv6).map(indent),
    `    server_name ${hosts.map(lit).join(' ')};`,
    ...acmeLocation().map(indent),
    '    location / {',
    `        return 301 https://$host${port}$request_uri;`,
    '    }',
    '}',
    '',
  ];
}
