import { describe, expect, it } from 'vitest';
import {
  desiredRecords,
  ownerName,
  ownerValue,
  ownership,
  planHost,
  recordTarget,
  sameSet,
  type ActualHost,
} from '../../src/dns/record-plan.js';
import type { RecordSet } from '../../src/dns/records.js';
import { loadSettings } from '../../src/model/settings.js';

const ID = 'gh-0123456789abcdef';
const A = (name: string, ...values: string[]): RecordSet => ({ name, type: 'A', ttl: 300, values });
const mark = (host: string, id = ID): RecordSet => ({
  name: ownerName(host),
  type: 'TXT',
  ttl: 300,
  values: [ownerValue(id)],
});
const none: ActualHost = { sets: [], owner: { state: 'none' } };
const ours = (...sets: RecordSet[]): ActualHost => ({ sets, owner: { state: 'ours' } });
const target = { kind: 'addresses' as const, v4: ['192.0.2.10'], v6: [] };

describe('external records: the target', () => {
  it('is dns_records_target when set: addresses split by family, one host name a CNAME', () => {
    expect(recordTarget(['192.0.2.2', '2001:DB8:0:0::1', '192.0.2.1'], [])).toEqual({
      kind: 'addresses',
      v4: ['192.0.2.1', '192.0.2.2'],
      v6: ['2001:db8::1'],
    });
    expect(recordTarget(['edge.example.net'], [])).toEqual({ kind: 'cname', host: 'edge.example.net' });
  });

  it("is otherwise the public edges' addresses: online ones, else every known one; LAN edges never", () => {
    const edges = [
      { role: 'public', address: '::ffff:198.51.100.1', online: true },
      { role: 'public', address: '198.51.100.2', online: false },
      { role: 'lan', address: '10.0.0.5', online: true },
      { role: 'public', address: '', online: false },
    ];
    expect(recordTarget([], edges)).toEqual({ kind: 'addresses', v4: ['198.51.100.1'], v6: [] });
    const offline = edges.map((e) => ({ ...e, online: false }));
    expect(recordTarget([], offline)).toEqual({
      kind: 'addresses',
      v4: ['198.51.100.1', '198.51.100.2'],
      v6: [],
    });
    expect(recordTarget([], [])).toBeUndefined();
  });
});

describe('external records: desired sets', () => {
  const services = [
    { name: 'web', hosts: ['Web.ext.test', 'www.ext.test'], expose: 'both' as const },
    { name: 'api', hosts: ['api.sub.ext.test'], expose: 'public' as const },
    { name: 'nas', hosts: ['nas.ext.test'], expose: 'lan' as const },
    { name: 'other', hosts: ['x.elsewhere.test'] },
    { name: 'wild', hosts: ['*.apps.ext.test'] },
    { name: 'web2', hosts: ['web.ext.test'] },
  ];

  it('covers hosts public edges serve in a zone held by a provider, the longest zone winning', () => {
    const d = desiredRecords(services, target, 300, ['ext.test', 'sub.ext.test']);
    expect([...d.keys()].sort()).toEqual([
      '*.apps.ext.test',
      'api.sub.ext.test',
      'web.ext.test',
      'www.ext.test',
    ]);
    expect(d.get('web.ext.test')).toEqual({
      host: 'web.ext.test',
      zone: 'ext.test',
      services: ['web', 'web2'],
      sets: [A('web.ext.test', '192.0.2.10')],
    });
    expect(d.get('api.sub.ext.test')?.zone).toBe('sub.ext.test');
    expect(d.get('*.apps.ext.test')?.sets).toEqual([A('*.apps.ext.test', '192.0.2.10')]);
  });

  it('gives A and AAAA sets for addresses, a CNAME for a host name (never at the apex)', () => {
    const both = desiredRecords(
      [{ name: 's', hosts: ['a.ext.test'] }],
      { kind: 'addresses', v4: ['192.0.2.1'], v6: ['2001:db8::1'] },
      60,
      ['ext.test'],
    );
    expect(both.get('a.ext.test')?.sets.map((s) => s.type)).toEqual(['A', 'AAAA']);
    const cname = desiredRecords(
      [{ name: 's', hosts: ['a.ext.test', 'ext.test'] }],
      { kind: 'cname', host: 'edge.example.net' },
      60,
      ['ext.test'],
    );
    expect(cname.get('a.ext.test')?.sets).toEqual([
      { name: 'a.ext.test', type: 'CNAME', ttl: 60, values: ['edge.example.net'] },
    ]);
    expect(cname.get('ext.test')?.problem).toMatch(/zone apex/);
  });

  it('names the problem when there is nothing to point at', () => {
    const d = desiredRecords([{ name: 's', hosts: ['a.ext.test'] }], undefined, 60, ['ext.test']);
    expect(d.get('a.ext.test')).toMatchObject({
      sets: [],
      problem: expect.stringMatching(/dns_records_target/),
    });
  });
});

