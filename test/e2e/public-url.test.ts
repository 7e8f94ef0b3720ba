import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import { loadSettings, publicOrigin } from '../../src/model/settings.js';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';

/**
 * Absolute URLs the gate builds (portal redirects, the way back, links, sign-out) point where clients
 * reach the proxy: the port they used (the proxy listens on a high port here, as with the README's
 * `--http-port 8080`), or `public_url`'s scheme and port when it is set.
 */
async function guarded(t: TestGatehouse, app: TestServer): Promise<void> {
  const upstreams = [`127.0.0.1:${app.port}`];
  const put = async (name: string, body: unknown) =>
    expect((await t.api('PUT', `/api/v1/services/${name}?wait=true`, body)).status).toBe(201);
  await put('wiki', { hosts: ['wiki.home.test'], routes: [{ upstreams }], access: { login: {} } });
  await put('share', { hosts: ['share.home.test'], routes: [{ upstreams }], access: { links: true } });
  expect((await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' })).status).toBe(
    201,
  );
}

const html = { accept: 'text/html' };

describe('gate URLs: the request port', () => {
  let t: TestGatehouse;
  let app: TestServer;
  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    await guarded(t, app);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('sends the browser to the portal on the port it used, and back to that port', async () => {
    const p = t.httpPort;
    const r = await t.get(`wiki.home.test:${p}`, '/doc?a=1', { headers: html });
    expect(r.status).toBe(302);
    const loc = new URL(r.headers.location as string);
    expect(loc.origin).toBe(`http://auth.home.test:${p}`);
    expect(loc.searchParams.get('rd')).toBe(`http://wiki.home.test:${p}/doc?a=1`);
    // Behind a port mapping the browser sent no port: nor does the redirect.
    const mapped = await t.get('wiki.home.test', '/doc', { headers: html });
    expect(new URL(mapped.headers.location as string).origin).toBe('http://auth.home.test');
    // Only digits count as a port: anything else would point the redirect elsewhere.
    const odd = await t.get(`wiki.home.test:${p}@evil.test`, '/', { headers: html });
    if (odd.status === 302) expect(new URL(odd.headers.location as string).hostname).toBe('auth.home.test');
    else expect(odd.status).toBe(400);
  });

  it('signs out with a link back to the portal on that port', async () => {
    const b = new Browser(t.httpPort);
    await b.login('ann', 'ann password 1');
    const out = await b.post(`wiki.home.test:${t.httpPort}`, '/.gatehouse/logout', {});
    expect(out.status).toBe(200);
    expect(out.body).toContain(`href="http://auth.home.test:${t.httpPort}/login"`);
  });

  it('gives link URLs on the proxy port', async () => {
    const r = await t.api('POST', '/api/v1/links', { service: 'share', ttl: '1h' });
    expect(r.status).toBe(201);
    expect(new URL((r.json as { url: string }).url).origin).toBe(`http://share.home.test:${t.httpPort}`);
  });
});

describe('gate URLs: public_url', () => {
  let t: TestGatehouse;
  let app: TestServer;
  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test', public_url: 'https://home.test:8443' });
    app = await echoBackend('app');
    await guarded(t, app);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it("uses public_url's scheme and port for the portal and the way back", async () => {
    const r = await t.get(`wiki.home.test:${t.httpPort}`, '/doc', { headers: html });
    expect(r.status).toBe(302);
    const loc = new URL(r.headers.location as string);
    expect(loc.origin).toBe('https://auth.home.test:8443');
    expect(loc.searchParams.get('rd')).toBe('https://wiki.home.test:8443/doc');
  });

  it('accepts a sign-in form from the public origin, and refuses one from elsewhere or null', async () => {
    const form = { username: 'ann', password: 'ann password 1', rd: 'https://wiki.home.test:8443/doc' };
    const from = (origin: string) =>
      new Browser(t.httpPort).post('auth.home.test:8443', '/login', form, { origin });
    const ok = await from('https://auth.home.test:8443');
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('https://wiki.home.test:8443/doc');
    expect((await from('https://evil.test')).status).toBe(403);
    expect((await from('null')).status).toBe(403);
    expect((await from('https://wiki.home.test:8443')).status).toBe(403);
  });

  it('gives link URLs on the public scheme and port', async () => {
    const r = await t.api('POST', '/api/v1/links', { service: 'share', ttl: '1h' });
    expect(new URL((r.json as { url: string }).url).origin).toBe('https://share.home.test:8443');
  });
});

describe('setting public_url', () => {
  const load = (v: string) => loadSettings({ public_url: v }, {}, () => '');
  it('takes scheme://host[:port] and refuses anything else, naming the setting', () => {
    expect(publicOrigin(load('https://example.com:8443'))).toEqual({ scheme: 'https', port: ':8443' });
    expect(publicOrigin(load('https://example.com:443/'))).toEqual({ scheme: 'https', port: '' });
    expect(publicOrigin(load('http://example.com'))).toEqual({ scheme: 'http', port: '' });
    for (const bad of [
      'ftp://example.com',
      'https://example.com/path',
      'https://example.com:99999',
      'example.com',
      'https://a b',
    ]) {
      let err: unknown;
      try {
        load(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(GatehouseError);
      expect((err as Error).message, bad).toMatch(/public.url/);
    }
  });
});
