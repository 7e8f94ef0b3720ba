import { execFile } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../src/api/views/index.js';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import {
  ADMIN_TOKEN,
  loopbackSettings,
  startTestGatehouse,
  type TestGatehouse,
} from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { BIN, cleanEnv } from '../helpers/replicas.js';

/**
 * Upstreams by name through a real Gatehouse, nginx and dnsmasq (upstream_resolver points at it;
 * answers with TTL 1 s): a service with `upstreams: ["app.names.test:PORT"]` answers; the record
 * changed at the DNS server moves traffic to the other backend within the TTL, without an nginx
 * reload; the record removed gives the offline page (503); restored, 200 again.
 */
describe('upstreams by name', () => {
  let dns: Dnsmasq;
  let t: TestGatehouse;
  let a: TestServer;
  let b: TestServer;
  let port: number;

  const backendOf = async (): Promise<{ status: number; backend?: string; body: string }> => {
    const r = await t.get('app.test');
    const backend = r.status === 200 ? (JSON.parse(r.body) as { backend: string }).backend : undefined;
    return { status: r.status, body: r.body, ...(backend ? { backend } : {}) };
  };
  const status = async () => (await t.api('GET', '/api/v1/status')).json as unknown as Status;

  beforeAll(async () => {
    port = await freePort();
    // Two backends on the same port, at two loopback addresses: the name picks one.
    a = await echoBackend('a', port, '127.0.0.2');
    b = await echoBackend('b', port, '127.0.0.3');
    dns = await startDnsmasq('names.test', { 'app.names.test': ['127.0.0.2'] }, 1);
    t = await startTestGatehouse({ upstream_resolver: dns.server });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
    await a?.close();
    await b?.close();
  });

  it('serves a service whose upstream is a name, through nginx', async () => {
    const put = await t.api('PUT', '/api/v1/services/app?wait=true', {
      hosts: ['app.test'],
      routes: [{ upstreams: [`app.names.test:${port}`] }],
    });
    expect(put.status).toBeLessThan(300);
    expect(await until(async () => ((await backendOf()).backend === 'a' ? true : undefined), 5000)).toBe(
      true,
    );
    const names = (await status()).edge.upstreamNames;
    expect(names).toEqual([
      expect.objectContaining({
        name: 'app.names.test',
        addresses: ['127.0.0.2'],
        state: 'ok',
        ttlSeconds: 1,
      }),
    ]);
  });

  it('follows the record to another address within its TTL, without a reload', async () => {
    const before = t.gh.edge.getStatus();
    const started = Date.now();
    await dns.setRecords({ 'app.names.test': ['127.0.0.3'] });
    await until(async () => ((await backendOf()).backend === 'b' ? true : undefined), 5000, 50);
    // TTL 1 s: asked again when it runs out, then applied in milliseconds (slack for a loaded machine).
    expect(Date.now() - started).toBeLessThan(3000);
    const after = t.gh.edge.getStatus();
    expect(after.lastReload).toEqual(before.lastReload);
    expect(after.lastApplyMode).toBe('dynamic');
    expect(after.applies).toBeGreaterThan(before.applies);
    expect(after.proxy.pid).toBe(before.proxy.pid);
    // Every request now goes to b.
    for (let i = 0; i < 5; i++) expect((await backendOf()).backend).toBe('b');
    expect((await status()).edge.upstreamNames?.[0]?.addresses).toEqual(['127.0.0.3']);
  });

  it('a removed record gives the offline page (503) at once, and 200 again once restored', async () => {
    const reload = t.gh.edge.getStatus().lastReload;
    await dns.setRecords({ 'other.names.test': ['127.0.0.9'] });
    const offline = await until(async () => {
      const r = await backendOf();
      return r.status === 503 ? r : undefined;
    }, 5000);
    expect(offline.body).toMatch(/app is offline/);
    const name = (await status()).edge.upstreamNames?.[0];
    expect(name).toMatchObject({ state: 'unresolved', addresses: [] });
    expect(name?.error).toMatch(/no such name/);
    // `gatehouse status`, as an operator runs it, says so too.
    const cli = await promisify(execFile)(process.execPath, [BIN, '--data-dir', t.dataDir, 'status'], {
      env: cleanEnv(),
    });
    expect(cli.stdout).toMatch(/UPSTREAM NAME: +app\.names\.test → nothing \(offline page\); .*no such name/);
    // Nothing of the old answer serves any more.
    for (let i = 0; i < 5; i++) expect((await backendOf()).status).toBe(503);

    await dns.setRecords({ 'app.names.test': ['127.0.0.2'] });
    await until(async () => ((await backendOf()).backend === 'a' ? true : undefined), 8000, 50);
    expect(t.gh.edge.getStatus().lastReload).toEqual(reload);
  });

  it('IP upstreams beside names are untouched', async () => {
    const put = await t.api('PUT', '/api/v1/services/mixed?wait=true', {
      hosts: ['mixed.test'],
      routes: [{ upstreams: [`127.0.0.3:${port}`] }],
    });
    expect(put.status).toBeLessThan(300);
    const r = await t.get('mixed.test');
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { backend: string }).backend).toBe('b');
  });

  it('a TCP route follows a name too (its stream pool changes with a reload)', async () => {
    const p = await freePort();
    const echo = (name: string, host: string) =>
      new Promise<Server>((resolve) => {
        const srv = createServer((sock) => sock.on('data', (d) => sock.write(`${name}:${String(d)}`)));
        srv.listen(p, host, () => resolve(srv));
      });
    const servers = [await echo('a', '127.0.0.2'), await echo('b', '127.0.0.3')];
    const talk = (port: number) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => sock.write('hi'));
        sock.once('data', (d) => {
          resolve(String(d));
          sock.destroy();
        });
        sock.once('error', reject);
        sock.once('close', () => reject(new Error('closed without an answer')));
        sock.setTimeout(3000, () => sock.destroy(new Error('timeout')));
      });
    try {
      await dns.setRecords({ 'db.names.test': ['127.0.0.2'], 'app.names.test': ['127.0.0.2'] });
      const listen = await freePort();
      const put = await t.api('PUT', '/api/v1/services/db?wait=true', {
        tcp: [{ port: listen, upstreams: [`db.names.test:${p}`] }],
      });
      expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
      await until(async () => ((await talk(listen).catch(() => '')) === 'a:hi' ? true : undefined), 5000);
      await dns.setRecords({ 'db.names.test': ['127.0.0.3'], 'app.names.test': ['127.0.0.2'] });
      await until(async () => ((await talk(listen).catch(() => '')) === 'b:hi' ? true : undefined), 5000);
      // Removed: no live peer, the connection is closed without reaching anything.
      await dns.setRecords({ 'app.names.test': ['127.0.0.2'] });
      await until(
        async () => ((await talk(listen).catch(() => 'refused')) === 'refused' ? true : undefined),
        5000,
      );
      expect(t.gh.edge.getStatus().lastError).toBeUndefined();
    } finally {
      for (const srv of servers) srv.close();
    }
  });

  it('after a restart, the first config already has the answer', async () => {
    await t.gh.close();
    const { settings, httpPort } = await loopbackSettings(t.dataDir, {
      admin_token: ADMIN_TOKEN,
      base_domain: 'gw.test',
      nginx_workers: 1,
      upstream_resolver: dns.server,
    });
    t.gh = await startGatehouse(settings, createLogger('silent'));
    // No wait: the name was resolved before nginx got its first config.
    const r = await http(httpPort, 'app.test');
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { backend: string }).backend).toBe('a');
    expect(t.gh.edge.getStatus().applies).toBe(1);
    // And it goes on following the record.
    await dns.setRecords({ 'app.names.test': ['127.0.0.3'] });
    await until(async () => {
      const x = await http(httpPort, 'app.test');
      return x.status === 200 && (JSON.parse(x.body) as { backend: string }).backend === 'b'
        ? true
        : undefined;
    }, 5000);
  });
});
