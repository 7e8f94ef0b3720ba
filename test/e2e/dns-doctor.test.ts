import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsDoctorView, type DnsDoctorHost, type DnsDoctorReport } from '../../src/api/views/index.js';
import { runDnsDoctor } from '../../src/dns/doctor.js';
import { loadSettings } from '../../src/model/settings.js';
import { Rfc2136Provider } from '../../src/dns/rfc2136.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startUnbound, type TestUnbound } from '../helpers/lan-resolvers.js';
import { freePort, until } from '../helpers/net.js';

const ZONE = 'doc.test';
/** The LAN edge's address, as Unbound should answer it. */
const LAN = '10.0.0.5';
const root = resolve(import.meta.dirname, '..', '..');

/**
 * The DNS doctor against real servers: a BIND authoritative for the zone (an RFC 2136 provider,
 * external records on, a public edge reporting from 127.0.0.2) and an Unbound the split horizon
 * drives. Records and CAA are changed by hand at the servers, as an operator (or a mistake) would.
 */
describe('gatehouse doctor dns (real BIND, real Unbound)', () => {
  let bind: Bind;
  let ub: TestUnbound;
  let t: TestGatehouse;
  let direct: Rfc2136Provider;

  const doctor = async (): Promise<DnsDoctorReport> => {
    const r = await t.api('GET', '/api/v1/dns/doctor');
    expect(r.status, r.body).toBe(200);
    return dnsDoctorView.parse(r.json);
  };
  const host = (r: DnsDoctorReport, name: string): DnsDoctorHost => {
    const h = r.hosts.find((x) => x.host === name);
    if (!h) throw new Error(`${name} not in the report: ${r.hosts.map((x) => x.host).join(', ')}`);
    return h;
  };
  const service = (name: string, hosts: string[], extra: Record<string, unknown> = {}) =>
    t.api('PUT', `/api/v1/services/${name}`, { hosts, routes: [{ upstreams: ['127.0.0.1:9'] }], ...extra });

  /** `nsupdate` by hand, with the zone's key (what an operator types, for record types Gatehouse never writes). */
  const nsupdate = (lines: string[]) =>
    new Promise<void>((done, fail) => {
      const [ip, port] = bind.server.split(':') as [string, string];
      const p = spawn('nsupdate', ['-t', '5'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('close', (code) => (code === 0 ? done() : fail(new Error(`nsupdate: ${err}`))));
      // An nsupdate that exits early fails through its exit code, not an EPIPE on its input.
      p.stdin.on('error', () => undefined);
      p.stdin.end(
        [
          `key hmac-sha256:${bind.tsigName} ${bind.tsigSecret}`,
          `server ${ip} ${port}`,
          `zone ${ZONE}.`,
          ...lines,
          'send',
          '',
        ].join('\n'),
      );
    });

  /** An edge agent's status report from `from` (the address the control plane records). */
  const enrolPublicEdge = async (from: string) => {
    const r = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(r.status, r.body).toBe(201);
    const { request } = await import('node:http');
    await new Promise<void>((done, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: t.apiPort,
          localAddress: from,
          method: 'POST',
          path: '/edge/v1/status',
          headers: { authorization: `Bearer ${String(r.json.token)}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? done() : fail(new Error(`status ${res.statusCode}`)),
          );
        },
      );
      req.on('error', fail);
      req.end(JSON.stringify({ applied_hash: '' }));
    });
  };

  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
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

  beforeAll(async () => {
    [bind, ub] = await Promise.all([startBind(ZONE), startUnbound()]);
    direct = new Rfc2136Provider({
      zone: ZONE,
      server: bind.server,
      tsigName: bind.tsigName,
      tsigAlgorithm: 'hmac-sha256',
      tsigSecret: bind.tsigSecret,
    });
    t = await startTestGatehouse({
      auth_host: `auth.${ZONE}`,
      dns_records: 'on',
      dns_records_ttl: 60,
      lan_dns: 'unbound',
      lan_dns_address: LAN,
      lan_dns_server: ub.server,
      lan_dns_unbound_control: ub.control,
      // Long: a record changed by hand at Unbound stays until the test looks.
      lan_dns_check_interval: '10m',
      dns_doctor_caa_issuer: 'letsencrypt.org',
      dns_doctor_timeout: '1500ms',
    });
    const p = await t.api('POST', '/api/v1/dns-providers', {
      name: 'bind',
      type: 'rfc2136',
      zone: ZONE,
      server: bind.server,
      tsig_name: bind.tsigName,
      tsig_secret: bind.tsigSecret,
    });
    expect(p.status, p.body).toBe(201);
    await enrolPublicEdge('127.0.0.2');
    expect((await service('app', [`app.${ZONE}`])).status).toBe(201);
    expect((await service('shop', [`shop.${ZONE}`])).status).toBe(201);
    expect((await service('nas', [`nas.${ZONE}`], { expose: 'lan' })).status).toBe(201);
    // External records in place at BIND, and the LAN names at Unbound, before the doctor looks.
    await until(async () => {
      const r = await t.api('GET', '/api/v1/dns/records');
      const hosts = (r.json.records as { host: string; state: string }[]) ?? [];
      return hosts.length === 3 && hosts.every((h) => h.state === 'ok') ? true : undefined;
    }, 10_000);
    await until(async () => ((await ub.ask(`nas.${ZONE}`)).join() === LAN ? true : undefined), 5000);
  }, 90_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([bind?.close(), ub?.close()]);
  });

  it('every host right: ok, public from the zone’s server, LAN from Unbound, no CAA', async () => {
    const r = await doctor();
    expect(r.hosts.map((h) => h.host)).toEqual([
      `app.${ZONE}`,
      `auth.${ZONE}`,
      `nas.${ZONE}`,
      `shop.${ZONE}`,
    ]);
    const app = host(r, `app.${ZONE}`);
    expect(app).toMatchObject({ zone: ZONE, services: ['app'], state: 'ok' });
    expect(app.public).toMatchObject({
      state: 'ok',
      managed: true,
      server: bind.server,
      expected: [{ type: 'A', values: ['127.0.0.2'] }],
      actual: [{ type: 'A', values: ['127.0.0.2'] }],
    });
    expect(app.lan).toMatchObject({ state: 'ok', server: ub.server, expected: [LAN], actual: [LAN] });
    expect(app.caa).toMatchObject({ state: 'allowed', at: null, issuers: ['*'] });
    // Served to the LAN only: nothing expected in public DNS, Unbound answers it.
    expect(host(r, `nas.${ZONE}`).public.state).toBe('not_public');
    expect(host(r, `nas.${ZONE}`).lan.state).toBe('ok');
    expect(r.providers).toEqual([
      expect.objectContaining({ name: 'bind', state: 'reachable', server: bind.server }),
    ]);
    expect(r).toMatchObject({
      ok: true,
      caa_issuer: 'letsencrypt.org',
      external_records: true,
      lan_dns: 'unbound',
    });
  });

  it('`gatehouse dns doctor --json` parses; `gatehouse doctor dns` prints the table; exit 0 when all is well', async () => {
    const json = await cli('--json', 'dns', 'doctor');
    expect(json.code, json.stderr).toBe(0);
    const parsed = dnsDoctorView.parse(JSON.parse(json.stdout));
    expect(parsed.ok).toBe(true);
    const text = await cli('doctor', 'dns');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/app\.doc\.test\s+ok\s+ok\s+A 127\.0\.0\.2\s+A 127\.0\.0\.2\s+ok\s+allowed/);
    expect(text.stdout).toMatch(/bind\s+rfc2136\s+doc\.test\s+reachable/);
  });

  it('a record changed by hand at BIND: wrong, with what it should be and what it is; exit 1', async () => {
    await direct.put({ name: `app.${ZONE}`, type: 'A', ttl: 60, values: ['198.51.100.7'] });
    const r = await doctor();
    const app = host(r, `app.${ZONE}`);
    expect(app.state).toBe('problem');
    expect(app.public).toMatchObject({
      state: 'wrong',
      expected: [{ type: 'A', values: ['127.0.0.2'] }],
      actual: [{ type: 'A', values: ['198.51.100.7'] }],
    });
    expect(app.public.message).toContain('answers A 198.51.100.7; should be A 127.0.0.2');
    expect(r.ok).toBe(false);
    const out = await cli('dns', 'doctor');
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/app\.doc\.test\s+PROBLEM\s+wrong\s+A 127\.0\.0\.2\s+A 198\.51\.100\.7/);
    expect(out.stdout).toContain('app.doc.test: public: answers A 198.51.100.7; should be A 127.0.0.2');
    const json = await cli('--json', 'doctor', 'dns');
    expect(json.code).toBe(1);
    expect(host(dnsDoctorView.parse(JSON.parse(json.stdout)), `app.${ZONE}`).public.state).toBe('wrong');
    // Put right again (as the next full pass of external records would).
    await direct.put({ name: `app.${ZONE}`, type: 'A', ttl: 60, values: ['127.0.0.2'] });
    expect(host(await doctor(), `app.${ZONE}`).state).toBe('ok');
  });

  it('a LAN record changed by hand at Unbound: wrong, both values', async () => {
    const conf = join(dirname(ub.control), 'unbound.conf');
    await new Promise<void>((done, fail) =>
      execFile('unbound-control', ['-c', conf, 'local_data', `nas.${ZONE}. 60 IN A 10.9.9.9`], (err) =>
        err ? fail(err) : done(),
      ),
    );
    const nas = host(await doctor(), `nas.${ZONE}`);
    expect(nas.state).toBe('problem');
    expect(nas.lan).toMatchObject({ state: 'wrong', expected: [LAN], actual: ['10.0.0.5', '10.9.9.9'] });
    // Gatehouse puts it right at its next sync.
    await t.api('POST', '/api/v1/dns/lan/sync');
    expect(host(await doctor(), `nas.${ZONE}`).lan.state).toBe('ok');
  });

  it('CAA at BIND allowing only another CA: flagged, saying who may issue', async () => {
    await nsupdate([`update add shop.${ZONE}. 60 CAA 0 issue "pki.goog"`]);
    // A parent's CAA for the zone counts for every host without its own.
    await nsupdate([`update add ${ZONE}. 60 CAA 0 issue "letsencrypt.org"`]);
    const r = await doctor();
    const shop = host(r, `shop.${ZONE}`);
    expect(shop.state).toBe('problem');
    expect(shop.caa).toMatchObject({ state: 'denied', at: `shop.${ZONE}`, issuers: ['pki.goog'] });
    expect(shop.caa.message).toContain('allows only pki.goog, not letsencrypt.org');
    expect(host(r, `app.${ZONE}`).caa).toMatchObject({
      state: 'allowed',
      at: ZONE,
      issuers: ['letsencrypt.org'],
    });
    const out = await cli('dns', 'doctor');
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(
      'shop.doc.test: CAA: shop.doc.test: CAA issue allows only pki.goog, not letsencrypt.org',
    );
    await nsupdate([`update delete shop.${ZONE}. CAA`]);
    expect((await doctor()).ok).toBe(true);
  });

  it('a provider pointing at a closed port: unreachable within the time limit, the others still checked', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const p = await t.api('POST', '/api/v1/dns-providers', {
      name: 'gone',
      type: 'rfc2136',
      zone: 'gone.test',
      server: closed,
      tsig_name: 'k',
      tsig_secret: bind.tsigSecret,
    });
    expect(p.status, p.body).toBe(201);
    const t0 = Date.now();
    const r = await doctor();
    expect(Date.now() - t0).toBeLessThan(1500 + 1000);
    const gone = r.providers.find((x) => x.name === 'gone');
    expect(gone).toMatchObject({ state: expect.stringMatching(/^(unreachable|timeout)$/), server: closed });
    expect(gone?.ms).toBeLessThanOrEqual(1500 + 200);
    expect(gone?.message).toContain(closed);
    expect(r.providers.find((x) => x.name === 'bind')?.state).toBe('reachable');
    expect(r.ok).toBe(false);
    expect(r.summary.providers_failing).toBe(1);
    const out = await cli('dns', 'doctor');
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/gone\s+rfc2136\s+gone\.test\s+(unreachable|timeout)/);
    expect((await t.api('DELETE', '/api/v1/dns-providers/gone')).status).toBe(200);
  });
  it('a server that swallows every query: each row says it timed out, within the limit, nothing throws', async () => {
    // A UDP socket that reads and never answers.
    const hole = createSocket('udp4');
    await new Promise<void>((done) => hole.bind(0, '127.0.0.1', done));
    const server = `127.0.0.1:${hole.address().port}`;
    try {
      const settings = loadSettings(
        { data_dir: '/nonexistent', dns_doctor_timeout: '400ms', dns_records_target: '192.0.2.10' },
        {},
        () => '',
      );
      const t0 = Date.now();
      const r = await runDnsDoctor({
        settings,
        services: () => t.gh.registry.list().map((x) => x.service),
        providers: {
          list: async () => [
            { name: 'silent', type: 'rfc2136', zone: ZONE, config: { server }, created_at: '' },
          ],
          byName: async () => undefined,
        },
        nodes: async () => [],
      });
      // 3 hosts at once (8 at a time) and the provider beside them: about one limit, not one per query.
      expect(Date.now() - t0).toBeLessThan(400 * 4);
      expect(r.providers).toEqual([
        expect.objectContaining({
          name: 'silent',
          state: 'timeout',
          message: `${server}: no answer within 400 ms`,
        }),
      ]);
      const app = host(r, `app.${ZONE}`);
      expect(app.public).toMatchObject({
        state: 'error',
        server,
        expected: [{ type: 'A', values: ['192.0.2.10'] }],
      });
      expect(app.public.message).toContain('no answer within 400 ms');
      expect(app.caa.state).toBe('error');
      expect(app.state).toBe('problem');
      expect(r.ok).toBe(false);
    } finally {
      hole.close();
    }
  });
});
