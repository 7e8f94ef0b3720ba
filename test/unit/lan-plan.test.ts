import { describe, expect, it } from 'vitest';
import { lanAddresses, planLan, servedNames, type LanNode } from '../../src/dns/lan-plan.js';
import { serviceSchema, type Service } from '../../src/model/service.js';
import { loadSettings } from '../../src/model/settings.js';
import { GatehouseError } from '../../src/model/errors.js';
import { lanDnsServer } from '../../src/model/lan-dns-settings.js';

const svc = (o: Record<string, unknown>): Service =>
  serviceSchema.parse({ routes: [{ upstreams: ['127.0.0.1:9'] }], ...o });

const node = (o: Partial<LanNode>): LanNode => ({ name: 'n', role: 'lan', address: '', online: true, ...o });

describe('split horizon: what the LAN resolver answers', () => {
  it('hosts exposed to the LAN (lan, both, unset) get the LAN address; public-only ones are left alone', () => {
    const plan = planLan(
      [
        svc({ name: 'nas', hosts: ['nas.home.test'], expose: 'lan' }),
        svc({ name: 'cloud', hosts: ['Cloud.home.test', 'files.home.test'] }),
        svc({ name: 'blog', hosts: ['blog.home.test'], expose: 'public' }),
      ],
      ['192.168.1.10', 'fd00::10'],
      false,
    );
    expect(plan.records.map((r) => [r.name, r.service, r.a, r.aaaa])).toEqual([
      ['cloud.home.test', 'cloud', ['192.168.1.10'], ['fd00::10']],
      ['files.home.test', 'cloud', ['192.168.1.10'], ['fd00::10']],
      ['nas.home.test', 'nas', ['192.168.1.10'], ['fd00::10']],
    ]);
    expect(plan.skipped).toEqual([
      { name: 'blog.home.test', service: 'blog', reason: expect.stringContaining('publicly only') },
    ]);
  });

  it('answers public-only hosts too when the setting says so (one machine serving everything)', () => {
    const plan = planLan(
      [svc({ name: 'blog', hosts: ['blog.home.test'], expose: 'public' })],
      ['10.0.0.2'],
      true,
    );
    expect(plan.records.map((r) => r.name)).toEqual(['blog.home.test']);
    expect(plan.skipped).toEqual([]);
  });

  it('wildcards are marked, TLS routes add their SNI names, and no address means nothing answered', () => {
    const s = svc({
      name: 'apps',
      hosts: ['*.apps.home.test'],
      tcp: [{ port: 8883, upstreams: ['127.0.0.1:1883'], tls: 'terminate', sni: ['mqtt.home.test'] }],
    });
    expect(servedNames(s)).toEqual(['*.apps.home.test', 'mqtt.home.test']);
    const plan = planLan([s], ['10.0.0.2'], false);
    expect(plan.records.map((r) => [r.name, r.wildcard])).toEqual([
      ['*.apps.home.test', true],
      ['mqtt.home.test', false],
    ]);
    const none = planLan([s], [], false);
    expect(none.records).toEqual([]);
    expect(none.skipped.map((x) => x.reason)).toEqual([
      expect.stringContaining('no LAN address'),
      expect.stringContaining('no LAN address'),
    ]);
  });

  it('the LAN address: the setting, else the online lan nodes (IPv4-mapped addresses unwrapped)', () => {
    const nodes = [
      node({ name: 'vps', role: 'public', address: '203.0.113.5' }),
      node({ name: 'home', address: '::ffff:192.168.1.10' }),
      node({ name: 'old', address: '192.168.1.11', online: false }),
      node({ name: 'new', address: '' }),
    ];
    expect(lanAddresses(['10.9.9.9'], nodes)).toEqual({ addresses: ['10.9.9.9'], source: 'setting' });
    expect(lanAddresses(undefined, nodes)).toEqual({ addresses: ['192.168.1.10'], source: 'lan-nodes' });
    // None online: the last known ones rather than nothing.
    expect(lanAddresses(undefined, [nodes[2] as LanNode])).toEqual({
      addresses: ['192.168.1.11'],
      source: 'lan-nodes',
    });
    expect(lanAddresses(undefined, [nodes[0] as LanNode])).toEqual({ addresses: [], source: 'none' });
  });
});

describe('split horizon settings', () => {
  const refused = (flags: Record<string, unknown>): GatehouseError => {
    try {
      loadSettings(flags, {});
    } catch (err) {
      return err as GatehouseError;
    }
    throw new Error('accepted');
  };

  it('off by default; the address list and control endpoint are read and checked', () => {
    const s = loadSettings({}, {});
    expect(s.lan_dns).toBe('off');
    const u = loadSettings(
      {
        lan_dns: 'unbound',
        lan_dns_address: '192.168.1.10, fd00::10',
        lan_dns_unbound_control: '/run/ub.ctl',
      },
      {},
    );
    expect(u.lan_dns_address).toEqual(['192.168.1.10', 'fd00::10']);
    expect(u.lan_dns_unbound_control).toBe('/run/ub.ctl');
  });

  it('managed mode: the addresses it listens on, its upstreams, and where status asks it', () => {
    const s = loadSettings(
      {
        lan_dns: 'unbound',
        lan_dns_unbound_listen: '0.0.0.0@5353, ::1',
        lan_dns_forward: '192.168.1.1, 9.9.9.9@53',
      },
      {},
    );
    expect(s.lan_dns_unbound_listen).toEqual(['0.0.0.0@5353', '::1']);
    expect(s.lan_dns_forward).toEqual(['192.168.1.1', '9.9.9.9@53']);
    expect(lanDnsServer(s)).toBe('127.0.0.1:5353');
    expect(lanDnsServer({ lan_dns_unbound_listen: ['::1'] })).toBe('[::1]:53');
    expect(lanDnsServer({ lan_dns_server: '10.0.0.1:53', lan_dns_unbound_listen: ['::1'] })).toBe(
      '10.0.0.1:53',
    );
    expect(lanDnsServer({})).toBe('127.0.0.1:53');
  });

  it('bad values are refused with a 400 naming the setting', () => {
    for (const [flags, field] of [
      [{ lan_dns: 'bind' }, 'lan_dns'],
      [{ lan_dns: 'dnsmasq' }, 'lan_dns_dnsmasq_hostsdir'],
      [{ lan_dns_address: '192.168.1.300' }, 'lan_dns_address'],
      [{ lan_dns_unbound_control: 'localhost:8953' }, 'lan_dns_unbound_control'],
      [{ lan_dns_server: 'dns.example:53' }, 'lan_dns_server'],
      [{ lan_dns_dnsmasq_hostsdir: 'relative/dir' }, 'lan_dns_dnsmasq_hostsdir'],
      [{ lan_dns_unbound_listen: '127.0.0.1:53' }, 'lan_dns_unbound_listen'],
      [{ lan_dns_forward: '9.9.9.9@70000' }, 'lan_dns_forward'],
      [{ lan_dns_allow: '10.0.0.0/33' }, 'lan_dns_allow'],
    ] as const) {
      const err = refused(flags);
      expect(err.status, JSON.stringify(flags)).toBe(400);
      expect(err.code).toBe('setting_invalid');
      // A flag given is named as such (--lan-dns-address); a missing one by its setting's name.
      expect(err.message.replace(/-/g, '_'), err.message).toContain(field);
    }
  });
});
