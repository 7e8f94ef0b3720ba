import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyFileContent, apiKeyHash } from '../../src/gate/api-keys.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';

interface Created {
  key: { id: string; name: string; services: string[]; user: string | null; state: string };
  token: string;
}

/** API keys through the real nginx: checked inside it (Lua), scoped, revocable, refused with 401. */
describe('API keys', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const seen = (body: string) => (JSON.parse(body) as { headers: Record<string, string> }).headers;
  const create = async (body: unknown) => {
    const r = await t.api('POST', '/api/v1/api-keys', body);
    expect(r.status, r.body).toBe(201);
    return r.json as unknown as Created;
  };

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    const put = async (name: string, access: unknown) => {
      const r = await t.api('PUT', `/api/v1/services/${name}?wait=true`, {
        hosts: [`${name}.home.test`],
        routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
        access,
      });
      expect(r.status, r.body).toBeLessThan(300);
    };
    await put('api', { api_keys: true });
    await put('other', { api_keys: true });
    await put('hook', { api_keys: { header: 'X-Api-Key' } });
    await put('staff', { login: { groups: ['staff'] }, api_keys: true });
    await put('plain', { login: {} });
    expect((await t.api('POST', '/api/v1/groups', { name: 'staff' })).status).toBe(201);
    for (const [username, groups] of [
      ['ann', ['staff']],
      ['bob', []],
    ] as const)
      expect(
        (
          await t.api('POST', '/api/v1/users', {
            username,
            password: `${username} password 1`,
            email: `${username}@home.test`,
            groups,
          })
        ).status,
      ).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('without a key: 401 with a Bearer challenge, for browsers too (no portal redirect)', async () => {
    for (const accept of ['application/json', 'text/html']) {
      const r = await t.get('api.home.test', '/', { headers: { accept } });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="gatehouse"');
      expect(r.body).toBe('a valid API key is required\n');
    }
  });

  it('a service key opens its service, shown once, listed without the key, identity sent upstream', async () => {
    const { key, token } = await create({ name: 'ci-deploy', services: ['api'] });
    expect(token).toMatch(/^ghk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: 'ci-deploy', services: ['api'], user: null, state: 'active' });
    const list = await t.api('GET', '/api/v1/api-keys');
    expect(list.body).not.toContain(token.slice(21));
    expect(list.body).toContain(key.id);

    const r = await t.get('api.home.test', '/x', { headers: bearer(token) });
    expect(r.status).toBe(200);
    expect(seen(r.body)['remote-user']).toBe('ci-deploy');
    // The key is Gatehouse's credential: the upstream never sees it.
    expect(seen(r.body).authorization).toBeUndefined();
    // Either spelling of the scheme, as RFC 9110 allows.
    expect(
      (await t.get('api.home.test', '/', { headers: { authorization: `bearer ${token}` } })).status,
    ).toBe(200);
  });

  it('red team: another service, a query string, a changed or unknown key, the wrong header: 401', async () => {
    const { key, token } = await create({ name: 'scoped', services: ['api'] });
    const cases: [string, string, Record<string, string>][] = [
      ['other.home.test', '/', bearer(token)],
      ['api.home.test', `/?api_key=${token}`, {}],
      ['api.home.test', `/?access_token=${token}`, {}],
      ['api.home.test', '/', bearer(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)],
      ['api.home.test', '/', bearer(`ghk_0123456789abcdef_${token.slice(-43)}`)],
      ['api.home.test', '/', bearer(`ghk_${key.id}_short`)],
      ['api.home.test', '/', { 'x-api-key': token }],
      ['hook.home.test', '/', bearer(token)],
    ];
    for (const [host, path, headers] of cases) {
      const r = await t.get(host, path, { headers });
      expect({ host, path, headers, status: r.status }).toEqual({ host, path, headers, status: 401 });
    }
  });

  it('a route may name its header; the key then works there and only there', async () => {
    const { token } = await create({ name: 'webhook', services: ['hook'] });
    const r = await t.get('hook.home.test', '/', {
      headers: { 'x-api-key': token, authorization: 'Bearer app' },
    });
    expect(r.status).toBe(200);
    // Its own header goes; the app's Authorization stays.
    expect(seen(r.body)).toMatchObject({ authorization: 'Bearer app' });
    expect(seen(r.body)['x-api-key']).toBeUndefined();
    expect((await t.get('hook.home.test', '/', { headers: bearer(token) })).status).toBe(401);
  });

  it("a user's key is that user: identity headers, the route's groups, disabled means refused at once", async () => {
    const ann = await create({ name: 'ann-phone', services: ['staff', 'api'], user: 'ann' });
    const bob = await create({ name: 'bob-laptop', services: ['staff'], user: 'bob' });
    const r = await t.get('staff.home.test', '/', { headers: bearer(ann.token) });
    expect(r.status).toBe(200);
    expect(seen(r.body)).toMatchObject({
      'remote-user': 'ann',
      'x-username': 'ann',
      'x-email': 'ann@home.test',
      'x-groups': 'staff',
    });
    // bob's key is scoped to the service, but bob is not in the route's group.
    expect((await t.get('staff.home.test', '/', { headers: bearer(bob.token) })).status).toBe(403);

    expect((await t.api('PATCH', '/api/v1/users/ann', { disabled: true })).status).toBe(200);
    expect((await t.get('staff.home.test', '/', { headers: bearer(ann.token) })).status).toBe(401);
    expect((await t.api('PATCH', '/api/v1/users/ann', { disabled: false })).status).toBe(200);
    expect((await t.get('staff.home.test', '/', { headers: bearer(ann.token) })).status).toBe(200);

    // Out of the group: the key's groups follow the user's.
    expect((await t.api('PATCH', '/api/v1/users/ann', { groups: [] })).status).toBe(200);
    expect((await t.get('staff.home.test', '/', { headers: bearer(ann.token) })).status).toBe(403);
    expect((await t.get('api.home.test', '/', { headers: bearer(ann.token) })).status).toBe(200);

    // A removed user's keys are revoked.
    expect((await t.api('DELETE', '/api/v1/users/bob')).status).toBe(200);
    const keys = (await t.api('GET', '/api/v1/api-keys')).json as unknown as { keys: Created['key'][] };
    expect(keys.keys.find((k) => k.id === bob.key.id)?.state).toBe('revoked');
  });

  it('a browser on a route with sign-in as well still goes to the portal', async () => {
    const r = await t.get('staff.home.test', '/', { headers: { accept: 'text/html' } });
    expect(r.status).toBe(302);
    expect(r.headers.location).toContain('/login?rd=');
  });

  it('revoked: refused on the next request', async () => {
    const { key, token } = await create({ name: 'short-lived', services: ['api'] });
    expect((await t.get('api.home.test', '/', { headers: bearer(token) })).status).toBe(200);
    const del = await t.api('DELETE', `/api/v1/api-keys/${key.id}`);
    expect(del.status).toBe(200);
    expect((await t.get('api.home.test', '/', { headers: bearer(token) })).status).toBe(401);
  });

  it('nginx refuses a key past its expiry even while its file is still there', async () => {
    const { key, token } = await create({ name: 'expiring', services: ['api'], ttl: '1h' });
    expect((await t.get('api.home.test', '/', { headers: bearer(token) })).status).toBe(200);
    // The hourly sync has not run yet: the file still names the key, with a time now past.
    const file = join(t.dataDir, 'gate', 'state', 'k', 'api', key.id);
    const who = {
      kind: 'service' as const,
      uid: `key-${key.id}`,
      username: 'expiring',
      email: '',
      name: 'expiring',
      firstName: '',
      lastName: '',
      groups: [],
    };
    await writeFile(file, apiKeyFileContent(Date.now() - 1000, apiKeyHash(token), who));
    expect((await t.get('api.home.test', '/', { headers: bearer(token) })).status).toBe(401);
    await writeFile(file, apiKeyFileContent(Date.now() + 60_000, apiKeyHash(token), who));
    expect((await t.get('api.home.test', '/', { headers: bearer(token) })).status).toBe(200);
  });

  it('bad input: 400 naming the field, and no key made', async () => {
    const before = ((await t.api('GET', '/api/v1/api-keys')).json as unknown as { keys: unknown[] }).keys
      .length;
    const cases: [unknown, string][] = [
      [{ name: 'x', services: [] }, 'services'],
      [{ name: 'x', services: ['nope'] }, 'services.0'],
      [{ name: 'x', services: ['plain'] }, 'services.0'],
      [{ name: 'x', services: ['api'], ttl: '2y' }, 'ttl'],
      [{ name: 'x', services: ['api'], ttl: '3651d' }, 'ttl'],
      [{ name: 'x', services: ['api'], user: 'nobody' }, 'user'],
      [{ name: '', services: ['api'] }, 'name'],
      [{ name: 'x', services: ['api'], token: 'mine' }, 'token'],
    ];
    for (const [body, field] of cases) {
      const r = await t.api('POST', '/api/v1/api-keys', body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.body).toContain(field);
    }
    expect((await t.api('DELETE', '/api/v1/api-keys/not-an-id')).status).toBe(400);
    expect((await t.api('DELETE', '/api/v1/api-keys/0123456789abcdef')).status).toBe(404);
    const after = ((await t.api('GET', '/api/v1/api-keys')).json as unknown as { keys: unknown[] }).keys
      .length;
    expect(after).toBe(before);
  });
});
