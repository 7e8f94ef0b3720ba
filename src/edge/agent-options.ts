import type { GeoipFiles } from '../drivers/nginx/env.js';
import type { Logger } from '../observe/log.js';

/** How an edge agent (`gatehouse edge`) is started: its flags. */
export interface AgentOptions {
  /**
   * The control plane's management API, e.g. http://10.0.0.1:7070; with several replicas, each of
   * their URLs: the agent follows one and moves to the next when it fails.
   */
  control: string | string[];
  token: string;
  dataDir: string;
  httpPort: number;
  /** 0: no HTTPS. */
  httpsPort: number;
  nginxBin: string;
  modulesDir: string;
  /** `--geoip-db`, `--geoip-asn-db`: this edge's GeoIP databases (rules on countries and networks). */
  geoip?: GeoipFiles;
  workers: number;
  log: Logger;
  /** `--register-listen`: a registration listener here, relayed to the control plane followed. */
  registerListen?: { host: string; port: number };
  /** `--metrics-listen`: the edge's own traffic metrics (GET /metrics, no token) here. */
  metricsListen?: { host: string; port: number };
  /** `--tunnel-port`: this public edge is the WireGuard server of the control plane's sites. */
  tunnel?: { port: number; endpoint: string; iface: string };
}
