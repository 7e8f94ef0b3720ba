import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { http } from '../helpers/net.js';

/**
 * Malformed input to the gate's part of the management API (users, groups, sessions, links,
 * providers) and to the access part of services. Each gets its exact 4xx naming the field, and
 * nothing changes: not the users, groups, links or providers, not the registry, not nginx's config.
 */

type Obj = Record<string, unknown>;
interface Case {
  why: string;
  method: string;
  path: string;
  body?: unknown;
  want: [status: number, code: string, names: string];
}

const HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$aOo5wZZAqOeoiX7eM1uhCg$Dt23KW1nveUzp4pxsQxOahwhKWpi0j+QsM4So6Dbfp4';
const user = (extra: Obj = {}): Obj => ({ username: 'fresh', password: 'fresh password', ...extra });
const provider = (extra: Obj = {}): Obj => ({
  name: 'fresh',
  issuer: 'https://id.example.test',
  client_id: 'gh',
  client_secret: 's3cret',
  ...extra,
});
const service = (access: Obj): Obj => ({
  name: 'fresh',
  hosts: ['fresh.home.test'],
  routes: [{ upstreams: ['127.0.0.1:9'] }],
  access,
});
const svc = (access: Obj): Omit<Case, 'why' | 'want'> => ({
  method: 'POST',
  path: '/api/v1/services',
  body: service(access),
});

