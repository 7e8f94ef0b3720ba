import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsRecordsView, statusView, type DnsRecordsList } from '../../src/api/views/index.js';
import { Rfc2136Provider } from '../../src/dns/rfc2136.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { until } from '../helpers/net.js';

const ZONE = 'ext.test';
/** What BIND's zone wildcard answers for a name without records of its own. */
const WILDCARD = ['127.0.0.1'];
const root = resolve(import.meta.dirname, '..', '..');

/**
 * External records for real: a Gatehouse with `dns_records: on` and an RFC 2136 provider, a real
 * BIND answering for the zone, and a public edge reporting from its own address (127.0.0.2, then a
 * second one from 127.0.0.3). What is checked is what a resolver asking BIND gets.
 */
describe('external DNS records follow the services (RFC 2136, real BIND)', () => {
  let bind: Bind;
  let t: TestGatehouse;
  let resolver: Resolver;
  let direct: Rfc2136Provider;
  const a = async (name: string) => (await resolver.resolve4(name).catch(() => [] as string[])).sort();
  const txt = async (name: string) =>
    (await resolver.resolveTxt(name).catch(() => [] as string[][])).map((r) => r.join(''));
  /** GET /dns/records, parsed with its (strict) view. */
  const records = async (): Promise<DnsRecordsList> =>
    dnsRecordsView.parse((await t.api('GET', '/api/v1/dns/records')).json);
  const service = (name: string, hosts: string[], extra: Record<string, unknown> = {}) =>
    t.api('PUT', `/api/v1/services/${name}`, { hosts, routes: [{ upstreams: ['127.0.0.1:9'] }], ...extra });
  /** Waits until BIND answers `want` for `name`; returns how long that took from `since`. */
  const answered = async (name: string, want: string[], since: number, timeoutMs = 3000) => {
    await until(async () => JSON.stringify(await a(name)) === JSON.stringify(want), timeoutMs, 10);
    return Date.now() - since;
  };

  /** An edge agent's status report, sent from `from` (the address the control plane records). */
  const report = (token: string, from: string) =>
    new Promise<number>((done, fail) => {
      const body = JSON.stringify({ applied_hash: '' });
      const req = request(
        {
          host: '127.0.0.1',
          port: t.apiPort,
          localAddress: from,
          method: 'POST',
          path: '/edge/v1/status',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode ?? 0));
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  const enrol = async (name: string, from: string) => {
    const r = await t.api('POST', '/api/v1/nodes', { name, role: 'public' });
    expect(r.status, r.body).toBe(201);
    expect(await report(String(r.json.token), from)).toBe(200);
  };

  beforeAll(async () => {
    bind = await startBind(ZONE);
    resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([bind.server]);
    direct = new Rfc2136Provider({
      zone: ZONE,
      server: bind.server,
      tsigName: bind.tsigName,
      tsigAlgorithm: 'hmac-sha256',
      tsigSecret: bind.tsigSecret,
    });
    t = await startTestGatehouse({ dns_records: 'on', dns_records_ttl: 60, auth_host: 'auth.ext.test' });
    const p = await t.api('POST', '/api/v1/dns-providers', {
      name: 'bind',
      type: 'rfc2136',
      zone: ZONE,
      server: bind.server,
      tsig_name: bind.tsigName,
      tsig_secret: bind.tsigSecret,
    });
    expect(p.status, p.body).toBe(201);
    await enrol('vps', '127.0.0.2');
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await bind?.close();
  });

  it('service created: its A set is answered by BIND within 1 s, marked as this installation’s', async () => {
    const since = Date.now();
    expect((await service('app', ['app.ext.test'])).status).toBe(201);
    const ms = await answered('app.ext.test', ['127.0.0.2'], since);
    expect(ms).toBeLessThan(1000);
    const view = await records();
    expect(view.owner).toMatch(/^gh-[0-9a-f]{16}$/);
    expect(view.target).toEqual({ type: 'addresses', values: ['127.0.0.2'] });
    expect(await txt('_gatehouse.app.ext.test')).toEqual([`heritage=gatehouse,owner=${view.owner}`]);
    const app = await until(async () => (await records()).records.find((r) => r.host === 'app.ext.test'));
    expect(app).toMatchObject({ zone: ZONE, services: ['app'], state: 'ok', message: '' });
    expect(app.desired).toEqual([{ name: 'app.ext.test', type: 'A', ttl: 60, values: ['127.0.0.2'] }]);
    const created = await t.api('GET', '/api/v1/events?kind=dns_record_created');
    expect(JSON.stringify(created.json)).toContain('app.ext.test');
  });

  it('host changed: the old name is removed (its mark too), the new one created', async () => {
    const since = Date.now();
    expect((await service('app', ['www.ext.test'])).status).toBe(200);
    expect(await answered('www.ext.test', ['127.0.0.2'], since)).toBeLessThan(1000);
    // The old name falls back to the zone's wildcard: no records of its own.
    await answered('app.ext.test', WILDCARD, since);
    await until(async () => (await txt('_gatehouse.app.ext.test')).length === 0, 3000);
    await until(
      async () => (await records()).records.map((r) => r.host).join() === 'auth.ext.test,www.ext.test',
      2000,
    );
  });

  it('a wildcard host gets a wildcard set; a LAN-only service gets none', async () => {
    const since = Date.now();
    expect((await service('apps', ['*.apps.ext.test'])).status).toBe(201);
    expect((await service('nas', ['nas.ext.test'], { expose: 'lan' })).status).toBe(201);
    expect(await answered('anything.apps.ext.test', ['127.0.0.2'], since)).toBeLessThan(1000);
    const view = await until(async () => {
      const v = await records();
      return v.records.map((r) => r.host).join() === '*.apps.ext.test,auth.ext.test,www.ext.test'
        ? v
        : undefined;
    }, 2000);
    expect(await txt('_gatehouse-wildcard.apps.ext.test')).toEqual([
      `heritage=gatehouse,owner=${view.owner}`,
    ]);
    expect(await a('nas.ext.test')).toEqual(WILDCARD);
  });

  it('edges changed: a second public edge joins every set', async () => {
    await enrol('vps2', '127.0.0.3');
    // Edges are looked at every 5 s.
    await answered('www.ext.test', ['127.0.0.2', '127.0.0.3'], Date.now(), 8000);
    await answered('x.apps.ext.test', ['127.0.0.2', '127.0.0.3'], Date.now(), 3000);
  });

  it('a record it did not create is left alone and reported as a conflict (status view and event)', async () => {
    await direct.put({ name: 'taken.ext.test', type: 'A', ttl: 60, values: ['203.0.113.5'] });
    expect((await service('taken', ['taken.ext.test'])).status).toBe(201);
    const row = await until(async () => {
      const r = (await records()).records.find((x) => x.host === 'taken.ext.test');
      return r?.state === 'conflict' ? r : undefined;
    }, 3000);
    expect(row.message).toBe('A 203.0.113.5 exists, not created by Gatehouse');
    expect(row.actual).toEqual([{ name: 'taken.ext.test', type: 'A', ttl: 60, values: ['203.0.113.5'] }]);
    const events = await t.api('GET', '/api/v1/events?kind=dns_record_conflict');
    expect(JSON.stringify(events.json)).toContain('taken.ext.test: A 203.0.113.5 exists');
    expect(await a('taken.ext.test')).toEqual(['203.0.113.5']);
    expect(await txt('_gatehouse.taken.ext.test')).toEqual([]);
    // GET /status says so too.
    const status = statusView.parse((await t.api('GET', '/api/v1/status')).json);
    expect(status.dns_records).toMatchObject({ conflict: 1, error: 0 });
    expect(status.dns_records?.problems).toEqual([
      {
        host: 'taken.ext.test',
        state: 'conflict',
        message: 'A 203.0.113.5 exists, not created by Gatehouse',
        retry_at: null,
      },
    ]);
    // Its service removed: still untouched.
    expect((await t.api('DELETE', '/api/v1/services/taken')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 700));
    expect(await a('taken.ext.test')).toEqual(['203.0.113.5']);
    expect((await records()).records.some((x) => x.host === 'taken.ext.test')).toBe(false);
  });

  it('`gatehouse dns records` lists them', async () => {
    const out = await cli('dns', 'records');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/target: 127\.0\.0\.2, 127\.0\.0\.3/);
    expect(out.stdout).toMatch(
      /www\.ext\.test\s+ok\s+A 127\.0\.0\.2,127\.0\.0\.3\s+A 127\.0\.0\.2,127\.0\.0\.3/,
    );
    const json = await cli('--json', 'dns', 'records');
    expect((JSON.parse(json.stdout) as DnsRecordsList).records.map((r) => r.host)).toEqual([
      '*.apps.ext.test',
      'auth.ext.test',
      'www.ext.test',
    ]);
  });

  it('services removed: their records are gone, marks too', async () => {
    const since = Date.now();
    expect((await t.api('DELETE', '/api/v1/services/app')).status).toBe(200);
    expect((await t.api('DELETE', '/api/v1/services/apps')).status).toBe(200);
    expect(await answered('www.ext.test', WILDCARD, since)).toBeLessThan(1000);
    await until(async () => (await txt('_gatehouse.www.ext.test')).length === 0, 2000);
    await until(async () => (await txt('_gatehouse-wildcard.apps.ext.test')).length === 0, 2000);
    expect(await a('x.apps.ext.test')).toEqual(WILDCARD);
    // The login portal's host stays: edges serve it whatever the services.
    await until(async () => (await records()).records.map((r) => r.host).join() === 'auth.ext.test', 2000);
    expect(await a('auth.ext.test')).toEqual(['127.0.0.2', '127.0.0.3']);
    const removed = await t.api('GET', '/api/v1/events?kind=dns_record_removed');
    expect(JSON.stringify(removed.json)).toContain('www.ext.test: records removed');
  });

  it('target changed (a floating IP set at a restart): every record follows, still marked as its own', async () => {
    expect((await service('float', ['float.ext.test'])).status).toBe(201);
    await answered('float.ext.test', ['127.0.0.2', '127.0.0.3'], Date.now());
    const owner = (await records()).owner;
    await t.gh.close();
    const since = Date.now();
    t.gh = await startGatehouse(
      { ...t.gh.settings, dns_records_target: ['192.0.2.50'] },
      createLogger(process.env.GATEHOUSE_TEST_LOG ?? 'silent'),
    );
    expect(await answered('float.ext.test', ['192.0.2.50'], since, 5000)).toBeLessThan(5000);
    await answered('auth.ext.test', ['192.0.2.50'], since, 3000);
    const view = await records();
    expect(view.owner).toBe(owner);
    expect(view.target).toEqual({ type: 'addresses', values: ['192.0.2.50'] });
    expect(await txt('_gatehouse.float.ext.test')).toEqual([`heritage=gatehouse,owner=${owner}`]);
    // Removed after the restart: the records it made before it are removed too.
    const gone = Date.now();
    expect((await t.api('DELETE', '/api/v1/services/float')).status).toBe(200);
    expect(await answered('float.ext.test', WILDCARD, gone)).toBeLessThan(1000);
  });

  it('refuses a bad target at start, naming the setting', async () => {
    const bad = startTestGatehouse({ dns_records: 'on', dns_records_target: '192.0.2.1, not a host!' });
    await expect(bad).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^setting --dns-records-target: IP addresses .* or one host name/),
    });
    await expect(startTestGatehouse({ dns_records: 'maybe' })).rejects.toMatchObject({
      status: 400,
      message: 'setting --dns-records: off or on',
    });
  });

  function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      const p = spawn(
        process.execPath,
        [
          join(root, 'bin', 'gatehouse.js'),
          '--api',
          `http://127.0.0.1:${t.apiPort}`,
          '--token',
          ADMIN_TOKEN,
          ...args,
        ],
        { env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_'))) },
      );
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => done({ code, stdout, stderr }));
    });
  }
});
