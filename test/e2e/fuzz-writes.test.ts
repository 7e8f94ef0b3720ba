import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { EDGES, junk, mutate, paths, type Op } from '../helpers/fuzz.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';

/**
 * Property-based fuzzing of every write endpoint of the management and registration APIs against a
 * real Gatehouse: random and boundary values in every field of a valid body. Whatever comes in, the
 * answer is never a 5xx, a 400 names the field at fault, and a refused write changes nothing.
 */

const ARGON = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g';

function service(name: string, withTcp: boolean) {
  return {
    name,
    hosts: [`${name}.fz.test`, `www.${name}.fz.test`],
    routes: [
      {
        path: '/',
        upstreams: ['127.0.0.1:9', 'http://127.0.0.1:10'],
        strip_prefix: false,
        lb: 'least_conn',
        health: { path: '/health', interval: '10s', timeout: '2s' },
        headers: {
          request: { set: { 'X-From': 'fz' }, delete: ['X-Drop'] },
          response: { set: { 'X-Served': 'yes' } },
        },
      },
      {
        path: '/api/',
        upstreams: ['[::1]:9'],
        strip_prefix: true,
        access: {
          forward_auth: { url: 'http://127.0.0.1:9/auth', copy_headers: ['X-Token'] },
          rate_limit: { requests: 10, per: '1m', by: 'ip' },
        },
      },
      { path: '/ci/', upstreams: ['127.0.0.1:9'], access: { basic: [{ user: 'ci', password_hash: ARGON }] } },
    ],
    ...(withTcp
      ? {
          tcp: [
            { port: 2222, upstreams: ['127.0.0.1:22'], lb: 'first', tls: 'passthrough', sni: ['t.fz.test'] },
          ],
        }
      : {}),
    access: {
      login: { groups: ['staff'] },
      links: true,
      rules: [{ action: 'allow', cidr: ['10.0.0.0/8', 'fd00::/8'], path: '/open', method: ['GET', 'HEAD'] }],
      rate_limit: { requests: 100, per: '1m', by: 'user' },
      identity_headers: ['remote', 'x-user'],
    },
    tls: 'none',
    hsts: false,
    expose: 'both',
    suspended: false,
    offline_page: { title: 'Down', message: 'Back soon' },
    labels: { 'team/owner': 'fz' },
  };
}

interface Target {
  method: string;
  /** The URL, perhaps built from a fuzzed value. */
  url: (v: unknown) => string;
  sample: unknown;
  register?: boolean;
}

/** A fuzzed value in a URL (lone surrogates cannot be percent-encoded: they go as U+FFFD). */
const enc = (v: unknown) =>
  encodeURIComponent(
    (typeof v === 'string' ? v : (JSON.stringify(v) ?? '')).replace(/[\ud800-\udfff]/g, '\ufffd'),
  );

