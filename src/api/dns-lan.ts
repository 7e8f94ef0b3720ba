import type { FastifyInstance } from 'fastify';
import { lanDnsOff, type LanResolver } from '../dns/lan-resolver.js';
import type { Settings } from '../model/settings.js';
import type { LanDnsView } from './views/dns-lan.js';

/** Split-horizon DNS under /api/v1/dns/lan: what the LAN resolver should answer, and does. */
export async function dnsLanRoutes(
  app: FastifyInstance,
  settings: Settings,
  lan: LanResolver | undefined,
): Promise<void> {
  app.get('/dns/lan', async (): Promise<LanDnsView> => (lan ? lan.status() : lanDnsOff(settings)));
  // A sync now (after fixing the resolver, say), rather than at the next check.
  app.post('/dns/lan/sync', async (): Promise<LanDnsView> => {
    if (!lan) return lanDnsOff(settings);
    await lan.kick();
    return lan.status();
  });
}
