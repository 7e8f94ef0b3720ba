import type { FastifyInstance } from 'fastify';
import { chmod, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NginxDriver } from './drivers/nginx/driver.js';
import { hostChecks } from './edge/host-checks.js';
import { LocalEdge } from './edge/local-edge.js';
import {
  apiSocketPath,
  parseListen,
  portalHost,
  publicOrigin,
  type Settings,
  type Template,
} from './model/settings.js';
import { Gate } from './gate/gate.js';
import { Sealer } from './store/secrets.js';
import { CertStore } from './tls/store.js';
import { keyDir } from './tls/key-dir.js';
import { EdgeFeed } from './edge/feed.js';
import { NodeStore } from './edge/nodes.js';
import { CertManager } from './tls/manager.js';
import { DnsProviders } from './dns/providers.js';
import { Metrics } from './observe/metrics.js';
import { fillMetrics } from './api/metrics-scrape.js';
import { buildGateServer } from './gate/server.js';
import { SecurityLog } from './gate/security-log.js';
import { SESSION_KEY_ENV } from './model/session.js';
import { durationMs } from './model/values.js';
import type { Logger } from './observe/log.js';
import { Registry } from './registry/registry.js';
import { pruneVersions } from './registry/snapshots.js';
import { buildApiServer } from './api/server.js';
import { buildRegisterServer } from './api/register.js';
import { BUILTIN_TEMPLATES, checkTemplates } from './sources/register/templates.js';
import { TokenCheck } from './api/tokens.js';
import { WatchedFile } from './sources/file/watch.js';
import type { DockerSource } from './sources/docker/source.js';
import { AgentLeases } from './sources/agent/leases.js';
import { openSqlite, type Db } from './store/db.js';
import { dbFile, guardRegistry, instanceFile, prepareDataDir, writeInstance } from './store/data-dir.js';
import { securePermissions } from './store/permissions.js';

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
  /** Actual bound addresses (useful when a port was 0). */
  addresses: { api: string; register: string; socket: string };
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

/**
 * Starts everything for single-machine mode: registry (SQLite), the local edge driving nginx, the
 * management API (TCP with the admin token, plus a local unix socket) and the registration API.
 */
