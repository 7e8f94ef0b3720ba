import { execFile, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lanDnsView, type LanDnsView } from '../../src/api/views/index.js';
import { GatehouseError } from '../../src/model/errors.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startDnsmasq, startUnbound, type TestDnsmasq, type TestUnbound } from '../helpers/lan-resolvers.js';
import { freePort, json, until } from '../helpers/net.js';
import { alive } from '../helpers/gatehouse.js';

/** The LAN edge's address LAN clients are to be given (data only: nothing listens there). */
const LAN = '192.168.50.10';
const UPSTREAM = ['127.0.0.1:9'];
/** A lan edge node's address as the control plane sees it connect (loopback in these tests). */
const NODE = '127.0.0.1';

/** `dig +short` against the resolver, as an operator would check it. */
function dig(server: string, name: string): Promise<string[]> {
  const [host, port] = server.split(':') as [string, string];
  return new Promise((done, fail) =>
    execFile('dig', ['+short', '+time=1', '+tries=1', `@${host}`, '-p', port, name, 'A'], (err, out) =>
      err ? fail(err) : done(out.split('\n').filter(Boolean)),
    ),
  );
}

/** Milliseconds until `name` answers `want` (an empty list: answers nothing); fails past 1 s. */
async function answersWithin(ask: (n: string) => Promise<string[]>, name: string, want: string[]) {
  const t0 = Date.now();
  await until(async () => ((await ask(name)).join(' ') === want.join(' ') ? true : undefined), 1000, 10);
  return Date.now() - t0;
}

