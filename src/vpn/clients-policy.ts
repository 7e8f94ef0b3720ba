import { isIPv4 } from 'node:net';
import type { Service } from '../model/service.js';
import { parseEndpoint } from '../model/values.js';
import type { PolicyTargets, UpstreamAddr, VpnPolicy } from '../model/vpn-client.js';

export type { PolicyTargets, UpstreamAddr };

/**
 * What a VPN client's policy lets it reach, as pure functions: the AllowedIPs of its config and the
 * destinations the server's nftables rules admit from its address.
 */

/** The IPv4 upstreams a client could reach through the server (not the server's loopback). */
export function upstreamsOf(service: Service): UpstreamAddr[] {
  const raw = [
    ...service.routes.flatMap((r) => r.upstreams.map((u) => parseEndpoint(u, true))),
    ...service.tcp.flatMap((t) => t.upstreams.map((u) => parseEndpoint(u, false))),
  ];
  const out = new Map<string, UpstreamAddr>();
  for (const e of raw)
    if (typeof e !== 'string' && isIPv4(e.host) && !e.host.startsWith('127.'))
      out.set(`${e.host}:${e.port}`, { ip: e.host, port: e.port });
  return [...out.values()];
}

/** `services` names the services a `services:` policy lists that do not exist (for a 4xx). */
export function policyTargets(
  policy: VpnPolicy,
  ctx: { range: string; subnets: string[]; services: Service[] },
): PolicyTargets | { unknown: string[] } {
  const allUpstreams = ctx.services.flatMap(upstreamsOf);
  const fullBlocks = [ctx.range, ...ctx.subnets, ...new Set(allUpstreams.map((u) => `${u.ip}/32`))];
  if (policy.kind === 'full') return { blocks: fullBlocks, upstreams: [] };
  if (policy.kind === 'ports') return { blocks: fullBlocks, ports: policy.ports, upstreams: [] };
  const byName = new Map(ctx.services.map((s) => [s.name, s]));
  const unknown = policy.services.filter((n) => !byName.has(n));
  if (unknown.length) return { unknown };
  return {
    blocks: [],
    upstreams: policy.services.flatMap((n) => {
      const s = byName.get(n);
      return s ? upstreamsOf(s) : [];
    }),
  };
}

/** The client config's AllowedIPs: what it routes into the tunnel (the server decides what passes). */
export function clientAllowedIps(t: PolicyTargets, serverAddress: string): string[] {
  const set = new Set([`${serverAddress}/32`, ...t.blocks, ...t.upstreams.map((u) => `${u.ip}/32`)]);
  return [...set];
}