export async function startGatehouse(settings: Settings, log: Logger): Promise<Gatehouse> {
  checkTemplates({ ...BUILTIN_TEMPLATES, ...settings.templates });
  const dataDir = settings.data_dir;
  // Refuses (workers locked out, a registry emptied) before anything is opened or nginx touched.
  await prepareDataDir(dataDir, log);

  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown step failed'));
  };
  try {
    const db = await openSqlite(dbFile(dataDir));
    cleanups.push(() => db.destroy());
    const portal = portalHost(settings);
    const registry = await Registry.open(db, reservedPorts(settings), {
      ...hostChecks,
      reservedHosts: new Map(portal ? [[portal, 'login portal']] : []),
    });
    // Refuses a registry that was emptied; marks the data dir once it holds a version.
    guardRegistry(dataDir, registry, log);
    for (const u of registry.unloadable) {
      log.error(
        { service: u.name, error: u.error },
        'stored service no longer valid: not served until it is fixed (PUT it again)',
      );
    }
    await pruneVersions(registry, settings.snapshot_keep, settings.snapshot_keep_days);
    const pruneTimer = setInterval(
      () =>
        void pruneVersions(registry, settings.snapshot_keep, settings.snapshot_keep_days).catch(
          () => undefined,
        ),
      3_600_000,
    );
    pruneTimer.unref();
    cleanups.push(async () => clearInterval(pruneTimer));

    const admin = await TokenCheck.load(dataDir, 'admin-token', settings.admin_token);
    const register = await TokenCheck.load(dataDir, 'register-token', settings.register_token);

    const sealer = await Sealer.load(dataDir, settings.secret, db);
    const metrics = new Metrics();
    const certs = new CertStore(db, sealer);
    const dnsProviders = new DnsProviders(db, sealer);
    /** ACME HTTP-01 answers in flight, served by the edge with the config. */
    const challenges = new Map<string, string>();
    /** The edge, once it exists (the gate is built first and asks it later). */
    const edgeRef: { current?: LocalEdge } = {};
    const gate = await Gate.open({
      db,
      dataDir,
      sealer,
      registry,
      log: log.child({ part: 'gate' }),
      ...(settings.base_domain ? { baseDomain: settings.base_domain } : {}),
      ...(portal ? { portalHost: portal } : {}),
      sessionTtlMs: durationMs(settings.session_ttl),
      brand: settings.portal_name,
      ...(publicOrigin(settings) ? { publicOrigin: publicOrigin(settings) } : {}),
      // What the live config does (a certificate may cover a host that opted out with tls: none),
      // on the port clients use (public_url's, else the listener's).
      originOf: async (host) => {
        const pub = publicOrigin(settings);
        if (pub) return `${pub.scheme}://${host}${pub.port}`;
        if (!edgeRef.current?.servesHttps(host))
          return `http://${host}${settings.http_port === 80 ? '' : `:${settings.http_port}`}`;
        return `https://${host}${settings.https_port === 443 ? '' : `:${settings.https_port}`}`;
      },
    });
    // The edge file (GATEHOUSE_FILE): applied before nginx first starts, and again on each change.
    const fileTemplates = new Map<string, Record<string, Template>>();
    const baseTemplates = new Set([...Object.keys(BUILTIN_TEMPLATES), ...Object.keys(settings.templates)]);
    let watchedFile: WatchedFile | undefined;
    if (settings.file) {
      const wf = new WatchedFile(
        settings.file,
        { registry, users: gate.users, db, templates: fileTemplates, baseTemplates },
        log.child({ part: 'file' }),
      );
      await wf.start();
      cleanups.push(() => wf.stop());
      watchedFile = wf;
    }

    const gateServer = buildGateServer(gate, log.child({ part: 'gate' }));
    await rm(gate.env.socket, { force: true });
    await gateServer.listen({ path: gate.env.socket });
    await gate.openSocket(gate.env.socket);
    cleanups.push(() => gateServer.close());
    const sessionPrune = setInterval(() => void gate.sessions.prune().catch(() => undefined), 3_600_000);
    sessionPrune.unref();
    cleanups.push(async () => clearInterval(sessionPrune));

    const { dir: tlsDir, inMemory } = await keyDir(dataDir, join(dataDir, 'nginx', 'tls'));
    // Keys in memory-backed storage go with us (nginx stops with us too).
    if (inMemory) cleanups.push(() => rm(dirname(tlsDir), { recursive: true, force: true }));
    const driver = new NginxDriver({
      bin: settings.nginx_bin,
      prefix: join(dataDir, 'nginx'),
      modulesDir: settings.nginx_modules_dir,
      workers: settings.nginx_workers,
      trustedProxies: settings.trusted_proxies,
      log: log.child({ part: 'nginx' }),
      gate: gate.env,
      env: { [SESSION_KEY_ENV]: gate.sessionKey },
      certMaterial: (id) => certs.material(id),
      tlsDir,
    });
    const tlsInput = async () => ({
      certs: await certs.inventory(),
      challenges,
      ownHosts: portal ? [portal] : [],
    });
    const edge = (edgeRef.current = new LocalEdge(
      registry,
      driver,
      { http: settings.http_port, https: settings.https_port },
      log.child({ part: 'edge' }),
      tlsInput,
    ));
    // Remote edge nodes: the same config (per role), certificates and gate state.
    const feed = new EdgeFeed({
      registry,
      listeners: { http: settings.http_port, https: settings.https_port },
      tlsInput,
      certMaterial: (id) => certs.material(id),
      gate: {
        stateDir: gate.env.stateDir,
        sessionKey: gate.sessionKey,
        cookie: gate.env.cookie,
        ...(portal ? { portalHost: portal } : {}),
      },
      log: log.child({ part: 'feed' }),
    });
    feed.start();
    const nodeStore = new NodeStore(db);
    cleanups.push(async () => feed.stop());
    let certManager: CertManager | undefined;
    certs.onChange(() => {
      edge.schedule();
      feed.signal();
      // A certificate removed may leave hosts uncovered: look at once, not at the next hourly pass.
      void certManager?.kick();
    });
    // Certificates expire without a write: look again every hour.
    const certTimer = setInterval(() => {
      edge.schedule();
      feed.signal();
    }, 3_600_000);
    certTimer.unref();
    cleanups.push(async () => clearInterval(certTimer));
    cleanups.push(() => edge.stop());
    await edge.start({
      driftCheckMs: durationMs(settings.drift_check_interval),
      logMaxBytes: settings.nginx_log_max_mb * 1024 * 1024,
    });

    if (settings.acme_directory && settings.https_port) {
      // acme-client and dockerode are loaded only where used: on every instance they cost ~20 MB of
      // RSS and 11 MB of heap (dockerode brings ssh2, whose WebAssembly poly1305 reserves 16 MB).
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
        db,
        sealer,
        {
          // An answer must be live on the edge before the CA is asked to look.
          add: async (token, keyAuthorization) => {
            challenges.set(token, keyAuthorization);
            feed.signal();
            await edge.refresh();
            // Public edges answer the CA too (DNS points at them): wait a moment for them to have it.
            await feed.settled(5000);
          },
          remove: async (token) => {
            challenges.delete(token);
            edge.schedule();
            feed.signal();
          },
        },
        log.child({ part: 'acme' }),
        (name) => dnsProviders.forName(name),
      );
      certManager = new CertManager(registry, certs, issuer, log.child({ part: 'certs' }), {
        ...(settings.base_domain ? { baseDomain: settings.base_domain } : {}),
        ownHosts: portal ? [portal] : [],
        hasDns: async (name) => (await dnsProviders.forName(name)) !== undefined,
        onExpiring: (c) =>
          void gate
            .event('cert_expiring', '', '', `${c.names.join(',')} expires ${c.notAfter}`)
            .catch(() => undefined),
        onFailure: (names) => {
          metrics.orderFailures.inc({ names: names.join(',') });
          void gate.event('cert_order_failed', '', '', names.join(',')).catch(() => undefined);
        },
      });
      await certManager.start();
      const manager = certManager;
      cleanups.push(async () => manager.stop());
    }

    const securityLog = new SecurityLog(join(dataDir, 'nginx', 'logs', 'security.log'), gate);
    await securityLog.start();
    cleanups.push(async () => securityLog.stop());

    metrics.onScrape(() => fillMetrics(metrics, { certs, gate, edge, nodes: nodeStore, feed }));

    // Docker (GATEHOUSE_DOCKER_ENDPOINT): container labels publish services, watched in the background.
    let docker: DockerSource | undefined;
    if (settings.docker_endpoint) {
      const ds = new (await import('./sources/docker/source.js')).DockerSource({
        endpoint: settings.docker_endpoint,
        ...(settings.docker_network ? { network: settings.docker_network } : {}),
        resyncMs: durationMs(settings.docker_resync_interval),
        registry,
        log: log.child({ part: 'docker' }),
        // Recorded with the other events (GET /api/v1/events?kind=docker_labels).
        onProblems: (container, problems) =>
          void gate
            .event(
              'docker_labels',
              '',
              '',
              `${container}: ${problems.map((p) => `${p.label}: ${p.message}`).join('; ')}`.slice(0, 1000),
            )
            .catch(() => undefined),
      });
      ds.start();
      cleanups.push(() => ds.stop());
      docker = ds;
    }

    const apiLog = log.child({ part: 'api' });
    // The TCP listener asks for the admin token; the local socket's file mode is its access control.
    const apiDeps = {
      registry,
      edge,
      settings,
      gate,
      certs,
      certManager,
      dnsProviders,
      metrics,
      feed,
      fileTemplates,
      baseTemplates,
      sourceStatus: () => ({
        ...(watchedFile ? { file: watchedFile.status } : {}),
        ...(docker ? { docker: docker.getStatus() } : {}),
      }),
      log: apiLog,
    };
    const api = buildApiServer({ ...apiDeps, token: admin.check });
    const local = buildApiServer(apiDeps);
    const agents = new AgentLeases(registry, durationMs(settings.agent_grace), log.child({ part: 'agents' }));
    agents.start();
    cleanups.push(async () => agents.stop());
    const regServer = buildRegisterServer({
      registry,
      settings,
      fileTemplates,
      agents,
      token: register.check,
      log: log.child({ part: 'register' }),
    });
    const apiAddr = await listen(api, settings.api_listen);
    cleanups.push(() => api.close());
    // First at shutdown: edges' long-polls answer now instead of holding the close for 25 s.
    cleanups.push(async () => feed.stop());
    const socket = apiSocketPath(dataDir);
    await rm(socket, { force: true });
    await local.listen({ path: socket });
    await chmod(socket, 0o600);
    cleanups.push(() => local.close());
    const regAddr = await listen(regServer, settings.register_listen);
    cleanups.push(() => regServer.close());

    // For `doctor`: the ports this instance really uses (flags given to `up` are not on disk otherwise).
    writeInstance(dataDir, settings, { api: apiAddr, register: regAddr });
    cleanups.push(() => rm(instanceFile(dataDir), { force: true }));
    // Files created during start-up with others' defaults (nginx's logs and sockets): narrowed.
    await securePermissions(dataDir, log, { quiet: true });

    log.info(
      { api: apiAddr, register: regAddr, http: settings.http_port, version: registry.version },
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
      generated: { admin: admin.generated, register: register.generated },
      addresses: { api: apiAddr, register: regAddr, socket },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function listen(app: FastifyInstance, spec: string): Promise<string> {
  const l = parseListen(spec);
  if (l.path) {
    await rm(l.path, { force: true });
    return app.listen({ path: l.path });
  }
  return app.listen({ host: l.host, port: l.port ?? 0 });
}
