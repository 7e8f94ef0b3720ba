import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, type Res, type TestServer } from '../helpers/net.js';
import { https, makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

/** HTTPS with certificates Gatehouse holds (brought by the operator), through real nginx. */
describe('tls: serving certificates', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let ca: ReturnType<typeof makeCa>;
  let httpsPort: number;
  let wildcard: { cert: string; key: string };
  const seen = (r: Res) => JSON.parse(r.body) as { headers: Record<string, string> };
  const get = (host: string, path = '/') => https(httpsPort, host, path, ca.ca);

  beforeAll(async () => {
    httpsPort = await freePort();
    t = await startTestGatehouse({ https_port: httpsPort });
    app = await echoBackend('app');
    ca = makeCa(await testDir('gh-ca-'));
    wildcard = ca.issue(['*.tls.test', 'tls.test']);
    const up = [`127.0.0.1:${app.port}`];
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    await put('web', { hosts: ['web.tls.test'], routes: [{ upstreams: up }] });
    await put('app', {
      hosts: ['app.tls.test'],
      hsts: true,
      routes: [
        { path: '/', upstreams: up },
        { path: '/api/', upstreams: up },
      ],
    });
    await put('plain', { hosts: ['plain.tls.test'], tls: 'none', routes: [{ upstreams: up }] });
    await put('other', { hosts: ['x.other.test'], routes: [{ upstreams: up }] });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('refuses a bad upload naming the field, and changes nothing', async () => {
    const other = ca.issue(['a.tls.test']);
    const mismatch = await t.api('POST', '/api/v1/certificates', { cert: wildcard.cert, key: other.key });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.error?.message).toMatch(/^key: does not belong/);
    const garbage = await t.api('POST', '/api/v1/certificates', { cert: 'hello', key: wildcard.key });
    expect(garbage.status).toBe(400);
    expect(garbage.json.error?.message).toMatch(/^cert: /);
    const extra = await t.api('POST', '/api/v1/certificates', { ...wildcard, chain: '' });
    expect(extra.status).toBe(400);
    expect(
      ((await t.api('GET', '/api/v1/certificates')).json as { certificates: unknown[] }).certificates,
    ).toEqual([]);
    // No certificate yet: HTTP serves everything, nothing redirects.
    expect((await t.get('web.tls.test')).status).toBe(200);
  });

  it('serves HTTPS for every host a certificate covers, redirects HTTP there, HSTS where asked', async () => {
    const up = await t.api('POST', '/api/v1/certificates?wait=true', wildcard);
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    expect(up.json.names).toEqual(['*.tls.test', 'tls.test']);
    const fast = await get('web.tls.test', '/x?y=1');
    expect(fast.status).toBe(200);
    expect(seen(fast).headers['x-forwarded-proto']).toBe('https');
    const full = await get('app.tls.test', '/api/v');
    expect(full.status).toBe(200);
    expect(full.headers['strict-transport-security']).toBe('max-age=31536000');
    expect((await get('web.tls.test')).headers['strict-transport-security']).toBeUndefined();
    const redirect = await t.get('web.tls.test', '/x?y=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://web.tls.test:${httpsPort}/x?y=1`);
    expect((await t.get('app.tls.test', '/api/v')).status).toBe(301);
    // Opted out, or not covered: plain HTTP as before; no certificate, no handshake.
    expect((await t.get('plain.tls.test')).status).toBe(200);
    expect((await t.get('x.other.test')).status).toBe(200);
    await expect(get('x.other.test')).rejects.toThrow();
  });

  it('keeps keys sealed at rest and serves again after a restart', async () => {
    const db = await readFile(join(t.dataDir, 'gatehouse.db'));
    const keyBody = wildcard.key.split('\n')[1] as string;
    expect(db.includes(keyBody)).toBe(false);
    const settings = t.gh.settings;
    await t.gh.close();
    t.gh = await startGatehouse(settings, createLogger('silent'));
    expect((await get('web.tls.test')).status).toBe(200);
  });

  it('removing the certificate takes its hosts back to HTTP', async () => {
    const list = (await t.api('GET', '/api/v1/certificates')).json as { certificates: { id: string }[] };
    const id = list.certificates[0]?.id as string;
    expect((await t.api('DELETE', `/api/v1/certificates/${id}?wait=true`)).status).toBe(200);
    expect((await t.get('web.tls.test')).status).toBe(200);
    await expect(get('web.tls.test')).rejects.toThrow();
  });
});
