import type { EdgeConfig, Pool, TcpListener } from '../../compile/edge-config.js';
import { address, filePath, ident, mapKey } from './escape.js';
import { indent, listen } from './common.js';
import { certFiles } from './tls.js';
import type { RenderEnv } from './env.js';

/** The stream context: TCP routes, each with an nginx upstream block per pool (a change reloads). */

/** A TCP route's pool (HTTP pools are lines of the Lua table, see pools.ts). */
function streamUpstream(pool: Pool, env: RenderEnv): string[] {
  const lines = [`upstream gh_${ident(pool.id)} {`];
  if (pool.lb === 'least_conn') lines.push('    least_conn;');
  if (pool.lb === 'ip_hash') lines.push('    hash $remote_addr consistent;');
  pool.servers.forEach((s, i) => {
    const flags = ['max_fails=3', 'fail_timeout=10s'];
    if (pool.lb === 'first' && i > 0) flags.push('backup');
    if (pool.down || env.down?.has(`${pool.id} ${s}`)) flags.push('down');
    lines.push(`    server ${address(s)} ${flags.join(' ')};`);
  });
  lines.push('}', '');
  return lines;
}

export function streamBody(cfg: EdgeConfig, pools: Map<string, Pool>, env: RenderEnv): string[] {
  const p = filePath(env.prefix);
  const fp = new Map(cfg.tls.certs.map((c) => [c.id, c.fingerprint]));
  const lines = [
    `log_format gh_stream '$remote_addr [$time_iso8601] $protocol $server_port $status $bytes_sent $bytes_received $session_time "$upstream_addr"';`,
    `access_log ${p}/logs/stream.log gh_stream buffer=32k flush=1s;`,
    '',
  ];
  const passthrough = new Map<number, TcpListener[]>();
  for (const t of cfg.tcp) {
    const pool = pools.get(t.pool) as Pool;
    lines.push(...streamUpstream(pool, env));
    if (t.tls?.mode === 'passthrough') {
      passthrough.set(t.port, [...(passthrough.get(t.port) ?? []), t]);
      continue;
    }
    const terminate = t.tls?.mode === 'terminate';
    const certFp = t.tls?.certId ? fp.get(t.tls.certId) : undefined;
    if (terminate && !certFp) {
      // No certificate yet: not served at all rather than served without TLS.
      lines.push(`# ${t.service}: port ${t.port} waits for a certificate for ${t.tls?.sni[0] ?? ''}`, '');
      continue;
    }
    lines.push(
      `# ${t.service}`,
      'server {',
      ...listen(t.port, env.ipv6, terminate ? ' ssl' : '').map(indent),
      ...(terminate && certFp
        ? [...certFiles(certFp, env), 'ssl_protocols TLSv1.2 TLSv1.3;'].map(indent)
        : []),
      '    proxy_connect_timeout 5s;',
      `    proxy_pass gh_${ident(pool.id)};`,
      '}',
      '',
    );
  }
  for (const [port, routes] of passthrough) {
    lines.push(
      `# TLS passthrough on ${port}, by SNI: ${routes.map((r) => r.service).join(', ')}`,
      `map $ssl_preread_server_name $gh_sni_${port} {`,
      // "*.example.com" keys match as wildcards.
      '    hostnames;',
      // A name nobody routes: no upstream, the connection is closed.
      '    default "";',
      ...routes.flatMap((r) => (r.tls?.sni ?? []).map((n) => `    ${mapKey(n)} gh_${ident(r.pool)};`)),
      '}',
      'server {',
      ...listen(port, env.ipv6).map(indent),
      '    ssl_preread on;',
      '    proxy_connect_timeout 5s;',
      `    proxy_pass $gh_sni_${port};`,
      '}',
      '',
    );
  }
  return lines;
}
