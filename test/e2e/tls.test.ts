import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, type Res, type TestServer } from '../helpers/net.js';
import { https, httpsPost, makeCa } from '../helpers/tls.js';
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
    await put('strict', { hosts: ['strict.tls.test'], hsts: true, routes: [{ upstreams: up }] });
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
    // A one-route service (the simplest kind) gets its HSTS too.
    expect((await get('strict.tls.test')).headers['strict-transport-security']).toBe('max-age=31536000');
    const redirect = await t.get('web.tls.test', '/x?y=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://web.tls.test:${httpsPort}/x?y=1`);
    expect((await t.get('app.tls.test', '/api/v')).status).toBe(301);
    // Opted out, or not covered: plain HTTP as before; no certificate, no handshake.
    expect((await t.get('plain.tls.test')).status).toBe(200);
    expect((await t.get('x.other.test')).status).toBe(200);
    await expect(get('x.other.test')).rejects.toThrow();
  });

  it('serves the login portal over HTTPS when a certificate covers it; cookies are Secure', async () => {
    const portalCert = ca.issue(['*.gw.test']);
    expect((await t.api('POST', '/api/v1/certificates?wait=true', portalCert)).status).toBe(201);
    await t.api('POST', '/api/v1/users', { username: 'tia', password: 'tia password 1' });
    await t.api('PUT', '/api/v1/services/private?wait=true', {
      hosts: ['private.gw.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
    const guarded = await https(httpsPort, 'private.gw.test', '/x', ca.ca, { accept: 'text/html' });
    expect(guarded.status).toBe(302);
    expect(guarded.headers.location).toBe(
      // The portal and the way back on the port the client sent in Host: none here, as behind a
      // port mapping from 443 (a browser on this port would send it).
      `https://auth.gw.test/login?rd=${encodeURIComponent('https://private.gw.test/x')}`,
    );
    // On HTTP the portal redirects, but /verify still answers (other proxies do not follow redirects).
    expect((await t.get('auth.gw.test', '/login')).status).toBe(301);
    expect(
      (await t.get('auth.gw.test', '/verify', { headers: { 'x-original-url': 'http://a.gw.test/' } })).status,
    ).toBe(401);
    const login = await httpsPost(
      httpsPort,
      'auth.gw.test',
      '/login',
      ca.ca,
      'username=tia&password=tia+password+1&rd=',
    );
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure/);
  });

  it('keeps keys sealed at rest and serves again after a restart', async () => {
    // nginx reads the key from a root-only directory: on /run when it is a tmpfs, else the data dir.
    const conf = await readFile(join(t.dataDir, 'nginx', 'current', 'nginx.conf'), 'utf8');
    const keyFile = /ssl_certificate_key (\S+);/.exec(conf)?.[1] as string;
    const runTmpfs = / \/run tmpfs /.test(await readFile('/proc/mounts', 'utf8'));
    const dir = runTmpfs ? '/run/gatehouse/[0-9a-f]{12}/tls' : `${t.dataDir}/nginx/tls`;
    // The config names a fallback pair; nginx's master loads each certificate's files (named by
    // fingerprint) into memory at start, and the generation's table names them without a key.
    expect(keyFile).toMatch(new RegExp(`^${dir}/fallback\\.key$`));
    const keys = (await readdir(dirname(keyFile))).filter((f) => f.endsWith('.key'));
    expect(keys.filter((f) => /^[0-9a-f]{64}\.key$/.test(f)).length).toBeGreaterThan(0);
    for (const k of keys) expect((await stat(join(dirname(keyFile), k))).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(keyFile))).mode & 0o777).toBe(0o700);
    const gen = join(t.dataDir, 'nginx', 'current');
    for (const f of await readdir(gen)) {
      if (f === 'njs') continue;
      expect(await readFile(join(gen, f), 'utf8')).not.toContain(wildcard.key.split('\n')[1]);
    }
    const db = await readFile(join(t.dataDir, 'gatehouse.db'));
    const keyBody = wildcard.key.split('\n')[1] as string;
    expect(db.includes(keyBody)).toBe(false);
    const settings = t.gh.settings;
    await t.gh.close();
    t.gh = await startGatehouse(settings, createLogger('silent'));
    expect((await get('web.tls.test')).status).toBe(200);
  });

  it('removing the certificate takes its hosts back to HTTP', async () => {
    const list = (await t.api('GET', '/api/v1/certificates')).json as {
      certificates: { id: string; names: string[] }[];
    };
    const id = list.certificates.find((c) => c.names.includes('*.tls.test'))?.id as string;
    expect((await t.api('DELETE', `/api/v1/certificates/${id}?wait=true`)).status).toBe(200);
    expect((await t.get('web.tls.test')).status).toBe(200);
    await expect(get('web.tls.test')).rejects.toThrow();
  });
});