const TARGETS: Record<string, Target> = {
  'POST services': { method: 'POST', url: () => '/api/v1/services', sample: service('fz-new', false) },
  'PUT services': { method: 'PUT', url: () => '/api/v1/services/base', sample: service('base', false) },
  'PUT services (name)': {
    method: 'PUT',
    url: (v) => `/api/v1/services/${enc(v)}`,
    sample: service('base', false),
  },
  'PUT services dry_run': {
    method: 'PUT',
    url: () => '/api/v1/services/base?dry_run=true',
    sample: service('base', true),
  },
  'PUT services (query)': {
    method: 'PUT',
    url: (v) => `/api/v1/services/base?dry_run=true&if_updated_at=${enc(v)}&wait=${enc(v)}`,
    sample: service('base', false),
  },
  'POST users': {
    method: 'POST',
    url: () => '/api/v1/users',
    sample: {
      username: 'fz-user',
      password: 'long enough password',
      email: 'fz@fz.test',
      name: 'Fuzz',
      first_name: 'F',
      last_name: 'Z',
      role: 'user',
      groups: ['staff'],
    },
  },
  'PATCH users': {
    method: 'PATCH',
    url: (v) => `/api/v1/users/${typeof v === 'string' && v.length < 30 ? enc(v) : 'alice'}`,
    sample: { email: 'a@fz.test', name: 'Alice', role: 'user', groups: ['staff'], disabled: false },
  },
  'POST totp': { method: 'POST', url: (v) => `/api/v1/users/${enc(v)}/totp`, sample: {} },
  'POST groups': {
    method: 'POST',
    url: () => '/api/v1/groups',
    sample: { name: 'fz-group', description: 'x' },
  },
  'POST links': {
    method: 'POST',
    url: () => '/api/v1/links',
    sample: { service: 'base', ttl: '1h', max_ips: 2, password: 'abcd', note: 'fz', host: 'base.fz.test' },
  },
  'POST providers': {
    method: 'POST',
    url: () => '/api/v1/providers',
    sample: {
      name: 'fz-idp',
      label: 'Fuzz',
      issuer: 'http://127.0.0.1:1/realm',
      client_id: 'id',
      client_secret: 'secret',
      scopes: ['openid'],
      groups_claim: 'groups',
      username_claim: 'email',
      group_map: { admins: 'staff' },
      groups_passthrough: true,
    },
  },
  'POST dns-providers': {
    method: 'POST',
    url: () => '/api/v1/dns-providers',
    sample: {
      name: 'fz-dns',
      type: 'rfc2136',
      zone: 'fz.test',
      server: '127.0.0.1:53',
      tsig_name: 'fz-key',
      tsig_algorithm: 'hmac-sha256',
      tsig_secret: 'c2VjcmV0c2VjcmV0c2VjcmV0',
    },
  },
  'POST certificates': {
    method: 'POST',
    url: (v) => `/api/v1/certificates?wait=${enc(v)}`,
    sample: { cert: EDGES[EDGES.length - 5], key: EDGES[EDGES.length - 4] },
  },
  'POST certificates/issue': {
    method: 'POST',
    url: () => '/api/v1/certificates/issue',
    sample: { names: ['base.fz.test'] },
  },
  'POST renew': { method: 'POST', url: (v) => `/api/v1/certificates/${enc(v)}/renew`, sample: {} },
  'POST rollback': {
    method: 'POST',
    url: (v) => `/api/v1/snapshots/${typeof v === 'number' || typeof v === 'string' ? enc(v) : '1'}/rollback`,
    sample: { force: false, wait: false },
  },
  'POST nodes': { method: 'POST', url: () => '/api/v1/nodes', sample: { name: 'fz-node', role: 'lan' } },
  'POST apply': {
    method: 'POST',
    url: () => '/api/v1/apply',
    sample: { owner: 'fz.yaml', document: 'services: []\n', dry_run: true },
  },
  'POST session': {
    method: 'POST',
    url: () => '/api/v1/session',
    sample: { username: 'alice', password: 'wrong password' },
  },
  'POST register': {
    method: 'POST',
    url: () => '/register',
    sample: { subdomain: 'fz-reg', backend_ip: '127.0.0.1', backend_port: 9, type: 'simple' },
    register: true,
  },
  'POST deregister': {
    method: 'POST',
    url: () => '/deregister',
    sample: { subdomain: 'fz-none' },
    register: true,
  },
};

/** An edge file's content, fuzzed inside the document that /apply parses. */
const EDGE_FILE = {
  services: [service('fz-file', false)],
  groups: [{ name: 'fz-file-group', description: 'x' }],
  users: [{ username: 'fz-file-user', password_hash: ARGON, groups: ['fz-file-group'] }],
};

