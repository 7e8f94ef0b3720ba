import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { apiViews, logStreamEventViews, streamEventViews } from '../../src/api/views/index.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, json } from '../helpers/net.js';
import { openStream } from '../helpers/stream.js';
import { makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

type Schema = { $ref?: string; oneOf?: { $ref: string }[] };
type Answer = {
  content?: {
    'application/json'?: { schema: Schema };
    'application/octet-stream'?: unknown;
    'text/event-stream'?: unknown;
  };
};
type Operation = { responses: Record<string, Answer> };
type Doc = { paths: Record<string, Record<string, Operation>> };

/** The views an answer may be: its schema's $ref, or each of its oneOf. */
const refsOf = (answer: Answer | undefined): string[] => {
  const schema = answer?.content?.['application/json']?.schema;
  return schema?.$ref ? [schema.$ref] : (schema?.oneOf ?? []).map((s) => s.$ref);
};

/** Every operation of the document, as `METHOD /path`. */
const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
  );

/** Answers that need an ACME CA to succeed; here they answer acme_off, which is checked instead. */
const NEEDS_ACME = new Set(['POST /certificates/issue', 'POST /certificates/{id}/renew']);

const viewOf = (ref: string): z.ZodType => {
  const name = ref.replace('#/components/schemas/', '');
  const view = (apiViews as Record<string, z.ZodType>)[name];
  if (!view) throw new Error(`${ref} names no view in src/api/views`);
  return view;
};

/**
 * Every route the OpenAPI document lists is called for real, and each answer is parsed with the
 * view the document names for its status: views are strict objects, so a renamed, added or missing
 * field fails here. A documented route without a view, or one this test does not call, fails too.
 */
