import type { TunnelSection } from '../compile/edge-config.js';
import type { Db } from '../store/db.js';
import { SiteStore } from './store.js';

/** What the hook needs of the edge feed (its long-polls wake on `signal`). */
interface TunnelFeed {
  setTunnel(fn: (role: string) => Promise<TunnelSection | undefined>): void;
  signal(): void;
}

/**
 * The control plane's sites, wired to the edge feed: public edges get the connected sites as their
 * `tunnel` section, and their long-polls wake when a site is added, removed or sends its key.
 */
export function sitesForFeed(db: Db, range: string, feed: TunnelFeed): SiteStore {
  const sites = new SiteStore(db, range);
  feed.setTunnel(async (role) => (role === 'public' ? sites.tunnel() : undefined));
  sites.onChange(() => feed.signal());
  return sites;
}
