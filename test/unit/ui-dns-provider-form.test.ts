import { isAbsolute as nodeIsAbsolute, normalize as nodeNormalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bodyOf,
  checkProvider,
  EMPTY_PROVIDER,
  providerFieldOf,
  type ProviderValues,
} from '../../web/src/pages/dns/providerForm.js';
import { isAbsolute, normalize } from '../../web/src/shims/path.js';

const SECRET = Buffer.from('a TSIG secret of 32 bytes.......').toString('base64');
const rfc = (over: Partial<ProviderValues> = {}): ProviderValues => ({
  ...EMPTY_PROVIDER,
  name: 'home-bind',
  zone: ' example.com ',
  server: '192.0.2.53:53',
  tsig_name: 'gatehouse',
  tsig_secret: SECRET,
  api_token: 'left over from another type',
  ...over,
});

/** The DNS provider form: what it sends per type, and the model's schema's complaints per field. */
describe('web: the DNS provider form', () => {
  it('sends the chosen type’s fields only, trimmed, empty optional ones left to the defaults', () => {
    expect(bodyOf(rfc())).toEqual({
      ok: true,
      body: {
        name: 'home-bind',
        type: 'rfc2136',
        zone: 'example.com',
        server: '192.0.2.53:53',
        tsig_name: 'gatehouse',
        tsig_algorithm: 'hmac-sha256',
        tsig_secret: SECRET,
      },
    });
    expect(checkProvider(rfc())).toBeUndefined();
    const cf = bodyOf({
      ...EMPTY_PROVIDER,
      type: 'cloudflare',
      name: 'cf',
      zone: 'example.com',
      api_token: 'tok-12345678',
      propagation_servers: '1.1.1.1:53\n 8.8.8.8:53 ,',
    });
    expect(cf).toEqual({
      ok: true,
      body: {
        name: 'cf',
        type: 'cloudflare',
        zone: 'example.com',
        api_token: 'tok-12345678',
        propagation_servers: ['1.1.1.1:53', '8.8.8.8:53'],
      },
    });
  });

  it('names the field the schema refuses, with the schema’s words', () => {
    expect(checkProvider(rfc({ server: 'bind.example.com' }))).toEqual({
      server: 'a DNS server as IP:port (e.g. 192.0.2.53:53, [2001:db8::53]:53)',
    });
    expect(checkProvider(rfc({ zone: '*.example.com', tsig_secret: '' }))).toEqual({
      zone: 'a zone, not a wildcard',
      tsig_secret: 'the TSIG secret, base64',
    });
    expect(checkProvider({ ...EMPTY_PROVIDER, type: 'ovh', name: 'o', zone: 'example.com' })).toMatchObject({
      application_key: 'required',
      application_secret: 'required',
      consumer_key: 'required',
    });
  });

  it('reads an exec hook’s environment and time limit, refusing what it cannot read', () => {
    const hook = { ...EMPTY_PROVIDER, type: 'exec' as const, name: 'hook', zone: 'example.com' };
    const ok = bodyOf({
      ...hook,
      command: '/usr/local/bin/dns.sh',
      timeout_s: '30',
      env: 'API_KEY=a=b\n\nUSER=me',
    });
    expect(ok).toEqual({
      ok: true,
      body: {
        ...{ name: 'hook', type: 'exec', zone: 'example.com' },
        command: '/usr/local/bin/dns.sh',
        timeout_s: 30,
        env: { API_KEY: 'a=b', USER: 'me' },
      },
    });
    expect(checkProvider({ ...hook, command: '/x/dns.sh', env: 'no equals sign' })).toEqual({
      env: '"no equals sign" is not NAME=value',
    });
    expect(checkProvider({ ...hook, command: '/x/dns.sh', timeout_s: '1m' })).toEqual({
      timeout_s: 'a whole number of seconds',
    });
    expect(checkProvider({ ...hook, command: '/x/../dns.sh', env: 'PATH=/bin' })).toEqual({
      command: 'an absolute, normalized path of a script',
      env: 'PATH: PATH and GATEHOUSE_* are set by Gatehouse',
    });
  });

  it('maps the API’s issue paths to the form’s fields', () => {
    expect(providerFieldOf('zone')).toBe('zone');
    expect(providerFieldOf('propagation_servers.1')).toBe('propagation_servers');
    expect(providerFieldOf('env.PATH')).toBe('env');
    expect(providerFieldOf('type')).toBeUndefined();
    expect(providerFieldOf('(root)')).toBeUndefined();
  });

  it('checks paths in the browser as node:path does', () => {
    for (const p of ['/a/b', '/a/./b', '/a/../b', '//a//b/', 'a/b', '../a', '/..', '/', '', 'a/..', './a/'])
      expect([p, isAbsolute(p), normalize(p)]).toEqual([p, nodeIsAbsolute(p), nodeNormalize(p)]);
  });
});
