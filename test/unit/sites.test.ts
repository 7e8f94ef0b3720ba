import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { firstFree, parseBlock } from '../../src/model/ipv4-block.js';
import { siteCreateSchema, subnetClashes, vpnRangeSchema } from '../../src/model/site.js';
import { loadSettings } from '../../src/model/settings.js';
import { generateKeyPair, publicKeyOf } from '../../src/vpn/keys.js';
import {
  edgeRoutes,
  edgeWgSpec,
  renderWgConfig,
  siteTunnelConfig,
  siteWgSpec,
  tunnelSection,
} from '../../src/vpn/wg-config.js';

const K = (c: string) => `${c.repeat(42)}A=`;

describe('sites: input', () => {
  it('refuses a bad CIDR, a host address and overlapping subnets, naming the field', () => {
    const bad = siteCreateSchema.safeParse({ name: 'home', subnets: ['192.168.1.0/24', '10.0.0.0/33'] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['subnets', 1]);
    const host = siteCreateSchema.safeParse({ name: 'home', subnets: ['192.168.1.7/24'] });
    expect(host.error?.issues[0]?.message).toMatch(/did you mean 192\.168\.1\.0\/24/);
    const overlap = siteCreateSchema.safeParse({ name: 'home', subnets: ['10.0.0.0/8', '10.1.0.0/16'] });
    expect(overlap.error?.issues[0]).toMatchObject({
      path: ['subnets', 1],
      message: '10.1.0.0/16 overlaps 10.0.0.0/8',
    });
    expect(siteCreateSchema.safeParse({ name: 'Home!' }).success).toBe(false);
    expect(siteCreateSchema.parse({ name: 'home' })).toEqual({
      name: 'home',
      subnets: [],
      site_to_site: false,
    });
  });

  it('refuses subnets overlapping the tunnel range or another site', () => {
    expect(subnetClashes(['100.96.0.128/25'], '100.96.0.0/24', [])).toEqual({
      field: 'subnets.0',
      message: '100.96.0.128/25 overlaps the tunnel range 100.96.0.0/24 (vpn_range)',
    });
    expect(
      subnetClashes(['192.168.2.0/24', '192.168.1.0/25'], '100.96.0.0/24', [
        { name: 'home', subnets: ['192.168.1.0/24'] },
      ]),
    ).toEqual({ field: 'subnets.1', message: '192.168.1.0/25 overlaps 192.168.1.0/24 of site home' });
    expect(
      subnetClashes(['192.168.2.0/24'], '100.96.0.0/24', [{ name: 'a', subnets: ['192.168.1.0/24'] }]),
    ).toBe(undefined);
  });

  it('vpn_range: a CGNAT /24 by default; a bad one refused by name', () => {
    expect(loadSettings({}, {}).vpn_range).toBe('100.96.0.0/24');
    expect(vpnRangeSchema.safeParse('100.64.0.0/31').success).toBe(false);
    expect(() => loadSettings({ vpn_range: '100.64.0.1/24' }, {})).toThrow(
      /--vpn-range: not a network address/,
    );
  });

  it('allocates the lowest free host address', () => {
    const r = parseBlock('100.96.0.0/30');
    if (!r) throw new Error('no block');
    expect(firstFree(r, new Set())).toBe('100.96.0.1');
    expect(firstFree(r, new Set(['100.96.0.1']))).toBe('100.96.0.2');
    expect(firstFree(r, new Set(['100.96.0.1', '100.96.0.2']))).toBe(undefined);
  });
});

describe('sites: keys', () => {
  it('a key pair as wg makes it (wg pubkey agrees, where wg is installed)', () => {
    const p = generateKeyPair();
    expect(p.privateKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(publicKeyOf(p.privateKey)).toBe(p.publicKey);
    if (spawnSync('sh', ['-c', 'command -v wg']).status === 0)
      expect(execFileSync('wg', ['pubkey'], { input: p.privateKey }).toString().trim()).toBe(p.publicKey);
  });
});

describe('sites: WireGuard config (pure)', () => {
  const section = tunnelSection('100.96.0.0/24', [
    { site: 'office', publicKey: K('B'), address: '100.96.0.3', subnets: ['10.20.0.0/16'] },
    { site: 'home', publicKey: K('A'), address: '100.96.0.2', subnets: ['192.168.1.0/24', '192.168.2.0/24'] },
  ]);

  it('a public edge: each site a peer with its address and subnets; routes for the subnets', () => {
    expect(renderWgConfig(edgeWgSpec(K('P'), 51820, section))).toBe(
      [
        '[Interface]',
        `PrivateKey = ${K('P')}`,
        'ListenPort = 51820',
        '',
        '[Peer]',
        `PublicKey = ${K('A')}`,
        'AllowedIPs = 100.96.0.2/32, 192.168.1.0/24, 192.168.2.0/24',
        '',
        '[Peer]',
        `PublicKey = ${K('B')}`,
        'AllowedIPs = 100.96.0.3/32, 10.20.0.0/16',
        '',
      ].join('\n'),
    );
    expect(edgeRoutes(section)).toEqual(['10.20.0.0/16', '192.168.1.0/24', '192.168.2.0/24']);
  });

  it('a site: each public edge at its endpoint, PersistentKeepalive 25', () => {
    const cfg = siteTunnelConfig({
      site: 'home',
      address: '100.96.0.2',
      range: '100.96.0.0/24',
      subnets: ['192.168.1.0/24'],
      edges: [{ node: 'vps', publicKey: K('E'), address: '100.96.0.1', endpoint: '198.51.100.10:51820' }],
    });
    expect(renderWgConfig(siteWgSpec(K('S'), cfg))).toBe(
      [
        '[Interface]',
        `PrivateKey = ${K('S')}`,
        '',
        '[Peer]',
        `PublicKey = ${K('E')}`,
        'AllowedIPs = 100.96.0.1/32',
        'Endpoint = 198.51.100.10:51820',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    );
  });

  it('the hash follows the content, not the order; a value that could break a line is refused', () => {
    const again = tunnelSection('100.96.0.0/24', [...section.peers].reverse());
    expect(again.hash).toBe(section.hash);
    expect(tunnelSection('100.96.1.0/24', section.peers).hash).not.toBe(section.hash);
    expect(() =>
      renderWgConfig({
        privateKey: K('P'),
        peers: [{ publicKey: `${K('A')}\nEndpoint = x`, allowedIps: [] }],
      }),
    ).toThrow(/cannot carry/);
  });
});
