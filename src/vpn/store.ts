import { createHash, randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { z } from 'zod';
import type { TunnelPeer, TunnelSection } from '../compile/edge-config.js';
import { conflict, GatehouseError, notFound } from '../model/errors.js';
import { contains, firstFree, parseBlock } from '../model/ipv4-block.js';
import {
  subnetClashes,
  type edgeTunnelSchema,
  type SiteCreate,
  type siteSyncSchema,
  type siteUpdateSchema,
  type SiteView,
} from '../model/site.js';
import type { Database, Db } from '../store/db.js';
import { siteTunnelConfig, tunnelSection, type SiteTunnelConfig } from './wg-config.js';

/** The control plane's own edge, in vpn_edges (node names are slugs: never empty). */
export const LOCAL_EDGE = '';

/** A handshake this recent means the tunnel is up (WireGuard renews one every 2 minutes in use). */
const CONNECTED_S = 180;

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

type SiteRow = Database['sites'];

/**
 * Sites and the tunnel ends of public edges: tunnel addresses allocated from `vpn_range`, each
 * site's token (shown once, kept as a hash), the public keys each side sent. Public edges get the
 * connected sites as their `tunnel` section; a site's connector gets the public edges to dial.
 */
export class SiteStore {
  private readonly listeners = new Set<(local: boolean) => void>();
  private section: Promise<TunnelSection> | undefined;
  private clientPeers: () => Promise<TunnelPeer[]> = async () => [];

  constructor(
    private readonly db: Db,
    readonly range: string,
  ) {}

  /**
   * Called after any change public edges must hear of (a site removed, or its key sent); `local`:
   * made here (false: another replica's, heard through `reload`).
   */
  onChange(fn: (local: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(local = true): void {
    this.section = undefined;
    for (const fn of this.listeners) fn(local);
  }

  /** VPN clients (vpn/clients.ts) are peers of the same servers, after the sites. */
  setClientPeers(fn: () => Promise<TunnelPeer[]>): void {
    this.clientPeers = fn;
    this.section = undefined;
  }

  /** A VPN client added, revoked or expired: the servers change their peers. */
  peersChanged(): void {
    this.changed();
  }

  /** Another replica changed the sites: read them again. */
  reload(): void {
    this.changed(false);
  }

  async add(input: SiteCreate): Promise<{ site: SiteView; token: string }> {
    const rows = await this.db.selectFrom('sites').selectAll().execute();
    if (rows.some((r) => r.name === input.name)) throw conflict('name', `site ${input.name} exists`);
    const clash = subnetClashes(
      input.subnets,
      this.range,
      rows.map((r) => ({ name: r.name, subnets: subnetsOf(r) })),
    );
    if (clash) throw conflict(clash.field, clash.message);
    const token = randomBytes(24).toString('base64url');
    const row: SiteRow = {
      name: input.name,
      subnets: JSON.stringify(input.subnets),
      address: await this.allocate(),
      public_key: '',
      token_hash: hashToken(token),
      created_at: new Date().toISOString(),
      last_seen: null,
      last_handshake: null,
      site_to_site: input.site_to_site ? 1 : 0,
    };
    await this.db.insertInto('sites').values(row).execute();
    return { site: view(row), token };
  }

  async list(): Promise<SiteView[]> {
    const rows = await this.db.selectFrom('sites').selectAll().orderBy('name').execute();
    return rows.map(view);
  }

  /** Turns site-to-site on or off: the edges change their forwarding, connectors their routes. */
  async update(name: string, input: z.output<typeof siteUpdateSchema>): Promise<SiteView> {
    const r = await this.db
      .updateTable('sites')
      .set({ site_to_site: input.site_to_site ? 1 : 0 })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0)
      throw new GatehouseError('not_found', `name: site ${name} not found`, 404, [
        { field: 'name', message: `no site ${name}` },
      ]);
    this.changed();
    const row = await this.db
      .selectFrom('sites')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return view(row);
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.deleteFrom('sites').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`site ${name}`);
    this.changed();
  }

  /** The lowest free address of the range (edges, sites and VPN clients share it). */
  async allocate(): Promise<string> {
    const range = parseBlock(this.range);
    const [sites, edges, clients] = await Promise.all([
      this.db.selectFrom('sites').select('address').execute(),
      this.db.selectFrom('vpn_edges').select('address').execute(),
      this.db.selectFrom('vpn_clients').select('address').execute(),
    ]);
    const used = new Set([...sites, ...edges, ...clients].map((r) => r.address));
    const free = range && firstFree(range, used);
    if (!free)
      throw new GatehouseError(
        'range_full',
        `vpn_range: no free tunnel address left in ${this.range}; choose a larger range`,
        409,
        [{ field: 'vpn_range', message: `no free address in ${this.range}` }],
      );
    return free;
  }

  /** The site a connector's `Authorization: Bearer` token belongs to. */
  async byBearer(header: string | undefined): Promise<SiteRow | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m?.[1]) return undefined;
    return this.db
      .selectFrom('sites')
      .selectAll()
      .where('token_hash', '=', hashToken(m[1]))
      .executeTakeFirst();
  }

  /** A connector asked: its key (a new one replaces the old), its handshake; answered with its config. */
  async sync(site: SiteRow, input: z.output<typeof siteSyncSchema>): Promise<SiteTunnelConfig> {
    const now = new Date().toISOString();
    await this.db
      .updateTable('sites')
      .set({
        public_key: input.public_key,
        last_seen: now,
        ...(input.last_handshake > 0
          ? { last_handshake: new Date(input.last_handshake * 1000).toISOString() }
          : {}),
      })
      .where('name', '=', site.name)
      .execute();
    if (input.public_key !== site.public_key) this.changed();
    const edges = await this.db.selectFrom('vpn_edges').selectAll().orderBy('node').execute();
    // Site-to-site: the other opted-in sites' subnets, routed through one hub at a time.
    const remote = site.site_to_site
      ? (
          await this.db
            .selectFrom('sites')
            .selectAll()
            .where('site_to_site', '=', 1)
            .where('name', '!=', site.name)
            .execute()
        ).flatMap(subnetsOf)
      : [];
    const publicNodes = new Set(
      (await this.db.selectFrom('nodes').select('name').where('role', '=', 'public').execute()).map(
        (n) => n.name,
      ),
    );
    return siteTunnelConfig({
      site: site.name,
      address: site.address,
      range: this.range,
      subnets: subnetsOf(site),
      remote: remote.sort(),
      edges: edges
        .filter((e) => e.node === LOCAL_EDGE || publicNodes.has(e.node))
        .map((e) => ({
          node: e.node || 'local',
          publicKey: e.public_key,
          address: e.address,
          endpoint: e.endpoint,
        })),
    });
  }

  /**
   * A public edge's tunnel end: its public key and endpoint (default: the address it is seen at and
   * its port). It keeps its address while that is in the range.
   */
  async registerEdge(
    node: string,
    input: z.output<typeof edgeTunnelSchema>,
    seenAt: string,
  ): Promise<{ address: string; range: string }> {
    const ip = seenAt.replace(/^::ffff:/, '');
    const endpoint = input.endpoint || `${isIPv6(ip) ? `[${ip}]` : ip}:${input.port}`;
    const row = await this.db.selectFrom('vpn_edges').selectAll().where('node', '=', node).executeTakeFirst();
    const range = parseBlock(this.range);
    const address = row && range && contains(range, row.address) ? row.address : await this.allocate();
    const next = {
      node,
      public_key: input.public_key,
      address,
      endpoint,
      updated_at: new Date().toISOString(),
    };
    if (row) await this.db.updateTable('vpn_edges').set(next).where('node', '=', node).execute();
    else await this.db.insertInto('vpn_edges').values(next).execute();
    return { address, range: this.range };
  }

  /** What public edges serve: every site that has connected (sent its key). Cached until a change. */
  tunnel(): Promise<TunnelSection> {
    this.section ??= this.db
      .selectFrom('sites')
      .selectAll()
      .where('public_key', '!=', '')
      .execute()
      .then(async (rows) =>
        tunnelSection(this.range, [
          ...rows.map((r) => ({
            site: r.name,
            publicKey: r.public_key,
            address: r.address,
            subnets: subnetsOf(r),
            ...(r.site_to_site ? { siteToSite: true } : {}),
          })),
          ...(await this.clientPeers()),
        ]),
      )
      .catch((err: unknown) => {
        this.section = undefined;
        throw err;
      });
    return this.section;
  }
}

function subnetsOf(r: SiteRow): string[] {
  try {
    const v: unknown = JSON.parse(r.subnets);
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

function view(r: SiteRow): SiteView {
  const hs = r.last_handshake ? Date.parse(r.last_handshake) : 0;
  return {
    name: r.name,
    subnets: subnetsOf(r),
    address: r.address,
    public_key: r.public_key,
    created_at: r.created_at,
    last_seen: r.last_seen,
    last_handshake: r.last_handshake,
    connected: hs > 0 && Date.now() - hs < CONNECTED_S * 1000,
    site_to_site: r.site_to_site === 1,
  };
}
