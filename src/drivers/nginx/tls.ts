import type { EdgeConfig, Pool, Site } from '../../compile/edge-config.js';
import { httpsPortPart, indent, listen } from './common.js';
import { acmeLocation } from './acme.js';
import { filePath, lit } from './escape.js';
import type { FastEntry } from './lanes.js';
import type { RenderEnv } from './env.js';
import { siteServer } from './site.js';
import { tlsCertLines } from './tls-dynamic.js';

/**
 * HTTPS: server blocks on the https port for every host a certificate covers, a redirect from HTTP
 * for those hosts, and a default server that refuses the handshake for names Gatehouse has no
 * certificate for. Certificates and keys are files named by fingerprint in `env.tlsDir`, written by
 * the driver (never part of the rendered, hashed config). The http module's servers take their
 * certificate from nginx's memory by SNI (tls-dynamic.ts), so the config names only which hosts
 * are served over HTTPS, not with which certificate; TLS-terminating TCP routes (stream, which has
 * no Lua here) name their files, and a new certificate for them reloads.
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

export function tlsHttpPreamble(plan: TlsPlan): string[] {
  if (plan.certOf.size === 0) return [];
  // No OCSP stapling: nginx staples only certificates it loaded from its config, and these are set
  // per handshake from Lua (see tls-dynamic.ts). A stapled response is optional for clients.
  return [
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

/** The hosts of `hosts` served over HTTPS, in their order. */
function withCert(hosts: string[], plan: TlsPlan): string[] {
  return hosts.filter((h) => plan.certOf.has(h));
}

/** The https side: fast-lane hosts in one server, full sites' HTTPS hosts, the refusing default. */
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
  const fastHosts = withCert(
    fast.map((f) => f.host),
    plan,
  );
  if (fastHosts.length > 0)
    lines.push(
      'server {',
      ...tlsListen(cfg, env).map(indent),
      `    server_name ${fastHosts.map(lit).join(' ')};`,
      ...tlsCertLines(env).map(indent),
      `    include ${gen}/pages.conf;`,
      `    include ${gen}/fast-lane.conf;`,
      '}',
      '',
    );
  full.forEach((site, i) => {
    const hosts = withCert(site.hosts, plan);
    if (hosts.length === 0) return;
    lines.push(
      ...siteServer({ hosts, routes: site.routes }, i, cfg, pools, env, {
        listen: tlsListen(cfg, env),
        extra: tlsCertLines(env),
        https: true,
      }),
    );
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
