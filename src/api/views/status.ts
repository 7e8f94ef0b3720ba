import { z } from 'zod';

/** GET /status: the proxy, the registry, certificates and discovery sources at a glance. */

/** A server nginx could not get an answer from in the last minute (passive health). */
export const upstreamFailingView = z.strictObject({
  server: z.string(),
  errors: z.number(),
  lastStatus: z.string(),
  lastAt: z.string(),
});

/** One DNS name in upstreams (src/dns/upstream-names.ts UpstreamNameStatus). */
export const upstreamNameView = z.strictObject({
  name: z.string(),
  /** What routes use now; empty: no live peer (the offline page). */
  addresses: z.array(z.string()),
  state: z.enum(['resolving', 'ok', 'stale', 'unresolved']),
  ttlSeconds: z.number().optional(),
  resolvedAt: z.string().optional(),
  nextAt: z.string().optional(),
  staleUntil: z.string().optional(),
  /** Addresses left out (`IP:port: why`): Gatehouse's own listeners on this machine. */
  refused: z.array(z.string()).optional(),
  error: z.string().optional(),
  errorAt: z.string().optional(),
});

/** What the local proxy serves (src/edge/local-edge.ts EdgeStatus). */
export const edgeStatusView = z.strictObject({
  appliedVersion: z.number(),
  appliedHash: z.string().optional(),
  generation: z.string().optional(),
  appliedAt: z.string().optional(),
  lastApplyMode: z.enum(['dynamic', 'reload']).optional(),
  lastApplyMs: z
    .strictObject({ render: z.number(), test: z.number(), reload: z.number(), total: z.number() })
    .optional(),
  /** What the last apply sent nginx: a patch of the fast lane's table, the whole table, or a reload. */
  lastApplySent: z.enum(['patch', 'table', 'reload']).optional(),
  /** Where its time went, ms (see src/edge/local-edge.ts). */
  lastApplyStages: z
    .strictObject({
      wait: z.number(),
      compile: z.number(),
      render: z.number(),
      file: z.number(),
      send: z.number(),
    })
    .optional(),
  applies: z.number(),
  applying: z.boolean(),
  lastError: z
    .strictObject({ code: z.string(), message: z.string(), version: z.number(), at: z.string() })
    .optional(),
  proxy: z.strictObject({ running: z.boolean(), pid: z.number().optional(), restarts: z.number() }),
  downServers: z.array(z.string()),
  checkedServers: z.array(z.string()),
  failingServers: z.array(upstreamFailingView),
  /** When nginx was last reloaded, and why. */
  lastReload: z.strictObject({ at: z.string(), reason: z.enum(['config', 'drift', 'rollback']) }).optional(),
  /** The fast lane's table version in nginx's shared memory and in its state file (equal when in sync). */
  fastLane: z.strictObject({ memory: z.string().optional(), file: z.string().optional() }).optional(),
  /** The certificate table's version likewise (HTTPS certificates chosen from nginx's memory). */
  tlsTable: z.strictObject({ memory: z.string().optional(), file: z.string().optional() }).optional(),
  /** DNS names in upstreams (src/dns/upstream-names.ts): their addresses now, and the last error. */
  upstreamNames: z.array(upstreamNameView).optional(),
});

export const certificateStatusView = z.strictObject({
  count: z.number(),
  next_expiry: z.strictObject({ names: z.array(z.string()), not_after: z.string() }).nullable(),
  issuing: z.array(z.strictObject({ names: z.array(z.string()), step: z.string() })),
  failed: z.array(z.strictObject({ names: z.array(z.string()), error: z.string(), retry_at: z.string() })),
});

/** The watched edge file (src/sources/source.ts WatchedFileStatus). */
export const fileSourceView = z.strictObject({
  file: z.string(),
  owner: z.string(),
  appliedVersion: z.number().optional(),
  appliedAt: z.string().optional(),
  lastError: z.strictObject({ message: z.string(), at: z.string() }).optional(),
});

/** Docker's connection and the containers that opted in (src/sources/source.ts DockerStatus). */
export const dockerSourceView = z.strictObject({
  endpoint: z.string(),
  connected: z.boolean(),
  lastSync: z.string().optional(),
  lastError: z.string().optional(),
  containers: z.array(
    z.strictObject({
      name: z.string(),
      id: z.string(),
      services: z.array(z.string()),
      problems: z.array(z.strictObject({ label: z.string(), message: z.string() })),
    }),
  ),
});

/** This replica among those on one store, and which one leads (src/store/leader.ts ReplicaStatus). */
export const replicaStatusView = z.strictObject({
  id: z.string(),
  leading: z.boolean(),
  leader: z.string().nullable(),
  replicas: z.array(z.string()),
  store: z.enum(['sqlite', 'postgresql']),
});

/** External records by state; the first 20 hosts in conflict or error, with why. */
const dnsRecordsSummaryView = z.strictObject({
  ok: z.number(),
  pending: z.number(),
  conflict: z.number(),
  error: z.number(),
  problems: z.array(
    z.strictObject({
      host: z.string(),
      state: z.enum(['ok', 'pending', 'conflict', 'error']),
      message: z.string(),
      retry_at: z.string().nullable(),
    }),
  ),
});

/** Dynamic DNS: the public address, where it was read, when; what went wrong in the last check. */
const publicAddressView = z.strictObject({
  source: z.string(),
  address: z.string(),
  from: z.string(),
  checked_at: z.string().nullable(),
  changed_at: z.string().nullable(),
  next_check_at: z.string().nullable(),
  ok: z.boolean(),
  message: z.string(),
});

export const statusView = z.strictObject({
  version: z.number(),
  services: z.number(),
  in_sync: z.boolean(),
  /** Stored services that no longer validate and are not served. */
  unloadable: z.array(z.strictObject({ name: z.string(), error: z.string() })),
  edge: edgeStatusView,
  certificates: certificateStatusView,
  /** Each discovery source with something to report, under its name. */
  sources: z.strictObject({ file: fileSourceView.optional(), docker: dockerSourceView.optional() }),
  /** Leader election among replicas (absent where no election runs). */
  replica: replicaStatusView.optional(),
  /** Present when another replica rotated the data key and none of this one's secrets opens it. */
  data_key: z.strictObject({ state: z.literal('rotated'), message: z.string() }).optional(),
  /** External DNS records (docs/dns.md), on the replica that writes them: see GET /dns/records. */
  dns_records: dnsRecordsSummaryView.optional(),
  /** Dynamic DNS (docs/dns.md), on the replica that watches it (the leader). */
  public_address: publicAddressView.optional(),
});

/** The `edge` event of GET /stream: the part of the edge status the web UI shows live. */
export const edgeEventView = edgeStatusView
  .pick({
    appliedVersion: true,
    downServers: true,
    checkedServers: true,
    failingServers: true,
    proxy: true,
  })
  .extend({ lastError: edgeStatusView.shape.lastError.unwrap().nullable() });

export type UpstreamFailingView = z.infer<typeof upstreamFailingView>;
export type EdgeStatusView = z.infer<typeof edgeStatusView>;
export type CertificateStatus = z.infer<typeof certificateStatusView>;
export type Status = z.infer<typeof statusView>;
export type ReplicaStatusView = z.infer<typeof replicaStatusView>;
export type FileSourceView = z.infer<typeof fileSourceView>;
export type DockerSourceView = z.infer<typeof dockerSourceView>;
export type EdgeEvent = z.infer<typeof edgeEventView>;
