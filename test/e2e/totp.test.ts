import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/gate/totp.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { Browser } from '../helpers/browser.js';

const PORTAL = 'auth.home.test';

/** Two-step sign-in: enrolment by an admin and by the user, codes that work once, recovery codes. */
describe('gate: TOTP', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const stepOf = (body: string) => /name="step" value="([^"]+)"/.exec(body)?.[1] ?? '';

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    await t.api('POST', '/api/v1/users', { username: 'dave', password: 'dave password 1' });
    await t.api('POST', '/api/v1/users', { username: 'erin', password: 'erin password 1' });
    await t.api('PUT', '/api/v1/services/wiki?wait=true', {
      hosts: ['wiki.home.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('an admin turns it on; sign-in then asks for a code, which works once', async () => {
    const on = await t.api('POST', '/api/v1/users/dave/totp');
    expect(on.status).toBe(201);
    const { secret, url, recovery_codes } = on.json as unknown as {
      secret: string;
      url: string;
      recovery_codes: string[];
    };
    expect(url).toMatch(/^otpauth:\/\/totp\/Gatehouse:dave\?/);
    expect(recovery_codes).toHaveLength(10);
    expect(((await t.api('GET', '/api/v1/users/dave')).json as { totp: boolean }).totp).toBe(true);

    const b = new Browser(t.httpPort);
    const pw = await b.post(PORTAL, '/login', {
      username: 'dave',
      password: 'dave password 1',
      rd: 'http://wiki.home.test/',
    });
    expect(pw.status).toBe(200);
    expect(pw.headers['set-cookie']).toBeUndefined();
    expect(pw.body).toContain('Verification code');
    const step = stepOf(pw.body);
    const wrong = await b.post(PORTAL, '/login/totp', { step, code: '000000' });
    expect(wrong.status).toBe(401);
    const code = totpCode(secret);
    const ok = await b.post(PORTAL, '/login/totp', { step, code });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('http://wiki.home.test/');
    expect((await b.get('wiki.home.test')).status).toBe(200);

    // The same code, replayed in another sign-in, is refused.
    const c = new Browser(t.httpPort);
    const pw2 = await c.post(PORTAL, '/login', { username: 'dave', password: 'dave password 1', rd: '' });
    expect((await c.post(PORTAL, '/login/totp', { step: stepOf(pw2.body), code })).status).toBe(401);
    // A recovery code works instead, once.
    const rc = recovery_codes[0] as string;
    expect((await c.post(PORTAL, '/login/totp', { step: stepOf(pw2.body), code: rc })).status).toBe(200);
    const d = new Browser(t.httpPort);
    const pw3 = await d.post(PORTAL, '/login', { username: 'dave', password: 'dave password 1', rd: '' });
    expect((await d.post(PORTAL, '/login/totp', { step: stepOf(pw3.body), code: rc })).status).toBe(401);
    // A forged or mangled step token is refused.
    expect(
      (await d.post(PORTAL, '/login/totp', { step: 'eyJ1aWQiOiJ4In0.AAAA', code: '123456' })).status,
    ).toBe(400);
  });

  it('the password step does not reset the limit on wrong codes', async () => {
    await t.api('POST', '/api/v1/users', { username: 'fay', password: 'fay password 1' });
    await t.api('POST', '/api/v1/users/fay/totp');
    const b = new Browser(t.httpPort);
    const attempt = async () => {
      const pw = await b.post(PORTAL, '/login', { username: 'fay', password: 'fay password 1', rd: '' });
      return (await b.post(PORTAL, '/login/totp', { step: stepOf(pw.body), code: '000000' })).status;
    };
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await attempt());
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('a user sets it up at the portal with a QR code', async () => {
    const b = new Browser(t.httpPort);
    await b.login('erin', 'erin password 1');
    const page = await b.get(PORTAL, '/totp');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg');
    const secret = /<code>([A-Z2-7]+)<\/code>/.exec(page.body)?.[1] as string;
    expect(secret).toBeTruthy();
    const bad = await b.post(PORTAL, '/totp', {
      step: stepOf(page.body),
      code: '123456',
      password: 'erin password 1',
    });
    expect(bad.status).toBe(400);
    // Holding the session is not enough: the password is asked again.
    const noPassword = await b.post(PORTAL, '/totp', {
      step: stepOf(page.body),
      code: totpCode(secret),
      password: 'guess',
    });
    expect(noPassword.status).toBe(400);
    expect(noPassword.body).toContain('Wrong password');
    const done = await b.post(PORTAL, '/totp', {
      step: stepOf(page.body),
      code: totpCode(secret),
      password: 'erin password 1',
    });
    expect(done.status).toBe(200);
    expect(done.body.match(/<li><code>[0-9a-f]{5}-[0-9a-f]{5}<\/code><\/li>/g)).toHaveLength(10);
    const again = new Browser(t.httpPort);
    const pw = await again.post(PORTAL, '/login', { username: 'erin', password: 'erin password 1', rd: '' });
    expect(pw.body).toContain('Verification code');
    // Without a session, the set-up page sends to sign-in.
    expect((await new Browser(t.httpPort).get(PORTAL, '/totp')).status).toBe(303);
  });
});
