import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderClientTable } from '../../src/vpn/clients-nft.js';
import { tunnelSection } from '../../src/vpn/wg-config.js';

const section = tunnelSection('100.96.0.0/24', [
  { site: 'home', publicKey: 'k1', address: '100.96.0.2', subnets: ['192.168.77.0/24'] },
  {
    site: 'client:laptop',
    publicKey: 'k2',
    address: '100.96.0.3',
    subnets: [],
    targets: { blocks: [], upstreams: [{ ip: '10.1.0.5', port: 8080 }] },
  },
  {
    site: 'client:ops',
    publicKey: 'k3',
    address: '100.96.0.4',
    subnets: [],
    targets: { blocks: ['100.96.0.0/24', '192.168.77.0/24'], ports: [{ from: 22, to: 22 }], upstreams: [] },
  },
  {
    site: 'client:admin',
    publicKey: 'k4',
    address: '100.96.0.5',
    subnets: [],
    targets: { blocks: ['100.96.0.0/24'], upstreams: [] },
  },
]);

describe('VPN clients: the server-side nftables table', () => {
  it('admits per client only what its policy allows, then drops the rest from the clients (sites untouched)', () => {
    const text = renderClientTable('gh-edge0', section);
    const forward = text.slice(text.indexOf('chain forward'));
    expect(forward).toContain(
      'iifname "gh-edge0" ip saddr 100.96.0.3 ip daddr 10.1.0.5 tcp dport 8080 accept',
    );
    expect(forward).toContain(
      'iifname "gh-edge0" ip saddr 100.96.0.4 ip daddr { 100.96.0.0/24, 192.168.77.0/24 } tcp dport { 22 } accept',
    );
    expect(forward).toContain('iifname "gh-edge0" ip saddr 100.96.0.5 ip daddr { 100.96.0.0/24 } accept');
    expect(forward).toContain('iifname "gh-edge0" ip saddr { 100.96.0.5, 100.96.0.3, 100.96.0.4 } drop');
    expect(text).not.toContain('100.96.0.2');
    expect(text.indexOf('drop')).toBeGreaterThan(text.indexOf('tcp dport 8080 accept'));
    expect(
      text.startsWith('table inet gatehouse_vpn_gh_edge0 {}\ndelete table inet gatehouse_vpn_gh_edge0\n'),
    ).toBe(true);
  });

  it('refuses a value that is not an address', () => {
    const bad = tunnelSection('100.96.0.0/24', [
      {
        site: 'client:x',
        publicKey: 'k',
        address: '100.96.0.3; drop',
        subnets: [],
        targets: { blocks: [], upstreams: [] },
      },
    ]);
    expect(() => renderClientTable('gh0', bad)).toThrow(/not an IPv4 address/);
  });

  it('nft accepts it (check mode, where nft can run)', () => {
    const probe = spawnSync('nft', ['-c', '-f', '-'], { input: 'table inet gh_probe {}\n' });
    if (probe.error || probe.status !== 0) return;
    const r = spawnSync('nft', ['-c', '-f', '-'], { input: renderClientTable('gh-edge0', section) });
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
  });
});