const cases: Case[] = [
  // users
  {
    why: 'user: no username',
    method: 'POST',
    path: '/api/v1/users',
    body: { password: 'long enough' },
    want: [400, 'invalid', 'username'],
  },
  {
    why: 'user: uppercase username',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ username: 'Alice' }),
    want: [400, 'invalid', 'username'],
  },
  {
    why: 'user: username with a slash',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ username: 'a/b' }),
    want: [400, 'invalid', 'username'],
  },
  {
    why: 'user: short password',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ password: 'short' }),
    want: [400, 'invalid', 'password'],
  },
  {
    why: 'user: password not a string',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ password: 12345678 }),
    want: [400, 'invalid', 'password'],
  },
  {
    why: 'user: bad email',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ email: 'not-an-email' }),
    want: [400, 'invalid', 'email'],
  },
  {
    why: 'user: name with a newline (header injection)',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ name: 'A\r\nX-Evil: 1' }),
    want: [400, 'invalid', 'name'],
  },
  {
    why: 'user: name with a comma',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ first_name: 'a,b' }),
    want: [400, 'invalid', 'first_name'],
  },
  {
    why: 'user: unknown role',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ role: 'root' }),
    want: [400, 'invalid', 'role'],
  },
  {
    why: 'user: unknown group',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ groups: ['nope'] }),
    want: [400, 'invalid', 'groups.0'],
  },
  {
    why: 'user: unknown field',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ admin: true }),
    want: [400, 'invalid', 'admin'],
  },
  {
    why: 'user: exists',
    method: 'POST',
    path: '/api/v1/users',
    body: user({ username: 'base' }),
    want: [409, 'conflict', 'username'],
  },
  {
    why: 'user: patch an unknown user',
    method: 'PATCH',
    path: '/api/v1/users/nobody',
    body: { disabled: true },
    want: [404, 'not_found', 'nobody'],
  },
  {
    why: 'user: patch with a bad field',
    method: 'PATCH',
    path: '/api/v1/users/base',
    body: { disabled: 'yes' },
    want: [400, 'invalid', 'disabled'],
  },
  {
    why: 'user: patch the username',
    method: 'PATCH',
    path: '/api/v1/users/base',
    body: { username: 'other' },
    want: [400, 'invalid', 'username'],
  },
  {
    why: 'user: bad name in the path',
    method: 'GET',
    path: '/api/v1/users/Bad%20Name',
    want: [400, 'invalid', 'params.username'],
  },
  {
    why: 'user: remove an unknown user',
    method: 'DELETE',
    path: '/api/v1/users/nobody',
    want: [404, 'not_found', 'nobody'],
  },
  {
    why: 'user: totp for an unknown user',
    method: 'POST',
    path: '/api/v1/users/nobody/totp',
    want: [404, 'not_found', 'nobody'],
  },
  // groups
  {
    why: 'group: bad name',
    method: 'POST',
    path: '/api/v1/groups',
    body: { name: 'Family!' },
    want: [400, 'invalid', 'name'],
  },
  {
    why: 'group: exists',
    method: 'POST',
    path: '/api/v1/groups',
    body: { name: 'family' },
    want: [409, 'conflict', 'name'],
  },
  {
    why: 'group: unknown field',
    method: 'POST',
    path: '/api/v1/groups',
    body: { name: 'g2', members: [] },
    want: [400, 'invalid', 'members'],
  },
  {
    why: 'group: remove an unknown group',
    method: 'DELETE',
    path: '/api/v1/groups/nope',
    want: [404, 'not_found', 'nope'],
  },
  // sessions
  {
    why: 'session: revoke an unknown session',
    method: 'DELETE',
    path: '/api/v1/sessions/unknown',
    want: [404, 'not_found', 'unknown'],
  },
  {
    why: 'session: bad id',
    method: 'DELETE',
    path: '/api/v1/sessions/a.b',
    want: [400, 'invalid', 'params.id'],
  },
  {
    why: 'session: list for a bad username',
    method: 'GET',
    path: '/api/v1/sessions?user=A%20B',
    want: [400, 'invalid', 'query.user'],
  },
  // links
  {
    why: 'link: no service',
    method: 'POST',
    path: '/api/v1/links',
    body: {},
    want: [400, 'invalid', 'service'],
  },
  {
    why: 'link: unknown service',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'nope' },
    want: [400, 'invalid', 'service'],
  },
  {
    why: 'link: service without links',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'nolinks' },
    want: [400, 'invalid', 'service'],
  },
  {
    why: 'link: ttl not a duration',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'share', ttl: '3 days' },
    want: [400, 'invalid', 'ttl'],
  },
  {
    why: 'link: ttl too long',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'share', ttl: '9999h' },
    want: [400, 'invalid', 'ttl'],
  },
  {
    why: 'link: max_ips zero',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'share', max_ips: 0 },
    want: [400, 'invalid', 'max_ips'],
  },
  {
    why: 'link: max_ips a string',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'share', max_ips: '2' },
    want: [400, 'invalid', 'max_ips'],
  },
  {
    why: 'link: host not the service’s',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'share', host: 'evil.test' },
    want: [400, 'invalid', 'host'],
  },
  {
    why: 'link: note with control characters',
    method: 'POST',
    path: '/api/v1/links',
    body: { service: 'share', note: 'a\u0000b' },
    want: [400, 'invalid', 'note'],
  },
  {
    why: 'link: revoke an unknown link',
    method: 'DELETE',
    path: '/api/v1/links/00000000-0000-4000-8000-000000000000',
    want: [404, 'not_found', 'link'],
  },
  { why: 'link: bad id', method: 'GET', path: '/api/v1/links/x', want: [400, 'invalid', 'params.id'] },
  // providers
  {
    why: 'provider: issuer not a URL',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ issuer: 'id.example.test' }),
    want: [400, 'invalid', 'issuer'],
  },
  {
    why: 'provider: javascript issuer',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ issuer: 'javascript:alert(1)' }),
    want: [400, 'invalid', 'issuer'],
  },
  {
    why: 'provider: no client secret',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ client_secret: undefined }),
    want: [400, 'invalid', 'client_secret'],
  },
  {
    why: 'provider: bad name',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ name: 'Corp SSO' }),
    want: [400, 'invalid', 'name'],
  },
  {
    why: 'provider: group map to an unknown group',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ group_map: { a: 'nope' } }),
    want: [400, 'invalid', 'group_map.a'],
  },
  {
    why: 'provider: group map to a bad name',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ group_map: { a: 'No!' } }),
    want: [400, 'invalid', 'group_map.a'],
  },
  {
    why: 'provider: bad claim name',
    method: 'POST',
    path: '/api/v1/providers',
    body: provider({ groups_claim: 'a b' }),
    want: [400, 'invalid', 'groups_claim'],
  },
  {
    why: 'provider: remove an unknown provider',
    method: 'DELETE',
    path: '/api/v1/providers/nope',
    want: [404, 'not_found', 'nope'],
  },
  // access in services
  {
    why: 'access: login with a bad group name',
    ...svc({ login: { groups: ['Bad Group'] } }),
    want: [400, 'invalid', 'access.login.groups.0'],
  },
  {
    // login: true is short for login: {} (issue 12): other non-objects are still refused.
    why: 'access: login: "yes" instead of an object',
    ...svc({ login: 'yes' }),
    want: [400, 'invalid', 'access.login'],
  },
  {
    why: 'access: public and login',
    ...svc({ public: true, login: {} }),
    want: [400, 'invalid', 'access.public'],
  },
  {
    why: 'access: a rule matching everything',
    ...svc({ login: {}, rules: [{ action: 'deny' }] }),
    want: [400, 'invalid', 'access.rules.0'],
  },
  {
    why: 'access: a rule with an unknown action',
    ...svc({ login: {}, rules: [{ action: 'drop', path: '/x/' }] }),
    want: [400, 'invalid', 'access.rules.0.action'],
  },
  {
    why: 'access: a rule with a bad CIDR',
    ...svc({ login: {}, rules: [{ action: 'deny', cidr: '10.0.0.0/33' }] }),
    want: [400, 'invalid', 'access.rules.0.cidr'],
  },
  {
    why: 'access: a rule with a bad method',
    ...svc({ login: {}, rules: [{ action: 'allow', method: ['FETCH'] }] }),
    want: [400, 'invalid', 'access.rules.0.method.0'],
  },
  {
    why: 'access: a rule with a path nginx never matches',
    ...svc({ login: {}, rules: [{ action: 'deny', path: '/a/../b' }] }),
    want: [400, 'invalid', 'access.rules.0.path'],
  },
  {
    why: 'access: basic with a plain password',
    ...svc({ basic: [{ user: 'ci', password_hash: 'hunter2' }] }),
    want: [400, 'invalid', 'access.basic.0.password_hash'],
  },
  {
    why: 'access: basic user with a colon',
    ...svc({ basic: [{ user: 'c:i', password_hash: HASH }] }),
    want: [400, 'invalid', 'access.basic.0.user'],
  },
  {
    why: 'access: basic with forward_auth',
    ...svc({ basic: [{ user: 'ci', password_hash: HASH }], forward_auth: { url: 'http://127.0.0.1:9/a' } }),
    want: [400, 'invalid', 'access.basic'],
  },
  {
    why: 'access: unknown identity header set',
    ...svc({ login: {}, identity_headers: ['all'] }),
    want: [400, 'invalid', 'access.identity_headers.0'],
  },
  {
    why: 'access: bad provider name',
    ...svc({ provider: 'Corp' }),
    want: [400, 'invalid', 'access.provider'],
  },
  { why: 'access: links not a boolean', ...svc({ links: 'yes' }), want: [400, 'invalid', 'access.links'] },
  {
    why: 'access: the login portal host',
    method: 'POST',
    path: '/api/v1/services',
    body: { ...service({ login: {} }), hosts: ['auth.home.test'] },
    want: [409, 'conflict', 'hosts.0'],
  },
];

