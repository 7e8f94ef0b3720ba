import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/gate/totp.js';
import { mailText, smtpd } from '../helpers/alerts.js';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';

/**
 * Sign-in by a link sent by email, through nginx, the gate and a real SMTP server (Debian's
 * aiosmtpd): the link works once, for a short time, only in the browser that asked for it.
 */
describe('sign-in links by email', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let mailer: Awaited<ReturnType<typeof smtpd>>;
  const PORTAL = 'auth.home.test';

  /** The link in the `n`th message (1-based) sent so far. */
  const linkIn = async (n: number) => {
    const all = await mailer.mail(n);
    expect(all.length).toBeGreaterThanOrEqual(n);
    const m = all[n - 1] as { to: string[]; data: string };
    const text = mailText(m.data);
    const url = new URL(/http:\/\/\S+/.exec(text)?.[0] as string);
    return { to: m.to, text, url, subject: /^Subject: (.*)$/m.exec(m.data)?.[1] };
  };
  const ask = (b: Browser, login: string, rd = 'http://wiki.home.test/page') =>
    b.post(PORTAL, '/login/email', { login, rd });

  beforeAll(async () => {
    mailer = await smtpd([]);
    t = await startTestGatehouse({
      base_domain: 'home.test',
      magic_link_channel: 'mail',
      magic_link_ttl: '5m',
    });
    app = await echoBackend('app');
    const ch = await t.api('POST', '/api/v1/alert-channels', {
      name: 'mail',
      type: 'email',
      host: '127.0.0.1',
      port: mailer.port,
      starttls: false,
      from: 'gatehouse@home.test',
      to: ['ops@home.test'],
    });
    expect(ch.status, ch.body).toBe(201);
    // ann has no password at all: email is her only way in.
    expect((await t.api('POST', '/api/v1/users', { username: 'ann', email: 'Ann@Home.test' })).status).toBe(
      201,
    );
    expect(
      (
        await t.api('POST', '/api/v1/users', {
          username: 'bob',
          password: 'bob password 1',
          email: 'bob@home.test',
        })
      ).status,
    ).toBe(201);
    const put = await t.api('PUT', '/api/v1/services/wiki?wait=true', {
      hosts: ['wiki.home.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
    expect(put.status, put.body).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    mailer?.proc.kill('SIGTERM');
  });

  it('offers it on the sign-in page, and a user with only an email address can sign in with it', async () => {
    const b = new Browser(t.httpPort);
    const first = await b.get('wiki.home.test', '/page');
    expect(first.status).toBe(302);
    const page = await b.follow(first);
    expect(page.body).toContain('Email me a link');

    const asked = await ask(b, 'ann@home.test');
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('Check your email');
    const { to, url, text, subject } = await linkIn(1);
    expect(to).toEqual(['Ann@Home.test']);
    expect(subject).toBe('Sign in to Gatehouse');
    expect(text).toContain('as ann');
    expect(url.hostname).toBe(PORTAL);

    const opened = await b.get(PORTAL, url.pathname + url.search);
    expect(opened.status).toBe(303);
    const back = await b.follow(opened);
    // The hand-over to the page asked for, signed in.
    const final = back.status === 303 ? await b.follow(back) : back;
    expect(final.status).toBe(200);
    const seen = JSON.parse(final.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/page');
    expect(seen.headers['remote-user']).toBe('ann');

    // Used once: the same link again is refused, in the same browser too.
    const again = await b.get(PORTAL, url.pathname + url.search);
    expect(again.status).toBe(400);
    expect(again.body).toContain('used already');
    const events = (await t.api('GET', '/api/v1/events?kind=login')).json as unknown as {
      events: { username: string; detail: string }[];
    };
    expect(events.events[0]).toMatchObject({ username: 'ann', detail: 'by email link' });
  });

  it('is refused in another browser (a phone, a mail scanner) without being used up', async () => {
    const b = new Browser(t.httpPort);
    await ask(b, 'bob');
    const { url } = await linkIn(2);
    const elsewhere = new Browser(t.httpPort);
    const refused = await elsewhere.get(PORTAL, url.pathname + url.search);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('only in the browser where you asked');
    expect(elsewhere.cookie).toBeUndefined();
    // Still good where it was asked for.
    expect((await b.get(PORTAL, url.pathname + url.search)).status).toBe(303);
    expect(b.cookie).toBeDefined();
  });

  it('stands for the password only: a user with TOTP still gives a code', async () => {
    const on = await t.api('POST', '/api/v1/users/bob/totp');
    expect(on.status).toBe(201);
    const secret = (on.json as unknown as { secret: string }).secret;
    const b = new Browser(t.httpPort);
    await ask(b, 'bob', 'http://wiki.home.test/');
    const { url } = await linkIn((await mailer.mail(0)).length);
    const opened = await b.get(PORTAL, url.pathname + url.search);
    expect(opened.status).toBe(200);
    expect(b.cookie).toBeUndefined();
    const step = /name="step" value="([^"]+)"/.exec(opened.body)?.[1] ?? '';
    expect((await b.post(PORTAL, '/login/totp', { step, code: '000000' })).status).toBe(401);
    const ok = await b.post(PORTAL, '/login/totp', { step, code: totpCode(secret) });
    expect(ok.status).toBe(303);
    expect((await b.get('wiki.home.test', '/')).status).toBe(200);
    expect((await t.api('DELETE', '/api/v1/users/bob/totp')).status).toBe(200);
  });

  it('answers the same for an unknown account and sends nothing; a made-up token is refused', async () => {
    const before = (await mailer.mail(0)).length;
    const b = new Browser(t.httpPort);
    const r = await ask(b, 'nobody@home.test');
    expect(r.status).toBe(200);
    expect(r.body).toContain('Check your email');
    await new Promise((ok) => setTimeout(ok, 300));
    expect((await mailer.mail(0)).length).toBe(before);
    const made = await b.get(PORTAL, `/login/email?t=${'A'.repeat(43)}`);
    expect(made.status).toBe(400);
    expect((await b.get(PORTAL, '/login/email?t=<script>')).status).toBe(400);
  });

  it('is refused once expired', async () => {
    const b = new Browser(t.httpPort);
    await ask(b, 'bob');
    const n = (await mailer.mail(0)).length;
    const { url } = await linkIn(n);
    // Five minutes are too long to wait: the store's clock for this link is moved instead.
    await t.gh.db
      .updateTable('magic_links')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .execute();
    const r = await b.get(PORTAL, url.pathname + url.search);
    expect(r.status).toBe(400);
    expect(r.body).toContain('expired');
  });

  it('throttles asking: five per account in 15 minutes, then 429', async () => {
    const b = new Browser(t.httpPort);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await ask(b, 'carol@home.test')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('refuses a cross-site form post', async () => {
    const r = await new Browser(t.httpPort).post(
      PORTAL,
      '/login/email',
      { login: 'bob', rd: '' },
      { origin: 'http://evil.test' },
    );
    expect(r.status).toBe(403);
  });
});
