import type { FastifyInstance } from 'fastify';
import { parseListen, type Settings, type Template } from './model/settings.js';
import { Gate } from './gate/gate.js';
import { Sealer } from './store/secrets.js';
import { CertStore } from './tls/store.js';
import { CertManager } from './tls/manager.js';
import type { ChallengeSink } from './tls/acme.js';
import { DnsProviders } from './dns/providers.js';
import { Metrics } from './observe/metrics.js';
import { durationMs } from './model/values.js';
import type { Logger } from './observe/log.js';
import { Registry } from './registry/registry.js';
import { buildRegisterServer } from './api/register.js';
import { RegisterSource } from './sources/register/source.js';
import { Listening } from './api/listening.js';
import { type Source } from './sources/source.js';
import { TokenCheck } from './api/tokens.js';
import { WatchedFile } from './sources/file/watch.js';
import { openDockerSource } from './sources/docker/open.js';
import { AgentLeases } from './sources/agent/leases.js';
import { type Db } from './store/db.js';
import { leaderOnlySource, type Leader } from './store/leader.js';

// Parts startGatehouse (gatehouse.ts) builds from settings: the discovery sources and the ACME
// certificate manager, and the core they are made from.

/** What most parts are built from. */
export interface Core {
  settings: Settings;
  db: Db;
  registry: Registry;
  sealer: Sealer;
  certs: CertStore;
  dnsProviders: DnsProviders;
  metrics: Metrics;
  /** The login portal's host, if there is one. */
  portal: string | undefined;
  log: Logger;
  leader: Leader;
}

/** Registration templates: the edge files' (by file), and the names they may not redefine. */
export interface Templates {
  fileTemplates: Map<string, Record<string, Template>>;
  baseTemplates: ReadonlySet<string>;
}

/**
 * The discovery sources configured, in the order they start (and show in status): the edge file,
 * Docker, `gatehouse agent`'s leases, the registration listener.
 */
export async function discoverySources(
  { settings, registry, db, log, leader }: Core,
  gate: Gate,
  token: TokenCheck,
  { fileTemplates, baseTemplates }: Templates,
): Promise<{ sources: Source[]; registration: RegisterSource; registerApp: FastifyInstance }> {
  const agents = new AgentLeases(
    registry,
    durationMs(settings.agent_grace),
    log.child({ part: 'agents' }),
    () => leader.leading,
    settings.database_url !== undefined,
  );
  const app = buildRegisterServer({
    registry,
    settings,
    fileTemplates,
    agents,
    token,
    log: log.child({ part: 'register' }),
  });
  const registration = new RegisterSource(new Listening(app, parseListen(settings.register_listen)));
  const file = settings.file
    ? new WatchedFile(
        settings.file,
        { registry, users: gate.users, db, templates: fileTemplates, baseTemplates },
        log.child({ part: 'file' }),
      )
    : undefined;
  const endpoint = settings.docker_endpoint;
  // A shared daemon is watched by the leader only.
  const docker = endpoint
    ? leaderOnlySource(leader, 'docker', () =>
        openDockerSource(endpoint, settings, registry, gate, log.child({ part: 'docker' })),
      )
    : undefined;
  const sources = [file, docker, agents, registration].filter((s): s is Source => s !== undefined);
  return { sources, registration, registerApp: app };
}

/** Orders and renews certificates, when an ACME directory (and an HTTPS listener) is configured. */
export async function acmeCertManager(
  deps: Core,
  gate: Gate,
  challenges: ChallengeSink,
): Promise<CertManager | undefined> {
  const { settings, dnsProviders, portal, log } = deps;
  if (!settings.acme_directory || !settings.https_port) return undefined;
  // acme-client and dockerode (sources/docker/open.ts) are loaded only where used: on every instance
  // they cost ~20 MB of RSS and 11 MB of heap (dockerode brings ssh2, whose WebAssembly poly1305
  // reserves 16 MB).
  const { AcmeIssuer } = await import('./tls/acme.js');
  const issuer = new AcmeIssuer(
    {
      directory: settings.acme_directory,
      keyType: settings.acme_key_type,
      ...(settings.acme_email ? { email: settings.acme_email } : {}),
      ...(settings.acme_ca_file ? { caFile: settings.acme_ca_file } : {}),
      ...(settings.acme_eab_kid && settings.acme_eab_hmac_key
        ? { eab: { kid: settings.acme_eab_kid, hmacKey: settings.acme_eab_hmac_key } }
        : {}),
    },
    deps.db,
    deps.sealer,
    challenges,
    log.child({ part: 'acme' }),
    (name) => dnsProviders.forName(name),
  );
  return new CertManager(deps.registry, deps.certs, issuer, log.child({ part: 'certs' }), {
    ...(settings.base_domain ? { baseDomain: settings.base_domain } : {}),
    ownHosts: portal ? [portal] : [],
    hasDns: async (name) => (await dnsProviders.forName(name)) !== undefined,
    leading: () => deps.leader.leading,
    onExpiring: (c) =>
      void gate
        .event('cert_expiring', '', '', `${c.names.join(',')} expires ${c.notAfter}`)
        .catch(() => undefined),
    onFailure: (names) => {
      deps.metrics.orderFailures.inc({ names: names.join(',') });
      void gate.event('cert_order_failed', '', '', names.join(',')).catch(() => undefined);
    },
  });
}
