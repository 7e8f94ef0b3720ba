import type { TunnelPeer } from '../compile/edge-config.js';
import type { Service } from '../model/service.js';
import { conflict, GatehouseError, invalid, notFound } from '../model/errors.js';
import {
  formatPolicy,
  parseExpiry,
  parsePolicy,
  type VpnClientCreate,
  type VpnClientView,
  type VpnPolicy,
} from '../model/vpn-client.js';
import type { Database, Db } from '../store/db.js';
import { killSwitchLines } from './clients-killswitch.js';
import { clientAllowedIps, policyTargets, type PolicyTargets } from './clients-policy.js';
import { VpnGroupStore } from './groups.js';
import { generateKeyPair } from './keys.js';
import { LOCAL_EDGE, type SiteStore } from './store.js';
import { SITE_KEEPALIVE_S } from './wg-config.js';

type ClientRow = Database['vpn_clients'];

/** What a peer of a WireGuard server knows of a client: handshake (Unix s), bytes, by public key. */
export type PeerStats = Map<string, { handshake: number; rx: number; tx: number }>;

/** The server a client config names: the control plane's own edge, else the first public edge. */
interface Server {
  publicKey: string;
  address: string;
  endpoint: string;
}

/** The `[Peer]` name a client goes by in the tunnel section (sites are slugs: no clash). */
export const clientPeerName = (name: string) => `client:${name}`;

/** The wg-quick config a client imports (a private key in it: shown once, never stored). */
export function renderClientConfig(c: {
  privateKey: string;
  address: string;
  dns?: string;
  server: Server;
  allowedIps: string[];
  killSwitch?: boolean;
}): string {
  const lines = ['[Interface]', `PrivateKey = ${c.privateKey}`, `Address = ${c.address}/32`];
  if (c.dns) lines.push(`DNS = ${c.dns}`);
  if (c.killSwitch) lines.push(...killSwitchLines());
  lines.push(
    '',
    '[Peer]',
    `PublicKey = ${c.server.publicKey}`,
    `Endpoint = ${c.server.endpoint}`,
    `AllowedIPs = ${c.allowedIps.join(', ')}`,
    `PersistentKeepalive = ${SITE_KEEPALIVE_S}`,
  );
  return `${lines.join('\n')}\n`;
}

/** A client peer in the tunnel section, with what the server admits from it (nftables). */
export interface ClientPeer extends TunnelPeer {
  targets: PolicyTargets;
}

/**
 * VPN clients: tunnel addresses from the sites' `vpn_range`, key pairs made here (the private key
 * returned once), peers of the WireGuard servers through the sites' tunnel section. Revoked clients
 * are deleted; expired ones stay listed but leave the servers when they expire.
 */
export class VpnClientStore {
  private timer: NodeJS.Timeout | undefined;
  /** Device groups: the policy their clients without one of their own follow. */
  readonly groups: VpnGroupStore;

  constructor(
    private readonly db: Db,
    private readonly sites: SiteStore,
    private readonly services: () => Service[],
    private readonly stats: () => Promise<PeerStats> = async () => new Map(),
  ) {
    this.groups = new VpnGroupStore(
      db,
      () => sites.peersChanged(),
      async (p) => void (await this.targets(p)),
    );
    sites.setClientPeers(() => this.peers());
    void this.armExpiry();
  }

  async add(input: VpnClientCreate): Promise<{ client: VpnClientView; config: string }> {
    // Its own policy wins; else its group's (an unknown group is a 400 naming `group`); else full.
    const groupPolicy = input.group === undefined ? undefined : await this.groups.policyOf(input.group);
    const policy = parsePolicy(input.policy ?? groupPolicy ?? 'full');
    if (typeof policy === 'string') throw invalid('policy', policy);
    const existing = await this.db
      .selectFrom('vpn_clients')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (existing) throw conflict('name', `VPN client ${input.name} exists`);
    const server = await this.server();
    const targets = await this.targets(policy);
    const keys = generateKeyPair();
    const now = new Date();
    const seconds = input.expires === undefined ? undefined : parseExpiry(input.expires);
    const row: ClientRow = {
      name: input.name,
      device_group: input.group ?? null,
      policy: input.policy === undefined ? '' : formatPolicy(policy),
      address: await this.sites.allocate(),
      public_key: keys.publicKey,
      created_at: now.toISOString(),
      expires_at: seconds === undefined ? null : new Date(now.getTime() + seconds * 1000).toISOString(),
    };
    await this.db.insertInto('vpn_clients').values(row).execute();
    this.sites.peersChanged();
    void this.armExpiry();
    const config = renderClientConfig({
      privateKey: keys.privateKey,
      address: row.address,
      ...(input.dns ? { dns: input.dns } : {}),
      server,
      allowedIps: clientAllowedIps(targets, server.address),
      ...(input.kill_switch ? { killSwitch: true } : {}),
    });
    return { client: view(row, new Map(), await this.groups.policies()), config };
  }

