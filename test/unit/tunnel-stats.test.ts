import { describe, expect, it } from 'vitest';
import { nodeReportSchema } from '../../src/edge/nodes.js';
import { Metrics } from '../../src/observe/metrics.js';
import { silentLogger } from '../../src/observe/log.js';
import { createServer, type AddressInfo } from 'node:net';
import { parseWgDump, probe, PROBE_PORT, siteTargets, TunnelProber } from '../../src/vpn/latency.js';
import { REPORT_FORGET_MS, REPORT_STALE_MS, TunnelStats, tunnelReportSchema } from '../../src/vpn/stats.js';
import { TunnelWatch, type TunnelEvent } from '../../src/vpn/stats-watch.js';

const log = silentLogger();
const KEY_A = 'A'.repeat(43) + '=';
const KEY_B = 'B'.repeat(43) + '=';
const KEY_C = 'C'.repeat(43) + '=';

describe('tunnel figures: parsing', () => {
  it('a probe is answered by a closed port (a reset) as by an open one', async () => {
    const closed = await probe('127.0.0.1');
    expect(closed).toEqual(expect.any(Number));
    expect(closed).toBeLessThan(1000);
    const server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    expect(await probe('127.0.0.1', 1000, port)).toEqual(expect.any(Number));
    server.close();
    expect(PROBE_PORT).toBe(9);
  });

  it('reads `wg show dump`: handshake and bytes by public key, the interface line skipped', () => {
    const dump = [
      `privkey\t${KEY_A}\t51820\toff`,
      `${KEY_B}\t(none)\t198.18.1.2:40000\t100.96.0.3/32,192.168.77.0/24\t1765080000\t1234\t5678\t25`,
      `${KEY_C}\t(none)\t(none)\t100.96.0.4/32\t0\t0\t0\toff`,
      'garbage',
    ].join('\n');
    const m = parseWgDump(dump);
    expect([...m.keys()]).toEqual([KEY_B, KEY_C]);
    expect(m.get(KEY_B)).toEqual({ handshake: 1765080000, rx: 1234, tx: 5678 });
    expect(m.get(KEY_C)).toEqual({ handshake: 0, rx: 0, tx: 0 });
  });

  it('probes sites, not VPN clients', () => {
    const t = siteTargets({
      range: '100.96.0.0/24',
      hash: 'h',
      peers: [
        { site: 'home', publicKey: KEY_A, address: '100.96.0.3', subnets: [] },
        {
          site: 'client:phone',
          publicKey: KEY_B,
          address: '100.96.0.9',
          subnets: [],
          targets: { blocks: [], upstreams: [] },
        },
      ],
    } as never);
    expect(t).toEqual([{ address: '100.96.0.3', publicKey: KEY_A }]);
  });

  it("an edge's status report carries its tunnel figures; a bad one is refused at its field", () => {
    const ok = nodeReportSchema.safeParse({
      applied_hash: '',
      tunnel: { peers: [{ public_key: KEY_A, handshake: 1, rx: 2, tx: 3 }], probes: [] },
    });
    expect(ok.success).toBe(true);
    expect(nodeReportSchema.parse({ applied_hash: '' }).tunnel).toBeUndefined();
    const bad = nodeReportSchema.safeParse({
      applied_hash: '',
      tunnel: { probes: [{ address: '100.96.0.3', ms: -1, up: true }] },
    });
    expect(bad.error?.issues[0]?.path).toEqual(['tunnel', 'probes', 0, 'ms']);
  });

  it('refuses a report with a bad field, naming it', () => {
    const r = tunnelReportSchema.safeParse({ peers: [{ public_key: KEY_A, handshake: -1, rx: 0, tx: 0 }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues[0]?.path)).toBe('["peers",0,"handshake"]');
  });
});

describe('tunnel figures: the prober', () => {
  it('a site is up while it answered one of its last two probes', async () => {
    const answers: (number | undefined)[] = [1.5, undefined, undefined, 2.25];
    const reports: unknown[] = [];
    const p = new TunnelProber({
      targets: () => [{ address: '100.96.0.3', publicKey: KEY_A }],
      peers: async () => new Map([[KEY_A, { handshake: 100, rx: 1, tx: 2 }]]),
      report: (r) => reports.push(r),
      probe: async () => answers.shift(),
      log,
    });
    const ups = [];
    for (let i = 0; i < 4; i++) ups.push((await p.round())?.probes[0]);
    expect(ups).toEqual([
      { address: '100.96.0.3', ms: 1.5, up: true },
      { address: '100.96.0.3', ms: 1.5, up: true },
      { address: '100.96.0.3', ms: null, up: false },
      { address: '100.96.0.3', ms: 2.25, up: true },
    ]);
    expect(reports).toHaveLength(4);
    expect((await p.round())?.peers).toEqual([{ public_key: KEY_A, handshake: 100, rx: 1, tx: 2 }]);
  });
});

describe('tunnel figures: aggregation, transitions, metrics', () => {
  const home = { name: 'home', address: '100.96.0.3', public_key: KEY_A };
  const phone = { name: 'phone', public_key: KEY_B };

  it('combines edges: best latency, newest handshake, bytes summed; a silent edge goes stale', () => {
    let now = 1_765_080_000_000;
    const s = new TunnelStats(() => now);
    s.take('local', {
      peers: [{ public_key: KEY_A, handshake: now / 1000 - 10, rx: 100, tx: 200 }],
      probes: [{ address: home.address, ms: 3.5, up: true }],
    });
    s.take('vps', {
      peers: [
        { public_key: KEY_A, handshake: now / 1000 - 4, rx: 1, tx: 2 },
        { public_key: KEY_B, handshake: now / 1000 - 50, rx: 7, tx: 8 },
      ],
      probes: [{ address: home.address, ms: 1.25, up: true }],
    });
    const t = s.site(home);
    expect(t).toMatchObject({ up: true, latency_ms: 1.25, handshake_age_s: 4, rx_bytes: 101, tx_bytes: 202 });
    expect(t.edges.map((e) => e.edge)).toEqual(['local', 'vps']);
    expect(s.peerStats().get(KEY_A)).toEqual({ handshake: now / 1000 - 4, rx: 101, tx: 202 });
    now += REPORT_STALE_MS;
    const late = s.site(home);
    expect(late.up).toBe(false);
    expect(late.latency_ms).toBeNull();
    expect(s.peerStats().size).toBe(0);
    now += REPORT_FORGET_MS;
    expect(s.site(home).edges).toEqual([]);
  });

  it('tells up and down on transitions only, not on every look', async () => {
    const s = new TunnelStats();
    const events: TunnelEvent[] = [];
    const w = new TunnelWatch({
      stats: s,
      sites: async () => [home],
      clients: async () => [phone],
      event: (e) => events.push(e),
      log,
    });
    const report = (up: boolean, clientHs: number) =>
      s.take('vps', {
        peers: [{ public_key: KEY_B, handshake: clientHs, rx: 0, tx: 0 }],
        probes: [{ address: home.address, ms: up ? 2 : null, up }],
      });
    report(false, 0);
    await w.look();
    expect(events).toEqual([]);
    report(true, Math.floor(Date.now() / 1000));
    await w.look();
    await w.look();
    report(false, Math.floor(Date.now() / 1000));
    await w.look();
    await w.look();
    report(true, Math.floor(Date.now() / 1000) - 600);
    await w.look();
    expect(events).toEqual([
      { kind: 'tunnel_up', detail: 'site home via vps (2 ms)' },
      { kind: 'vpn_client_connected', detail: 'client phone' },
      { kind: 'tunnel_down', detail: 'site home via vps' },
      { kind: 'tunnel_up', detail: 'site home via vps (2 ms)' },
      { kind: 'vpn_client_idle', detail: 'client phone' },
    ]);
  });

  it('exposes the tunnel series with the site, client and edge labels', async () => {
    const now = Date.now();
    const s = new TunnelStats();
    s.take('vps', {
      peers: [
        { public_key: KEY_A, handshake: Math.floor(now / 1000) - 5, rx: 10, tx: 20 },
        { public_key: KEY_B, handshake: Math.floor(now / 1000) - 5, rx: 3, tx: 4 },
      ],
      probes: [{ address: home.address, ms: 1.5, up: true }],
    });
    const m = new Metrics();
    const { fillTunnelMetrics } = await import('../../src/vpn/stats-metrics.js');
    const sites = { list: async () => [home] } as never;
    const peer = s.peerStats().get(KEY_B);
    const clients = {
      list: async () => [
        {
          name: 'phone',
          last_handshake: new Date((peer?.handshake ?? 0) * 1000).toISOString(),
          rx_bytes: peer?.rx ?? 0,
          tx_bytes: peer?.tx ?? 0,
        },
      ],
    } as never;
    m.onScrape(() => fillTunnelMetrics(m, { tunnels: s, sites, clients }));
    const text = await m.text();
    expect(text).toContain('gatehouse_tunnel_up{site="home",edge="vps"} 1');
    expect(text).toContain('gatehouse_tunnel_latency_seconds{site="home",edge="vps"} 0.0015');
    expect(text).toMatch(/gatehouse_tunnel_handshake_age_seconds\{site="home",edge="vps"\} [4-7]/);
    expect(text).toContain('gatehouse_tunnel_bytes_total{site="home",edge="vps",direction="rx"} 10');
    expect(text).toContain('gatehouse_tunnel_bytes_total{client="phone",direction="tx"} 4');
    expect(text).toContain('gatehouse_vpn_clients_online 1');
  });
});
