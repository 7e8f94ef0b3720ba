import { Command } from 'commander';
import type { NodeList, Status } from '../../api/views/index.js';
import { cliContext } from '../context.js';
import { ago } from '../format.js';

const RELOAD_REASON: Record<NonNullable<Status['edge']['lastReload']>['reason'], string> = {
  config: 'a new config',
  drift: 'files changed behind Gatehouse were restored',
  rollback: 'a new config failed; the previous one was restored',
};

/** A table in nginx's memory (fast lane, certificates): its version there, and whether its file says the same. */
function fastLaneLine(v: Status['edge']['fastLane']): string {
  const short = (x: string | undefined) => x?.slice(0, 12) ?? '-';
  if (!v?.memory) return v?.file ? `version ${short(v.file)} on disk, not in nginx's memory` : '-';
  const kept = v.memory.endsWith('+kept');
  const mem = v.memory.replace(/\+kept$/, '');
  return mem === v.file && !kept
    ? `version ${short(mem)} (memory and file agree)`
    : `memory ${short(mem)}${kept ? ' (+ hosts kept for old workers)' : ''}, file ${short(v.file)}`;
}

/**
 * How the last apply reached nginx. With new files it was `nginx -t`, then nginx started (the first
 * apply after Gatehouse or nginx started) or reloaded: a reload of this apply is one the driver
 * recorded while it ran (at or after the apply began); otherwise nginx was started.
 */
export function applyLine(e: Status['edge']): string {
  const ms = e.lastApplyMs;
  if (!ms) return '-';
  const total = `${Math.round(ms.total)} ms`;
  if (e.lastApplyMode === 'dynamic') return `${total} (in nginx's memory, no reload)`;
  const applied = e.appliedAt ? Date.parse(e.appliedAt) : NaN;
  // ISO times have whole milliseconds: a little slack for their rounding.
  const reloaded = e.lastReload !== undefined && !(Date.parse(e.lastReload.at) < applied - ms.total - 5);
  const how = reloaded ? 'nginx reloaded' : 'nginx started';
  return `${total} (new files: nginx -t ${Math.round(ms.test)} ms, live ${Math.round(ms.reload)} ms later; ${how})`;
}

/** Which replica this is, which one leads, and which replica each edge follows. */
export async function replicaLines(r: Status, nodes: () => Promise<NodeList>): Promise<string[]> {
  const rep = r.replica;
  // One process on SQLite: nothing to choose between.
  if (!rep || rep.store !== 'postgresql') return [];
  const lines = [
    `replica:          ${rep.id} (${rep.leading ? 'the leader' : `follower; leader: ${rep.leader ?? 'none'}`})`,
  ];
  lines.push(`replicas:         ${rep.replicas.join(', ') || '-'}`);
  const list = await nodes().catch(() => undefined);
  for (const n of list?.nodes ?? [])
    lines.push(
      `edge ${n.name}:`.padEnd(18) +
        (n.replica ? `follows replica ${n.replica} (${n.control})` : 'no report yet'),
    );
  return lines;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('proxy state, applied version, last error')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<Status>('GET', '/api/v1/status');
      const e = r.edge;
      const lines = [
        `registry version: ${r.version} (${r.services} services)`,
        `applied version:  ${e.appliedVersion}${r.in_sync ? ' (in sync)' : ' (behind)'}, config ${e.appliedHash?.slice(0, 12) ?? '-'}, applied ${ago(e.appliedAt)}`,
        `proxy:            nginx ${e.proxy.running ? `running (pid ${e.proxy.pid})` : 'NOT running'}, ${e.proxy.restarts} restarts`,
        `fast lane:        ${fastLaneLine(e.fastLane)}`,
        `cert table:       ${fastLaneLine(e.tlsTable)}`,
        `last reload:      ${e.lastReload ? `${ago(e.lastReload.at)} (${RELOAD_REASON[e.lastReload.reason]})` : 'none since start'}`,
        `last apply:       ${applyLine(e)}`,
        `last error:       ${e.lastError ? `${e.lastError.code}: ${e.lastError.message} (version ${e.lastError.version}, ${ago(e.lastError.at)})` : 'none'}`,
      ];
      const certs = r.certificates;
      lines.push(
        `certificates:     ${certs.count}${certs.next_expiry ? `, next expiry ${certs.next_expiry.not_after} (${certs.next_expiry.names.join(',')})` : ''}`,
      );
      for (const o of certs.issuing) lines.push(`issuing:          ${o.names.join(',')}: ${o.step}`);
      for (const o of certs.failed)
        lines.push(`ORDER FAILED:     ${o.names.join(',')}: ${o.error} (next try ${o.retry_at})`);
      const dns = r.dns_records;
      if (dns) {
        lines.push(
          `dns records:      ${dns.ok} ok, ${dns.pending} pending, ${dns.conflict} in conflict, ${dns.error} failing`,
        );
        for (const p of dns.problems)
          lines.push(
            `DNS ${p.state.toUpperCase().padEnd(14)}${p.host}: ${p.message}${p.retry_at ? ` (next try ${p.retry_at})` : ''}`,
          );
      }
      const pa = r.public_address;
      if (pa)
        lines.push(
          `public address:   ${pa.address || 'none yet'}${pa.from ? ` (${pa.from})` : ''}, checked ${pa.checked_at ?? 'not yet'}` +
            (pa.message ? `${pa.ok ? '' : ' FAILED'}: ${pa.message}` : ''),
        );
      if (e.downServers.length) lines.push(`down upstreams:   ${e.downServers.join(', ')}`);
      for (const n of e.upstreamNames ?? [])
        lines.push(
          `${n.state === 'ok' ? 'upstream name:' : 'UPSTREAM NAME:'}    ${n.name} → ${n.addresses.join(', ') || 'nothing (offline page)'}${n.state === 'stale' ? ` (last answer kept until ${n.staleUntil ?? '-'})` : ''}${n.error ? `; ${n.error} (${ago(n.errorAt)})` : ''}${n.refused?.length ? `; left out: ${n.refused.join(', ')}` : ''}`,
        );
      // What nginx itself could not reach in the last minute (routes without an active check too).
      for (const f of e.failingServers ?? [])
        lines.push(`FAILING upstream: ${f.server}: ${f.errors} failed in the last minute`);
      const file = r.sources?.file;
      if (file)
        lines.push(
          file.lastError
            ? `EDGE FILE:        ${file.file}: NOT applied (${file.lastError.message}); the last good one serves`
            : `edge file:        ${file.file}: applied as version ${file.appliedVersion ?? '-'} ${ago(file.appliedAt)}`,
        );
      const docker = r.sources?.docker;
      if (docker) {
        lines.push(
          `docker:           ${docker.endpoint} ${docker.connected ? 'connected' : `NOT connected${docker.lastError ? ` (${docker.lastError})` : ''}`}, last sync ${ago(docker.lastSync)}, ${docker.containers.reduce((n, c) => n + c.services.length, 0)} services from ${docker.containers.length} containers`,
        );
        for (const c of docker.containers.filter((x) => x.problems.length > 0))
          lines.push(
            `LABELS:           ${c.name}: ${c.problems.map((p) => `${p.label}: ${p.message}`).join('; ')}`,
          );
      }
      for (const u of r.unloadable)
        lines.push(`NOT SERVED:       ${u.name}: ${u.error} (PUT it again to fix)`);
      if (r.data_key) lines.push(`DATA KEY:         ${r.data_key.message}`);
      lines.push(...(await replicaLines(r, () => ctx.client.call<NodeList>('GET', '/api/v1/nodes'))));
      ctx.print(lines.join('\n'), r);
    });
}
