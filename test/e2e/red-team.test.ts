import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailText, smtpd } from '../helpers/alerts.js';
import { Browser } from '../helpers/browser.js';
import { startCrowdsec, type Crowdsec } from '../helpers/crowdsec.js';
import { writeGeoipDb } from '../helpers/geoip.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/**
 * Issue 19's red-team table, in one Gatehouse with every defence on (CrowdSec, GeoIP, sign-in
 * links by email, API keys, the WAF), through real nginx, a real CrowdSec and a real SMTP server:
 * each attempt refused, with its exact status. The features' own suites test each in depth.
 * 127.0.0.99 is a trusted proxy; 127.0.0.60 is banned in CrowdSec; 127.0.0.20 is in the US.
 */
describe('red team: every attempt refused, with the exact status', () => {
  let t: TestGatehouse;
  let cs: Crowdsec;
  let app: TestServer;
  let mailer: Awaited<ReturnType<typeof smtpd>>;
  let dataDir: string;
  let apiToken = '';
  let usedLink: URL;
  let linkBrowser: Browser;
  const PROXY = '127.0.0.99';
  const BANNED = '127.0.0.60';
  const US = '127.0.0.20';
  const DE = '127.0.0.10';
  const PORTAL = 'auth.rt.test';
  const get = async (host: string, path: string, from: string, headers: Record<string, string> = {}) =>
    (await t.get(host, path, { localAddress: from, headers })).status;

  beforeAll(async () => {
    dataDir = await testDir('gh-redteam-');
    await chmod(dataDir, 0o755);
    const logFile = join(dataDir, 'nginx', 'logs', 'crowdsec.log');
    await mkdir(join(dataDir, 'nginx', 'logs'), { recursive: true });
    await writeFile(logFile, '');
    const geo = join(dataDir, 'geo', 'country.mmdb');
    await mkdir(join(dataDir, 'geo'), { recursive: true, mode: 0o755 });
    await writeGeoipDb(geo, {
      [`${DE}/32`]: { country: 'DE', asn: 3320 },
      [`${US}/32`]: { country: 'US', asn: 15169 },
    });
    cs = await startCrowdsec({ logFile });
    mailer = await smtpd([]);
    t = await startTestGatehouse({
      data_dir: dataDir,
      base_domain: 'rt.test',
      trusted_proxies: [PROXY],
      geoip_db: geo,
      crowdsec_url: cs.url,
      crowdsec_api_key: cs.bouncerKey,
      crowdsec_poll_interval: '500ms',
      magic_link_channel: 'mail',
    });
    app = await echoBackend('app');
    const up = [`127.0.0.1:${app.port}`];
    const ch = await t.api('POST', '/api/v1/alert-channels', {
      name: 'mail',
      type: 'email',
      host: '127.0.0.1',
      port: mailer.port,
      starttls: false,
      from: 'gatehouse@rt.test',
      to: ['ops@rt.test'],
    });
    expect(ch.status, ch.body).toBe(201);
    expect((await t.api('POST', '/api/v1/users', { username: 'ann', email: 'ann@rt.test' })).status).toBe(
      201,
    );
    for (const [name, body] of [
      ['pub', { routes: [{ upstreams: up }] }],
      [
        'de',
        {
          routes: [{ upstreams: up }],
          access: { public: true, rules: [{ action: 'deny', country_not: ['DE'] }] },
        },
      ],
      ['wiki', { routes: [{ upstreams: up }], access: { login: {} } }],
      ['api', { routes: [{ upstreams: up }], access: { api_keys: true } }],
      ['other', { routes: [{ upstreams: up }], access: { api_keys: true } }],
      ['hook', { routes: [{ upstreams: up }], access: { api_keys: { header: 'X-Api-Key' } } }],
      ['shop', { routes: [{ upstreams: up }], waf: { mode: 'block' } }],
    ] as const) {
      const r = await t.api('PUT', `/api/v1/services/${name}?wait=true`, {
        hosts: [`${name}.rt.test`],
        ...body,
      });
      expect(r.status, r.body).toBe(201);
    }
    const key = await t.api('POST', '/api/v1/api-keys', { name: 'ci', services: ['api', 'hook'] });
    expect(key.status, key.body).toBe(201);
    apiToken = String(key.json.token);
    // A sign-in link, used once by the browser that asked for it.
    linkBrowser = new Browser(t.httpPort);
    expect(
      (await linkBrowser.post(PORTAL, '/login/email', { login: 'ann', rd: 'http://wiki.rt.test/' })).status,
    ).toBe(200);
    const mail = (await mailer.mail(1))[0] as { data: string };
    usedLink = new URL(/http:\/\/\S+/.exec(mailText(mail.data))?.[0] as string);
    expect((await linkBrowser.get(PORTAL, usedLink.pathname + usedLink.search)).status).toBe(303);
    // A ban in CrowdSec, enforced.
    await cs.cscli(['decisions', 'add', '--ip', BANNED, '--duration', '10m', '--reason', 'red team']);
    await until(
      async () => ((await get('pub.rt.test', '/', BANNED)) === 403 ? true : undefined),
      10_000,
      100,
    );
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await cs?.close();
    await app?.close();
    mailer?.proc.kill('SIGTERM');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const rows: { what: string; attempt: () => Promise<number>; status: number }[] = [
    { what: 'a banned address, straight', attempt: () => get('pub.rt.test', '/', BANNED), status: 403 },
    {
      what: 'a banned address from behind a trusted proxy',
      attempt: () => get('pub.rt.test', '/', PROXY, { 'x-forwarded-for': BANNED }),
      status: 403,
    },
    {
      what: 'a banned address naming another in X-Forwarded-For',
      attempt: () => get('pub.rt.test', '/', BANNED, { 'x-forwarded-for': '127.0.0.1' }),
      status: 403,
    },
    {
      what: 'a spoofed X-Forwarded-For claiming a German address (GeoIP)',
      attempt: () => get('de.rt.test', '/', US, { 'x-forwarded-for': DE }),
      status: 403,
    },
    {
      what: 'a replayed sign-in link, in the browser that used it',
      attempt: async () => (await linkBrowser.get(PORTAL, usedLink.pathname + usedLink.search)).status,
      status: 400,
    },
    {
      what: 'a replayed sign-in link, in another browser',
      attempt: async () =>
        (await new Browser(t.httpPort).get(PORTAL, usedLink.pathname + usedLink.search)).status,
      status: 400,
    },
    {
      what: 'an API key for another service',
      attempt: () => get('other.rt.test', '/', '127.0.0.1', { authorization: `Bearer ${apiToken}` }),
      status: 401,
    },
    {
      what: 'an API key in a query string',
      attempt: () => get('api.rt.test', `/?api_key=${apiToken}&access_token=${apiToken}`, '127.0.0.1'),
      status: 401,
    },
    {
      what: 'an API key as a bearer token where only a named header is allowed',
      attempt: () => get('hook.rt.test', '/', '127.0.0.1', { authorization: `Bearer ${apiToken}` }),
      status: 401,
    },
    {
      what: 'a SQL injection probe on a WAF service',
      attempt: () => get('shop.rt.test', `/?q=${encodeURIComponent("1' OR '1'='1")}`, '127.0.0.1'),
      status: 403,
    },
    {
      what: 'a path traversal probe on a WAF service',
      attempt: () => get('shop.rt.test', `/?f=${encodeURIComponent('../../../etc/passwd')}`, '127.0.0.1'),
      status: 403,
    },
  ];
  it.each(rows)('$what: $status', async ({ attempt, status }) => {
    expect(await attempt()).toBe(status);
  });

  it('lets the same requests through when they are honest', async () => {
    expect(await get('pub.rt.test', '/', '127.0.0.1')).toBe(200);
    expect(await get('de.rt.test', '/', PROXY, { 'x-forwarded-for': DE })).toBe(200);
    expect(await get('api.rt.test', '/', '127.0.0.1', { authorization: `Bearer ${apiToken}` })).toBe(200);
    expect(await get('hook.rt.test', '/', '127.0.0.1', { 'x-api-key': apiToken })).toBe(200);
    expect(await get('shop.rt.test', '/?q=blue+shoes', '127.0.0.1')).toBe(200);
    expect((await linkBrowser.get('wiki.rt.test', '/')).status).toBe(200);
  });
});
