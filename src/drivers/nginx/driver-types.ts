import type { GateEnv } from '../../model/session.js';
import type { Logger } from '../../observe/log.js';
import type { TableSent } from './table-delivery.js';
import type { GeoipFiles } from './env.js';

/** What the NginxDriver (driver.ts) is given, and what its applies and reloads report. */

export interface LastReload {
  at: string;
  /** config: a new config; drift: the files were changed behind Gatehouse and restored; rollback: a new config failed to load and the previous one was restored. */
  reason: 'config' | 'drift' | 'rollback';
}

export interface NginxDriverOptions {
  bin: string;
  /** nginx's own directory inside the data dir. */
  prefix: string;
  modulesDir: string;
  workers: number;
  /** See RenderEnv.workerShutdownSeconds. */
  workerShutdownSeconds?: number;
  /** See RenderEnv.trustedProxies. */
  trustedProxies?: string[];
  /** See RenderEnv.geoip. */
  geoip?: GeoipFiles;
  /** See RenderEnv.decisionsFile. */
  decisionsFile?: string;
  log: Logger;
  /** How many old generations to keep on disk for inspection. */
  keepGenerations?: number;
  /** See RenderEnv.gate. */
  gate?: GateEnv;
  /** Extra environment for nginx (the session key the Lua check reads: never written to a file). */
  env?: Record<string, string>;
  /** A certificate and its key by id, to write where nginx reads them (0700). */
  certMaterial?: (id: string) => Promise<{ cert: string; key: string }>;
  /** Where those files go (default `<prefix>/tls`; Gatehouse prefers a tmpfs). */
  tlsDir?: string;
}

export interface ApplyResult {
  /** What nginx serves: its config's generation and the fast-lane table's version (see liveGeneration). */
  generation: string;
  hash: string;
  /** dynamic: only the fast lane changed, sent to the running nginx; reload: new files, tested, reloaded. */
  mode: 'dynamic' | 'reload';
  /** How: a patch of the fast lane's table, the whole table, or new files and a reload. */
  sent: TableSent | 'reload';
  ms: { render: number; test: number; reload: number; total: number };
  /** Where the time went: rendering, writing files, handing it to nginx (send, or test + reload). */
  stages: { render: number; file: number; send: number };
}
