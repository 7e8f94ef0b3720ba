import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLogList } from '../../src/api/views/index.js';
import { writeGeoipDb } from '../helpers/geoip.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/**
 * GeoIP rules through nginx's geoip2 module, with a database the test writes (Debian's
 * MaxMind::DB::Writer): 127.0.0.10 is in Germany (AS3320), 127.0.0.20 in the US (AS15169),
 * 127.0.0.30 unknown; 127.0.0.99 is a trusted proxy.
 */
describe('GeoIP: rules by country and network, the country in access logs', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let db: string;
  const DE = '127.0.0.10';
  const US = '127.0.0.20';
  const UNKNOWN = '127.0.0.30';
  const PROXY = '127.0.0.99';
  const status = async (host: string, from: string, headers: Record<string, string> = {}) =>
    (await t.get(host, '/', { localAddress: from, headers })).status;
  const put = async (name: string, rules: unknown) => {
    const r = await t.api('PUT', `/api/v1/services/${name}?wait=true`, {
      hosts: [`${name}.geo.test`],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { public: true, rules },
    });
    return r;
  };

  beforeAll(async () => {
    const dir = await testDir('gh-geoip-');
    // nginx's workers (an unprivileged user) look at the file for changes, as they would at
    // /var/lib/GeoIP: the directory must let them.
    await chmod(dir, 0o755);
    db = join(dir, 'country.mmdb');
    await writeGeoipDb(db, {
      [`${DE}/32`]: { country: 'DE', asn: 3320 },
      [`${US}/32`]: { country: 'US', asn: 15169 },
    });
    t = await startTestGatehouse({
      geoip_db: db,
      geoip_asn_db: db,
      geoip_check_interval: '1s',
      trusted_proxies: [PROXY],
    });
    app = await echoBackend('app');
    for (const [name, rules] of [
      ['de-only', [{ action: 'deny', country_not: ['DE'] }]],
      ['no-us', [{ action: 'deny', country: ['US'] }]],
      ['no-as15169', [{ action: 'deny', asn: [15169] }]],
    ] as const) {
      const r = await put(name, rules);
      expect(r.status, r.body).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('allows and denies by country and by network', async () => {
    expect([await status('de-only.geo.test', DE), await status('de-only.geo.test', US)]).toEqual([200, 403]);
    // An address the database does not know is in no country: not DE, so refused here...
    expect(await status('de-only.geo.test', UNKNOWN)).toBe(403);
    // ... and not US, so let through there.
    expect([await status('no-us.geo.test', US), await status('no-us.geo.test', UNKNOWN)]).toEqual([403, 200]);
    expect(await status('no-us.geo.test', DE)).toBe(200);
    expect([await status('no-as15169.geo.test', US), await status('no-as15169.geo.test', DE)]).toEqual([
      403, 200,
    ]);
  });

  it('red team: a spoofed X-Forwarded-For is not believed; a trusted proxy’s is', async () => {
    expect(await status('de-only.geo.test', US, { 'x-forwarded-for': DE })).toBe(403);
    expect(await status('no-us.geo.test', US, { 'x-forwarded-for': DE })).toBe(403);
    expect(await status('de-only.geo.test', PROXY, { 'x-forwarded-for': DE })).toBe(200);
    expect(await status('no-us.geo.test', PROXY, { 'x-forwarded-for': US })).toBe(403);
  });

  it('writes the country into the access log', async () => {
    await status('no-us.geo.test', DE);
    const records = await until(async () => {
      const r = await t.api('GET', `/api/v1/logs?client=${DE}`);
      const list = (r.json as unknown as AccessLogList).records;
      return list.length > 0 ? list : undefined;
    }, 15_000);
    expect(records[0]?.country).toBe('DE');
    const unknown = await until(async () => {
      const r = await t.api('GET', `/api/v1/logs?client=${UNKNOWN}`);
      const list = (r.json as unknown as AccessLogList).records;
      return list.length > 0 ? list : undefined;
    }, 15_000);
    expect(unknown[0]?.country).toBeNull();
    // Analytics count requests by country, with the denied ones (the US address was refused above).
    const a = (await t.api('GET', '/api/v1/analytics?window=1h')).json as unknown as {
      top_countries: { country: string; requests: number; denied: number }[];
    };
    const by = Object.fromEntries(a.top_countries.map((c) => [c.country, c]));
    expect(by.DE?.requests).toBeGreaterThan(0);
    expect(by.US?.denied).toBeGreaterThan(0);
  });

  it('reads a new database without a reload', async () => {
    const generation = async () =>
      /"generation":"([^"]+)"/.exec((await t.api('GET', '/api/v1/status')).body)?.[1];
    const before = await generation();
    expect(before).toBeDefined();
    expect(await status('de-only.geo.test', UNKNOWN)).toBe(403);
    await writeGeoipDb(db, {
      [`${DE}/32`]: { country: 'DE', asn: 3320 },
      [`${US}/32`]: { country: 'US', asn: 15169 },
      [`${UNKNOWN}/32`]: { country: 'DE', asn: 3320 },
    });
    await until(async () => {
      // The module keeps its last lookup per database and reuses it for the same address, even
      // across a reload: another address in between, as on any real edge, looks anew.
      await status('de-only.geo.test', DE);
      return (await status('de-only.geo.test', UNKNOWN)) === 200 ? true : undefined;
    }, 15_000);
    // nginx read the file by itself: the same generation of its config serves.
    expect(await generation()).toBe(before);
  });

  it('refuses a bad country or network, naming the field, and changes nothing', async () => {
    for (const [rules, field] of [
      [[{ action: 'deny', country: ['de'] }], 'access.rules.0.country.0'],
      [[{ action: 'deny', country: [] }], 'access.rules.0.country'],
      [[{ action: 'deny', asn: [0] }], 'access.rules.0.asn.0'],
      [[{ action: 'deny', country_not: ['GERMANY'] }], 'access.rules.0.country_not.0'],
    ] as const) {
      const r = await put('bad', rules);
      expect(r.status).toBe(400);
      expect(r.body).toContain(field);
    }
    expect((await t.api('GET', '/api/v1/services/bad')).status).toBe(404);
  });

  it('names the setting when the database is missing', async () => {
    await expect(startTestGatehouse({ geoip_db: '/nonexistent/country.mmdb' })).rejects.toThrow(
      /geoip.db: no such file: \/nonexistent\/country\.mmdb/,
    );
  });
});

describe('GeoIP rules without a database fail closed', () => {
  let t: TestGatehouse;
  let app: TestServer;

  beforeAll(async () => {
    t = await startTestGatehouse();
    app = await echoBackend('app');
    const put = (name: string, rules: unknown) =>
      t.api('PUT', `/api/v1/services/${name}?wait=true`, {
        hosts: [`${name}.geo.test`],
        routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
        access: { login: {}, rules },
      });
    expect((await put('deny-us', [{ action: 'deny', country: ['US'] }])).status).toBe(201);
    expect((await put('allow-de', [{ action: 'allow', country: ['DE'] }])).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('a deny rule on a country refuses everyone; an allow rule on one admits no one', async () => {
    expect((await t.get('deny-us.geo.test', '/')).status).toBe(403);
    // Not admitted by the rule: the route's sign-in applies (no user exists: 503, never a pass).
    const allow = await t.get('allow-de.geo.test', '/', { headers: { accept: 'text/html' } });
    expect(allow.status).toBe(503);
  });
});
