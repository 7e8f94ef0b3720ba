import type { AlertRules } from '../model/alert-rule.js';
import type { Db } from '../store/db.js';
import type { Condition } from './engine.js';

/** The rules that read the security events every replica stores (links, sign-ins, tunnels). */
export interface EventSource {
  tunnelsDown(now: number): Promise<Condition[]>;
  linksUsed(windowMin: number, now: number): Promise<Condition[]>;
  signInFailures(r: AlertRules['sign_in_failures'], now: number): Promise<Condition | undefined>;
}

/** Failed sign-ins: a wrong password, a wrong one-time code. */
const SIGN_IN_FAILED = ['login_failed', 'totp_failed'];
/** How far back the tunnels' transitions are read. */
const TUNNEL_LOOKBACK_MS = 30 * 86_400_000;
const TUNNEL_ROWS = 5000;

/** Reads the `events` table (shared by every replica on PostgreSQL). */
export class StoredEvents implements EventSource {
  constructor(private readonly db: Db) {}

  /** Each tunnel's last transition (`site home via vps`), and the last event read. */
  private tunnels: Map<string, { down: boolean; at: string }> | undefined;
  private lastTunnelId = 0;

  /**
   * A site's tunnel through an edge whose last transition was down. The first look reads the last
   * 30 days; later ones only the events since (by id: the primary key, never a scan).
   */
  async tunnelsDown(now: number): Promise<Condition[]> {
    let q = this.db
      .selectFrom('events')
      .select(['id', 'kind', 'detail', 'at'])
      .where('kind', 'in', ['tunnel_up', 'tunnel_down']);
    q = this.tunnels
      ? q.where('id', '>', this.lastTunnelId)
      : q.where('at', '>=', new Date(now - TUNNEL_LOOKBACK_MS).toISOString());
    const rows = await q.orderBy('id', 'desc').limit(TUNNEL_ROWS).execute();
    const last = this.tunnels ?? new Map<string, { down: boolean; at: string }>();
    // Newest first: the first row of a subject is its state now; older ones are history.
    const seen = new Set<string>();
    for (const r of rows) {
      this.lastTunnelId = Math.max(this.lastTunnelId, Number(r.id));
      const subject = r.detail.replace(/ \([^)]*\)$/, '');
      if (seen.has(subject)) continue;
      seen.add(subject);
      last.set(subject, { down: r.kind === 'tunnel_down', at: r.at });
    }
    this.tunnels = last;
    // A site removed says nothing more (its last word may have been "down").
    const sites = new Set((await this.db.selectFrom('sites').select('name').execute()).map((r) => r.name));
    return [...last]
      .filter(([subject, v]) => v.down && sites.has(/^site (\S+) via /.exec(subject)?.[1] ?? ''))
      .map(([subject, v]) => ({
        rule: 'tunnel_down' as const,
        subject,
        title: `Tunnel down: ${subject}`,
        text: `The tunnel of ${subject} is down since ${v.at}.`,
        since: Date.parse(v.at),
      }));
  }

  /** Each temporary link used within the window: one alert per link. */
  async linksUsed(windowMin: number, now: number): Promise<Condition[]> {
    const rows = await this.db
      .selectFrom('events')
      .leftJoin('links', 'links.id', 'events.detail')
      .select(['events.detail', 'events.at', 'events.ip', 'events.host', 'links.service', 'links.note'])
      .where('events.kind', '=', 'link_used')
      .where('events.at', '>=', new Date(now - windowMin * 60_000).toISOString())
      .orderBy('events.id', 'asc')
      .execute();
    const by = new Map<
      string,
      { first: string; n: number; ips: Set<string>; service: string; note: string; host: string }
    >();
    for (const r of rows) {
      const e = by.get(r.detail) ?? {
        first: r.at,
        n: 0,
        ips: new Set<string>(),
        service: r.service ?? '',
        note: r.note ?? '',
        host: r.host,
      };
      e.n += 1;
      if (r.ip) e.ips.add(r.ip);
      by.set(r.detail, e);
    }
    return [...by].map(([id, e]) => {
      const what = `${e.note ? `"${e.note}" ` : ''}(${id})`;
      const to = e.service ? ` to ${e.service}` : e.host ? ` to ${e.host}` : '';
      return {
        rule: 'link_used' as const,
        subject: id,
        title: `Temporary link used: ${what}${to}`,
        text: `Temporary link ${what}${to} was used${e.ips.size ? ` from ${[...e.ips].join(', ')}` : ''} at ${e.first}.`,
        since: Date.parse(e.first),
      };
    });
  }

  /** More failed sign-ins than `count` within the window. */
  async signInFailures(r: AlertRules['sign_in_failures'], now: number): Promise<Condition | undefined> {
    const rows = await this.db
      .selectFrom('events')
      .select(['ip', (eb) => eb.fn.countAll<number>().as('n')])
      .where('kind', 'in', SIGN_IN_FAILED)
      .where('at', '>=', new Date(now - r.window_min * 60_000).toISOString())
      .groupBy('ip')
      .execute();
    const total = rows.reduce((s, x) => s + Number(x.n), 0);
    if (total <= r.count) return undefined;
    const top = rows
      .map((x) => ({ ip: x.ip || 'unknown', n: Number(x.n) }))
      .sort((a, b) => b.n - a.n)
      .slice(0, 5)
      .map((x) => `${x.ip} (${x.n})`)
      .join(', ');
    return {
      rule: 'sign_in_failures',
      subject: 'sign-ins',
      title: `Failed sign-ins: ${total} in ${r.window_min} min`,
      text: `${total} failed sign-ins in the last ${r.window_min} min (threshold ${r.count}); from ${top}.`,
    };
  }
}
