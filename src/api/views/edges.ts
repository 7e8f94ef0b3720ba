import { z } from 'zod';
import { appliedView } from './common.js';
import { changeOpView, serviceDiffView } from './services.js';

/** Certificates, DNS providers, edge nodes and edge files as the API answers them. */

/** A certificate: its names and validity, never its key. */
export const certView = z.strictObject({
  id: z.string(),
  /** SHA-256 of the certificate (hex). */
  fingerprint: z.string(),
  names: z.array(z.string()),
  notBefore: z.string(),
  notAfter: z.string(),
  /** `acme` (ordered by Gatehouse) or `upload` (brought by an operator). */
  source: z.string(),
  createdAt: z.string(),
});

/** An ACME order under way, failed (with its retry), or issued in the last hour. */
export const orderView = z.strictObject({
  names: z.array(z.string()),
  state: z.enum(['issuing', 'failed', 'issued']),
  step: z.string().optional(),
  error: z.string().optional(),
  retryAt: z.string().optional(),
  updatedAt: z.string(),
});

export const certListView = z.strictObject({
  certificates: z.array(certView),
  orders: z.array(orderView),
  /** Whether an ACME directory is configured (else certificates can only be uploaded). */
  acme: z.boolean(),
});

/** A DNS provider for DNS-01: everything but its secret. */
export const dnsProviderView = z.strictObject({
  name: z.string(),
  type: z.string(),
  zone: z.string(),
  config: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  /** Only in the answer to POST: whether the provider holds the zone ("unreachable": not known). */
  zone_check: z
    .strictObject({ state: z.enum(['held', 'absent', 'unreachable']), message: z.string().optional() })
    .optional(),
});
export const dnsProviderListView = z.strictObject({ providers: z.array(dnsProviderView) });

export const nodeView = z.strictObject({
  name: z.string(),
  role: z.string(),
  created_at: z.string(),
  last_seen: z.string().nullable(),
  address: z.string(),
  applied_hash: z.string(),
  applied_version: z.number(),
  last_error: z.string(),
  /** The agent's Gatehouse version. */
  version: z.string(),
  down_servers: z.array(z.string()),
  /** Heard from within the last minute. */
  online: z.boolean(),
  /** The control URL the agent last reported it follows, and the replica that took that report. */
  control: z.string(),
  replica: z.string(),
});
/** A node in GET /nodes: with whether it serves what it should now (config, certificates, gate state). */
export const nodeStatusView = nodeView.extend({ in_sync: z.boolean() });
export const nodeListView = z.strictObject({ nodes: z.array(nodeStatusView) });
/** POST /nodes: the node's token and the command that starts it, shown this once. */
export const nodeEnrolledView = z.strictObject({ node: nodeView, token: z.string(), command: z.string() });

/** POST /apply: what an edge file changed (or, dry run, would). */
export const applyReportView = z.strictObject({
  owner: z.string(),
  dry_run: z.boolean(),
  /** Registry version after the change (unchanged on a dry run or a no-op). */
  version: z.number(),
  services: z.array(serviceDiffView),
  groups: z.array(z.strictObject({ name: z.string(), op: changeOpView })),
  users: z.array(z.strictObject({ username: z.string(), op: changeOpView })),
  templates: z.array(z.string()),
  applied: appliedView.optional(),
});

export type CertView = z.infer<typeof certView>;
export type OrderView = z.infer<typeof orderView>;
export type CertList = z.infer<typeof certListView>;
export type DnsProviderView = z.infer<typeof dnsProviderView>;
export type DnsProviderList = z.infer<typeof dnsProviderListView>;
export type NodeView = z.infer<typeof nodeView>;
export type NodeStatusView = z.infer<typeof nodeStatusView>;
export type NodeList = z.infer<typeof nodeListView>;
export type NodeEnrolled = z.infer<typeof nodeEnrolledView>;
export type ApplyReport = z.infer<typeof applyReportView>;
