import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observe/log.js';
import { Registry } from '../../src/registry/registry.js';
import { type Db } from '../../src/store/db.js';
import { Sealer } from '../../src/store/secrets.js';
import type { AcmeIssuer } from '../../src/tls/acme.js';
import { CertManager } from '../../src/tls/manager.js';
import { CertStore } from '../../src/tls/store.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';
import { makeCa } from '../helpers/tls.js';

afterAll(stopSharedPostgres);

/**
 * Replicas share the certificate store: an order never ends in two rows. A replica that stopped
 * leading while its order ran does not store its certificate (the new leader orders the names), and
 * one that finds the names stored during its order (by another replica) keeps that certificate.
 */
describe.each(STORES)('certificate manager (%s): one certificate per order among replicas', (kind) => {
  let dir: string;
  let db: Db;
  let registry: Registry;
  let store: CertStore;
  let ca: ReturnType<typeof makeCa>;
  let leading = true;
  /** Runs while an order is at the CA (the leader demoted, another replica storing the names). */
  let during: () => Promise<void> = async () => undefined;
  const issuer = {
    issue: async (names: string[]) => {
      const pair = ca.issue(names);
      await during();
      return pair;
    },
  } as unknown as AcmeIssuer;
  const rows = async (host: string) => (await store.list()).filter((c) => c.names.includes(host));
  const manager = () =>
    new CertManager(registry, store, issuer, createLogger('silent'), { leading: () => leading });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-mgr-lead-'));
    ca = makeCa(dir);
    db = await openTestDb(kind);
    registry = await Registry.open(db, new Map());
    store = new CertStore(db, await Sealer.load(dir));
  });
  afterAll(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('a replica demoted during its order stores nothing and records no failure', async () => {
    const m = manager();
    during = async () => {
      leading = false;
    };
    await registry.put(
      { name: 'a', hosts: ['a.lead.test'], routes: [{ upstreams: ['10.0.0.1:80'] }] },
      { actor: 't', source: 'api' },
    );
    await m.kick();
    expect(await rows('a.lead.test')).toEqual([]);
    expect(m.orders.get('a.lead.test')).toBeUndefined();
    // The new leader (here: the same one, leading again) orders the names and stores them once.
    leading = true;
    during = async () => undefined;
    await m.kick();
    expect(await rows('a.lead.test')).toHaveLength(1);
    expect(m.orders.get('a.lead.test')?.state).toBe('issued');
  });

  it('names stored by another replica during the order: that certificate is kept, no second row', async () => {
    const m = manager();
    let theirs = '';
    during = async () => {
      const other = ca.issue(['b.lead.test']);
      theirs = (await store.upload(other.cert, other.key, 'acme')).id;
    };
    const view = await m.issueNow(['b.lead.test']);
    during = async () => undefined;
    expect(view.id).toBe(theirs);
    expect((await rows('b.lead.test')).map((c) => c.id)).toEqual([theirs]);
  });
});