describe('split horizon on a real Unbound (driven over unbound-control)', () => {
  let ub: TestUnbound;
  let t: TestGatehouse;

  beforeAll(async () => {
    ub = await startUnbound();
    t = await startTestGatehouse({
      lan_dns: 'unbound',
      lan_dns_address: LAN,
      lan_dns_server: ub.server,
      lan_dns_unbound_control: ub.control,
      lan_dns_check_interval: '1s',
    });
  });
  afterAll(async () => {
    await t?.close();
    await ub?.close();
  });

  it('a service exposed to the LAN resolves to the LAN edge within 1 s; a public-only one is not answered', async () => {
    expect(await ub.ask('nas.home.test')).toEqual([]);
    const put = await t.api('PUT', '/api/v1/services/nas', {
      hosts: ['nas.home.test'],
      routes: [{ upstreams: UPSTREAM }],
      expose: 'lan',
    });
    expect(put.status).toBe(201);
    await answersWithin(ub.ask, 'nas.home.test', [LAN]);
    expect(await dig(ub.server, 'nas.home.test')).toEqual([LAN]);

    await t.api('PUT', '/api/v1/services/blog', {
      hosts: ['blog.home.test'],
      routes: [{ upstreams: UPSTREAM }],
      expose: 'public',
    });
    await t.api('PUT', '/api/v1/services/apps', {
      hosts: ['*.apps.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    await answersWithin(ub.ask, 'anything.apps.home.test', [LAN]);
    expect(await ub.ask('blog.home.test')).toEqual([]);

    // The answer is the view the OpenAPI document names (LanDns), with hosts in it.
    const status = lanDnsView.parse((await t.api('GET', '/api/v1/dns/lan')).json);
    expect(status).toMatchObject({
      mode: 'unbound',
      addresses: [LAN],
      address_source: 'setting',
      in_sync: true,
    });
    expect(status.hosts.map((h) => [h.name, h.answered, h.ok])).toEqual([
      ['*.apps.home.test', [LAN], true],
      ['nas.home.test', [LAN], true],
    ]);
    expect(status.skipped).toEqual([
      { name: 'blog.home.test', service: 'blog', reason: expect.stringContaining('publicly only') },
    ]);
  });

  it('a service turned public-only or removed stops answering within 1 s', async () => {
    await t.api('PUT', '/api/v1/services/nas', {
      hosts: ['nas.home.test'],
      routes: [{ upstreams: UPSTREAM }],
      expose: 'public',
    });
    await answersWithin(ub.ask, 'nas.home.test', []);
    expect((await t.api('DELETE', '/api/v1/services/apps')).status).toBe(200);
    await answersWithin(ub.ask, 'anything.apps.home.test', []);
    await t.api('PUT', '/api/v1/services/nas', {
      hosts: ['nas.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    await answersWithin(ub.ask, 'nas.home.test', [LAN]);
  });

  it('a restarted Unbound (its local data gone) is given the records again', async () => {
    await ub.restart();
    expect(await ub.ask('nas.home.test')).toEqual([]);
    // The next check (lan_dns_check_interval: 1s) finds it empty and pushes again.
    await until(async () => ((await ub.ask('nas.home.test')).join() === LAN ? true : undefined), 5000, 50);
    const status = (await t.api('GET', '/api/v1/dns/lan')).json as unknown as LanDnsView;
    expect(status.in_sync).toBe(true);
    expect(status.last_error).toBeNull();
  });

  it('an Unbound that is down is reported in status, and the registry still takes writes', async () => {
    await ub.close();
    const put = await t.api('PUT', '/api/v1/services/wiki', {
      hosts: ['wiki.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    expect(put.status).toBe(201);
    const down = await until(async () => {
      const s = (await t.api('GET', '/api/v1/dns/lan')).json as unknown as LanDnsView;
      return s.last_error ? s : undefined;
    }, 5000);
    expect(down.in_sync).toBe(false);
    expect(down.last_error?.message).toMatch(/unbound-control .* at .*control\.sock/);
    // Back: the next check fills it, the new service included.
    await ub.restart();
    await until(async () => ((await ub.ask('wiki.home.test')).join() === LAN ? true : undefined), 5000, 50);
    expect(await ub.ask('nas.home.test')).toEqual([LAN]);
  });

  it('gatehouse dns lan shows each host, what it should answer and what it answers', async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((done) => {
      const root = resolve(import.meta.dirname, '..', '..');
      const p = spawn(process.execPath, [
        join(root, 'bin', 'gatehouse.js'),
        ...['--api', `http://127.0.0.1:${t.apiPort}`, '--token', ADMIN_TOKEN, 'dns', 'lan', '--sync'],
      ]);
      let stdout = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.on('close', (code) => done({ code, stdout }));
    });
    expect(out.code, out.stdout).toBe(0);
    expect(out.stdout).toMatch(/resolver: +unbound/);
    expect(out.stdout).toMatch(/nas\.home\.test +nas +192\.168\.50\.10 +192\.168\.50\.10 +yes/);
    expect(out.stdout).toMatch(/blog\.home\.test +blog +exposed publicly only/);
  });
});

describe('split horizon on a real dnsmasq (a hosts file in its --hostsdir)', () => {
  let dm: TestDnsmasq;
  let t: TestGatehouse;

  beforeAll(async () => {
    dm = await startDnsmasq();
    // No lan_dns_address: the address is the lan edge node's, as it connects.
    t = await startTestGatehouse({
      lan_dns: 'dnsmasq',
      lan_dns_server: dm.server,
      lan_dns_dnsmasq_hostsdir: dm.hostsDir,
      lan_dns_check_interval: '1s',
    });
  });
  afterAll(async () => {
    await t?.close();
    await dm?.close();
  });

  it("the LAN address is the lan edge node's (a public edge's is not); none known → nothing answered", async () => {
    await t.api('PUT', '/api/v1/services/nas', {
      hosts: ['nas.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    const none = (await t.api('GET', '/api/v1/dns/lan')).json as unknown as LanDnsView;
    expect(none.address_source).toBe('none');
    expect(none.skipped).toEqual([
      { name: 'nas.home.test', service: 'nas', reason: expect.stringContaining('no LAN address') },
    ]);
    // Two edges ask for their config from 127.0.0.1: a public one first, then a LAN one.
    const asEdge = async (name: string, role: string) => {
      const node = await t.api('POST', '/api/v1/nodes', { name, role });
      expect(node.status).toBe(201);
      const asked = await json(t.apiPort, 'GET', '/edge/v1/config', undefined, {
        authorization: `Bearer ${String(node.json.token)}`,
      });
      expect(asked.status).toBe(200);
    };
    await asEdge('vps', 'public');
    const synced = lanDnsView.parse((await t.api('POST', '/api/v1/dns/lan/sync')).json);
    expect(synced.address_source).toBe('none');
    expect(await dm.ask('nas.home.test')).toEqual([]);
    await asEdge('home', 'lan');
    // The next check (1 s) finds the LAN node's address.
    await until(async () => ((await dm.ask('nas.home.test')).join() === NODE ? true : undefined), 5000, 50);
    const status = (await t.api('GET', '/api/v1/dns/lan')).json as unknown as LanDnsView;
    expect(status).toMatchObject({ addresses: [NODE], address_source: 'lan-nodes', in_sync: true });
  });

  it('added → answered within 1 s; public-only → not answered; removed → gone', async () => {
    await t.api('PUT', '/api/v1/services/wiki', {
      hosts: ['wiki.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    await answersWithin(dm.ask, 'wiki.home.test', [NODE]);
    expect(await dig(dm.server, 'wiki.home.test')).toEqual([NODE]);
    await t.api('PUT', '/api/v1/services/blog', {
      hosts: ['blog.home.test'],
      routes: [{ upstreams: UPSTREAM }],
      expose: 'public',
    });
    await t.api('PUT', '/api/v1/services/apps', {
      hosts: ['*.apps.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    const status = await until(async () => {
      const s = (await t.api('GET', '/api/v1/dns/lan')).json as unknown as LanDnsView;
      return s.skipped.length === 2 ? s : undefined;
    });
    expect(status.in_sync).toBe(true);
    expect(status.hosts.map((h) => [h.name, h.answered])).toEqual([
      ['nas.home.test', [NODE]],
      ['wiki.home.test', [NODE]],
    ]);
    // dnsmasq's hosts files hold no wildcards: said so, not silently dropped.
    expect(status.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['*.apps.home.test', expect.stringContaining('no wildcards')],
      ['blog.home.test', expect.stringContaining('publicly only')],
    ]);
    expect(await dm.ask('blog.home.test')).toEqual([]);
    expect((await t.api('DELETE', '/api/v1/services/wiki')).status).toBe(200);
    await answersWithin(dm.ask, 'wiki.home.test', []);
    expect(await dm.ask('nas.home.test')).toEqual([NODE]);
  });
});

describe('split horizon on an Unbound Gatehouse runs itself (managed mode)', () => {
  let dm: TestDnsmasq;
  let t: TestGatehouse | undefined;
  let ask: (name: string) => Promise<string[]>;

  beforeAll(async () => {
    // dnsmasq stands for the upstream resolver the managed Unbound forwards to.
    dm = await startDnsmasq();
    const port = await freePort();
    t = await startTestGatehouse({
      lan_dns: 'unbound',
      lan_dns_address: LAN,
      lan_dns_unbound_listen: `127.0.0.1@${port}`,
      lan_dns_forward: dm.server.replace(':', '@'),
      lan_dns_check_interval: '1s',
    });
    const r = new Resolver({ timeout: 500, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    ask = (name) => r.resolve4(name).catch(() => []);
  });
  afterAll(async () => {
    await t?.close();
    await dm?.close();
  });

  it('answers served hosts, forwards the rest, comes back filled after it dies, and stops with Gatehouse', async () => {
    const gh = t as TestGatehouse;
    await gh.api('PUT', '/api/v1/services/nas', {
      hosts: ['nas.home.test'],
      routes: [{ upstreams: UPSTREAM }],
    });
    await answersWithin(ask, 'nas.home.test', [LAN]);
    // Everything else goes to the upstream as usual.
    expect(await ask('probe.upstream.example')).toEqual(['127.0.0.9']);
    const status = lanDnsView.parse((await gh.api('GET', '/api/v1/dns/lan')).json);
    expect(status.in_sync).toBe(true);
    expect(status.managed).toMatchObject({ running: true, restarts: 0 });
    const pid = status.managed?.pid as number;
    expect(alive(pid)).toBe(true);

    process.kill(pid, 'SIGKILL');
    await until(
      async () => {
        const s = lanDnsView.parse((await gh.api('GET', '/api/v1/dns/lan')).json);
        return s.managed?.restarts === 1 && s.in_sync ? s : undefined;
      },
      5000,
      50,
    );
    expect(await ask('nas.home.test')).toEqual([LAN]);
    const again = lanDnsView.parse((await gh.api('GET', '/api/v1/dns/lan')).json).managed?.pid as number;
    expect(again).not.toBe(pid);

    await gh.close();
    t = undefined;
    expect(alive(again)).toBe(false);
  });
});

describe('a managed Unbound that cannot start', () => {
  it('leaves Gatehouse running and says why in status', async () => {
    // Its port is taken (by a dnsmasq).
    const dm = await startDnsmasq();
    const t = await startTestGatehouse({
      lan_dns: 'unbound',
      lan_dns_address: LAN,
      lan_dns_unbound_listen: dm.server.replace(':', '@'),
      lan_dns_check_interval: '1s',
    });
    try {
      const put = await t.api('PUT', '/api/v1/services/nas', {
        hosts: ['nas.home.test'],
        routes: [{ upstreams: UPSTREAM }],
      });
      expect(put.status).toBe(201);
      // Its failed start is known once Unbound gave up (slower on a busy machine).
      const s = await until(async () => {
        const v = lanDnsView.parse((await t.api('GET', '/api/v1/dns/lan')).json);
        return v.managed?.error && v.last_error ? v : undefined;
      }, 15_000);
      expect(s.in_sync).toBe(false);
      expect(s.managed?.running).toBe(false);
      expect(s.managed?.error).toMatch(/Unbound did not start: .*(address already in use|could not open)/i);
      expect(s.last_error?.message).toMatch(/unbound-control/);
    } finally {
      await t.close();
      await dm.close();
    }
  });
});

describe('split horizon settings', () => {
  it('bad ones are refused before anything starts, with a 400 naming the setting', async () => {
    for (const [extra, field] of [
      [{ lan_dns: 'dnsmasq' }, 'lan_dns_dnsmasq_hostsdir'],
      [{ lan_dns: 'unbound', lan_dns_unbound_control: 'localhost:8953' }, 'lan-dns-unbound-control'],
      [{ lan_dns: 'unbound', lan_dns_address: 'nas.home' }, 'lan-dns-address'],
      [{ lan_dns: 'unbound', lan_dns_unbound_listen: '127.0.0.1:53' }, 'lan-dns-unbound-listen'],
    ] as const) {
      const err = (await startTestGatehouse(extra).catch((e: unknown) => e)) as GatehouseError;
      expect(err).toBeInstanceOf(GatehouseError);
      expect(err.status).toBe(400);
      expect(err.message).toContain(field);
    }
  });
});