interface ErrorBody {
  error: { code: string; message: string; issues?: { field: string; message: string }[] };
}

function names(err: ErrorBody['error'], field: string): boolean {
  if (err.issues?.some((i) => i.field === field || i.message.includes(`"${field}"`))) return true;
  return err.message.includes(field);
}

describe('bad input to the gate changes nothing', () => {
  let t: TestGatehouse;
  let before: unknown;

  const world = async () => ({
    users: (await t.api('GET', '/api/v1/users')).json,
    groups: (await t.api('GET', '/api/v1/groups')).json,
    links: (await t.api('GET', '/api/v1/links')).json,
    providers: (await t.api('GET', '/api/v1/providers')).json,
    version: (await t.api('GET', '/api/v1/status')).json.version,
    conf: await readFile(join(t.dataDir, 'nginx', 'current', 'nginx.conf'), 'utf8'),
  });

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    expect((await t.api('POST', '/api/v1/groups', { name: 'family' })).status).toBe(201);
    expect((await t.api('POST', '/api/v1/users', user({ username: 'base' }))).status).toBe(201);
    const upstreams = ['127.0.0.1:9'];
    await t.api('PUT', '/api/v1/services/share?wait=true', {
      hosts: ['share.home.test'],
      routes: [{ upstreams }],
      access: { links: true },
    });
    await t.api('PUT', '/api/v1/services/nolinks?wait=true', {
      hosts: ['nolinks.home.test'],
      routes: [{ upstreams }],
      access: { login: {} },
    });
    expect((await t.api('POST', '/api/v1/links', { service: 'share' })).status).toBe(201);
    before = await world();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('has a case for every kind of fault', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    expect(new Set(cases.map((c) => c.why)).size).toBe(cases.length);
  });

  it.each(cases)('$why', async ({ method, path, body, want: [status, code, field] }) => {
    const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await http(t.apiPort, '127.0.0.1', path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const err = (JSON.parse(res.body) as ErrorBody).error;
    expect(err).toMatchObject({ code, message: expect.any(String) });
    expect(names(err, field), `${JSON.stringify(field)} not named in ${res.body}`).toBe(true);
    expect(await world()).toEqual(before);
  });

  it('accepts the unbroken bodies the cases are built from', async () => {
    expect((await t.api('POST', '/api/v1/users', user())).status).toBe(201);
    expect((await t.api('POST', '/api/v1/providers', provider())).status).toBe(201);
    const s = await t.api(
      'POST',
      '/api/v1/services',
      service({ login: {}, rules: [{ action: 'deny', path: '/x/' }] }),
    );
    expect(s.status, JSON.stringify(s.json)).toBe(201);
  });
});
