import type { FastifyInstance } from 'fastify';
import { chmod, lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { NginxDriver } from './drivers/nginx/driver.js';
import { hostChecks } from './edge/host-checks.js';
import { LocalEdge } from './edge/local-edge.js';
import { apiSocketPath, parseListen, portalHost, type Settings } from './model/settings.js';
import { Gate } from './gate/gate.js';
import { Sealer } from './gate/secrets.js';
import { CertStore } from './tls/store.js';
import { AcmeIssuer } from './tls/acme.js';
import { CertManager } from './tls/manager.js';
import { DnsProviders } from './dns/providers.js';
import { Metrics } from './observe/metrics.js';
import { buildGateServer } from './gate/server.js';
import { SecurityLog } from './gate/security-log.js';
import { SESSION_KEY_ENV } from './drivers/nginx/gate.js';
import { durationMs } from './model/values.js';
import type { Logger } from './observe/log.js';
import { Registry } from './registry/registry.js';
import { pruneVersions } from './registry/snapshots.js';
import { buildApiServer } from './sources/api/server.js';
import { buildRegisterServer } from './sources/register/server.js';
import { BUILTIN_TEMPLATES, checkTemplates } from './sources/register/templates.js';
import { TokenCheck } from './sources/tokens.js';
import { openSqlite, type Db } from './store/db.js';

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
  await mkdir(dataDir, { recursive: true });
  // Traversable, not listable: nginx workers (an unprivileged user) read their files below it.
  await chmod(dataDir, 0o711);
  await mkdir(join(dataDir, 'run'), { recursive: true, mode: 0o700 });

  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown step failed'));
  };
  try {
    const db = await openSqlite(join(dataDir, 'gatehouse.db'));
    cleanups.push(() => db.destroy());
    const portal = portalHost(settings);
    const registry = await Registry.open(db, reservedPorts(settings), {
      ...hostChecks,
      reservedHosts: new Map(portal ? [[portal, 'login portal']] : []),
    });
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

    const sealer = await Sealer.load(dataDir, settings.secret);
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
      // What the live config does (a certificate may cover a host that opted out with tls: none).
      originOf: async (host) => {
        if (!edgeRef.current?.servesHttps(host)) return `http://${host}`;
        return `https://${host}${settings.https_port === 443 ? '' : `:${settings.https_port}`}`;
      },
    });
    const gateServer = buildGateServer(gate, log.child({ part: 'gate' }));
    await rm(gate.env.socket, { force: true });
    await gateServer.listen({ path: gate.env.socket });
    await gate.openSocket(gate.env.socket);
    cleanups.push(() => gateServer.close());
    const sessionPrune = setInterval(() => void gate.sessions.prune().catch(() => undefined), 3_600_000);
    sessionPrune.unref();
    cleanups.push(async () => clearInterval(sessionPrune));

    const { dir: tlsDir, inMemory } = await keyDir(dataDir);
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
    const edge = (edgeRef.current = new LocalEdge(
      registry,
      driver,
      { http: settings.http_port, https: settings.https_port },
      log.child({ part: 'edge' }),
      async () => ({ certs: await certs.inventory(), challenges, ownHosts: portal ? [portal] : [] }),
    ));
    let certManager: CertManager | undefined;
    certs.onChange(() => {
      edge.schedule();
      // A certificate removed may leave hosts uncovered: look at once, not at the next hourly pass.
      void certManager?.kick();
    });
    // Certificates expire without a write: look again every hour.
    const certTimer = setInterval(() => edge.schedule(), 3_600_000);
    certTimer.unref();
    cleanups.push(async () => clearInterval(certTimer));
    cleanups.push(() => edge.stop());
    await edge.start({
      driftCheckMs: durationMs(settings.drift_check_interval),
      logMaxBytes: settings.nginx_log_max_mb * 1024 * 1024,
    });

    if (settings.acme_directory && settings.https_port) {
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
            await edge.refresh();
          },
          remove: async (token) => {
            challenges.delete(token);
            edge.schedule();
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

    metrics.onScrape(async () => {
      metrics.certExpiry.reset();
      for (const c of await certs.list()) {
        metrics.certExpiry.set(
          { id: c.id, names: c.names.join(',') },
          Math.floor(Date.parse(c.notAfter) / 1000),
        );
      }
      for (const [kind, n] of gate.counts) metrics.securityEvents.set({ kind }, n);
      metrics.appliedVersion.set(edge.getStatus().appliedVersion);
    });

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
      log: apiLog,
    };
    const api = buildApiServer({ ...apiDeps, token: admin.check });
    const local = buildApiServer(apiDeps);
    const regServer = buildRegisterServer({
      registry,
      settings,
      token: register.check,
      log: log.child({ part: 'register' }),
    });
    const apiAddr = await listen(api, settings.api_listen);
    cleanups.push(() => api.close());
    const socket = apiSocketPath(dataDir);
    await rm(socket, { force: true });
    await local.listen({ path: socket });
    await chmod(socket, 0o600);
    cleanups.push(() => local.close());
    const regAddr = await listen(regServer, settings.register_listen);
    cleanups.push(() => regServer.close());

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

/**
 * Where private keys are written for nginx: a root-only directory on /run when /run is a tmpfs, so
 * keys never reach a disk in the clear; else inside the data dir. Never a world-writable tmpfs
 * (/dev/shm): another user could have prepared the path. One directory per data dir.
 */
async function keyDir(dataDir: string): Promise<{ dir: string; inMemory: boolean }> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  const runIsTmpfs = /^\S+ \/run tmpfs /m.test(mounts);
  if (!runIsTmpfs || process.getuid?.() !== 0) return { dir: join(dataDir, 'nginx', 'tls'), inMemory: false };
  const id = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12);
  const parts = ['/run/gatehouse', join('/run/gatehouse', id), join('/run/gatehouse', id, 'tls')];
  for (const p of parts) {
    await mkdir(p, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    // Ours, a real directory, root's alone: anything else and keys stay in the data dir.
    const st = await lstat(p);
    if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
      return { dir: join(dataDir, 'nginx', 'tls'), inMemory: false };
    }
  }
  return { dir: join('/run/gatehouse', id, 'tls'), inMemory: true };
}

async function listen(app: FastifyInstance, spec: string): Promise<string> {
  const l = parseListen(spec);
  if (l.path) {
    await rm(l.path, { force: true });
    return app.listen({ path: l.path });
  }
  return app.listen({ host: l.host, port: l.port ?? 0 });
}
