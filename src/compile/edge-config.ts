import type { LbMethod } from '../model/service.js';
import type { PolicyTargets } from '../model/vpn-client.js';

/**
 * EdgeConfig: what an edge must serve, independent of the proxy that serves it. `compile` produces
 * it from the registry; a driver (nginx today) translates it into the proxy's own configuration.
 * Everything is already resolved: routes are grouped by host, sorted, and point at pools by id.
 */
export interface EdgeConfig {
  schema: 1;
  /** Content hash of everything below (hex sha256), used as the config's identity. */
  hash: string;
  listeners: { http: number; https: number };
  sites: Site[];
  pools: Pool[];
  tcp: TcpListener[];
  /** ACME HTTP-01 answers every edge gives on HTTP: token → key authorization. */
  acme: [token: string, keyAuthorization: string][];
  /** HTTPS: which certificate serves which host (only hosts with one; sorted by host). */
  tls: { certs: { id: string; fingerprint: string }[]; hosts: [host: string, certId: string][] };
  /** Public edges: the WireGuard sites they serve (src/vpn, docs/sites.md); absent: none. */
  tunnel?: TunnelSection;
  /** CrowdSec's decisions are enforced (setting crowdsec_url; src/gate/crowdsec.ts). */
  crowdsec?: true;
}

/** The sites a public edge is the WireGuard server for; `hash` identifies the rest. */
export interface TunnelSection {
  hash: string;
  /** vpn_range: every tunnel address is in it. */
  range: string;
  /** Sites that have connected (sent their public key), by name. */
  peers: TunnelPeer[];
}

export interface TunnelPeer {
  site: string;
  publicKey: string;
  /** Its tunnel address. */
  address: string;
  /** The LAN blocks it announces, routed through its tunnel. */
  subnets: string[];
  /** A VPN client's (vpn/clients.ts): what the server lets it reach (nftables); absent for sites. */
  targets?: PolicyTargets;
  /** A site with site-to-site on: the server forwards between its subnets and the others' that have it. */
  siteToSite?: boolean;
}

/** One or more hosts that serve exactly the same routes. */
export interface Site {
  hosts: string[];
  /** Longest path first. */
  routes: SiteRoute[];
}

export interface SiteRoute {
  service: string;
  /** The service's offline page: its title and, when set, its own text. */
  offline: { title: string; message?: string };
  /** Strict-Transport-Security on HTTPS answers. */
  hsts?: boolean;
  /** Its service opted out of CrowdSec's decisions (`crowdsec: false`). */
  crowdsecOff?: true;
  /** ModSecurity with the OWASP CRS (the service's `waf`). */
  waf?: { mode: 'block' | 'detect'; paranoia: number; excludeRules: number[] };
  path: string;
  pool: string;
  stripPrefix: boolean;
  access: EffectiveAccess;
  headers: HeaderOps;
  limits?: RouteLimits;
}

/**
 * nginx's limit_conn and limit_rate for a route. `scope` keys the connections counted together:
 * the service's name for the service's limits, the route's id for its own.
 */
export interface RouteLimits {
  scope: string;
  connections?: number;
  perClient?: number;
  /** Bytes a second to each connection. */
  bandwidth?: number;
}

export interface HeaderOps {
  requestSet: [string, string][];
  requestDelete: string[];
  responseSet: [string, string][];
  responseDelete: string[];
}

/**
 * Who passes a route. `public`: anyone. Otherwise a request passes if any configured method admits
 * it: its source is in `ip`, or `forwardAuth` answers 2xx; with neither admitting, it is refused.
 * A rate limit applies on top, whoever passes.
 */
export interface EffectiveAccess {
  public: boolean;
  /**
   * `url` holds an address; `host`: the URL named its host (`name:port`, sent as Host), resolved to
   * that address; `down`: the name resolves to nothing now, the auth server is not asked (503).
   */
  forwardAuth?: {
    url: string;
    copyHeaders: string[];
    host?: string;
    down?: true;
    /** The auth server's 3xx reaches the client as it is. */
    passRedirects?: true;
    /** A 401 without a Location redirects here, with `redirect=<the URL asked for>`. */
    loginUrl?: string;
  };
  ip?: string[];
  /** `scope` keys the route's buckets: stable across reloads, the same on every host. */
  rateLimit?: { perMinute: number; burst: number; scope: string; byUser?: boolean };
  /**
   * A signed-in user passes (a member of one of `groups`, when there are any); with `provider`,
   * only one who signed in through that OIDC provider.
   */
  login?: { groups: string[]; provider?: string };
  /** Checked first; the first that matches allows or denies. */
  rules?: AccessRule[];
  /** Addresses admitted by this service's temporary links pass. */
  links?: boolean;
  /**
   * API keys scoped to this service pass, read from `header` (lowercase) or, without one, from
   * `Authorization: Bearer`.
   */
  apiKeys?: { header?: string };
  /** HTTP basic credentials pass (the gate checks them; only the user names are here). */
  basic?: { users: string[] };
  /** Identity header sets sent upstream for a signed-in user. */
  identity?: { remote: boolean; xUser: boolean };
  /**
   * Set when nginx must run the gate's check (login or rules): the route's id in the gate's policy
   * table, stable across reloads.
   */
  policy?: string;
}

export interface AccessRule {
  action: 'allow' | 'deny';
  /** Empty: any source. */
  cidrs: string[];
  path?: string;
  /** Empty: any method. */
  methods: string[];
  /** Empty: any headers; else every one must hold. */
  headers: HeaderCondition[];
  /** GeoIP conditions (absent: none): the client's country is one of / none of these; its ASN one of these. */
  countries?: string[];
  notCountries?: string[];
  asns?: number[];
}

/** A request header a rule looks at (the name lowercase); exactly one of the three is set. */
export interface HeaderCondition {
  name: string;
  present?: boolean;
  equals?: string;
  regex?: string;
}

export interface Pool {
  id: string;
  scheme: 'http' | 'https';
  lb: LbMethod;
  /** `IP:port`, IPv6 in brackets. */
  servers: string[];
  health?: { path: string; intervalMs: number; timeoutMs: number };
  /** Out of rotation (a suspended service): every server is down, the offline page answers. */
  down?: boolean;
}

export interface TcpListener {
  port: number;
  service: string;
  pool: string;
  /** terminate: with the certificate (by id) of the first name; passthrough: by SNI name. */
  tls?: { mode: 'terminate' | 'passthrough'; sni: string[]; certId?: string };
}
