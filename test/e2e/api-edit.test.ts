import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, json, startServer, type TestServer } from '../helpers/net.js';
import { runCli } from '../helpers/netns.js';

interface DryRun {
  dry_run: true;
  changes: { name: string; op: string; patch: string }[];
}
interface AuditEntry {
  id: number;
  actor: string;
  via: string;
  ip: string;
  method: string;
  path: string;
  status: number;
}

/**
 * What an editor needs of the API: a diff of a change before it is made (checked in full, nothing
 * written), a write that refuses to overwrite someone else's change, and an audit log of who
 * changed what.
 */
describe('management API: dry runs, guarded writes, audit log', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const svc = (hosts: string[], extra: Record<string, unknown> = {}) => ({
    hosts,
    routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    ...extra,
  });

  beforeAll(async () => {
    t = await startTestGatehouse();
    app = await startServer((_req, res) => res.end('app'), await freePort());
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('answers a dry run with the diff and changes nothing', async () => {
    const first = await t.api('PUT', '/api/v1/services/web?wait=true', svc(['web.test']));
    expect(first.status).toBe(201);
    const version = (await t.api('GET', '/api/v1/status')).json.version;
    const dry = await t.api('PUT', '/api/v1/services/web?dry_run=true', svc(['web.test', 'www.test']));
    expect(dry.status).toBe(200);
    const body = dry.json as unknown as DryRun;
    expect(body.dry_run).toBe(true);
    expect(body.changes).toHaveLength(1);
    expect(body.changes[0]?.op).toBe('update');
    expect(body.changes[0]?.patch).toMatch(/^\+\s+- www\.test$/m);
    // Nothing was written: same version, same hosts, the proxy does not know the new name.
    expect((await t.api('GET', '/api/v1/status')).json.version).toBe(version);
    expect((await t.api('GET', '/api/v1/services/web')).json).toMatchObject({
      service: { hosts: ['web.test'] },
    });
    expect((await t.get('www.test')).status).not.toBe(200);
    // The same change, unchanged: no diff.
    const same = await t.api('PUT', '/api/v1/services/web?dry_run=1', svc(['web.test']));
    expect((same.json as unknown as DryRun).changes).toEqual([]);
    // A new service's diff is all additions.
    const created = await t.api('PUT', '/api/v1/services/fresh?dry_run=true', svc(['fresh.test']));
    expect((created.json as unknown as DryRun).changes[0]?.op).toBe('create');
    expect((await t.api('GET', '/api/v1/services/fresh')).status).toBe(404);
  });

  it('checks a dry run as fully as a write: field errors and conflicts', async () => {
    const bad = await t.api('PUT', '/api/v1/services/web?dry_run=true', {
      hosts: ['web.test'],
      routes: [{ upstreams: ['nowhere'] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe('invalid');
    expect((bad.json.error as { issues?: { field: string }[] }).issues?.[0]?.field).toBe(
      'routes.0.upstreams.0',
    );
    // Another service's host is a conflict even without writing.
    const taken = await t.api('PUT', '/api/v1/services/other?dry_run=true', svc(['web.test']));
    expect(taken.status).toBe(409);
    expect(taken.json.error?.message).toMatch(/web\.test/);
    expect((await t.api('GET', '/api/v1/services/other')).status).toBe(404);
  });

  it('refuses to overwrite a change made since the writer read the service', async () => {
    const read = (await t.api('GET', '/api/v1/services/web')).json as { meta: { updated_at: string } };
    const seen = read.meta.updated_at;
    // Someone else changes it.
    await t.api('PUT', '/api/v1/services/web', svc(['web.test', 'b.test']));
    const stale = await t.api(
      'PUT',
      `/api/v1/services/web?if_updated_at=${encodeURIComponent(seen)}`,
      svc(['web.test', 'mine.test']),
    );
    expect(stale.status).toBe(409);
    expect(stale.json.error?.code).toBe('changed_meanwhile');
    expect((await t.api('GET', '/api/v1/services/web')).json).toMatchObject({
      service: { hosts: ['web.test', 'b.test'] },
    });
    const now = ((await t.api('GET', '/api/v1/services/web')).json as { meta: { updated_at: string } }).meta
      .updated_at;
    const fresh = await t.api(
      'PUT',
      `/api/v1/services/web?wait=true&if_updated_at=${encodeURIComponent(now)}`,
      svc(['web.test', 'mine.test']),
    );
    expect(fresh.status).toBe(200);
    expect((await t.get('mine.test')).status).toBe(200);
    // Two writers who read the same state: exactly one wins, whatever the timing.
    const seenNow = ((await t.api('GET', '/api/v1/services/web')).json as { meta: { updated_at: string } })
      .meta.updated_at;
    const race = await Promise.all(
      ['one.test', 'two.test'].map((h) =>
        t.api(
          'PUT',
          `/api/v1/services/web?if_updated_at=${encodeURIComponent(seenNow)}`,
          svc(['web.test', h]),
        ),
      ),
    );
    expect(race.map((r) => r.status).sort()).toEqual([200, 409]);
    // `absent`: create only, never replace.
    const exists = await t.api('PUT', '/api/v1/services/web?if_updated_at=absent', svc(['web.test']));
    expect(exists.status).toBe(409);
    const created = await t.api('PUT', '/api/v1/services/newone?if_updated_at=absent', svc(['new.test']));
    expect(created.status).toBe(201);
    const garbage = await t.api('PUT', '/api/v1/services/web?if_updated_at=yesterday', svc(['web.test']));
    expect(garbage.status).toBe(400);
    expect(garbage.json.error?.message).toMatch(/^query\.if_updated_at: /);
  });

  it('keeps an audit log of changes and refusals, with who made them and how', async () => {
    await t.api('POST', '/api/v1/users', { username: 'ops', password: 'ops password 1', role: 'admin' });
    const signIn = await json(t.apiPort, 'POST', '/api/v1/session', {
      username: 'ops',
      password: 'ops password 1',
    });
    expect(signIn.status).toBe(200);
    const cookie = String((signIn.headers['set-cookie'] as string[] | undefined)?.[0]).split(';')[0] ?? '';
    const put = await json(t.apiPort, 'PUT', '/api/v1/services/byops', svc(['byops.test']), {
      cookie,
      'x-gatehouse-csrf': '1',
    });
    expect(put.status).toBe(201);
    // A refused sign-in is nobody's: the claimed name is not an actor.
    expect(
      (await json(t.apiPort, 'POST', '/api/v1/session', { username: 'ops', password: 'wrong wrong' })).status,
    ).toBe(401);
    // Refused: no token. Not kept: bad input, dry runs, reads.
    expect((await json(t.apiPort, 'DELETE', '/api/v1/services/web')).status).toBe(401);
    await t.api('PUT', '/api/v1/services/web?dry_run=true', svc(['web.test']));
    await t.api('PUT', '/api/v1/services/bad', { hosts: ['bad.test'] });
    // A dry_run flag on a route that does not take one hides nothing.
    await t.api('PUT', '/api/v1/services/gone', svc(['gone.test']));
    const del = await fetch(`http://127.0.0.1:${t.apiPort}/api/v1/services/gone`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dry_run: true }),
    });
    expect(del.status).toBe(200);
    // Signing out without a session changes nothing.
    expect((await json(t.apiPort, 'DELETE', '/api/v1/session')).status).toBe(200);

    const entries = ((await t.api('GET', '/api/v1/audit?limit=100')).json as { entries: AuditEntry[] })
      .entries;
    const lines = entries.map((e) => `${e.actor} ${e.via} ${e.method} ${e.path} ${e.status}`);
    expect(lines.slice(0, 5)).toEqual([
      'admin token DELETE /api/v1/services/gone 200',
      'admin token PUT /api/v1/services/gone 201',
      '- none DELETE /api/v1/services/web 401',
      '- none POST /api/v1/session 401',
      'ops session PUT /api/v1/services/byops 201',
    ]);
    expect(lines[5]).toBe('ops session POST /api/v1/session 200');
    expect(lines).toContain('admin token PUT /api/v1/services/web 200');
    expect(lines).toContain('admin token POST /api/v1/users 201');
    expect(lines.some((l) => l.includes('dry_run') || l.includes('/services/bad'))).toBe(false);
    expect(entries.every((e) => e.ip === '127.0.0.1')).toBe(true);
    // Bodies are never kept: no password in the log.
    expect(JSON.stringify(entries)).not.toContain('password 1');
    // Filter and paging.
    const ops = ((await t.api('GET', '/api/v1/audit?actor=ops')).json as { entries: AuditEntry[] }).entries;
    expect(ops.map((e) => e.path)).toEqual(['/api/v1/services/byops', '/api/v1/session']);
    const older = (
      (await t.api('GET', `/api/v1/audit?before=${entries[4]?.id}&limit=1`)).json as { entries: AuditEntry[] }
    ).entries;
    expect(older.map((e) => e.path)).toEqual(['/api/v1/session']);
    // The security events behind the dashboard's tallies, counted by the store.
    const summary = (await t.api('GET', '/api/v1/events/summary?hours=24')).json as {
      counts: Record<string, number>;
    };
    expect(summary.counts.login_failed).toBe(1);
    expect(summary.counts.login).toBe(1);
    expect((await t.api('GET', '/api/v1/events/summary?hours=0')).status).toBe(400);
    const bad = await t.api('GET', '/api/v1/audit?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^query\.limit: /);
  });

  it('keeps a few refusals a minute per address: guessing tokens cannot push history out', async () => {
    const count = async () =>
      ((await t.api('GET', '/api/v1/audit?limit=1000')).json as { entries: AuditEntry[] }).entries.filter(
        (e) => e.status === 401,
      ).length;
    const before = await count();
    for (let i = 0; i < 30; i++)
      await json(t.apiPort, 'POST', '/api/v1/services', {}, { authorization: `Bearer guess-${i}` });
    // At most ten a minute from one address (the minute may turn during the loop: twenty then).
    expect((await count()) - before).toBeLessThanOrEqual(20);
    expect((await count()) - before).toBeGreaterThanOrEqual(8);
  });

  it('shows the audit log on the command line', async () => {
    const r = await runCli([
      '--api',
      `http://127.0.0.1:${t.apiPort}`,
      '--token',
      'test-admin-token-0123456789',
      'audit',
      '--actor',
      'ops',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ops\s+session\s+127\.0\.0\.1\s+PUT \/api\/v1\/services\/byops\s+201/);
  });
  it('keeps one enabled admin user: the web UI needs someone who can sign in', async () => {
    // `ops` is the only admin user here.
    const demote = await t.api('PATCH', '/api/v1/users/ops', { role: 'user' });
    expect(demote.status).toBe(409);
    expect(demote.json.error?.message).toMatch(/^role: ops is the last enabled admin user/);
    expect((await t.api('PATCH', '/api/v1/users/ops', { disabled: true })).json.error?.message).toMatch(
      /^disabled: /,
    );
    expect((await t.api('DELETE', '/api/v1/users/ops')).json.error?.message).toMatch(/^username: /);
    expect((await t.api('GET', '/api/v1/users/ops')).json).toMatchObject({ role: 'admin', disabled: false });
    // Other changes to the last admin go through; with a second admin, so does removing the first.
    expect((await t.api('PATCH', '/api/v1/users/ops', { name: 'Ops' })).status).toBe(200);
    await t.api('POST', '/api/v1/users', { username: 'ops2', password: 'ops2 password 1', role: 'admin' });
    expect((await t.api('DELETE', '/api/v1/users/ops')).status).toBe(200);
  });
});
