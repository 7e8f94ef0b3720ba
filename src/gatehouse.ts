import type { FastifyInstance } from 'fastify';
import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostChecks } from './edge/host-checks.js';
import type { LocalEdge } from './edge/local-edge.js';
import { EdgePublisher } from './edge/publisher.js';
import { apiSocketPath, parseListen, portalHost, type Settings } from './model/settings.js';
import type { Gate } from './gate/gate.js';
import { Sealer } from './store/secrets.js';
import { CertStore } from './tls/store.js';
import { NodeStore } from './edge/nodes.js';
import { CertManager } from './tls/manager.js';
import { DnsProviders } from './dns/providers.js';
import type { AccessLogSink } from './model/access-log.js';
import type { LocalTraffic } from './edge/traffic-local.js';
import { Metrics } from './observe/metrics.js';
import { fillMetrics } from './api/metrics-scrape.js';
import { fillTunnelMetrics } from './vpn/stats-metrics.js';
import { SecurityLog } from './gate/security-log.js';
import { WafAuditLog } from './gate/waf-audit.js';
import { WAF_AUDIT_LOG } from './drivers/nginx/waf.js';
import type { Logger } from './observe/log.js';
import { Registry } from './registry/registry.js';
import { Replication } from './registry/replication.js';
import { shareRevocations } from './replica-revocations.js';
import { shareApiKeys, shareLinks } from './replica-gate.js';
import { sharedChallenges } from './replica-acme.js';
import { shareKeys } from './replica-keys.js';
import { acmeCertManager, discoverySources, type Core, type Templates } from './start-parts.js';
import { pruneVersions } from './registry/snapshots.js';
import { buildApiServer, type ApiDeps } from './api/server.js';
import { BUILTIN_TEMPLATES, checkTemplates } from './sources/register/templates.js';
import { Listening } from './api/listening.js';
import { sourceStatuses } from './sources/source.js';
import { TokenCheck } from './api/tokens.js';
import { Rotations } from './api/rotate.js';
import { type Db } from './store/db.js';
import { openDatabase } from './store/open.js';
import { BackupService } from './store/backup-schedule.js';
import { guardRegistry, instanceFile, prepareDataDir, writeInstance } from './store/data-dir.js';
import { securePermissions } from './store/permissions.js';
import { Lifecycle } from './lifecycle.js';
import { openLeader, runEvery } from './store/leader.js';
import { sitesForFeed } from './vpn/feed-hook.js';
import { startLanResolver } from './dns/lan-resolver.js';
import { startExternalRecords } from './dns/external-records-part.js';
import { startObserve } from './start-observe.js';
import { startGate } from './start-gate.js';
import { openAccessLog, type AccessLogStore } from './observe/access-log-store.js';

export interface StartOptions {
  /** Where access log records go (default: the no-op sink until the log store exists). */
  accessLogSink?: AccessLogSink;
}

export interface Gatehouse {
  settings: Settings;
  registry: Registry;
  edge: LocalEdge;
  db: Db;
  gate: Gate;
  certs: CertStore;
  dnsProviders: DnsProviders;
  /** Orders and renews certificates (when an ACME directory is configured). */
  certManager?: CertManager;
  /** The gate's HTTP server (portal, session hand-over) on its unix socket. */
  gateServer: FastifyInstance;
  /** Tokens generated at this start (shown once to the operator), by name. */
  generated: { admin?: string; register?: string };
  /**
   * The access log store (docs/logs.md): the AccessLogSink every edge's log reader calls with the
   * records it read (the local edge directly, remote edges through the feed).
   */
  accessLog: AccessLogStore;
  /** Actual bound addresses (useful when a port was 0). */
  addresses: { api: string; register: string; socket: string };
  /** nginx's access log read into traffic metrics and records (edge/traffic-local.ts). */
  traffic: LocalTraffic;
  close(): Promise<void>;
}

/** Ports Gatehouse or nginx itself listens on: a TCP route may not take them. */
export function reservedPorts(s: Settings): Map<number, string> {
  const m = new Map<number, string>([[s.http_port, 'HTTP']]);
  if (s.https_port) m.set(s.https_port, 'HTTPS');
  const api = parseListen(s.api_listen).port;
  if (api) m.set(api, 'API');
  const reg = parseListen(s.register_listen).port;
  if (reg) m.set(reg, 'registration API');
  return m;
}

const HOUR = 3_600_000;

/**
 * Starts everything for single-machine mode: registry (SQLite), the gate, the discovery sources,
 * the edges (nginx here, the feed for remote ones), certificates, and the management API (TCP with
 * the admin token, plus a local unix socket). Each part is stopped at shutdown, in reverse order.
 */
