import { describe, expect, it } from 'vitest';
import {
  caaNames,
  caaVerdict,
  caIssuer,
  compareSets,
  setsOfAddresses,
  type CaaAt,
} from '../../src/dns/doctor-compare.js';

describe('DNS doctor: answers against what they should be', () => {
  it('the same addresses in another order, another case or IPv6 spelling are ok', () => {
    expect(
      compareSets(
        [
          { type: 'A', values: ['192.0.2.1', '192.0.2.2'] },
          { type: 'AAAA', values: ['2001:db8::1'] },
        ],
        [
          { type: 'AAAA', values: ['2001:DB8:0:0::1'] },
          { type: 'A', values: ['192.0.2.2', '192.0.2.1'] },
        ],
      ),
    ).toBe('ok');
    expect(
      compareSets(
        [{ type: 'CNAME', values: ['edge.example.net'] }],
        [{ type: 'CNAME', values: ['Edge.Example.NET.'] }],
      ),
    ).toBe('ok');
  });

  it('no address answered is missing; another one, an extra one or another type is wrong', () => {
    const want = [{ type: 'A', values: ['192.0.2.1'] }];
    expect(compareSets(want, [])).toBe('missing');
    // A TXT beside it says nothing about where the name points.
    expect(compareSets(want, [{ type: 'TXT', values: ['hello'] }])).toBe('missing');
    expect(compareSets(want, [{ type: 'A', values: ['198.51.100.7'] }])).toBe('wrong');
    expect(compareSets(want, [{ type: 'A', values: ['192.0.2.1', '198.51.100.7'] }])).toBe('wrong');
    expect(compareSets(want, [{ type: 'CNAME', values: ['elsewhere.example'] }])).toBe('wrong');
    expect(
      compareSets(want, [
        { type: 'A', values: ['192.0.2.1'] },
        { type: 'AAAA', values: ['::1'] },
      ]),
    ).toBe('wrong');
  });

  it('LAN answers (a list of addresses) become A and AAAA sets', () => {
    expect(setsOfAddresses(['10.0.0.2', 'fd00::2'])).toEqual([
      { type: 'A', values: ['10.0.0.2'] },
      { type: 'AAAA', values: ['fd00::2'] },
    ]);
    expect(compareSets(setsOfAddresses(['10.0.0.2']), setsOfAddresses(['10.0.0.3']))).toBe('wrong');
  });
});

describe('DNS doctor: CAA', () => {
  const at = (name: string, ...records: [string, string][]): CaaAt => ({
    name,
    records: records.map(([tag, value]) => ({ critical: 0, tag, value })),
  });

  it('no CAA records anywhere up to the zone: every CA may issue', () => {
    const v = caaVerdict([at('app.example.com'), at('example.com')], 'letsencrypt.org', false);
    expect(v).toMatchObject({ state: 'allowed', at: null, issuers: ['*'] });
  });

  it('the closest name with CAA records decides; one naming the CA allows it', () => {
    const v = caaVerdict(
      [
        at('app.example.com'),
        at('example.com', ['issue', 'letsencrypt.org; validationmethods=http-01'], ['iodef', 'mailto:a@b']),
      ],
      'letsencrypt.org',
      false,
    );
    expect(v).toMatchObject({ state: 'allowed', at: 'example.com', issuers: ['letsencrypt.org'] });
    expect(v.records).toContain('0 issue "letsencrypt.org; validationmethods=http-01"');
  });

  it('CAA naming only another CA denies, and says who may issue', () => {
    const v = caaVerdict([at('app.example.com', ['issue', 'pki.goog'])], 'letsencrypt.org', false);
    expect(v.state).toBe('denied');
    expect(v.issuers).toEqual(['pki.goog']);
    expect(v.message).toContain('allows only pki.goog, not letsencrypt.org');
    // A closer set wins over a parent's.
    expect(
      caaVerdict(
        [at('a.example.com', ['issue', 'letsencrypt.org']), at('example.com', ['issue', 'pki.goog'])],
        'letsencrypt.org',
        false,
      ).state,
    ).toBe('allowed');
  });

  it('`issue ";"` allows no CA; only iodef allows every CA', () => {
    expect(caaVerdict([at('example.com', ['issue', ';'])], 'letsencrypt.org', false)).toMatchObject({
      state: 'denied',
      issuers: [],
    });
    expect(caaVerdict([at('example.com', ['iodef', 'mailto:x@y'])], 'letsencrypt.org', false).state).toBe(
      'allowed',
    );
  });

  it('a wildcard host goes by issuewild where there is one', () => {
    const chain = [at('apps.example.com', ['issue', 'letsencrypt.org'], ['issuewild', 'pki.goog'])];
    expect(caaVerdict(chain, 'letsencrypt.org', true).state).toBe('denied');
    expect(caaVerdict(chain, 'letsencrypt.org', false).state).toBe('allowed');
  });

  it('a critical record with an unknown tag forbids every CA', () => {
    const v = caaVerdict(
      [{ name: 'example.com', records: [{ critical: 128, tag: 'tbs', value: 'x' }] }],
      'letsencrypt.org',
      false,
    );
    expect(v.state).toBe('denied');
  });

  it('without a known CA it says which issuers are allowed', () => {
    const v = caaVerdict(
      [at('example.com', ['issue', 'sectigo.com'], ['issue', 'pki.goog'])],
      undefined,
      false,
    );
    expect(v).toMatchObject({ state: 'unknown', issuers: ['pki.goog', 'sectigo.com'] });
    expect(v.message).toContain('allows pki.goog, sectigo.com');
  });

  it('names asked: the host (a wildcard its base) and each parent down to the zone', () => {
    expect(caaNames('a.b.example.com', 'example.com')).toEqual([
      'a.b.example.com',
      'b.example.com',
      'example.com',
    ]);
    expect(caaNames('*.apps.example.com', 'example.com')).toEqual(['apps.example.com', 'example.com']);
    expect(caaNames('a.example.org', undefined)).toEqual(['a.example.org', 'example.org']);
  });

  it('the CA of well-known ACME directories', () => {
    expect(caIssuer('https://acme-v02.api.letsencrypt.org/directory')).toBe('letsencrypt.org');
    expect(caIssuer('https://acme-staging-v02.api.letsencrypt.org/directory')).toBe('letsencrypt.org');
    expect(caIssuer('https://acme.zerossl.com/v2/DV90')).toBe('sectigo.com');
    expect(caIssuer('https://127.0.0.1:14000/dir')).toBeUndefined();
    expect(caIssuer(undefined)).toBeUndefined();
  });
});