describe('external records: ownership and the plan', () => {
  const d = desiredRecords([{ name: 's', hosts: ['app.ext.test'] }], target, 300, ['ext.test']).get(
    'app.ext.test',
  );

  it('marks a wildcard beside it, since "*" is only a wildcard as the first label', () => {
    expect(ownerName('app.ext.test')).toBe('_gatehouse.app.ext.test');
    expect(ownerName('*.apps.ext.test')).toBe('_gatehouse-wildcard.apps.ext.test');
  });

  it('reads the mark: ours, another installation, or none', () => {
    expect(ownership([ownerValue(ID)], ID)).toEqual({ state: 'ours' });
    expect(ownership(['v=spf1 -all', ownerValue('gh-other')], ID)).toEqual({
      state: 'other',
      owner: 'gh-other',
    });
    expect(ownership(['heritage=external-dns,owner=x'], ID)).toEqual({ state: 'none' });
  });

  it('creates on a free name: the mark and the sets', () => {
    expect(planHost('app.ext.test', d, none, ID, 300)).toEqual({
      state: 'write',
      action: 'create',
      steps: [
        { op: 'put', set: mark('app.ext.test') },
        { op: 'put', set: A('app.ext.test', '192.0.2.10') },
      ],
    });
    // A zone wildcard's answer is not a record of the host.
    const wildcard = {
      sets: [A('app.ext.test', '127.0.0.1')],
      owner: { state: 'none' as const },
      synthesized: true,
    };
    expect(planHost('app.ext.test', d, wildcard, ID, 300)).toMatchObject({
      state: 'write',
      action: 'create',
    });
    // A create of its own cut short (the set written, the mark not): finished.
    const halfway = {
      sets: [A('app.ext.test', '192.0.2.10')],
      owner: { state: 'none' as const },
      tracked: true,
    };
    expect(planHost('app.ext.test', d, halfway, ID, 300)).toMatchObject({ state: 'write', action: 'create' });
  });

  it('never touches a set it did not mark: a conflict when wanted, nothing when not', () => {
    const foreign = { sets: [A('app.ext.test', '203.0.113.9')], owner: { state: 'none' as const } };
    expect(planHost('app.ext.test', d, foreign, ID, 300)).toEqual({
      state: 'conflict',
      reason: 'A 203.0.113.9 exists, not created by Gatehouse',
    });
    expect(planHost('app.ext.test', undefined, foreign, ID, 300)).toEqual({ state: 'ok' });
    const other = {
      sets: [A('app.ext.test', '192.0.2.10')],
      owner: { state: 'other' as const, owner: 'gh-b' },
    };
    expect(planHost('app.ext.test', d, other, ID, 300)).toMatchObject({ state: 'conflict' });
    expect(planHost('app.ext.test', undefined, other, ID, 300)).toEqual({ state: 'ok' });
  });

  it('changes its own sets when the target changes, other types removed first; ok when equal', () => {
    expect(planHost('app.ext.test', d, ours(A('app.ext.test', '192.0.2.10')), ID, 300)).toEqual({
      state: 'ok',
    });
    expect(planHost('app.ext.test', d, ours(A('app.ext.test', '192.0.2.99')), ID, 300)).toEqual({
      state: 'write',
      action: 'change',
      steps: [{ op: 'put', set: A('app.ext.test', '192.0.2.10') }],
    });
    const cname: RecordSet = { name: 'app.ext.test', type: 'CNAME', ttl: 300, values: ['edge.example.net'] };
    expect(planHost('app.ext.test', d, ours(cname), ID, 300)).toEqual({
      state: 'write',
      action: 'change',
      steps: [
        { op: 'remove', name: 'app.ext.test', type: 'CNAME' },
        { op: 'put', set: A('app.ext.test', '192.0.2.10') },
      ],
    });
  });

  it('removes its own sets with the service, the mark last', () => {
    expect(planHost('app.ext.test', undefined, ours(A('app.ext.test', '192.0.2.10')), ID, 300)).toEqual({
      state: 'write',
      action: 'remove',
      steps: [
        { op: 'remove', name: 'app.ext.test', type: 'A' },
        { op: 'remove', name: '_gatehouse.app.ext.test', type: 'TXT' },
      ],
    });
  });

  it('compares sets as a provider reports them: IPv6 forms, trailing dots, order', () => {
    const six = (v: string): RecordSet => ({ name: 'a', type: 'AAAA', ttl: 60, values: [v, '2001:db8::2'] });
    expect(sameSet(six('2001:0db8:0:0::1'), six('2001:db8::1'))).toBe(true);
    const cn = (v: string): RecordSet => ({ name: 'a', type: 'CNAME', ttl: 60, values: [v] });
    expect(sameSet(cn('Edge.example.net.'), { ...cn('edge.example.net'), ttl: 300 })).toBe(true);
    expect(sameSet(A('a', '192.0.2.1'), { ...A('a', '192.0.2.1'), ttl: 60 })).toBe(false);
  });
});

describe('external records: settings', () => {
  const target = (v: unknown) => loadSettings({ dns_records_target: v }, {}).dns_records_target;

  it('takes addresses (comma-separated or a YAML list) or one host name; off by default', () => {
    expect(loadSettings({}, {})).toMatchObject({
      dns_records: 'off',
      dns_records_target: [],
      dns_records_ttl: 300,
    });
    expect(target(' 192.0.2.1, 2001:DB8::1 ')).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(target(['192.0.2.1', '192.0.2.2'])).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(target('Edge.Example.NET')).toEqual(['edge.example.net']);
    expect(loadSettings({}, { GATEHOUSE_DNS_RECORDS_TARGET: '192.0.2.9' }).dns_records_target).toEqual([
      '192.0.2.9',
    ]);
  });

  it('refuses anything else, naming the setting', () => {
    for (const bad of [
      '192.0.2.1,edge.example.net',
      'a.example,b.example',
      'not a host',
      '300.1.1.1',
      'localhost',
    ])
      expect(() => target(bad), bad).toThrow(
        /^setting --dns-records-target: IP addresses \(comma-separated\), or one host name for a CNAME/,
      );
    expect(() => loadSettings({ dns_records_ttl: 5 }, {})).toThrow(
      /^setting --dns-records-ttl: expected seconds from 30/,
    );
    expect(() => loadSettings({}, { GATEHOUSE_DNS_RECORDS: 'yes' })).toThrow(
      /^setting GATEHOUSE_DNS_RECORDS: off or on/,
    );
  });
});
