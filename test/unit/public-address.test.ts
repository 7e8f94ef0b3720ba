import type { NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { askUrl, interfaceAddress, PublicAddress } from '../../src/dns/public-address.js';
import { parseAddressSource } from '../../src/model/public-address.js';
import { loadSettings } from '../../src/model/settings.js';
import { createLogger } from '../../src/observe/log.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { startServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const nic = (address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo =>
  ({
    address,
    family,
    netmask: '',
    mac: '',
    internal: false,
    cidr: null,
    scopeid: 0,
  }) as NetworkInterfaceInfo;

describe('public address: the setting', () => {
  it('reads off, interface:<name> and urls:<url>,...', () => {
    expect(parseAddressSource('off')).toEqual({ kind: 'off' });
    expect(parseAddressSource('interface:eth0')).toEqual({ kind: 'interface', name: 'eth0' });
    expect(parseAddressSource('urls:http://127.0.0.1:8080/ip, https://ip.example/')).toEqual({
      kind: 'urls',
      urls: ['http://127.0.0.1:8080/ip', 'https://ip.example/'],
    });
  });

  it('refuses anything else, naming the setting', () => {
    const load = (v: Record<string, unknown>) => () => loadSettings({ data_dir: '/tmp/x', ...v }, {});
    expect(load({ public_address_source: 'dhcp' })).toThrow(
      'setting --public-address-source: off, interface:<name> or urls:<url>[,<url>...]',
    );
    expect(load({ public_address_source: 'urls:ftp://x/' })).toThrow(
      'setting --public-address-source: urls: "ftp://x/" is not an http or https URL',
    );
    expect(load({ public_address_source: 'urls:' })).toThrow(/--public-address-source: urls: with 1 to 8/);
    expect(load({ public_address_source: 'interface:a very long name' })).toThrow(
      /--public-address-source: interface:<name>/,
    );
    expect(load({ public_address_interval: '500ms' })).toThrow(
      'setting --public-address-interval: from 1s to 1h',
    );
    const s = loadSettings({ data_dir: '/tmp/x' }, { GATEHOUSE_PUBLIC_ADDRESS_SOURCE: ' interface:wan0 ' });
    expect([s.public_address_source, s.public_address_interval]).toEqual(['interface:wan0', '30s']);
    expect(loadSettings({ data_dir: '/tmp/x' }, {}).public_address_source).toBe('off');
  });

  it("takes an interface's IPv4 address first, else one IPv6 that is not link-local", () => {
    const all = {
      a: [nic('fe80::1', 'IPv6'), nic('2001:DB8::7', 'IPv6'), nic('198.51.100.4', 'IPv4')],
      b: [nic('fe80::1', 'IPv6'), nic('2001:DB8::7', 'IPv6')],
      c: [nic('fe80::1', 'IPv6')],
    };
    expect(interfaceAddress('a', all)).toEqual({ address: '198.51.100.4', from: 'interface a' });
    expect(interfaceAddress('b', all)).toEqual({ address: '2001:db8::7', from: 'interface b' });
    expect(interfaceAddress('c', all)).toEqual({ problem: 'interface c: no address' });
    expect(interfaceAddress('d', all)).toEqual({ problem: 'interface d: not found' });
  });
});

describe('public address: one URL asked (a fake address service on loopback)', () => {
  it('takes a text answer that is an address, and says why it takes no other', async () => {
    const fake = await startServer((req, res) => {
      const answers: Record<string, string> = {
        '/v4': ' 203.0.113.5\r\n',
        '/v6': '2001:DB8::5',
        '/mapped': '::ffff:203.0.113.6',
        '/html': '<html><body>Your IP is 203.0.113.5</body></html>',
        '/long': '2'.repeat(100_000),
      };
      if (req.url === '/hang') return; // never answers
      const a = answers[req.url ?? ''];
      if (a === undefined) res.writeHead(404).end('no');
      else res.end(a);
    });
    const u = (path: string) => `http://127.0.0.1:${fake.port}${path}`;
    try {
      expect(await askUrl(u('/v4'), 1000)).toEqual({ address: '203.0.113.5', from: u('/v4') });
      expect(await askUrl(u('/v6'), 1000)).toEqual({ address: '2001:db8::5', from: u('/v6') });
      expect(await askUrl(u('/mapped'), 1000)).toMatchObject({ address: '203.0.113.6' });
      expect(await askUrl(u('/html'), 1000)).toEqual({
        problem: 'answered "<html><body>Your IP is 203.0.113.5</body…", not an IP address (ignored)',
      });
      expect(await askUrl(u('/long'), 1000)).toMatchObject({
        problem: expect.stringMatching(/^answered "2{40}…", not/),
      });
      expect(await askUrl(u('/gone'), 1000)).toEqual({ problem: 'answered HTTP 404' });
      const t0 = Date.now();
      expect(await askUrl(u('/hang'), 300)).toEqual({ problem: 'no answer in 0.3 s' });
      expect(Date.now() - t0).toBeLessThan(2000);
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 50);
      expect(await askUrl(u('/hang'), 5000, stop.signal)).toEqual({ problem: 'stopped' });
    } finally {
      await fake.close();
    }
    expect(await askUrl(u('/v4'), 1000)).toEqual({ problem: 'unreachable (ECONNREFUSED)' });
  });
});

