import { conflict, invalid, notFound } from '../model/errors.js';
import {
  formatPolicy,
  parsePolicy,
  type VpnGroupCreate,
  type VpnGroupView,
  type VpnPolicy,
} from '../model/vpn-client.js';
import type { Db } from '../store/db.js';

/**
 * Device groups of VPN clients: each carries a policy that its clients without one of their own
 * follow. Changing a group's policy changes what the servers admit from every such member at once
 * (`changed` wakes them, as a client added or revoked does). A group in use cannot be removed: the
 * API answers 409 naming `group` and the clients that use it.
 */
export class VpnGroupStore {
  constructor(
    private readonly db: Db,
    /** The servers' peers and rules must be made again. */
    private readonly changed: () => void,
    /** Checks a policy against what exists (a `services:` policy names services): throws a 400. */
    private readonly check: (policy: VpnPolicy) => Promise<void>,
  ) {}

  async add(input: VpnGroupCreate): Promise<VpnGroupView> {
    const policy = await this.parse(input.policy);
    const existing = await this.db
      .selectFrom('vpn_groups')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (existing) throw conflict('name', `VPN group ${input.name} exists`);
    const row = { name: input.name, policy: formatPolicy(policy), created_at: new Date().toISOString() };
    await this.db.insertInto('vpn_groups').values(row).execute();
    return { ...row, clients: 0 };
  }

  async list(): Promise<VpnGroupView[]> {
    const [rows, members] = await Promise.all([
      this.db.selectFrom('vpn_groups').selectAll().orderBy('name').execute(),
      this.db.selectFrom('vpn_clients').select('device_group').execute(),
    ]);
    const count = new Map<string, number>();
    for (const m of members)
      if (m.device_group) count.set(m.device_group, (count.get(m.device_group) ?? 0) + 1);
    return rows.map((r) => ({ ...r, clients: count.get(r.name) ?? 0 }));
  }

  /** A new policy for the group: every member without its own follows it at once. */
  async set(name: string, text: string): Promise<VpnGroupView> {
    const policy = formatPolicy(await this.parse(text));
    const r = await this.db
      .updateTable('vpn_groups')
      .set({ policy })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw notFound(`VPN group ${name}`);
    this.changed();
    const view = (await this.list()).find((g) => g.name === name);
    if (!view) throw notFound(`VPN group ${name}`);
    return view;
  }

  /** Refused (409 naming `group`) while clients are in it: revoke them or add them anew first. */
  async remove(name: string): Promise<void> {
    const members = await this.db
      .selectFrom('vpn_clients')
      .select('name')
      .where('device_group', '=', name)
      .orderBy('name')
      .execute();
    if (members.length)
      throw conflict(
        'group',
        `VPN group ${name} has clients (${members.map((m) => m.name).join(', ')}): revoke them first`,
      );
    const r = await this.db.deleteFrom('vpn_groups').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`VPN group ${name}`);
  }

  /** The group's policy text; unknown group: a 400 naming `group`. */
  async policyOf(name: string): Promise<string> {
    const row = await this.db
      .selectFrom('vpn_groups')
      .select('policy')
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row)
      throw invalid('group', `no VPN group named ${name} (add it with: gatehouse vpn group add ${name})`);
    return row.policy;
  }

  /** Every group's policy text, by name. */
  async policies(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('vpn_groups').select(['name', 'policy']).execute();
    return new Map(rows.map((r) => [r.name, r.policy]));
  }

  private async parse(text: string): Promise<VpnPolicy> {
    const policy = parsePolicy(text);
    if (typeof policy === 'string') throw invalid('policy', policy);
    await this.check(policy);
    return policy;
  }
}