export async function startGatehouse(
  settings: Settings,
  log: Logger,
  opts: StartOptions = {},
): Promise<Gatehouse> {
  checkTemplates({ ...BUILTIN_TEMPLATES, ...settings.templates });
  const dataDir = settings.data_dir;
  // Refuses (workers locked out, a registry emptied) before anything is opened or nginx touched.
  await prepareDataDir(dataDir, log, { sqlite: settings.database_url === undefined });

  const life = new Lifecycle(log);
  try {
    const db = await openDatabase(
      { data_dir: dataDir, database_url: settings.database_url },
      {
        onCheckpointError: (err) =>
          log.warn({ err }, 'WAL checkpoint failed; the writer checkpoints by itself past 10,000 pages'),
      },
    );
    life.onStop(() => db.destroy());
    // Among replicas on one PostgreSQL, one leads: work that must run once runs there only.
    const leader = await life.start(openLeader(settings, db, log.child({ part: 'leader' })));
    const portal = portalHost(settings);
    const { registry, replication } = await openRegistry(life, settings, db, portal, log);
    const prune = async () => {
      const removed = await pruneVersions(registry, settings.snapshot_keep, settings.snapshot_keep_days);
      // Among replicas it says which one pruned; alone, only when there was something to prune.
      const level = removed > 0 || settings.database_url !== undefined ? 'info' : 'debug';
      log[level]({ removed }, 'old versions pruned');
    };
    await life.start(leader.whileLeading('version pruning', () => runEvery(HOUR, prune)));
    const admin = await TokenCheck.load(dataDir, 'admin-token', settings.admin_token);
    const register = await TokenCheck.load(dataDir, 'register-token', settings.register_token);
    const sealer = await Sealer.load(dataDir, settings.secret, db, settings.secret_next);
    life.onStop(BackupService.start(db, dataDir, settings, log, () => leader.leading));
    const metrics = new Metrics();
    const certs = new CertStore(db, sealer);
    const dnsProviders = new DnsProviders(db, sealer);
    // Access logs (docs/logs.md): the AccessLogSink that edges' log readers feed.
    const accessLog = await openAccessLog(settings, log.child({ part: 'access-log' }));
    life.onStop(() => accessLog.close());
    const core: Core = { settings, db, registry, sealer, certs, dnsProviders, metrics, portal, log, leader };

    /** The edges' owner, once it exists (the gate, start-gate.ts, is built first and asks it later). */
    const edges: { publisher?: EdgePublisher } = {};
    const { gate, gateServer } = await startGate(life, core, (host) =>
      Boolean(edges.publisher?.edge.servesHttps(host)),
    );

    // Discovery, before nginx first starts: the edge file's services are in its first config.
    const templates: Templates = {
      fileTemplates: new Map(),
      baseTemplates: new Set([...Object.keys(BUILTIN_TEMPLATES), ...Object.keys(settings.templates)]),
    };
    const { sources, registration, registerApp } = await discoverySources(
      core,
      gate,
      register.check,
      templates,
    );
    for (const source of sources) await life.start(source);

    const publisher = (edges.publisher = await EdgePublisher.open({
      ...core,
      gate,
      reservedPorts: reservedPorts(settings),
    }));
    // Upstreams may name Docker's containers: the docker source knows their addresses.
    for (const source of sources) if (source.names) publisher.names.useKnown(source.names);
    // A revocation reaches nginx's shared memory before the gate answers (sign-out, user changes).
    const revoked = (kind: 'r' | 'u', id: string, ms: number) => publisher.edge.revoked(kind, id, ms);
    // Among replicas, each revocation reaches every replica's nginx and edges too.
    if (replication) await shareRevocations(gate, replication, revoked, log.child({ part: 'replication' }));
    else gate.onRevocation(revoked);
    // And each link admission (or revocation) reaches every replica's admission files.
    if (replication) {
      await shareLinks(gate, replication, log.child({ part: 'replication' }));
      await shareApiKeys(gate, replication, log.child({ part: 'replication' }));
    }
    // ACME HTTP-01 answers live in the store: every replica serves them (the CA may reach any).
    const challenges = sharedChallenges(db, publisher, leader, replication, log.child({ part: 'acme' }));
    const certManager = await acmeCertManager(core, gate, challenges);
    // Another replica's certificate change re-renders here too (PostgreSQL).
    replication?.onCerts(() => publisher.changed());
    certs.onChange(() => {
      publisher.changed();
      replication?.announceCerts();
      // A certificate removed may leave hosts uncovered: look at once, not at the next hourly pass.
      void certManager?.kick();
    });
    await life.start(publisher);
    await life.start(challenges);
    if (certManager) {
      await life.start(certManager);
      // Its passes run on the leader only; a replica that comes to lead looks at once.
      await life.start(
        leader.whileLeading('certificates', () => {
          void certManager.kick();
          return () => undefined;
        }),
      );
    }
    await life.start(new SecurityLog(join(dataDir, 'nginx', 'logs', 'security.log'), gate));
    await life.start(new WafAuditLog(join(dataDir, 'nginx', 'logs', WAF_AUDIT_LOG), gate));
    const { edge, feed } = publisher;
    // Traffic metrics and access logs, and the alert rules (start-observe.ts).
    const { traffic, alerts, edgeSink } = await startObserve(life, core, {
      gate,
      edge,
      feed,
      certManager,
      dataDir,
      sink: opts.accessLogSink ?? accessLog,
    });
    // A rotated session key reaches nginx (a restart: it reads keys from its environment) and edges.
    gate.onSessionKey(() => publisher.sessionKeyChanged());
    // Keys rotated on another replica are in force here at once (read from the store).
    const announceKeys = shareKeys(
      { db, sealer, gate, settings, log: log.child({ part: 'keys' }) },
      replication,
    );
    const rotations = new Rotations({
      ...core,
      admin: admin.check,
      register: register.check,
      gate,
      feed,
      log: log.child({ part: 'rotate' }),
      announce: announceKeys,
    });
    metrics.onScrape(() => fillMetrics(metrics, { certs, gate, edge, nodes: new NodeStore(db), feed }));

    // WireGuard sites: public edges get them as peers in their config (docs/sites.md).
    const {
      sites,
      clients,
      tunnels,
      stop: stopTunnel,
    } = sitesForFeed(
      db,
      settings,
      feed,
      log,
      replication,
      () => core.registry.list().map((r) => r.service),
      (e) => void gate.event(e.kind, '', '', e.detail).catch(() => undefined),
    );
    metrics.onScrape(() => fillTunnelMetrics(metrics, { tunnels, sites, clients }));
    life.onStop(stopTunnel);
    life.onStop(core.registry.onChange(() => clients.servicesChanged()));
    // Split-horizon DNS: LAN clients resolve served hosts to the LAN edge (docs/dns.md).
    const lanDns = await startLanResolver({ ...core, nodes: () => new NodeStore(db).list() }, life);
    // External DNS records follow the services and the public address (docs/dns.md), on the leader.
    const { externalRecords, publicAddress } = await startExternalRecords(life, core, gate, () =>
      new NodeStore(db).list(),
    );
    const api = await serveApi(life, admin.check, {
      ...core,
      externalRecords,
      publicAddress,
      sites,
      clients,
      tunnels,
      ...templates,
      gate,
      edge,
      feed,
      crowdsec: publisher.crowdsec,
      certManager,
      leader,
      alerts,
      accessLog,
      sourceStatus: () => sourceStatuses(sources),
      rotations,
      registerApp,
      // Edges' records: kept, and their nginx's own refusals become security events as this machine's do.
      traffic: { sink: edgeSink, metrics: traffic.metrics },
      ...(lanDns ? { lanDns } : {}),
      log: log.child({ part: 'api' }),
    });
    // For `doctor`: the ports this instance really uses (flags given to `up` are not on disk otherwise).
    writeInstance(dataDir, settings, { api: api.address, register: registration.address });
    life.onStop(() => rm(instanceFile(dataDir), { force: true }));
    // First at shutdown: edges' long-polls answer now instead of holding the close for 25 s.
    life.onStop(() => feed.stop());
    // Files created during start-up with others' defaults (nginx's logs and sockets): narrowed.
    await securePermissions(dataDir, log, { quiet: true });

    log.info(
      {
        api: api.address,
        register: registration.address,
        http: settings.http_port,
        version: registry.version,
      },
      'Gatehouse is up',
    );
    return {
      settings,
      registry,
      edge,
      db,
      gate,
      certs,
      dnsProviders,
      ...(certManager ? { certManager } : {}),
      gateServer,
      accessLog,
      traffic,
      generated: { admin: admin.generated, register: register.generated },
      addresses: { api: api.address, register: registration.address, socket: api.socket },
      close: () => life.stopAll(),
    };
  } catch (err) {
    await life.stopAll();
    throw err;
  }
}

