// The gate's start for startGatehouse (gatehouse.ts): the gate itself, its HTTP server on the unix
// socket nginx asks, and the hourly session pruning.
import type { FastifyInstance } from 'fastify';
import { rm } from 'node:fs/promises';
import { Gate } from './gate/gate.js';
import { buildGateServer } from './gate/server.js';
import { every, type Lifecycle } from './lifecycle.js';
import { publicOrigin } from './model/settings.js';
import { durationMs } from './model/values.js';
import type { Core } from './start-parts.js';

const HOUR = 3_600_000;

/**
 * The gate (sessions, users, the login portal) and its HTTP server on the unix socket nginx asks.
 * The portal links to hosts the way clients reach them.
 */
export async function startGate(
  life: Lifecycle,
  deps: Core,
  servesHttps: (host: string) => boolean,
): Promise<{ gate: Gate; gateServer: FastifyInstance }> {
  const { settings, portal } = deps;
  const pub = publicOrigin(settings);
  const gate = await Gate.open({
    db: deps.db,
    dataDir: settings.data_dir,
    sealer: deps.sealer,
    registry: deps.registry,
    log: deps.log.child({ part: 'gate' }),
    ...(settings.base_domain ? { baseDomain: settings.base_domain } : {}),
    ...(portal ? { portalHost: portal } : {}),
    sessionTtlMs: durationMs(settings.session_ttl),
    brand: settings.portal_name,
    ...(pub ? { publicOrigin: pub } : {}),
    // What the live config does (a certificate may cover a host that opted out with tls: none),
    // on the port clients use (public_url's, else the listener's).
    originOf: async (host) => {
      if (pub) return `${pub.scheme}://${host}${pub.port}`;
      if (!servesHttps(host))
        return `http://${host}${settings.http_port === 80 ? '' : `:${settings.http_port}`}`;
      return `https://${host}${settings.https_port === 443 ? '' : `:${settings.https_port}`}`;
    },
  });
  const gateServer = buildGateServer(gate, deps.log.child({ part: 'gate' }));
  await life.start({
    start: async () => {
      await rm(gate.env.socket, { force: true });
      await gateServer.listen({ path: gate.env.socket });
      await gate.openSocket(gate.env.socket);
    },
    stop: () => gateServer.close(),
  });
  await life.start(every(HOUR, () => gate.sessions.prune()));
  // Expired keys' files go (nginx refuses them at their expiry already).
  await life.start(every(HOUR, () => gate.apiKeys.sync()));
  return { gate, gateServer };
}
