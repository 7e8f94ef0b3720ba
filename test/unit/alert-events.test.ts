import { describe, expect, it } from 'vitest';
import { StoredEvents } from '../../src/alerts/rules-events.js';
import { rulesWith } from '../../src/model/alert-rule.js';
import type { Db } from '../../src/store/db.js';
import { openTestDb } from '../helpers/postgres.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

async function event(db: Db, kind: string, at: string, detail = '', ip = '', host = '') {
  await db.insertInto('events').values({ kind, at, detail, ip, username: '', host, path: '/' }).execute();
}

/** The rules that read the stored security events (shared by every replica). */
describe('alert rules over stored events', () => {
  it('tunnel down: the last transition of each site through each edge; a removed site says nothing', async () => {
    const db = await openTestDb('sqlite');
    for (const name of ['home', 'office'])
      await db
        .insertInto('sites')
        .values({
          name,
          address: name === 'home' ? '10.99.0.2' : '10.99.0.3',
          public_key: '',
          subnets: '[]',
          token_hash: name,
          created_at: ago(9999),
          last_seen: null,
          last_handshake: null,
          site_to_site: 0,
        })
        .execute();
    const ev = new StoredEvents(db);
    await event(db, 'tunnel_up', ago(300), 'site home via vps (1.2 ms)');
    await event(db, 'tunnel_down', ago(120), 'site home via vps');
    await event(db, 'tunnel_down', ago(100), 'site office via vps');
    await event(db, 'tunnel_up', ago(50), 'site office via vps (2.0 ms)');
    await event(db, 'tunnel_down', ago(40), 'site gone via vps');
    const down = await ev.tunnelsDown(NOW);
    expect(down.map((c) => [c.subject, c.since])).toEqual([['site home via vps', Date.parse(ago(120))]]);
    // Later looks read only what came since.
    await event(db, 'tunnel_up', ago(10), 'site home via vps (1.1 ms)');
    expect(await ev.tunnelsDown(NOW)).toEqual([]);
    await event(db, 'tunnel_down', ago(5), 'site office via vps');
    expect((await ev.tunnelsDown(NOW)).map((c) => c.title)).toEqual(['Tunnel down: site office via vps']);
  });

  it('failed sign-ins: above the count within the window, the busiest addresses named', async () => {
    const db = await openTestDb('sqlite');
    const ev = new StoredEvents(db);
    const rule = rulesWith({ sign_in_failures: { count: 3, window_min: 1 } }).sign_in_failures;
    await event(db, 'login_failed', ago(120), '', '192.0.2.9'); // outside the minute
    await event(db, 'login_failed', ago(30), '', '192.0.2.1');
    await event(db, 'totp_failed', ago(20), '', '192.0.2.1');
    await event(db, 'login', ago(15), '', '192.0.2.1');
    await event(db, 'login_failed', ago(10), '', '192.0.2.2');
    expect(await ev.signInFailures(rule, NOW)).toBeUndefined();
    await event(db, 'login_failed', ago(5), '', '192.0.2.1');
    const c = await ev.signInFailures(rule, NOW);
    expect(c?.title).toBe('Failed sign-ins: 4 in 1 min');
    expect(c?.text).toContain('from 192.0.2.1 (3), 192.0.2.2 (1)');
  });
});