describe('API views: each documented answer parses with its schema', () => {
  let t: TestGatehouse;
  let doc: Doc;
  const called = new Set<string>();

  /** The document's path template a concrete path falls under (literal segments before parameters). */
  const templateOf = (path: string): string => {
    const bare = path.replace(/^\/api\/v1/, '').split('?')[0] ?? '';
    const templates = Object.keys(doc.paths).sort(
      (a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0),
    );
    const hit = templates.find((tpl) => new RegExp(`^${tpl.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
    if (!hit) throw new Error(`${bare} is not in the OpenAPI document`);
    return hit;
  };

  /** Calls the API and parses the answer with the view the document names for its status. */
  async function call(
    method: string,
    path: string,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const r = headers.cookie
      ? await json(t.apiPort, method, path, body, headers)
      : await t.api(method, path, body);
    expect(r.status, `${method} ${path}: ${r.body}`).toBe(status);
    const key = `${method} ${templateOf(path)}`;
    const op = doc.paths[templateOf(path)]?.[method.toLowerCase()];
    if (!op) throw new Error(`${key} is not in the OpenAPI document`);
    const refs = refsOf(op.responses[String(status)] ?? (status >= 400 ? op.responses['4XX'] : undefined));
    expect(refs.length, `${key} ${status}: the document names no view`).toBeGreaterThan(0);
    const results = refs.map((ref) => viewOf(ref).safeParse(r.json));
    if (!results.some((p) => p.success)) {
      const issues = results.map((p) => p.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
      expect.fail(`${key} ${status} does not parse as ${refs.join(' | ')}: ${JSON.stringify(issues)}`);
    }
    if (status < 400) called.add(key);
    return r.json as Record<string, unknown> & { id?: string };
  }

  beforeAll(async () => {
    // The DNS doctor asks a closed loopback port, never the machine's own resolver.
    t = await startTestGatehouse({ dns_doctor_resolver: `127.0.0.1:${await freePort()}` });
    doc = (await t.api('GET', '/api/v1/openapi.json')).json as unknown as Doc;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('documents a view for every answer it lists', () => {
    for (const { key, op } of operations(doc)) {
      for (const [status, answer] of Object.entries(op.responses)) {
        // A file download (a backup) is documented as bytes, not a view; an event stream as events.
        if (answer.content?.['application/octet-stream'] || answer.content?.['text/event-stream']) continue;
        const refs = refsOf(answer);
        expect(refs.length, `${key} ${status}`).toBeGreaterThan(0);
        for (const ref of refs) expect(() => viewOf(ref)).not.toThrow();
      }
    }
  });

  it('services, snapshots and status', async () => {
    const up = ['127.0.0.1:9'];
    const web = {
      hosts: ['web.gw.test'],
      routes: [{ upstreams: up, access: { links: true, api_keys: true } }],
    };
    await call('PUT', '/api/v1/services/web?wait=true', 201, web);
    await call('POST', '/api/v1/services?wait=true', 201, {
      name: 'api',
      hosts: ['api.gw.test'],
      routes: [{ upstreams: up }],
    });
    const changed = { ...web, hosts: ['web.gw.test', 'www.gw.test'] };
    await call('PUT', '/api/v1/services/web?dry_run=true', 200, changed);
    await call('PUT', '/api/v1/services/web', 200, changed);
    await call('GET', '/api/v1/services', 200);
    await call('GET', '/api/v1/services/web', 200);
    await call('GET', '/api/v1/services/nothere', 404);
    await call('GET', '/api/v1/status', 200);

    const list = await call('GET', '/api/v1/snapshots', 200);
    expect((list.snapshots as unknown[]).length).toBeGreaterThan(0);
    await call('GET', '/api/v1/snapshots/1', 200);
    await call('GET', '/api/v1/snapshots/0', 200);
    await call('GET', '/api/v1/snapshots/diff?from=0', 200);
    await call('DELETE', '/api/v1/services/api?wait=true', 200);
    await call('POST', '/api/v1/snapshots/1/rollback', 200, { wait: true });
  });

  it('users, groups, TOTP, sign-in and sessions', async () => {
    await call('POST', '/api/v1/groups', 201, { name: 'staff', description: 'Staff' });
    await call('POST', '/api/v1/users', 201, {
      username: 'root',
      password: 'root password 1',
      role: 'admin',
      groups: ['staff'],
    });
    await call('POST', '/api/v1/users', 201, { username: 'eve', password: 'eve password 1' });
    await call('PATCH', '/api/v1/users/eve', 200, { name: 'Eve' });
    await call('POST', '/api/v1/users/eve/totp', 201);
    await call('DELETE', '/api/v1/users/eve/totp', 200);
    await call('GET', '/api/v1/users', 200);
    await call('GET', '/api/v1/users/root', 200);
    await call('GET', '/api/v1/groups', 200);

    // A refused sign-in (an event to list), then two sessions: one revoked, one signed out.
    await call('POST', '/api/v1/session', 401, { username: 'root', password: 'wrong password' });
    const signIn = async () => {
      const r = await json(t.apiPort, 'POST', '/api/v1/session', {
        username: 'root',
        password: 'root password 1',
      });
      expect(r.status).toBe(200);
      return String((r.headers['set-cookie'] as string[] | undefined)?.[0] ?? '').split(';')[0] ?? '';
    };
    await call('POST', '/api/v1/session', 200, { username: 'root', password: 'root password 1' });
    const cookie = await signIn();
    await call('GET', '/api/v1/session', 200, undefined, { cookie });
    await call('GET', '/api/v1/session', 401, undefined, { cookie: 'gh_admin=nothing' });
    const sessions = (await call('GET', '/api/v1/sessions', 200)).sessions as { id: string }[];
    expect(sessions.length).toBeGreaterThan(1);
    await call('GET', '/api/v1/sessions?user=root', 200);
    const other = await signIn();
    const last = sessions[0]?.id ?? '';
    await call('DELETE', `/api/v1/sessions/${last}`, 200);
    await call('DELETE', '/api/v1/session', 200, undefined, { cookie: other, 'x-gatehouse-csrf': '1' });

    await call('DELETE', '/api/v1/users/eve', 200);
  });

  it('links, providers, events and audit', async () => {
    const link = (await call('POST', '/api/v1/links', 201, { service: 'web', note: 'for a test' })).link as {
      id: string;
    };
    await call('GET', '/api/v1/links', 200);
    await call('GET', '/api/v1/links?service=web', 200);
    await call('GET', `/api/v1/links/${link.id}`, 200);
    await call('DELETE', `/api/v1/links/${link.id}`, 200);

    const key = (await call('POST', '/api/v1/api-keys', 201, { name: 'ci', services: ['web'] })).key as {
      id: string;
    };
    await call('GET', '/api/v1/api-keys', 200);
    await call('DELETE', `/api/v1/api-keys/${key.id}`, 200);

    await call('POST', '/api/v1/providers', 201, {
      name: 'corp',
      issuer: 'https://id.example.com',
      client_id: 'gatehouse',
      client_secret: 'a client secret',
      group_map: { admins: 'staff' },
    });
    await call('GET', '/api/v1/providers', 200);
    await call('GET', '/api/v1/providers/corp', 200);
    await call('DELETE', '/api/v1/providers/corp', 200);

    const events = await call('GET', '/api/v1/events', 200);
    expect((events.events as unknown[]).length).toBeGreaterThan(0);
    await call('GET', '/api/v1/events?kind=login_failed&limit=5', 200);
    await call('GET', '/api/v1/events/summary', 200);
    // No Local API set: nothing enforced, nothing listed.
    expect(await call('GET', '/api/v1/crowdsec', 200)).toEqual({ enabled: false, decisions: [] });
    const audit = await call('GET', '/api/v1/audit', 200);
    expect((audit.entries as unknown[]).length).toBeGreaterThan(0);
    await call('GET', '/api/v1/audit?limit=2&actor=admin', 200);
  });

  it('access logs, their live tail and analytics', async () => {
    const now = Date.now();
    const rec = { node: 'local', host: 'web.gw.test', service: 'web', route: '/', method: 'GET', path: '/' };
    const more = { duration_ms: 3, upstream: null, upstream_ms: null, bytes_in: 10, bytes_out: 20 };
    const who = { client: '192.0.2.5', user: null, country: null };
    await t.gh.accessLog.ingest([{ ...rec, ...more, ...who, time: now, status: 502 }]);
    const logs = await call('GET', '/api/v1/logs?service=web&status=5xx&limit=10', 200);
    expect((logs.records as unknown[]).length).toBe(1);
    await call('GET', '/api/v1/logs?status=6xx', 400);
    await call('GET', '/api/v1/analytics?window=1h&service=web', 200);
    await call('GET', '/api/v1/analytics?window=2h', 400);
    // The live tail: documented as an event stream; its events parse with their views.
    const stream = openStream(
      t.apiPort,
      { authorization: `Bearer ${ADMIN_TOKEN}` },
      '/api/v1/logs/stream?status=5xx',
    );
    try {
      await expect.poll(() => stream.events.length).toBeGreaterThan(0);
      await t.gh.accessLog.ingest([{ ...rec, ...more, ...who, time: now, status: 503 }]);
      await expect.poll(() => stream.events.length).toBe(2);
    } finally {
      stream.close();
    }
    expect(logStreamEventViews.hello.parse(stream.events[0]?.data)).toEqual({ ok: true });
    expect(logStreamEventViews.logs.parse(stream.events[1]?.data).records[0]?.status).toBe(503);
    called.add('GET /logs/stream');
  });

  it('certificates, DNS providers, nodes, sites and edge files', async () => {
    const ca = makeCa(await testDir('gh-views-ca-'));
    const cert = await call('POST', '/api/v1/certificates?wait=true', 201, ca.issue(['web.gw.test']));
    await call('GET', '/api/v1/certificates', 200);
    await call('DELETE', `/api/v1/certificates/${cert.id}`, 200);
    await call('POST', '/api/v1/certificates/issue', 409, { names: ['web.gw.test'] });
    await call('POST', `/api/v1/certificates/${cert.id}/renew`, 409);

    await call('POST', '/api/v1/dns-providers', 201, {
      name: 'ns',
      type: 'rfc2136',
      zone: 'gw.test',
      server: '127.0.0.1:53',
      tsig_name: 'gatehouse',
      tsig_secret: Buffer.from('a tsig secret of 32 bytes or so.').toString('base64'),
    });
    await call('GET', '/api/v1/dns-providers', 200);
    await call('DELETE', '/api/v1/dns-providers/ns', 200);

    // Alert channels: a test message to a local receiver (alert-channels.test.ts tries every type).
    const hook = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
    const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    await call('POST', '/api/v1/alert-channels', 201, { name: 'ops', type: 'webhook', url: hookUrl });
    await call('POST', '/api/v1/alert-channels', 400, { name: 'ops', type: 'webhook', url: 'ftp://x' });
    await call('GET', '/api/v1/alert-channels', 200);
    await call('POST', '/api/v1/alert-channels/ops/test', 200);
    // Alert rules and the alerts (alert-rules.test.ts fires them through nginx).
    await call('GET', '/api/v1/alerts', 200);
    await call('GET', '/api/v1/alert-rules', 200);
    await call('GET', '/api/v1/alert-rules/upstream_down', 200);
    await call('PUT', '/api/v1/alert-rules/upstream_down', 200, { hold_s: 10, channels: ['ops'] });
    await call('PUT', '/api/v1/alert-rules/upstream_down', 400, { hold_s: -1 });
    await call('DELETE', '/api/v1/alert-rules/upstream_down', 200);
    await call('DELETE', '/api/v1/alert-channels/ops', 200);
    hook.close();
    // External records are off here: test/e2e/dns-external-records.test.ts parses a full answer.
    await call('GET', '/api/v1/dns/records', 200);

    await call('POST', '/api/v1/nodes', 201, { name: 'edge1' });
    await call('GET', '/api/v1/nodes', 200);
    await call('DELETE', '/api/v1/nodes/edge1', 200);

    await call('POST', '/api/v1/sites', 201, { name: 'home', subnets: ['192.168.1.0/24'] });
    await call('POST', '/api/v1/sites', 409, { name: 'home' });
    await call('POST', '/api/v1/sites', 400, { name: 'lab', subnets: ['192.168.1.7/24'] });
    await call('GET', '/api/v1/sites', 200);
    await call('PATCH', '/api/v1/sites/home', 200, { site_to_site: true });
    await call('PATCH', '/api/v1/sites/home', 400, { site_to_site: 'yes' });
    await call('PATCH', '/api/v1/sites/away', 404, { site_to_site: true });
    // A service at a site: the site must exist, its upstreams be inside the site's subnets.
    const atHome = { hosts: ['nas.home.test'], routes: [{ upstreams: ['192.168.1.20:80'] }], site: 'home' };
    await call('PUT', '/api/v1/services/nas', 201, { ...atHome, access: { public: true } });
    const outside = await call('PUT', '/api/v1/services/lan', 400, {
      ...atHome,
      hosts: ['lan.home.test'],
      routes: [{ upstreams: ['10.9.9.9:80'] }],
    });
    expect(JSON.stringify(outside)).toContain('routes.0.upstreams.0');
    const unknown = await call('PUT', '/api/v1/services/lan', 400, {
      ...atHome,
      hosts: ['lan.home.test'],
      site: 'away',
    });
    expect(JSON.stringify(unknown)).toContain('"field":"site"');
    await call('DELETE', '/api/v1/services/nas', 200);
    await call('DELETE', '/api/v1/sites/home', 200);

    // VPN clients: none without a WireGuard server; one once a public edge registered its key.
    await call('POST', '/api/v1/vpn/clients', 409, { name: 'laptop' });
    const vps = await call('POST', '/api/v1/nodes', 201, { name: 'vps', role: 'public' });
    const reg = await json(
      t.apiPort,
      'POST',
      '/edge/v1/tunnel',
      { public_key: generateKeyPair().publicKey, endpoint: 'vps.gw.test:51820', port: 51820 },
      { authorization: `Bearer ${String(vps.token)}` },
    );
    expect(reg.status, JSON.stringify(reg.json)).toBe(200);
    await call('POST', '/api/v1/vpn/groups', 201, { name: 'staff', policy: 'ports:22' });
    await call('POST', '/api/v1/vpn/groups', 400, { name: 'ops', policy: 'some' });
    await call('POST', '/api/v1/vpn/clients', 201, { name: 'laptop', policy: 'full' });
    await call('POST', '/api/v1/vpn/clients', 201, { name: 'tablet', group: 'staff', kill_switch: true });
    await call('POST', '/api/v1/vpn/clients', 400, { name: 'phone', policy: 'ports:0' });
    await call('POST', '/api/v1/vpn/clients', 400, { name: 'phone', group: 'nosuch' });
    await call('GET', '/api/v1/vpn/clients', 200);
    await call('PUT', '/api/v1/vpn/groups/staff', 200, { policy: 'full' });
    await call('PUT', '/api/v1/vpn/groups/nosuch', 404, { policy: 'full' });
    await call('GET', '/api/v1/vpn/groups', 200);
    await call('DELETE', '/api/v1/vpn/groups/staff', 409);
    await call('DELETE', '/api/v1/vpn/clients/tablet', 200);
    await call('DELETE', '/api/v1/vpn/groups/staff', 200);
    await call('DELETE', '/api/v1/vpn/clients/laptop', 200);
    await call('DELETE', '/api/v1/vpn/clients/laptop', 404);
    await call('DELETE', '/api/v1/nodes/vps', 200);

    const document = [
      'services:',
      '  - name: filed',
      '    hosts: [filed.gw.test]',
      '    routes: [{upstreams: ["127.0.0.1:9"]}]',
      'groups:',
      '  - name: filers',
      'users:',
      '  - username: fil',
      '    groups: [filers]',
      '',
    ].join('\n');
    await call('POST', '/api/v1/apply', 200, { owner: 'site.yaml', document, dry_run: true });
    await call('POST', '/api/v1/apply', 200, { owner: 'site.yaml', document });
    await call('DELETE', '/api/v1/groups/staff', 200);
  });

  it('backups: list, write one now, download it', async () => {
    const before = process.env.GATEHOUSE_BACKUP_PASSPHRASE;
    delete process.env.GATEHOUSE_BACKUP_PASSPHRASE;
    try {
      await call('POST', '/api/v1/backups', 409);
      process.env.GATEHOUSE_BACKUP_PASSPHRASE = 'views test passphrase';
      const { name } = (await call('POST', '/api/v1/backups', 201)) as { name: string };
      const list = (await call('GET', '/api/v1/backups', 200)) as { backups: { name: string }[] };
      expect(list.backups.map((b) => b.name)).toContain(name);
      await call('GET', '/api/v1/backups/gatehouse-nothere.ghbk', 400);
      await call('GET', '/api/v1/backups/gatehouse-2020-01-01T00-00-00-000Z.ghbk', 404);
      const file = await t.api('GET', `/api/v1/backups/${name}`);
      expect(file.status).toBe(200);
      expect(file.body.startsWith('GHBK')).toBe(true);
      called.add('GET /backups/{name}');
    } finally {
      if (before === undefined) delete process.env.GATEHOUSE_BACKUP_PASSPHRASE;
      else process.env.GATEHOUSE_BACKUP_PASSPHRASE = before;
    }
  });

  it('secret rotation (test/e2e/rotate.test.ts tries every kind)', async () => {
    await call('POST', '/api/v1/rotate/session-key', 200, {});
    await call('POST', '/api/v1/rotate/node-token', 400, {});
    await call('POST', '/api/v1/rotate/admin-token', 409);
  });

  it('split-horizon DNS (off here; test/e2e/dns-split-horizon.test.ts drives Unbound and dnsmasq)', async () => {
    await call('GET', '/api/v1/dns/lan', 200);
    await call('POST', '/api/v1/dns/lan/sync', 200);
  });

  it('DNS diagnostics (test/e2e/dns-doctor.test.ts checks them against a real BIND and Unbound)', async () => {
    await call('GET', '/api/v1/dns/doctor', 200);
  });

  it('called every documented route (those needing an ACME CA answered acme_off)', () => {
    const missed = operations(doc).filter(({ key }) => !called.has(key) && !NEEDS_ACME.has(key));
    expect(missed.map(({ key }) => key)).toEqual([]);
  });

  it("the live stream's events parse with their views", async () => {
    const stream = openStream(t.apiPort, { authorization: `Bearer ${ADMIN_TOKEN}` });
    try {
      await new Promise((r) => setTimeout(r, 300));
      await t.api('PUT', '/api/v1/services/streamed?wait=true', {
        hosts: ['streamed.gw.test'],
        routes: [{ upstreams: ['127.0.0.1:9'] }],
      });
      await json(t.apiPort, 'POST', '/api/v1/session', { username: 'root', password: 'wrong again' });
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      stream.close();
    }
    const names = new Set(stream.events.map((e) => e.event));
    expect([...names]).toEqual(expect.arrayContaining(['hello', 'edge', 'version', 'security']));
    for (const { event, data } of stream.events) {
      const view = streamEventViews[event as keyof typeof streamEventViews];
      expect(view, `event ${event} has a view`).toBeDefined();
      const parsed = view.safeParse(data);
      expect(parsed.success, `${event}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    }
  });
});
