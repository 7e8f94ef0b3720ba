import { z } from 'zod';
import { serviceSchema, sourceSchema } from '../../model/service.js';
import { appliedView } from './common.js';

/** Services and snapshots (registry versions) as the API answers them. */

export const serviceMetaView = z.strictObject({
  source: sourceSchema,
  /** Within a source, what created it (container, file, agent); absent for the API and registration. */
  owner: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** GET /services/{name}: the stored service (defaults filled in) and who made it when. */
export const serviceRecordView = z.strictObject({ service: serviceSchema, meta: serviceMetaView });

/** A service at a glance (src/model/summary.ts): what `service ls` and the web UI's list show. */
export const serviceSummaryView = z.strictObject({
  access: z.string(),
  public: z.boolean(),
  upstreams: z.array(z.string()),
  https: z.enum(['yes', 'partial', 'no', 'off', '-']),
  state: z.enum(['suspended', 'failing', 'down', 'degraded', 'up', 'unchecked']),
  state_label: z.string(),
  down: z.string().optional(),
});

export const serviceListItemView = serviceRecordView.extend({ summary: serviceSummaryView });
export const serviceListView = z.strictObject({
  version: z.number(),
  services: z.array(serviceListItemView),
});

/** POST /services, PUT /services/{name}: the record as stored, the version it made. */
export const serviceWriteView = serviceRecordView.extend({
  version: z.number(),
  applied: appliedView.optional(),
});

/** What a change did to one record. */
export const changeOpView = z.enum(['create', 'update', 'delete']);

/** One service's change between two states, as a unified YAML patch. */
export const serviceDiffView = z.strictObject({ name: z.string(), op: changeOpView, patch: z.string() });

/** PUT /services/{name}?dry_run=true: what the write would change; nothing is written. */
export const serviceDryRunView = z.strictObject({
  dry_run: z.literal(true),
  name: z.string(),
  changes: z.array(serviceDiffView),
  service: serviceSchema,
});

export const serviceDeleteView = z.strictObject({
  deleted: z.string(),
  version: z.number(),
  applied: appliedView.optional(),
});

export const versionInfoView = z.strictObject({
  version: z.number(),
  at: z.string(),
  actor: z.string(),
  source: z.string(),
  reason: z.string(),
  changes: z.array(z.strictObject({ name: z.string(), op: changeOpView })),
});

export const snapshotListView = z.strictObject({
  version: z.number(),
  snapshots: z.array(versionInfoView),
});

/**
 * The compiled config (src/compile/edge-config.ts EdgeConfig): its sites, pools and TCP listeners
 * are compile's internals, shown as they are (not held to a shape here).
 */
export const edgeConfigView = z.strictObject({
  schema: z.literal(1),
  hash: z.string(),
  listeners: z.strictObject({ http: z.number(), https: z.number() }),
  sites: z.array(z.unknown()),
  pools: z.array(z.unknown()),
  tcp: z.array(z.unknown()),
  acme: z.array(z.tuple([z.string(), z.string()])),
  tls: z.strictObject({
    certs: z.array(z.strictObject({ id: z.string(), fingerprint: z.string() })),
    hosts: z.array(z.tuple([z.string(), z.string()])),
  }),
});

/** GET /snapshots/{version}: the registry as it was then (version 0: empty), compiled. */
export const snapshotView = z.strictObject({
  snapshot: z.union([versionInfoView, z.strictObject({ version: z.literal(0) })]),
  hash: z.string(),
  services: z.array(serviceRecordView),
  config: edgeConfigView,
});

export const snapshotDiffView = z.strictObject({
  from: z.number(),
  to: z.number(),
  changes: z.array(serviceDiffView),
});

export const rollbackView = z.strictObject({
  restored: z.number(),
  version: z.number(),
  changed: z.array(z.string()),
  applied: appliedView.optional(),
});

export type ServiceMetaView = z.infer<typeof serviceMetaView>;
export type ServiceRecordView = z.infer<typeof serviceRecordView>;
export type ServiceSummaryView = z.infer<typeof serviceSummaryView>;
export type ServiceListItem = z.infer<typeof serviceListItemView>;
export type ServiceList = z.infer<typeof serviceListView>;
export type ServiceWrite = z.infer<typeof serviceWriteView>;
export type ServiceDiffView = z.infer<typeof serviceDiffView>;
export type ServiceDryRun = z.infer<typeof serviceDryRunView>;
export type ServiceDelete = z.infer<typeof serviceDeleteView>;
export type VersionInfoView = z.infer<typeof versionInfoView>;
export type SnapshotList = z.infer<typeof snapshotListView>;
export type EdgeConfigView = z.infer<typeof edgeConfigView>;
export type SnapshotView = z.infer<typeof snapshotView>;
export type SnapshotDiff = z.infer<typeof snapshotDiffView>;
export type Rollback = z.infer<typeof rollbackView>;