describe('public address: the watcher', () => {
  let db: Db;
  let nics: Record<string, NetworkInterfaceInfo[]>;
  let events: string[];
  let running: PublicAddress[];
  const make = (intervalMs = 60_000) => {
    const p = new PublicAddress({
      source: 'interface:wan0',
      intervalMs,
      db,
      event: (kind, detail) => events.push(`${kind}: ${detail}`),
      log: createLogger('silent'),
      interfaces: () => nics,
    });
    running.push(p);
    return p;
  };

  beforeEach(async () => {
    db = await openDatabase(join(await testDir('public-address-'), 'gatehouse.db'));
    nics = { wan0: [nic('203.0.113.5', 'IPv4')] };
    events = [];
    running = [];
  });
  afterEach(async () => {
    for (const p of running) await p.stop();
    await db.destroy();
  });

  it('tells a change with the old and new address, and this node becomes a public edge at it', async () => {
    const p = make();
    let told = 0;
    p.onChange(() => told++);
    expect(p.status()).toBeUndefined();
    await p.start();
    await p.check();
    expect(await p.edges()).toEqual([{ role: 'public', address: '203.0.113.5', online: true }]);
    expect(events).toEqual([
      'public_address_changed: public address changed from none to 203.0.113.5 (interface wan0)',
    ]);
    nics.wan0 = [nic('203.0.113.9', 'IPv4')];
    await p.check();
    expect(events[1]).toBe(
      'public_address_changed: public address changed from 203.0.113.5 to 203.0.113.9 (interface wan0)',
    );
    expect(told).toBe(2);
    // The same again: nothing to tell.
    await p.check();
    expect(told).toBe(2);
    expect(p.status()).toMatchObject({
      source: 'interface:wan0',
      address: '203.0.113.9',
      from: 'interface wan0',
      ok: true,
      message: '',
    });
  });

  it('keeps the address it had when the interface has none, and says why', async () => {
    const p = make();
    await p.start();
    await p.check();
    nics = {};
    await p.check();
    expect(p.status()).toMatchObject({
      address: '203.0.113.5',
      ok: false,
      message: 'interface wan0: not found; kept 203.0.113.5',
    });
    expect(await p.edges()).toEqual([{ role: 'public', address: '203.0.113.5', online: true }]);
    expect(events).toHaveLength(1);
  });

  it('knows the old address after a restart (kept in the store)', async () => {
    const first = make();
    await first.start();
    await first.check();
    await first.stop();
    // Not watching (another replica leads): the stored address is this node's edge address.
    expect(await first.edges()).toEqual([{ role: 'public', address: '203.0.113.5', online: true }]);
    nics.wan0 = [nic('203.0.113.9', 'IPv4')];
    const second = make();
    await second.start();
    await second.check();
    expect(events.at(-1)).toBe(
      'public_address_changed: public address changed from 203.0.113.5 to 203.0.113.9 (interface wan0)',
    );
  });

  it('checks again every interval', async () => {
    const p = make(50);
    await p.start();
    nics.wan0 = [nic('203.0.113.9', 'IPv4')];
    const until = Date.now() + 2000;
    while (p.status()?.address !== '203.0.113.9' && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    expect(p.status()?.address).toBe('203.0.113.9');
  });
});