describe('fuzzing every write endpoint', () => {
  let t: TestGatehouse;

  /**
   * Everything a write could change, as the API shows it. A service's summary is left out: it is
   * derived from live health checks (its upstreams here go up and down on their own).
   */
  const state = async (): Promise<string> => {
    const parts = await Promise.all(
      ['services', 'users', 'groups', 'links', 'providers', 'dns-providers', 'certificates', 'nodes'].map(
        async (p) => {
          const body = (await t.api('GET', `/api/v1/${p}`)).body;
          if (p !== 'services') return body;
          const list = JSON.parse(body) as { services: { service: unknown; meta: unknown }[] };
          return JSON.stringify(list.services.map(({ service, meta }) => ({ service, meta })));
        },
      ),
    );
    return parts.join('\n');
  };

  const send = (target: Target, path: string, body: unknown) =>
    target.register ? t.reg(target.method, path, body) : t.api(target.method, path, body);

  const check = async (what: string, target: Target, path: string, body: unknown) => {
    const before = await state();
    const r = await send(target, path, body);
    const ctx = `${what} ${path} ${JSON.stringify(body)?.slice(0, 400)} -> ${r.status} ${r.body.slice(0, 300)}`;
    expect(r.status, ctx).toBeLessThan(500);
    if (r.status >= 400) {
      const err = (r.json as { error?: { code?: string; message?: string; issues?: { field: string }[] } })
        ?.error;
      expect(err?.message, ctx).toBeTruthy();
      if (r.status === 400) {
        // The field at fault, named in the issues and at the start of the message.
        const field = err?.issues?.[0]?.field ?? /^([^:\s]+):/.exec(err?.message ?? '')?.[1];
        expect(field, ctx).toBeTruthy();
      }
      expect(await state(), `${ctx}: a refused write changed something`).toBe(before);
    }
  };

  beforeAll(async () => {
    t = await startTestGatehouse();
    expect((await t.api('POST', '/api/v1/groups', { name: 'staff' })).status).toBe(201);
    expect((await t.api('PUT', '/api/v1/services/base', service('base', false))).status).toBe(201);
    const alice = { username: 'alice', password: 'alice password 1', groups: ['staff'] };
    expect((await t.api('POST', '/api/v1/users', alice)).status).toBe(201);
    // Every sample is valid as it stands: a refusal below is the mutation's doing.
    expect((await t.api('PUT', '/api/v1/services/base?dry_run=true', service('base', true))).status).toBe(
      200,
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('never answers 5xx, names the field, changes nothing when it refuses', async () => {
    const mutation = fc.constantFrom(...Object.keys(TARGETS)).chain((name) => {
      const target = TARGETS[name] as Target;
      return fc.record({
        name: fc.constant(name),
        path: fc.constantFrom(...paths(target.sample)),
        op: fc.constantFrom<Op>('set', 'set', 'delete', 'unknown'),
        value: junk,
      });
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ name, path, op, value }) => {
        const target = TARGETS[name] as Target;
        await check(name, target, target.url(value), mutate(target.sample, path, op, value));
      }),
      { numRuns: 260, interruptAfterTimeLimit: 50_000 },
    );
  }, 90_000);

  it('never answers 5xx to an edge file fuzzed inside its document', async () => {
    const target = TARGETS['POST apply'] as Target;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths(EDGE_FILE)),
        fc.constantFrom<Op>('set', 'delete', 'unknown'),
        junk,
        fc.boolean(),
        async (path, op, value, dryRun) => {
          const doc = mutate(EDGE_FILE, path, op, value);
          const body = { owner: 'fz.yaml', document: YAML.stringify(doc), dry_run: dryRun };
          await check('apply document', target, '/api/v1/apply', body);
        },
      ),
      { numRuns: 80, interruptAfterTimeLimit: 30_000 },
    );
  }, 60_000);

  it('answers 400 naming access.rate_limit.per for a bad duration, and nothing changes', async () => {
    for (const per of ['abc', '1m;', '0s', '', '1x']) {
      const s = service('base', false);
      s.access.rate_limit.per = per;
      const before = await state();
      const r = await t.api('PUT', '/api/v1/services/base', s);
      expect(r.status, `${per}: ${r.body}`).toBe(400);
      expect((r.json.error as unknown as { issues: { field: string }[] }).issues[0]?.field).toBe(
        'access.rate_limit.per',
      );
      expect(await state()).toBe(before);
    }
  });
});
