import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { startUi, type UiHarness } from '../helpers/ui.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';

interface EventList {
  events: { kind: string; ip: string; detail: string; host: string; path: string }[];
}

const SQLI = `/search?q=${encodeURIComponent("1' OR '1'='1")}`;
const TRAVERSAL = `/files?name=${encodeURIComponent('../../../../etc/passwd')}`;

/**
 * The WAF through real nginx: ModSecurity with the OWASP Core Rule Set (Debian's
 * libnginx-mod-http-modsecurity and modsecurity-crs), per service: blocking, detection only, a
 * paranoia level, rules left out; its audit records as security events.
 */
describe('WAF: ModSecurity with the OWASP CRS, opt-in per service', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let app: TestServer;
  const get = async (host: string, path: string) => (await t.get(host, path)).status;
  const waf = async () => (await t.api('GET', '/api/v1/events?limit=200')).json as unknown as EventList;
  const put = async (name: string, w: unknown) =>
    t.api('PUT', `/api/v1/services/${name}?wait=true`, {
      hosts: [`${name}.waf.test`],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      ...(w === undefined ? {} : { waf: w }),
    });

  beforeAll(async () => {
    ui = await startUi();
    t = ui.t;
    app = await echoBackend('app');
    for (const [name, w] of [
      ['shop', { mode: 'block' }],
      ['blog', { mode: 'detect', paranoia: 2 }],
      ['plain', undefined],
    ] as const) {
      const r = await put(name, w);
      expect(r.status, r.body).toBe(201);
    }
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('blocks a SQL injection and a path traversal probe; a normal form post and page pass', async () => {
    expect(await get('shop.waf.test', SQLI)).toBe(403);
    expect(await get('shop.waf.test', TRAVERSAL)).toBe(403);
    expect(await get('shop.waf.test', '/search?q=blue+shoes')).toBe(200);
    const post = await t.get('shop.waf.test', '/comment', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Ann+Smith&email=ann%40example.com&comment=Lovely+shoes%2C+thanks%21+Will+order+again.',
    });
    expect(post.status).toBe(200);
    // A service without the WAF passes both to its upstream.
    expect(await get('plain.waf.test', SQLI)).toBe(200);
    expect(await get('plain.waf.test', TRAVERSAL)).toBe(200);
  });

  it('records what it blocked as security events: the service, the path (no query), the rules', async () => {
    const ev = await until(async () => {
      const list = (await waf()).events.filter((e) => e.kind === 'waf_blocked' && e.host === 'shop');
      return list.length >= 2 ? list : undefined;
    }, 10_000);
    const sqli = ev.find((e) => e.path === '/search');
    expect(sqli?.detail).toMatch(/^shop\/search: rule [0-9,]+ .*SQL Injection/);
    expect(sqli?.detail).not.toContain('OR');
    expect(sqli?.ip).toBe('127.0.0.1');
    expect(ev.find((e) => e.path === '/files')?.detail).toMatch(/^shop\/files: rule [0-9,]*93\d{4}/);
  });

  it('detect only: the probe passes and is recorded', async () => {
    expect(await get('blog.waf.test', SQLI)).toBe(200);
    await until(async () =>
      (await waf()).events.some((e) => e.kind === 'waf_detected' && e.host === 'blog' && e.path === '/search')
        ? true
        : undefined,
    );
  });

  it('leaves out the rules an operator excludes (a false positive), and only those', async () => {
    const blocked = (await waf()).events.find((e) => e.kind === 'waf_blocked' && e.path === '/search');
    const ids = (/rule ([0-9,]+)/.exec(blocked?.detail ?? '')?.[1] ?? '').split(',').map(Number);
    expect(ids.length).toBeGreaterThan(0);
    const r = await put('shop', { mode: 'block', exclude_rules: ids });
    expect(r.status, r.body).toBe(200);
    expect(await get('shop.waf.test', SQLI)).toBe(200);
    expect(await get('shop.waf.test', TRAVERSAL)).toBe(403);
  });

  it('is turned on in the service editor', async () => {
    const { page } = ui;
    await ui.signIn();
    await page.goto(`${ui.base}/#/services/plain`);
    await page.getByLabel('WAF (ModSecurity, OWASP CRS)', { exact: true }).selectOption('block');
    await page.getByLabel('WAF paranoia level', { exact: true }).selectOption('2');
    await page.getByLabel('WAF rules left out (ids)', { exact: true }).fill('920350, 942100');
    await ui.shot('waf-editor');
    await ui.saveService();
    const rec = (await t.api('GET', '/api/v1/services/plain')).json as { service: { waf?: unknown } };
    expect(rec.service.waf).toEqual({ mode: 'block', paranoia: 2, exclude_rules: [920350, 942100] });
    expect(await get('plain.waf.test', TRAVERSAL)).toBe(403);
  }, 60_000);

  it('refuses bad settings naming the field, changing nothing', async () => {
    for (const [w, field] of [
      [{ mode: 'panic' }, 'waf.mode'],
      [{ paranoia: 5 }, 'waf.paranoia'],
      [{ exclude_rules: ['942100'] }, 'waf.exclude_rules.0'],
      [{ mode: 'block', extra: 1 }, 'waf'],
    ] as const) {
      const r = await put('blog', w);
      expect(r.status, JSON.stringify(w)).toBe(400);
      expect(r.body).toContain(field);
    }
    expect(await get('blog.waf.test', SQLI)).toBe(200);
  });
});
