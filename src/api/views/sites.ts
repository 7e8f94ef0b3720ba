import { z } from 'zod';

/** A site's tunnel through one public edge ("local": the control plane's own vpn_port). */
const siteEdgeView = z.strictObject({
  edge: z.string(),
  /** It answered one of its last two probes (every 5 s) through this edge. */
  up: z.boolean(),
  latency_ms: z.number().nullable(),
  last_handshake: z.string().nullable(),
  rx_bytes: z.number(),
  tx_bytes: z.number(),
});

/** A site's tunnel, every edge together: the best latency, the newest handshake, bytes summed. */
export const siteTunnelView = z.strictObject({
  up: z.boolean(),
  latency_ms: z.number().nullable(),
  handshake_age_s: z.number().nullable(),
  rx_bytes: z.number(),
  tx_bytes: z.number(),
  edges: z.array(siteEdgeView),
});

/** A WireGuard site (docs/sites.md): its subnets, tunnel address, key and whether it is connected. */
export const siteView = z.strictObject({
  name: z.string(),
  subnets: z.array(z.string()),
  address: z.string(),
  /** '' until its connector first connects. */
  public_key: z.string(),
  created_at: z.string(),
  last_seen: z.string().nullable(),
  last_handshake: z.string().nullable(),
  /** A handshake within the last 3 minutes. */
  connected: z.boolean(),
  /** Reaches (and is reached by) the other site-to-site sites' subnets through the public edges. */
  site_to_site: z.boolean(),
  tunnel: siteTunnelView,
});
export const siteListView = z.strictObject({ sites: z.array(siteView) });
/** POST /sites: the site's token and the command that connects it, shown this once. */
export const siteAddedView = z.strictObject({ site: siteView, token: z.string(), command: z.string() });

export type SiteViewShape = z.infer<typeof siteView>;
export type SiteList = z.infer<typeof siteListView>;
export type SiteAdded = z.infer<typeof siteAddedView>;
