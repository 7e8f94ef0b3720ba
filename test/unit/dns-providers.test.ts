import { describe, expect, it } from 'vitest';
import { parse } from '../../src/api/http-errors.js';
import { plain, reconcile } from '../../src/dns/http-providers.js';
import { ovhSignature } from '../../src/dns/ovh.js';
import { dnsProviderSchema } from '../../src/model/dns.js';
import { GatehouseError } from '../../src/model/errors.js';

describe('OVH request signature', () => {
  // Expected values computed with `printf '%s' 'as+ck+…' | sha1sum`, as OVH's documentation describes.
  it('signs a GET with an empty body: $1$ + sha1(secret+consumer+method+url+body+timestamp)', () => {
    const url =
      'https://eu.api.ovh.com/1.0/domain/zone/example.com/record?fieldType=TXT&subDomain=_acme-challenge';
    expect(ovhSignature('as', 'ck', 'GET', url, '', 1_700_000_000)).toBe(
      '$1$a5086dee78cb8e668ebe321effbe1cc171550c6d',
    );
  });
  it('signs a POST with its JSON body exactly as sent', () => {
    const body = JSON.stringify({ fieldType: 'A', subDomain: 'www', target: '192.0.2.1', ttl: 60 });
    const url = 'https://eu.api.ovh.com/1.0/domain/zone/example.com/record';
    expect(ovhSignature('as', 'ck', 'POST', url, body, 1_700_000_000)).toBe(
      '$1$677d94df864f145c7eb979a64e5afb7c7b3daec4',
    );
  });
});

/** The fields a 400 names for `body`. */
function fieldsOf(body: unknown): string[] {
  try {
    parse(dnsProviderSchema, body, '');
  } catch (err) {
    if (err instanceof GatehouseError) {
      expect(err.status).toBe(400);
      return err.issues.map((i) => i.field);
    }
    throw err;
  }
  return [];
}

describe('DNS provider schema', () => {
  const ovh = {
    name: 'o',
    type: 'ovh',
    zone: 'example.com',
    application_key: 'abcdEFGH1234',
    application_secret: 'secret-1234',
    consumer_key: 'consumer-1234',
  };
  const exec = { name: 'e', type: 'exec', zone: 'example.com', command: '/usr/local/bin/dns-hook' };

  it('fills defaults: OVH Europe endpoint, a 60 s hook timeout, no hook variables', () => {
    expect(parse(dnsProviderSchema, ovh, '')).toMatchObject({ endpoint: 'https://eu.api.ovh.com/1.0' });
    expect(parse(dnsProviderSchema, exec, '')).toMatchObject({ timeout_s: 60, env: {} });
  });

  it('names the field at fault', () => {
    expect(fieldsOf({ ...ovh, consumer_key: undefined })).toEqual(['consumer_key']);
    expect(fieldsOf({ ...ovh, application_key: 'has space' })).toEqual(['application_key']);
    expect(fieldsOf({ ...ovh, endpoint: 'ftp://x' })).toEqual(['endpoint']);
    expect(fieldsOf({ ...exec, command: 'dns-hook' })).toEqual(['command']);
    expect(fieldsOf({ ...exec, command: '/usr/../tmp/x' })).toEqual(['command']);
    expect(fieldsOf({ ...exec, timeout_s: 0 })).toEqual(['timeout_s']);
    expect(fieldsOf({ ...exec, timeout_s: 601 })).toEqual(['timeout_s']);
    expect(fieldsOf({ ...exec, check_server: 'ns1.example.com:53' })).toEqual(['check_server']);
    expect(fieldsOf({ ...exec, env: { 'BAD-NAME': 'x' } })[0]).toMatch(/^env/);
    expect(fieldsOf({ ...exec, env: { GATEHOUSE_ZONE: 'x' } })[0]).toMatch(/^env/);
    expect(fieldsOf({ ...exec, shell: true })).not.toEqual([]);
    expect(fieldsOf({ ...exec, type: 'route53' })).toEqual(['type']);
  });
});

describe('record set reconciliation at a vendor', () => {
  const set = { name: 'a.example.com', type: 'A' as const, ttl: 60, values: ['192.0.2.1', '192.0.2.2'] };
  it('keeps what matches, updates in place, deletes extras, creates the missing', () => {
    expect(reconcile([], set)).toEqual({ update: [], remove: [], create: ['192.0.2.1', '192.0.2.2'] });
    expect(
      reconcile(
        [
          { id: '1', value: '192.0.2.1', ttl: 60 },
          { id: '2', value: '192.0.2.9', ttl: 60 },
          { id: '3', value: '192.0.2.8', ttl: 60 },
        ],
        set,
      ),
    ).toEqual({ update: [{ id: '2', value: '192.0.2.2' }], remove: ['3'], create: [] });
    // A TTL change is an update of the same value; a duplicate goes.
    expect(
      reconcile(
        [
          { id: '1', value: '192.0.2.1', ttl: 300 },
          { id: '2', value: '192.0.2.2', ttl: 60 },
          { id: '3', value: '192.0.2.2', ttl: 60 },
        ],
        set,
      ),
    ).toEqual({ update: [{ id: '1', value: '192.0.2.1' }], remove: ['3'], create: [] });
    expect(
      reconcile(
        [
          { id: '1', value: '192.0.2.2', ttl: 60 },
          { id: '2', value: '192.0.2.1', ttl: 60 },
        ],
        set,
      ),
    ).toEqual({ update: [], remove: [], create: [] });
  });
  it('reads values back as written (TXT unquoted, CNAME without the final dot)', () => {
    expect(plain('TXT', '"v=1 x"')).toBe('v=1 x');
    expect(plain('CNAME', 'Target.Example.com.')).toBe('target.example.com');
    expect(plain('A', '192.0.2.1')).toBe('192.0.2.1');
  });
});
