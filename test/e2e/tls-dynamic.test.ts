import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { echoBackend, freePort, until, type TestServer } from '../helpers/net.js';
import { https, makeCa } from '../helpers/tls.js';
import { nginxTestDir, testDir } from '../helpers/tmp.js';

function workerPids(master: number): number[] {
  return readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number)
    .sort();
}

interface Cert {
  id: string;
  cert: string;
  key: string;
  fingerprint: string;
  names: string[];
  notAfter: string;
}

/** The certificate a client sees for `servername` on a new connection (no session resumed). */
function peerCert(port: number, servername: string): Promise<{ fingerprint: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      s.destroy();
      resolve({ fingerprint: c.fingerprint256.replace(/:/g, '').toLowerCase(), serial: c.serialNumber });
    });
    s.on('error', reject);
  });
}

function putTls(socketPath: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path: '/tls', method: 'PUT', headers: { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Certificates chosen from nginx's memory: renewed, added and removed with no reload. */
describe('tls: certificates without reload', () => {
  let dir: string;
  let driver: NginxDriver;
  let app: TestServer;
  let httpPort: number;
  let httpsPort: number;
  let ca: ReturnType<typeof makeCa>;
  const material = new Map<string, { cert: string; key: string }>();
  const socket = () => join(dir, 'nginx', 'run', 'status.sock');
  let n = 0;
  const issue = (names: string[], days: number): Cert => {
    const m = ca.issue(names, days);
    const id = `c${n++}`;
    material.set(id, m);
    const x = new X509Certificate(m.cert);
    return {
      id,
      ...m,
      names,
      fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
      notAfter: new Date(x.validTo).toISOString(),
    };
  };
  const cfg = (certs: Cert[], hosts = ['web.dyn.test', 'app.dyn.test']) =>
    compile({
      services: [
        serviceSchema.parse({
          name: 'web',
          hosts: hosts.filter((h) => h !== 'app.dyn.test'),
          routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
        }),
        serviceSchema.parse({
          name: 'app',
          hosts: ['app.dyn.test'],
          hsts: true,
          routes: [
            { path: '/', upstreams: [`127.0.0.1:${app.port}`] },
            { path: '/api/', upstreams: [`127.0.0.1:${app.port}`] },
          ],
        }),
      ],
      listeners: { http: httpPort, https: httpsPort },
      certs: certs.map(({ id, fingerprint, names, notAfter }) => ({ id, fingerprint, names, notAfter })),
    });
  const seen = (host: string) => peerCert(httpsPort, host).then((c) => c.fingerprint);
  let a1: Cert;

  beforeAll(async () => {
    dir = await nginxTestDir('gh-tlsdyn-');
    ca = makeCa(await testDir('gh-tlsdyn-ca-'));
    app = await echoBackend('app');
    httpPort = await freePort();
    httpsPort = await freePort();
    driver = new NginxDriver({
      bin: 'nginx',
      prefix: join(dir, 'nginx'),
      modulesDir: '/usr/lib/nginx/modules',
      workers: 2,
      log: silentLogger(),
      tlsDir: join(dir, 'keys'),
      certMaterial: (id) => Promise.resolve(material.get(id) as { cert: string; key: string }),
    });
    await driver.init();
    a1 = issue(['*.dyn.test'], 2);
    expect((await driver.apply(cfg([a1]))).mode).toBe('reload');
  });
  afterAll(async () => {
    await driver?.stop();
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the certificate by SNI and refuses names it has none for', async () => {
    expect(await seen('web.dyn.test')).toBe(a1.fingerprint);
    expect(await seen('app.dyn.test')).toBe(a1.fingerprint);
    expect(await seen('App.Dyn.Test.')).toBe(a1.fingerprint);
    expect((await https(httpsPort, 'web.dyn.test', '/', ca.ca)).status).toBe(200);
    await expect(peerCert(httpsPort, 'nobody.other.test')).rejects.toThrow();
    const v = await driver.tlsVersions();
    expect(v.memory).toBeDefined();
    expect(v.memory).toBe(v.file);
  });

  it('serves a renewed certificate on the next handshake, with no reload', async () => {
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    const a2 = issue(['*.dyn.test'], 3);
    expect((await driver.apply(cfg([a1, a2]))).mode).toBe('dynamic');
    expect(await seen('web.dyn.test')).toBe(a2.fingerprint);
    expect((await peerCert(httpsPort, 'app.dyn.test')).serial).toBe(
      new X509Certificate(a2.cert).serialNumber.toUpperCase(),
    );
    const full = await https(httpsPort, 'app.dyn.test', '/api/x', ca.ca);
    expect(full.status).toBe(200);
    expect(full.headers['strict-transport-security']).toBe('max-age=31536000');
    // The old certificate expires from the store: its files go, still no reload.
    expect((await driver.apply(cfg([a2]))).mode).toBe('dynamic');
    expect(await seen('app.dyn.test')).toBe(a2.fingerprint);
    const files = await readdir(join(dir, 'keys'));
    expect(files.filter((f) => f.startsWith(a1.fingerprint))).toEqual([]);
    // Nor does its key stay behind as the fallback pair's copy.
    const keyLine = a1.key.split('\n')[1] as string;
    for (const f of files) expect(await readFile(join(dir, 'keys', f), 'utf8')).not.toContain(keyLine);
    expect(driver.process.pid).toBe(master);
    expect(workerPids(master)).toEqual(workers);
  });

  it('serves a new certificate for a host already on HTTPS, and drops it again, with no reload', async () => {
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    const wild = issue(['*.dyn.test'], 3);
    const own = issue(['web.dyn.test'], 5);
    expect((await driver.apply(cfg([wild, own]))).mode).toBe('dynamic');
    expect(await seen('web.dyn.test')).toBe(own.fingerprint);
    expect(await seen('app.dyn.test')).toBe(wild.fingerprint);
    expect((await https(httpsPort, 'web.dyn.test', '/', ca.ca)).status).toBe(200);
    expect((await driver.apply(cfg([wild]))).mode).toBe('dynamic');
    expect(await seen('web.dyn.test')).toBe(wild.fingerprint);
    expect(driver.process.pid).toBe(master);
    expect(workerPids(master)).toEqual(workers);
    // Back to two certificates for what follows.
    expect((await driver.apply(cfg([wild, own]))).mode).toBe('dynamic');
  });

  it('refuses a malformed update naming the field, and keeps serving what it had', async () => {
    const before = await driver.tlsVersions();
    const web = await seen('web.dyn.test');
    const own = material.get(`c${n - 1}`) as { cert: string; key: string };
    const fp = web;
    const table = (line: string) => `# gatehouse tls 00ff\n${line}\n`;
    const cases: [string, RegExp][] = [
      ['hello\n', /^line 1: header/],
      [table(`web dyn.test\t${fp}`), /^line 2: host is not a host name/],
      [table(`*web.dyn.test\t${fp}`), /^line 2: host is not a host name/],
      [table(`web.dyn.test\t${fp.slice(1)}`), /^line 2: fingerprint is not 64 hex digits/],
      [table(`web.dyn.test\t${fp}`), /: is named but not sent$/],
      [table(`web.dyn.test\t${fp}`) + `= ${fp}\n${own.cert}`, /: pem must have exactly one private key$/],
      [table(`web.dyn.test\t${fp}`) + `= ${fp}\nhello\n${own.cert}${own.key}`, /: pem has text that is not/],
      [
        // Lines cut out of the middle: the shape of a PEM, not a certificate.
        table(`web.dyn.test\t${fp}`) +
          `= ${fp}\n${own.cert
            .split('\n')
            .filter((_l, i) => i < 3 || i > 6)
            .join('\n')}${own.key}`,
        /: certificate does not parse$/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await putTls(socket(), body);
      expect(res.status, body.slice(0, 80)).toBe(400);
      expect(res.body).toMatch(message);
      expect(res.body).not.toContain('PRIVATE KEY');
    }
    expect(await driver.tlsVersions()).toEqual(before);
    expect(await seen('web.dyn.test')).toBe(web);
    // A well-formed table sent behind Gatehouse's back is drift: the live one is sent again.
    const stray = await putTls(socket(), table(`app.dyn.test\t${fp}`) + `= ${fp}\n${own.cert}${own.key}`);
    expect(stray).toEqual({ status: 200, body: '00ff' });
    expect(await seen('app.dyn.test')).toBe(fp);
    await expect(peerCert(httpsPort, 'web.dyn.test')).rejects.toThrow();
    expect(await driver.correctDrift()).toEqual(['tls']);
    expect(await driver.tlsVersions()).toEqual(before);
    expect(await seen('web.dyn.test')).toBe(web);
    expect(await seen('app.dyn.test')).not.toBe(fp);
  });

  it('comes back with the right certificates after nginx is killed', async () => {
    const web = await seen('web.dyn.test');
    const appFp = await seen('app.dyn.test');
    expect(web).not.toBe(appFp);
    const master = driver.process.pid as number;
    process.kill(master, 'SIGKILL');
    await until(async () => {
      const pid = driver.process.pid;
      if (!pid || pid === master || !driver.process.running) return undefined;
      return (await peerCert(httpsPort, 'web.dyn.test').catch(() => undefined)) ? true : undefined;
    }, 15_000);
    expect(await seen('web.dyn.test')).toBe(web);
    expect(await seen('app.dyn.test')).toBe(appFp);
    expect((await https(httpsPort, 'app.dyn.test', '/', ca.ca)).status).toBe(200);
  });

  it('reloads for a host new to HTTPS (its server block and redirect change)', async () => {
    const wild = issue(['*.dyn.test'], 6);
    const applied = await driver.apply(cfg([wild], ['web.dyn.test', 'new.dyn.test', 'app.dyn.test']));
    expect(applied.mode).toBe('reload');
    expect(await seen('new.dyn.test')).toBe(wild.fingerprint);
    expect((await https(httpsPort, 'new.dyn.test', '/', ca.ca)).status).toBe(200);
  });
});
