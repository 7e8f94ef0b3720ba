import { op, read } from './openapi-build.js';

/** Split-horizon DNS for the LAN (docs/dns.md, "Split horizon"). */
export function dnsLanPaths(): Record<string, object> {
  return {
    '/dns/lan': {
      get: read(
        'Split-horizon DNS: the LAN resolver (lan_dns), the LAN addresses and where they came from, each served host with what the resolver should answer and what it answers (asked at lan_dns_server), hosts left to the usual answer and why, the last sync and error',
        ['LAN DNS', 'LanDns'],
      ),
    },
    '/dns/lan/sync': {
      post: op({
        summary: 'Sync the LAN resolver now (rather than at the next check) and answer its status',
        answers: { 200: ['Synced', 'LanDns'] },
        noErrors: true,
      }),
    },
  };
}
