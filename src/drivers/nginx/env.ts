import type { GateEnv } from '../../model/session.js';

// The renderer's input, in a file of its own: the renderer's parts share it without importing each other.

/** Where the rendered files will live and run: everything the pure translation needs to know. */
export interface RenderEnv {
  /** nginx prefix: logs/, run/, tmp/ live here. */
  prefix: string;
  /** The directory this generation's files are written to (absolute). */
  genDir: string;
  /** Unix socket on which nginx answers /version with `generation` (to confirm a reload). */
  statusSocket: string;
  /** A name unique to this rendering, so that Gatehouse can tell when it is live. */
  generation: string;
  modulesDir: string;
  workers: number;
  /** nginx's worker_shutdown_timeout, in seconds (default 300). */
  workerShutdownSeconds?: number;
  /** Proxies in front of this edge whose X-Forwarded-For names the real client (nginx real_ip). */
  trustedProxies?: string[];
  /** GeoIP databases (nginx's geoip2 module): the client's country and network for rules and logs. */
  geoip?: GeoipFiles;
  /** Also listen on IPv6 (only when the machine has an IPv6 address, or nginx cannot start). */
  ipv6?: boolean;
  /** Servers that active health checks found down, as `poolId address`. */
  down?: ReadonlySet<string>;
  /** The gate beside this edge: login portal, sessions (absent: login routes answer 503). */
  gate?: GateEnv;
  /** Where certificate and key files are (`<fingerprint>.crt|.key`); default `<prefix>/tls`. */
  tlsDir?: string;
  /**
   * The machine's DNS servers. Unused since certificates are chosen from Lua (nginx staples only
   * certificates from its config; see tls.ts): kept for a resolver nginx may need again.
   */
  resolvers?: string[];
  /** CrowdSec's decisions as a list (decisions.ts), read by nginx at start; the bouncer writes it. */
  decisionsFile?: string;
  /** Write CrowdSec's access log too (set by the renderer when the config enforces decisions). */
  crowdsecLog?: boolean;
  /** Where nginx reports failed upstream attempts (syslog over UDP on loopback); none: not reported. */
  upstreamLog?: { address: string; tag: string };
}

/** MaxMind-format databases: `country` (a country or city one), `asn` (an ASN one). */
export interface GeoipFiles {
  country?: string;
  asn?: string;
  /** Seconds between nginx's looks at the files for a change (default 60). */
  checkSeconds?: number;
}