/**
 * The registry, refused if it was emptied. On PostgreSQL it follows the other replicas sharing the
 * database.
 */
async function openRegistry(
  life: Lifecycle,
  settings: Settings,
  db: Db,
  portal: string | undefined,
  log: Logger,
): Promise<{ registry: Registry; replication?: Replication }> {
  const registry = await Registry.open(db, reservedPorts(settings), {
    ...hostChecks,
    reservedHosts: new Map(portal ? [[portal, 'login portal']] : []),
  });
  // Refuses a registry that was emptied; marks the data dir once it holds a version. The marker
  // guards the SQLite file in the data dir: a PostgreSQL store is not there.
  if (settings.database_url === undefined) guardRegistry(settings.data_dir, registry, log);
  for (const u of registry.unloadable) {
    log.error(
      { service: u.name, error: u.error },
      'stored service no longer valid: not served until it is fixed (PUT it again)',
    );
  }
  if (settings.database_url === undefined) return { registry };
  const replication = new Replication(settings.database_url, registry, log.child({ part: 'replication' }));
  await life.start(replication);
  return { registry, replication };
}

/**
 * The management API: on TCP with the admin token, and on a local unix socket whose file mode is
 * its access control (the CLI's way in).
 */
async function serveApi(
  life: Lifecycle,
  admin: TokenCheck,
  deps: ApiDeps,
): Promise<{ address: string; socket: string }> {
  const tcp = buildApiServer({ ...deps, token: admin });
  const { address } = await life.start(new Listening(tcp, parseListen(deps.settings.api_listen)));
  const socket = apiSocketPath(deps.settings.data_dir);
  await life.start(new Listening(buildApiServer(deps), { path: socket }));
  await chmod(socket, 0o600);
  return { address, socket };
}
