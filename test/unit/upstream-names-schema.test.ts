import { describe, expect, it } from 'vitest';
import { serviceSchema } from '../../src/model/service.js';
import { loadSettings } from '../../src/model/settings.js';
import { parseEndpoint } from '../../src/model/values.js';

const withUpstream = (u: string) =>
  serviceSchema.safeParse({ name: 'app', hosts: ['app.test'], routes: [{ upstreams: [u] }] });
const withTcpUpstream = (u: string) =>
  serviceSchema.safeParse({ name: 'mqtt', tcp: [{ port: 1883, upstreams: [u] }] });
const message = (r: ReturnType<typeof withUpstream>) => (r.success ? '' : (r.error.issues[0]?.message ?? ''));

describe('upstreams by name: the schema', () => {
  it('accepts name:port and http(s)://name:port, as compose files name containers', () => {
    for (const u of [
      'authelia:9091',
      'http://authelia:9091',
      'https://App.Names.Test:8443',
      'parking-mosquitto:1883',
    ])
      expect(withUpstream(u).success, u).toBe(true);
    expect(parseEndpoint('https://App.Names.Test:8443', true)).toEqual({
      scheme: 'https',
      host: 'app.names.test',
      port: 8443,
    });
    expect(withTcpUpstream('parking-mosquitto:1883').success).toBe(true);
  });

  it('keeps IP literals as they were', () => {
    expect(parseEndpoint('10.0.0.1:80', true)).toEqual({ scheme: 'http', host: '10.0.0.1', port: 80 });
    expect(parseEndpoint('[fd00::1]:80', false)).toEqual({ scheme: 'http', host: 'fd00::1', port: 80 });
    expect(message(withUpstream('10.0.0.256:80'))).toBe('not a valid IPv4 address');
  });

  it('refuses what is not a DNS name, loopback by name, and a scheme on TCP', () => {
    for (const u of [
      'back_end:80',
      'a..b:80',
      '-a:80',
      'app:0',
      'app:65536',
      'app',
      'app:80/x',
      `${'a'.repeat(64)}:80`,
    ])
      expect(withUpstream(u).success, u).toBe(false);
    expect(message(withUpstream('back_end:80'))).toMatch(/name:port/);
    expect(message(withUpstream('localhost:80'))).toMatch(/127\.0\.0\.1/);
    expect(withUpstream('api.localhost:80').success).toBe(false);
    expect(message(withTcpUpstream('http://broker:1883'))).toBe(
      'a TCP upstream is IP:port or name:port, without a scheme',
    );
  });

  it('keeps IP-only values IP-only (a forward-auth URL)', () => {
    const r = serviceSchema.safeParse({
      name: 'app',
      hosts: ['app.test'],
      routes: [{ upstreams: ['10.0.0.1:80'] }],
      access: { forward_auth: { url: 'http://authelia:9091/api/verify' } },
    });
    expect(r.success).toBe(false);
    expect(message(r)).toMatch(/host names are not resolved/);
  });

  it('settings: upstream_resolver is system or a DNS server, upstream_name_ttl 1s-300s', () => {
    const base = { data_dir: '/tmp/x' };
    const parseSettings = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv) =>
      loadSettings(flags, env, () => '');
    expect(parseSettings({ ...base }, {}).upstream_resolver).toBe('system');
    expect(parseSettings({ ...base }, {}).upstream_name_ttl).toBe('30s');
    expect(parseSettings({ ...base, upstream_resolver: '127.0.0.1:5353' }, {}).upstream_resolver).toBe(
      '127.0.0.1:5353',
    );
    expect(parseSettings({ ...base, upstream_resolver: '[::1]:53' }, {}).upstream_resolver).toBe('[::1]:53');
    expect(() => parseSettings({ ...base, upstream_resolver: 'dns.example:53' }, {})).toThrow(
      /upstream.resolver/,
    );
    expect(() => parseSettings({ ...base, upstream_resolver: '127.0.0.1:99999' }, {})).toThrow(
      /upstream.resolver/,
    );
    expect(() => parseSettings({ ...base, upstream_name_ttl: '500ms' }, {})).toThrow(/upstream.name.ttl/);
    expect(() => parseSettings({ ...base, upstream_name_ttl: '10m' }, {})).toThrow(/upstream.name.ttl/);
  });
});
