import type { CrowdsecBouncer } from '../gate/crowdsec.js';
import { crowdsecRoutes } from './crowdsec.js';
import type { SourceStatuses } from '../sources/source.js';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { LocalEdge } from '../edge/local-edge.js';
import type { Gate } from '../gate/gate.js';
import type { CertStore } from '../tls/store.js';
import type { CertManager } from '../tls/manager.js';
import type { DnsProviders } from '../dns/providers.js';
import { edgeAccessLogRoutes, type EdgeTrafficDeps } from './edge-access-logs.js';
import type { Metrics } from '../observe/metrics.js';
import { GatehouseError } from '../model/errors.js';
import { portalHost, type Settings, type Template } from '../model/settings.js';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import { frameworkErrors, installErrorHandling } from './http-errors.js';
import { TokenCheck } from './tokens.js';
import type { ApiContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { servicesRoutes } from './services.js';
import { snapshotRoutes } from './snapshots.js';
import { statusRoutes } from './status.js';
import { userRoutes } from './users.js';
import { linkRoutes } from './links.js';
import { apiKeyRoutes } from './api-keys.js';
import { providerRoutes } from './providers.js';
import { certRoutes } from './certs.js';
import { dnsRoutes } from './dns.js';
import { dnsLanRoutes } from './dns-lan.js';
import type { LanResolver } from '../dns/lan-resolver.js';
import { applyRoutes } from './apply.js';
import { adminFromCookie, CSRF_HEADER, sessionRoutes } from './session.js';
import { streamRoutes } from './stream.js';
import { isUiPath, uiRoutes } from './ui.js';
import { edgeRoutes, nodeRoutes } from './nodes.js';
import type { Leader } from '../store/leader.js';
import type { Sealer } from '../store/secrets.js';
import { NodeStore } from '../edge/nodes.js';
import type { EdgeFeed } from '../edge/feed.js';
import { edgeGateRelay } from './edge-gate.js';
import { edgeRegisterRelay } from './edge-register.js';
import { AuditLog, auditChanges, CLI_UID_HEADER, socketActor } from './audit-log.js';
import { auditRoutes } from './audit.js';
import { backupRoutes } from './backups.js';
import { controlUrlOf } from './control-url.js';
import { rotateRoutes, type Rotations } from './rotate.js';
import { siteEdgeRoutes, siteRoutes } from './sites.js';
import { SiteStore } from '../vpn/store.js';
import { VpnClientStore } from '../vpn/clients.js';
import { vpnClientRoutes } from './vpn-clients.js';
import { TunnelStats } from '../vpn/stats.js';
import type { ExternalRecords } from '../dns/external-records.js';
import type { PublicAddress } from '../dns/public-address.js';
import { dnsRecordRoutes } from './dns-records.js';
import { dnsDoctorRoutes } from './dns-doctor.js';
import { alertRoutes } from './alerts.js';
import { alertRuleRoutes } from './alert-rules.js';
import { AlertStore } from '../alerts/store.js';
import type { AlertService } from '../alerts/service.js';
import { AlertChannels } from '../alerts/channels.js';
import type { AccessLogStore } from '../observe/access-log-store.js';
import { logRoutes } from './logs.js';
import { analyticsRoutes } from './analytics.js';

export interface ApiDeps {
  registry: Registry;
  edge: LocalEdge;
  settings: Settings;
  gate: Gate;
  certs: CertStore;
  certManager?: CertManager | undefined;
  dnsProviders: DnsProviders;
  metrics?: Metrics;
  /** What edge nodes take their config from. */
  feed: EdgeFeed;
  /** CrowdSec's bouncer (setting crowdsec_url); absent: no decisions are enforced. */
  crowdsec?: CrowdsecBouncer | undefined;
  /** The leader election (absent: this process alone, always leading). */
  leader?: Leader;
  /** The data key (GET /status reports a rotation this replica cannot follow). */
  sealer?: Sealer;
  /** Registration templates from edge files, by file. */
  fileTemplates: Map<string, Record<string, Template>>;
  /** Template names edge files may not redefine (built in, from settings). */
  baseTemplates: ReadonlySet<string>;
  /** What each discovery source reports (see /api/v1/status). */
  sourceStatus?: () => SourceStatuses;
  log: Logger;
  /** Undefined for the local unix socket, whose file permissions are its access control. */
  token?: TokenCheck;
  /** Secret rotation (POST /api/v1/rotate/{kind}); absent where the process cannot rotate. */
  rotations?: Rotations;
  /** The registration listener's app: edges relay registrations to it (edge --register-listen). */
  registerApp?: FastifyInstance;
  /** WireGuard sites (shared with the feed, which gives public edges their peers). */
  sites?: SiteStore;
  /** VPN clients (peers of the same WireGuard servers). */
  clients?: VpnClientStore;
  /** Tunnel figures every WireGuard server reports (vpn/stats.ts). */
  tunnels?: TunnelStats;
  /** Split-horizon DNS for the LAN (absent: lan_dns off). */
  lanDns?: LanResolver;
  /** External DNS records (GET /api/v1/dns/records). */
  externalRecords?: ExternalRecords;
  /** Dynamic DNS: the public address watched (GET /status). */
  publicAddress?: PublicAddress;
  /** Alert rules and their engine (docs/alerts.md). */
  alerts?: AlertService;
  /** The access log store (GET /logs, /logs/stream, /analytics; docs/logs.md). */
  accessLog?: AccessLogStore;
  /** Edges' access logs and traffic counters (POST /edge/v1/access-logs); absent: not taken. */
  traffic?: EdgeTrafficDeps;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is changing things: the signed-in admin's name (web UI), else "admin" (the token). */
    actor?: string;
  }
}

