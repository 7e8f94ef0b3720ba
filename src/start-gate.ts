// The gate's start for startGatehouse (gatehouse.ts): the gate itself, its HTTP server on the unix
// socket nginx asks, and the hourly session pruning.
import type { FastifyInstance } from 'fastify';
import { rm } from 'node:fs/promises';
import { AlertChannels } from './alerts/channels.js';
import { Gate } from './gate/gate.js';
import type { MagicLinks } from './gate/magic-links.js';
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
  const mailChannel = settings.magic_link_channel;
  const channels = new AlertChannels(deps.db, deps.sealer);
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
    ...(mailChannel
      ? {
          magicLinkTtlMs: durationMs(settings.magic_link_ttl),
          sendMail: (to: string, subject: string, text: string) =>
            channels.mailTo(mailChannel, to, subject, text),
        }
      : {}),
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
  if (gate.magic) await life.start(every(HOUR, () => (gate.magic as MagicLinks).prune()));
  if (mailChannel) {
    // Said at start: a name that is wrong now would only show when someone asks for a link.
    const found = (await channels.list()).find((c) => c.name === mailChannel);
    if (found?.type !== 'email')
      deps.log.warn(
        { magic_link_channel: mailChannel },
        found
          ? `magic_link_channel: ${mailChannel} is a ${found.type} channel; sign-in links need an email one`
          : `magic_link_channel: no alert channel ${mailChannel} yet; add an email channel with that name`,
      );
  }
  // Expired keys' files go (nginx refuses them at their expiry already).
  await life.start(every(HOUR, () => gate.apiKeys.sync()));
  return { gate, gateServer };
}
