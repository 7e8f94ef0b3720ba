import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/model/settings.js';
import { parseContainer, VPN_RANGES, vpnOnlySources } from '../../src/sources/docker/labels.js';
import { covers, labelFacts as facts } from '../helpers/dockerd.js';

const noFile = () => '';
const on = { 'gatehouse.enable': 'true', 'gatehouse.port': '80', 'gatehouse.domain': 'a.example.com' };

describe('vpn-only sources (vpn_only_sources, vpn_only_extra)', () => {
  it('default: only vpn_range (issue 16); private: every private range, as before; extras are added', () => {
    const s = loadSettings({}, {}, noFile);
    expect(s.vpn_only_sources).toBe('vpn');
    expect(vpnOnlySources(s)).toEqual([s.vpn_range]);
    const p = loadSettings({ vpn_only_sources: 'private' }, {}, noFile);
    expect(vpnOnlySources(p)).toEqual(VPN_RANGES);
    const x = loadSettings(
      { vpn_only_sources: 'private' },
      { GATEHOUSE_VPN_ONLY_EXTRA: '203.0.113.0/24' },
      noFile,
    );
    expect(vpnOnlySources(x)).toEqual([...VPN_RANGES, '203.0.113.0/24']);
  });

  it('vpn: only vpn_range (clients and sites) and the extra CIDRs', () => {
    const s = loadSettings(
      { vpn_only_sources: 'vpn', vpn_range: '100.80.0.0/16', vpn_only_extra: '192.168.1.0/24, 127.0.0.2/32' },
      {},
      noFile,
    );
    const sources = vpnOnlySources(s);
    expect(sources).toEqual(['100.80.0.0/16', '192.168.1.0/24', '127.0.0.2/32']);
    const r = parseContainer(facts({ ...on, 'gatehouse.access': 'vpn-only' }), { vpnOnly: sources });
    expect(r.problems).toEqual([]);
    expect(r.services[0]?.access).toEqual({ ip: sources });
    // With sign-in: a deny rule for every address outside them, checked first.
    const both = parseContainer(
      facts({ ...on, 'gatehouse.access': 'vpn-only', 'gatehouse.auth': 'required' }),
      {
        vpnOnly: sources,
      },
    );
    const denied = both.services[0]?.access?.rules?.flatMap((rule) => rule.cidr ?? []) ?? [];
    expect(covers(denied, '10.1.2.3')).toBe(true);
    expect(covers(denied, '192.168.2.1')).toBe(true);
    expect(covers(denied, '100.80.3.4')).toBe(false);
    expect(covers(denied, '192.168.1.9')).toBe(false);
    expect(covers(denied, '127.0.0.2')).toBe(false);
  });

  it('bad values are refused naming the setting', () => {
    expect(() => loadSettings({ vpn_only_sources: 'lan' }, {}, noFile)).toThrow(/vpn-only-sources/);
    expect(() => loadSettings({ vpn_only_extra: '10.0.0.0/33' }, {}, noFile)).toThrow(/vpn-only-extra/);
    expect(() => loadSettings({ control_url: 'cp.example.com' }, {}, noFile)).toThrow(/control-url/);
    expect(loadSettings({ control_url: 'https://cp.example.com:7070' }, {}, noFile).control_url).toBe(
      'https://cp.example.com:7070',
    );
  });
});
