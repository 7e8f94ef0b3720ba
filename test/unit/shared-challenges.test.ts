import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observe/log.js';
import type { TopicHandlers } from '../../src/registry/replication.js';
import type { Db } from '../../src/store/db.js';
import { ACK_WAIT_MS, LEFTOVER_MS, SharedChallenges } from '../../src/tls/shared-challenges.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';

afterAll(stopSharedPostgres);

/** A topic bus among replicas in one process (Replication.topic's contract: not delivered back). */
function bus() {
  const members = new Map<string, TopicHandlers>();
  return {
    members,
    topic(self: string) {
      return (_name: string, h: TopicHandlers) => {
        members.set(self, h);
        return (payload: string) => {
          for (const [id, m] of members) if (id !== self) setImmediate(() => m.message(payload));
        };
      };
    },
  };
}

/** A replica's edges: what they serve, and when they served it. */
function edges() {
  const served: ReadonlyMap<string, string>[] = [];
  return {
    served,
    now: () => served.at(-1) ?? new Map<string, string>(),
    serve: async (a: ReadonlyMap<string, string>) => {
      // An nginx refresh takes a moment.
      await new Promise((r) => setTimeout(r, 30));
      served.push(new Map(a));
    },
  };
}

describe.each(STORES)('ACME HTTP-01 answers shared among replicas (%s)', (kind) => {
  let db: Db;
  const parts: SharedChallenges[] = [];
  beforeEach(async () => {
    db = await openTestDb(kind);
  });
  afterEach(async () => {
    for (const p of parts.splice(0)) await p.stop();
    await db.destroy();
  });

  it('an answer is served by every replica up before the leader asks the CA; its removal too', async () => {
    const b = bus();
    const ids = ['lead', 'other'];
    const e = { lead: edges(), other: edges() };
    const mk = (id: 'lead' | 'other') =>
      new SharedChallenges(db, e[id].serve, silentLogger(), {
        topic: b.topic(id),
        self: id,
        replicas: async () => ids,
      });
    const lead = mk('lead');
    const other = mk('other');
    parts.push(lead, other);
    await lead.start();
    await other.start();
    const t0 = Date.now();
    await lead.add('tok1', 'tok1.thumb');
    // Both serve it when add resolves (the CA is asked only then), well before the bound.
    expect(e.lead.now().get('tok1')).toBe('tok1.thumb');
    expect(e.other.now().get('tok1')).toBe('tok1.thumb');
    expect(Date.now() - t0).toBeLessThan(ACK_WAIT_MS);
    const rows = await db.selectFrom('acme_challenges').selectAll().execute();
    expect(rows.map((r) => [r.token, r.key_authorization])).toEqual([['tok1', 'tok1.thumb']]);

    await lead.remove('tok1');
    expect(e.lead.now().size).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(e.other.now().size).toBe(0);
    expect(await db.selectFrom('acme_challenges').selectAll().execute()).toEqual([]);
  });

  it('a replica that is up but never answers holds the order at most ACK_WAIT_MS', async () => {
    const b = bus();
    const e = edges();
    const lead = new SharedChallenges(db, e.serve, silentLogger(), {
      topic: b.topic('lead'),
      self: 'lead',
      replicas: async () => ['lead', 'silent'],
    });
    parts.push(lead);
    await lead.start();
    const t0 = Date.now();
    await lead.add('tok2', 'tok2.thumb');
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(ACK_WAIT_MS - 50);
    expect(waited).toBeLessThan(ACK_WAIT_MS + 2000);
    expect(e.now().get('tok2')).toBe('tok2.thumb');
  });

  it('alone (no peers) serves from the table; a replica starting later loads it; leftovers go', async () => {
    const e = edges();
    const alone = new SharedChallenges(db, e.serve, silentLogger());
    parts.push(alone);
    await alone.start();
    await alone.add('tok3', 'tok3.thumb');
    expect(e.now().get('tok3')).toBe('tok3.thumb');
    // A leader killed mid-order left this one behind, over an hour ago.
    await db
      .insertInto('acme_challenges')
      .values({
        token: 'old',
        key_authorization: 'old.thumb',
        created_at: new Date(Date.now() - LEFTOVER_MS - 60_000).toISOString(),
      })
      .execute();
    const later = edges();
    const starting = new SharedChallenges(db, later.serve, silentLogger());
    parts.push(starting);
    await starting.start();
    expect([...later.now()]).toEqual([['tok3', 'tok3.thumb']]);
    const tokens = (await db.selectFrom('acme_challenges').select('token').execute()).map((r) => r.token);
    expect(tokens).toEqual(['tok3']);
  });
});
