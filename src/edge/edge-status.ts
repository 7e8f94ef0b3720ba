import type { ApplyResult, LastReload } from '../drivers/nginx/driver.js';
import type { UpstreamNameStatus } from '../dns/upstream-names.js';
import type { UpstreamFailing } from './passive-health.js';

/** Where an apply's time went, ms (see EdgeStatus.lastApplyStages). */
export type ApplyStages = { wait: number; compile: number; render: number; file: number; send: number };

/** The last apply's times, ms. */
export type ApplyTimings = { render: number; test: number; reload: number; total: number };

/** What the local edge (LocalEdge) reports: GET /api/v1/status, `gatehouse status`, the dashboard. */
export interface EdgeStatus {
  /** Registry version the proxy serves. */
  appliedVersion: number;
  appliedHash?: string;
  generation?: string;
  appliedAt?: string;
  lastApplyMs?: ApplyTimings;
  /** How the last apply reached nginx: its shared memory only (dynamic), or new files and a reload. */
  lastApplyMode?: 'dynamic' | 'reload';
  /** What the last apply sent: a patch of the fast lane's table, the whole table, or a reload. */
  lastApplySent?: ApplyResult['sent'];
  /**
   * Where the last apply's time went, ms: waiting to start after the change, compiling, rendering,
   * writing files, handing it to nginx (the table's PATCH or PUT; or nginx -t and the reload).
   */
  lastApplyStages?: ApplyStages;
  /**
   * How many times a new config was applied since Gatehouse started: nginx reloaded or started, or
   * (a change to the fast lane only) its table replaced in shared memory.
   */
  applies: number;
  applying: boolean;
  lastError?: { code: string; message: string; version: number; at: string };
  proxy: { running: boolean; pid?: number; restarts: number };
  downServers: string[];
  /** Servers under active health checks, as `pool address`. */
  checkedServers: string[];
  /** Servers nginx could not get an answer from in the last minute (passive, every pool). */
  failingServers: UpstreamFailing[];
  /** When nginx was last reloaded, and why. */
  lastReload?: LastReload;
  /** The fast lane's table version in nginx's shared memory and in its state file (status only). */
  fastLane?: { memory?: string; file?: string };
  /** The certificate table's version likewise (status only). */
  tlsTable?: { memory?: string; file?: string };
  /** DNS names in upstreams: what each resolves to now, and the last error (docs/upstream-names.md). */
  upstreamNames?: UpstreamNameStatus[];
}