/** The management REST API under /api/v1. */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const nodes = new NodeStore(deps.registry.db, deps.leader?.id ?? '');
  const audit = new AuditLog(deps.registry.db);
  const sites = deps.sites ?? new SiteStore(deps.registry.db, deps.settings.vpn_range);
  const clients =
    deps.clients ??
    new VpnClientStore(deps.registry.db, sites, () => deps.registry.list().map((r) => r.service));
  const relay = edgeGateRelay(deps.gate.env.socket, nodes, deps.feed);
  const registrations = deps.registerApp ? edgeRegisterRelay(deps.registerApp, nodes, deps.log) : () => false;
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    frameworkErrors,
    // Edges' gate traffic is relayed as raw HTTP, before Fastify would parse a body.
    serverFactory: (handler) =>
      createServer((req, res) => {
        if (!relay(req, res) && !registrations(req, res)) handler(req, res);
      }),
  });
  // Bodies are JSON only: text/plain would arrive as a string and fail as "expected object".
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, deps.log);
  const ctx: ApiContext = {
    registry: deps.registry,
    edge: deps.edge,
    settings: deps.settings,
    gate: deps.gate,
    certs: deps.certs,
    dnsProviders: deps.dnsProviders,
    fileTemplates: deps.fileTemplates,
    baseTemplates: deps.baseTemplates,
    sourceStatus: deps.sourceStatus ?? (() => ({})),
    ...(deps.leader ? { leader: deps.leader } : {}),
    ...(deps.sealer ? { sealer: deps.sealer } : {}),
    ...(deps.certManager ? { certManager: deps.certManager } : {}),
    ...(deps.externalRecords ? { externalRecords: deps.externalRecords } : {}),
    ...(deps.publicAddress ? { publicAddress: deps.publicAddress } : {}),
    async maybeWait(version, wait) {
      if (wait !== 'true' && wait !== '1') return {};
      const s = await deps.edge.waitFor(version);
      return { applied: { version: s.appliedVersion, generation: s.generation } };
    },
  };
  const token = deps.token;
  if (!token) {
    // The local unix socket: its file permissions are its access control.
    app.addHook('onRequest', async (req) => {
      req.via = 'socket';
      req.actor = socketActor(req.headers[CLI_UID_HEADER]);
    });
  }
  if (token) {
    // The metrics token (Prometheus) reads GET /metrics and nothing else: elsewhere it is a wrong token.
    const metricsSetting = deps.settings.metrics_token;
    const metricsToken =
      typeof metricsSetting === 'string' && metricsSetting !== ''
        ? TokenCheck.fromToken(metricsSetting)
        : undefined;
    app.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      if (path === '/api/v1/openapi.json' || path === '/healthz' || path === '/api/v1/session') return;
      if (
        path === '/metrics' &&
        (req.method === 'GET' || req.method === 'HEAD') &&
        metricsToken?.matchesHeader(req.headers.authorization)
      )
        return;
      // The web UI's static files are public; it signs in through /api/v1/session.
      if ((req.method === 'GET' || req.method === 'HEAD') && isUiPath(path)) return;
      // Edge agents authenticate with their own node tokens (checked by those routes).
      if (req.url.startsWith('/edge/v1/')) return;
      if (token.matchesHeader(req.headers.authorization)) {
        req.via = 'token';
        return;
      }
      // The web UI: an admin user's session cookie; changes also need the CSRF header.
      const who = await adminFromCookie(deps.gate, req);
      if (who) {
        // Versions record who made a change through the UI.
        req.actor = who.username;
        req.via = 'session';
        const safe = req.method === 'GET' || req.method === 'HEAD';
        if (safe || req.headers[CSRF_HEADER] === '1') return;
        return reply
          .code(403)
          .send(
            new GatehouseError(
              'csrf',
              `a change made with a session cookie needs the ${CSRF_HEADER} header`,
              403,
            ).toJSON(),
          );
      }
      return reply
        .code(401)
        .header('WWW-Authenticate', 'Bearer')
        .send(
          new GatehouseError('unauthorized', 'missing or wrong admin token (or not signed in)', 401).toJSON(),
        );
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  const tunnels = deps.tunnels ?? new TunnelStats();
  void app.register(async (edge) => edgeRoutes(edge, ctx, nodes, deps.feed, tunnels));
  void app.register(async (edge) => siteEdgeRoutes(edge, sites, nodes));
  const traffic = deps.traffic;
  if (traffic) void app.register(async (edge) => edgeAccessLogRoutes(edge, nodes, traffic));
  const metrics = deps.metrics;
  if (metrics) {
    // Prometheus: with the metrics token or the admin token as a bearer token (or the local socket).
    app.get('/metrics', async (_req, reply) =>
      reply.header('content-type', metrics.contentType).send(await metrics.text()),
    );
  }
  app.get('/api/v1/openapi.json', async () => openApiDocument());
  void app.register(async (ui) => uiRoutes(ui));
  void app.register(
    async (api) => {
      // A change that cannot be audited still happened: say so loudly, with what was lost.
      auditChanges(api, audit, (err, entry) =>
        deps.log.error(
          { err: err instanceof Error ? err.message : String(err), entry },
          'audit log write failed; this change is not in the audit log',
        ),
      );
      await auditRoutes(api, audit);
      await crowdsecRoutes(api, deps.crowdsec);
      await servicesRoutes(api, ctx);
      await snapshotRoutes(api, ctx);
      await statusRoutes(api, ctx);
      await userRoutes(api, ctx);
      await linkRoutes(api, ctx);
      await apiKeyRoutes(api, ctx);
      await providerRoutes(api, ctx);
      await certRoutes(api, ctx);
      await dnsRoutes(api, ctx);
      await dnsLanRoutes(api, deps.settings, deps.lanDns);
      await dnsRecordRoutes(api, ctx);
      // Alert channels (docs/alerts.md): their secrets are sealed with the data key.
      if (deps.sealer) {
        const channels = deps.alerts?.channels ?? new AlertChannels(deps.registry.db, deps.sealer);
        await alertRoutes(api, channels, deps.alerts?.store ?? new AlertStore(deps.registry.db));
        await alertRuleRoutes(
          api,
          channels,
          deps.alerts?.store ?? new AlertStore(deps.registry.db),
          deps.alerts,
        );
      }
      await dnsDoctorRoutes(api, {
        settings: deps.settings,
        services: () => deps.registry.list().map((r) => r.service),
        portal: portalHost(deps.settings),
        providers: ctx.dnsProviders,
        nodes: () => nodes.list(),
        // Dynamic DNS: this node at its watched public address, as external records point there.
        ...(deps.publicAddress ? { publicAddress: deps.publicAddress.edges.bind(deps.publicAddress) } : {}),
      });
      await applyRoutes(api, ctx);
      await sessionRoutes(api, deps.gate);
      await streamRoutes(api, ctx, deps.feed);
      await nodeRoutes(api, nodes, deps.feed, controlUrlOf(deps.settings));
      await siteRoutes(api, sites, tunnels, controlUrlOf(deps.settings));
      await vpnClientRoutes(api, clients);
      await backupRoutes(api, ctx);
      if (deps.rotations) await rotateRoutes(api, deps.rotations);
      if (deps.accessLog) {
        await logRoutes(api, deps.accessLog);
        await analyticsRoutes(api, deps.accessLog);
      }
    },
    { prefix: '/api/v1' },
  );
  return app;
}
