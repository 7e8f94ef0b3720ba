import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, startServer, type TestServer } from '../helpers/net.js';

interface Created {
  url: string;
  link: { id: string };
}

/** Temporary links: admit the opener's address for the link's lifetime, within max_ips. */
describe('gate: temporary links', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let files: TestServer;
  const BIG = 160 * 1024;
  const from = (ip: string) => ({
    localAddress: ip,
    headers: { accept: 'text/html', 'user-agent': `ua-${ip}` },
  });
  const link = async (body: Record<string, unknown>) => {
    const r = await t.api('POST', '/api/v1/links', body);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const c = r.json as unknown as Created;
    const u = new URL(c.url);
    return { ...c, host: u.hostname, port: u.port, path: u.pathname };
  };

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    const upstreams = [`127.0.0.1:${app.port}`];
    await t.api('PUT', '/api/v1/services/share?wait=true', {
      hosts: ['share.home.test'],
      routes: [{ upstreams }],
      access: { links: true },
    });
    await t.api('PUT', '/api/v1/services/photos?wait=true', {
      hosts: ['photos.home.test'],
      routes: [{ upstreams }],
      access: { login: {}, links: true },
    });
    files = await startServer((_req, res) => res.end(Buffer.alloc(BIG, 97)));
    await t.api('PUT', '/api/v1/services/files?wait=true', {
      hosts: ['files.home.test'],
      routes: [{ upstreams: [`127.0.0.1:${files.port}`] }],
      access: { links: true },
    });
    await t.api('PUT', '/api/v1/services/nolinks?wait=true', {
      hosts: ['nolinks.home.test'],
      routes: [{ upstreams }],
      access: { login: {} },
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await files?.close();
  });

  it('admits the address that opens it, and no more than max_ips', async () => {
    expect((await t.get('share.home.test', '/', from('127.0.0.11'))).status).toBe(403);
    const l = await link({ service: 'share', ttl: '1h', max_ips: 2, note: 'for the plumber' });
    expect(l.host).toBe('share.home.test');
    // On the proxy's own port (not 80, where nothing listens here).
    expect(l.port).toBe(String(t.httpPort));
    const open = await t.get(l.host, l.path, from('127.0.0.11'));
    expect(open.status).toBe(303);
    expect(open.headers.location).toBe('/');
    // Later requests from that address need no token.
    expect((await t.get('share.home.test', '/any/page', from('127.0.0.11'))).status).toBe(200);
    expect((await t.get('share.home.test', '/', from('127.0.0.12'))).status).toBe(403);
    expect((await t.get(l.host, l.path, from('127.0.0.12'))).status).toBe(303);
    expect((await t.get('share.home.test', '/', from('127.0.0.12'))).status).toBe(200);
    // A third address is one too many.
    const third = await t.get(l.host, l.path, from('127.0.0.13'));
    expect(third.status).toBe(403);
    expect(third.body).toContain('as many places as it allows');
    expect((await t.get('share.home.test', '/', from('127.0.0.13'))).status).toBe(403);
    // The usage log names time, address and user agent.
    const detail = (await t.api('GET', `/api/v1/links/${l.link.id}`)).json as unknown as {
      ips: { ip: string }[];
      uses: { ip: string; user_agent: string; outcome: string }[];
    };
    expect(detail.ips.map((i) => i.ip)).toEqual(['127.0.0.11', '127.0.0.12']);
    expect(detail.uses.map((u) => `${u.ip} ${u.user_agent} ${u.outcome}`)).toEqual([
      '127.0.0.13 ua-127.0.0.13 full',
      '127.0.0.12 ua-127.0.0.12 admitted',
      '127.0.0.11 ua-127.0.0.11 admitted',
    ]);
  });

  it('revoking takes effect at once; an expired link is refused with a clear page', async () => {
    const l = await link({ service: 'share', ttl: '1h' });
    expect((await t.get(l.host, l.path, from('127.0.0.21'))).status).toBe(303);
    expect((await t.get('share.home.test', '/', from('127.0.0.21'))).status).toBe(200);
    expect((await t.api('DELETE', `/api/v1/links/${l.link.id}`)).status).toBe(200);
    expect((await t.get('share.home.test', '/', from('127.0.0.21'))).status).toBe(403);
    const again = await t.get(l.host, l.path, from('127.0.0.21'));
    expect(again.status).toBe(410);
    expect(again.body).toContain('withdrawn');

    const short = await link({ service: 'share', ttl: '2s' });
    expect((await t.get(short.host, short.path, from('127.0.0.22'))).status).toBe(303);
    expect((await t.get('share.home.test', '/', from('127.0.0.22'))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2200));
    expect((await t.get('share.home.test', '/', from('127.0.0.22'))).status).toBe(403);
    const expired = await t.get(short.host, short.path, from('127.0.0.22'));
    expect(expired.status).toBe(410);
    expect(expired.body).toContain('expired');
    const unknown = await t.get('share.home.test', '/.gatehouse/link/nope', from('127.0.0.22'));
    expect(unknown.status).toBe(404);
  });

  it('asks for a password when the link has one', async () => {
    const l = await link({ service: 'share', password: 'open sesame' });
    const form = await t.get(l.host, l.path, from('127.0.0.31'));
    expect(form.status).toBe(200);
    expect(form.body).toContain('needs a password');
    const post = (password: string) =>
      t.get(l.host, l.path, {
        ...from('127.0.0.31'),
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ password }).toString(),
      });
    expect((await post('wrong')).status).toBe(401);
    expect((await t.get('share.home.test', '/', from('127.0.0.31'))).status).toBe(403);
    expect((await post('open sesame')).status).toBe(303);
    expect((await t.get('share.home.test', '/', from('127.0.0.31'))).status).toBe(200);
  });

  it('with login too: an admitted address passes without signing in', async () => {
    expect((await t.get('photos.home.test', '/', from('127.0.0.41'))).status).toBe(503);
    const l = await link({ service: 'photos' });
    expect((await t.get(l.host, l.path, from('127.0.0.41'))).status).toBe(303);
    expect((await t.get('photos.home.test', '/', from('127.0.0.41'))).status).toBe(200);
  });

  it('a link with a bandwidth limit sends its addresses at that rate; one without, at full speed', async () => {
    const slow = await link({ service: 'files', ttl: '1h', bandwidth: '64k' });
    expect((slow.link as { bandwidth?: string }).bandwidth).toBe('64k');
    expect((await t.get(slow.host, slow.path, from('127.0.0.51'))).status).toBe(303);
    const fast = await link({ service: 'files', ttl: '1h', max_ips: 2 });
    expect((await t.get(fast.host, fast.path, from('127.0.0.52'))).status).toBe(303);
    const timed = async (ip: string) => {
      const t0 = Date.now();
      const r = await t.get('files.home.test', '/big', { ...from(ip), timeoutMs: 20_000 });
      return { ms: Date.now() - t0, status: r.status, length: r.body.length };
    };
    // 160 KB at 64 KB a second: about 2.5 s.
    const limited = await timed('127.0.0.51');
    expect(limited).toMatchObject({ status: 200, length: BIG });
    expect(limited.ms).toBeGreaterThan(1500);
    const full = await timed('127.0.0.52');
    expect(full).toMatchObject({ status: 200, length: BIG });
    expect(full.ms).toBeLessThan(1000);
    // The unlimited link admits the limited address too: any link without a limit lifts it.
    expect((await t.get(fast.host, fast.path, from('127.0.0.51'))).status).toBe(303);
    expect((await timed('127.0.0.51')).ms).toBeLessThan(1000);
    const bad = await t.api('POST', '/api/v1/links', { service: 'files', bandwidth: '512' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^bandwidth: at least 1k a second/);
  });

  it('refuses a link to a service that does not take links, naming the field', async () => {
    const r = await t.api('POST', '/api/v1/links', { service: 'nolinks' });
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toMatch(/^service: service nolinks has no route with access.links/);
    const bad = await t.api('POST', '/api/v1/links', { service: 'share', max_ips: 0, ttl: 'forever' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('max_ips');
    expect(JSON.stringify(bad.json)).toContain('ttl');
  });
});