  async list(): Promise<VpnClientView[]> {
    const [rows, stats, groups] = await Promise.all([
      this.db.selectFrom('vpn_clients').selectAll().orderBy('name').execute(),
      this.stats().catch(() => new Map() as PeerStats),
      this.groups.policies(),
    ]);
    return rows.map((r) => view(r, stats, groups));
  }

  /** The servers drop its peer at once (their long-polls wake). */
  async revoke(name: string): Promise<void> {
    const r = await this.db.deleteFrom('vpn_clients').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`VPN client ${name}`);
    this.sites.peersChanged();
  }

  /** A service changed: its upstreams may be in a policy's targets (only when there are clients). */
  servicesChanged(): void {
    void this.db
      .selectFrom('vpn_clients')
      .select('name')
      .limit(1)
      .executeTakeFirst()
      .then((r) => r && this.sites.peersChanged())
      .catch(() => undefined);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** The clients servers serve: every one not expired, with its policy's targets. */
  async peers(): Promise<ClientPeer[]> {
    const now = new Date().toISOString();
    const rows = await this.db.selectFrom('vpn_clients').selectAll().orderBy('name').execute();
    const groups = await this.groups.policies();
    const out: ClientPeer[] = [];
    for (const r of rows) {
      if (r.expires_at && r.expires_at <= now) continue;
      const policy = parsePolicy(effectivePolicy(r, groups).policy);
      if (typeof policy === 'string') continue;
      const t = await this.targets(policy).catch(() => undefined);
      out.push({
        site: clientPeerName(r.name),
        publicKey: r.public_key,
        address: r.address,
        subnets: [],
        // A service since removed admits nothing more (its targets are gone).
        targets: t ?? { blocks: [], upstreams: [] },
      });
    }
    return out;
  }

  private async targets(policy: VpnPolicy): Promise<PolicyTargets> {
    const subnets = (await this.sites.list()).flatMap((s) => s.subnets);
    const t = policyTargets(policy, { range: this.sites.range, subnets, services: this.services() });
    if ('unknown' in t) throw invalid('policy', `no service named ${t.unknown.join(', ')}`);
    return t;
  }

  private async server(): Promise<Server> {
    const edges = await this.db.selectFrom('vpn_edges').selectAll().orderBy('node').execute();
    const e = edges.find((x) => x.node === LOCAL_EDGE) ?? edges[0];
    if (!e)
      throw new GatehouseError(
        'no_vpn_server',
        'no WireGuard server yet: set vpn_port (and vpn_endpoint), or run a public edge with --tunnel-port',
        409,
        [{ field: 'vpn_port', message: 'no WireGuard server has registered' }],
      );
    return { publicKey: e.public_key, address: e.address, endpoint: e.endpoint };
  }

  /** When the next client expires, the servers hear of it (it leaves their peers). */
  private async armExpiry(): Promise<void> {
    const now = new Date().toISOString();
    const next = await this.db
      .selectFrom('vpn_clients')
      .select('expires_at')
      .where('expires_at', '>', now)
      .orderBy('expires_at')
      .executeTakeFirst()
      .catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!next?.expires_at) return;
    // setTimeout holds at most ~24.8 days; a later expiry is looked at again then.
    const ms = Math.min(Date.parse(next.expires_at) - Date.now() + 50, 2 ** 31 - 1);
    this.timer = setTimeout(
      () => {
        this.sites.peersChanged();
        void this.armExpiry();
      },
      Math.max(ms, 0),
    );
    this.timer.unref();
  }
}

/** The policy in force for a client: its own, else its group's, else `full`. */
function effectivePolicy(
  r: ClientRow,
  groups: Map<string, string>,
): { policy: string; from: VpnClientView['policy_from'] } {
  if (r.policy) return { policy: r.policy, from: 'client' };
  const g = r.device_group ? groups.get(r.device_group) : undefined;
  return g ? { policy: g, from: 'group' } : { policy: 'full', from: 'default' };
}

function view(r: ClientRow, stats: PeerStats, groups: Map<string, string>): VpnClientView {
  const s = stats.get(r.public_key);
  const p = effectivePolicy(r, groups);
  return {
    name: r.name,
    group: r.device_group,
    policy: p.policy,
    policy_from: p.from,
    address: r.address,
    public_key: r.public_key,
    created_at: r.created_at,
    expires_at: r.expires_at,
    expired: r.expires_at !== null && Date.parse(r.expires_at) <= Date.now(),
    last_handshake: s?.handshake ? new Date(s.handshake * 1000).toISOString() : null,
    rx_bytes: s?.rx ?? 0,
    tx_bytes: s?.tx ?? 0,
  };
}
