import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertService } from '../../src/alerts/service.js';
import { createLogger } from '../../src/observe/log.js';
import type { Db } from '../../src/store/db.js';
import { Leader, type ReplicaStatus } from '../../src/store/leader.js';
import { Sealer } from '../../src/store/secrets.js';
import { json, receiver, type Received } from '../helpers/alerts.js';
import { until } from '../helpers/net.js';
import { openTestDb } from '../helpers/postgres.js';
import { testDir } from '../helpers/tmp.js';

const log = createLogger('silent');

/** A leader the test hands leadership to and takes it from (as an election would). */
class HandedLeader extends Leader {
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async status(): Promise<ReplicaStatus> {
    return { id: this.id, leading: this.leading, leader: null, replicas: [this.id], store: 'sqlite' };
  }
  hand(on: boolean): void {
    this.setLeading(on);
  }
}

/**
 * Two replicas on one store, each with its alert service under its own leader: only the leader's
 * sends, and a replica that comes to lead takes the alerts over without sending them twice.
 */
describe('alert rules among replicas: leader only', () => {
  let db: Db;
  let hook: { url: string; got: Received[]; server: Server };
  const titles = () => hook.got.map((g) => String(json(g.body).title));

  beforeAll(async () => {
    db = await openTestDb('sqlite');
    hook = await receiver();
  });
  afterAll(async () => {
    hook.server.close();
    await db.destroy();
  });

  it('one message per alert whatever the replica; the new leader resolves it', async () => {
    const sealer = await Sealer.load(await testDir('gh-alert-leader-'), undefined, db);
    let down: string[] = [];
    const replica = (id: string) => {
      const leader = new HandedLeader(id, log);
      const service = new AlertService({
        db,
        sealer,
        log,
        sources: { downServers: () => down, nodes: async () => [], certs: async () => [] },
        intervalMs: 50,
      });
      return { leader, service, job: leader.whileLeading('alerts', service.leaderJob()) };
    };
    const a = replica('a');
    const b = replica('b');
    await a.service.channels.create({ name: 'hook', type: 'webhook', url: `${hook.url}/in` });
    await a.service.store.update('upstream_down', { hold_s: 0 }, async () => ['hook']);
    a.leader.hand(true);
    await a.job.start();
    await b.job.start();
    expect(b.service.engine).toBeUndefined();

    down = ['web-r0 127.0.0.1:9'];
    await until(() => (titles().length ? true : undefined), 5000);
    expect(titles()).toEqual(['[FIRING] Upstream down: 127.0.0.1:9 (web-r0)']);
    // Either replica's API shows it (from the store).
    await until(async () => ((await b.service.store.state()).alerts.length ? true : undefined), 5000);
    expect((await b.service.store.state()).alerts).toMatchObject([
      { rule: 'upstream_down', state: 'firing' },
    ]);

    // Leadership moves: a stops, b starts, and b does not send the alert again.
    a.leader.hand(false);
    b.leader.hand(true);
    await until(() => (b.service.engine ? true : undefined), 5000);
    expect(a.service.engine).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(titles()).toHaveLength(1);

    down = [];
    await until(() => (titles().length === 2 ? true : undefined), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(titles()).toEqual([
      '[FIRING] Upstream down: 127.0.0.1:9 (web-r0)',
      '[RESOLVED] Upstream down: 127.0.0.1:9 (web-r0)',
    ]);
    await a.job.stop();
    await b.job.stop();
  });
});
