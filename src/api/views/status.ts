import { z } from 'zod';

/** GET /status: the proxy, the registry, certificates and discovery sources at a glance. */

/** A server nginx could not get an answer from in the last minute (passive health). */
export const upstreamFailingView = z.strictObject({
  server: z.string(),
  errors: z.number(),
  lastStatus: z.string(),
  lastAt: z.string(),
});

/** What the local proxy serves (src/edge/local-edge.ts EdgeStatus). */
export const edgeStatusView = z.strictObject({
  appliedVersion: z.number(),
  appliedHash: z.string().optional(),
  generation: z.string().optional(),
  appliedAt: z.string().optional(),
  lastApplyMs: z
    .strictObject({ render: z.number(), test: z.number(), reload: z.number(), total: z.number() })
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
});

export const certificateStatusView = z.strictObject({
  count: z.number(),
  next_expiry: z.strictObject({ names: z.array(z.string()), not_after: z.string() }).nullable(),
  issuing: z.array(z.strictObject({ names: z.array(z.string()), step: z.string() })),
  failed: z.array(z.strictObject({ names: z.array(z.string()), error: z.string(), retry_at: z.string() })),
});

export const statusView = z.strictObject({
  version: z.number(),
  services: z.number(),
  in_sync: z.boolean(),
  /** Stored services that no longer validate and are not served. */
  unloadable: z.array(z.strictObject({ name: z.string(), error: z.string() })),
  edge: edgeStatusView,
  certificates: certificateStatusView,
  /** Each discovery source's own report (the watched edge file, Docker), by name. */
  sources: z.record(z.string(), z.unknown()),
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
export type EdgeEvent = z.infer<typeof edgeEventView>;
