import { z } from 'zod';

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
});
export const siteListView = z.strictObject({ sites: z.array(siteView) });
/** POST /sites: the site's token and the command that connects it, shown this once. */
export const siteAddedView = z.strictObject({ site: siteView, token: z.string(), command: z.string() });

export type SiteViewShape = z.infer<typeof siteView>;
export type SiteList = z.infer<typeof siteListView>;
export type SiteAdded = z.infer<typeof siteAddedView>;
