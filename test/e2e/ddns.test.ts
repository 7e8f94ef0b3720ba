import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusView, type Status } from '../../src/api/views/index.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, startServer, until, type TestServer } from '../helpers/net.js';

const ZONE = 'ddns.test';
const root = resolve(import.meta.dirname, '..', '..');

/**
 * Dynamic DNS for real: a Gatehouse watching its public address through "what is my address" URLs
 * every second, with external records on and an RFC 2136 provider on a real BIND. The URLs are a
 * FAKE of such a service on loopback: its first URL always answers 503 (a dead service ahead in the
 * list), its second answers whatever the test sets, or garbage, or it is down altogether. What is
 * checked is what BIND answers, the events log and the status.
 */
describe('dynamic DNS: records follow the public address (fake address service, real BIND)', () => {
  let bind: Bind;
  let t: TestGatehouse;
  let fake: TestServer;
  let fakePort: number;
  let resolver: Resolver;
  /** What the fake's /ip answers. */
  let answer = '203.0.113.5';

  const startFake = async () => {
    fake = await startServer((req, res) => {
      if (req.url?.split('?')[0] === '/ip') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`${answer}\n`);
      } else {
        res.writeHead(503).end('down for maintenance');
      }
    }, fakePort);
  };
  const a = async (name: string) => (await resolver.resolve4(name).catch(() => [] as string[])).sort();
  const status = async (): Promise<Status> => statusView.parse((await t.api('GET', '/api/v1/status')).json);
  const pa = async () => (await status()).public_address;
  /** Waits for the next two checks (the watcher has looked again since now). */
  const twoChecks = async () => {
    const since = Date.now();
    await until(async () => {
      const s = await pa();
      return s?.checked_at && Date.parse(s.checked_at) > since + 1000 ? s : undefined;
    }, 10_000);
  };
  const changedEvents = async () =>
    ((await t.api('GET', '/api/v1/events?kind=public_address_changed')).json.events as { detail: string }[])
      .map((e) => e.detail)
      .sort();

  beforeAll(async () => {
    bind = await startBind(ZONE);
    resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([bind.server]);
    fakePort = await freePort();
    await startFake();
    t = await startTestGatehouse({
      dns_records: 'on',
      dns_records_ttl: 60,
      public_address_source: `urls:http://127.0.0.1:${fakePort}/first,http://127.0.0.1:${fakePort}/ip?key=secret`,
      public_address_interval: '1s',
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
    const s = await t.api('PUT', '/api/v1/services/app', {
      hosts: ['app.ddns.test'],
      routes: [{ upstreams: ['127.0.0.1:9'] }],
    });
    expect(s.status, s.body).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await bind?.close();
  });

  it('the records point at the address the fake answers; status says where it came from', async () => {
    await until(async () => JSON.stringify(await a('app.ddns.test')) === '["203.0.113.5"]', 10_000);
    const s = await pa();
    expect(s).toMatchObject({
      source: `urls:http://127.0.0.1:${fakePort}/first,http://127.0.0.1:${fakePort}/ip?key=secret`,
      address: '203.0.113.5',
      // The URL without its query (it may hold a token).
      from: `http://127.0.0.1:${fakePort}/ip`,
      ok: true,
      // The first URL failed, and status says so; the second answered.
      message: `http://127.0.0.1:${fakePort}/first: answered HTTP 503`,
    });
    expect(Date.now() - Date.parse(s?.checked_at ?? '')).toBeLessThan(5000);
    expect(await changedEvents()).toEqual([
      'public address changed from none to 203.0.113.5 (http://127.0.0.1:' + fakePort + '/ip)',
    ]);
  });

  it('the address changes: the A set follows within 60 s, the event has the old and the new', async () => {
    const since = Date.now();
    answer = '203.0.113.9';
    await until(async () => JSON.stringify(await a('app.ddns.test')) === '["203.0.113.9"]', 60_000, 100);
    const took = Date.now() - since;
    expect(took).toBeLessThan(60_000);
    // With a 1 s interval it is seen in about a second.
    expect(took).toBeLessThan(5000);
    expect(await changedEvents()).toContain(
      `public address changed from 203.0.113.5 to 203.0.113.9 (http://127.0.0.1:${fakePort}/ip)`,
    );
    expect(await pa()).toMatchObject({ address: '203.0.113.9', ok: true });
    const records = (await t.api('GET', '/api/v1/dns/records')).json as { target: unknown };
    expect(records.target).toEqual({ type: 'addresses', values: ['203.0.113.9'] });
  });

  it('an answer that is no address: records unchanged, status says why', async () => {
    answer = '<html>rate limited</html>';
    await twoChecks();
    const s = await pa();
    expect(s).toMatchObject({ address: '203.0.113.9', ok: false });
    expect(s?.message).toContain(
      `http://127.0.0.1:${fakePort}/ip: answered "<html>rate limited</html>", not an IP address (ignored)`,
    );
    expect(s?.message).toContain('kept 203.0.113.9');
    expect(await a('app.ddns.test')).toEqual(['203.0.113.9']);
    expect(await changedEvents()).toHaveLength(2);
  });

  it('the service down: records unchanged, retried until it answers again', async () => {
    await fake.close();
    answer = '203.0.113.7';
    await twoChecks();
    const s = await pa();
    expect(s).toMatchObject({ address: '203.0.113.9', ok: false });
    expect(s?.message).toMatch(
      /\/first: unreachable \(ECONNREFUSED\).*\/ip: unreachable \(ECONNREFUSED\); kept 203\.0\.113\.9$/,
    );
    expect(await a('app.ddns.test')).toEqual(['203.0.113.9']);
    // Back: the next check (retried every interval) reads the new address and the records follow.
    await startFake();
    await until(async () => JSON.stringify(await a('app.ddns.test')) === '["203.0.113.7"]', 10_000, 100);
    expect(await pa()).toMatchObject({ address: '203.0.113.7', ok: true });
    expect(await changedEvents()).toContain(
      `public address changed from 203.0.113.9 to 203.0.113.7 (http://127.0.0.1:${fakePort}/ip)`,
    );
  });

  it('`gatehouse status` shows the public address', async () => {
    const r = await cli('status');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      new RegExp(`public address: +203\\.0\\.113\\.7 \\(http://127\\.0\\.0\\.1:${fakePort}/ip\\), checked `),
    );
  });

  it('a bad source is refused at start, naming the setting', async () => {
    await expect(
      startTestGatehouse({ public_address_source: 'urls:file:///etc/passwd' }),
    ).rejects.toMatchObject({
      status: 400,
      message: 'setting --public-address-source: urls: "file:///etc/passwd" is not an http or https URL',
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
