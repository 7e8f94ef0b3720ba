import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { FAST_LANE_STATE } from '../../src/drivers/nginx/fast-lane.js';
import { renderNginx } from '../../src/drivers/nginx/render.js';
import {
  TLS_STATE,
  tlsFingerprints,
  tlsHttp,
  tlsState,
  tlsStateVersion,
} from '../../src/drivers/nginx/tls-dynamic.js';
import { serviceSchema } from '../../src/model/service.js';

const env: RenderEnv = {
  prefix: '/var/lib/gatehouse/nginx',
  genDir: '/var/lib/gatehouse/nginx/gen/g1',
  statusSocket: '/var/lib/gatehouse/nginx/run/status.sock',
  generation: 'g1',
  modulesDir: '/usr/lib/nginx/modules',
  workers: 2,
  tlsDir: '/run/gatehouse/abc/tls',
};

const services = [
  { name: 'web', hosts: ['web.example.com'], routes: [{ upstreams: ['10.0.0.1:80'] }] },
  {
    name: 'app',
    hosts: ['app.example.com'],
    hsts: true,
    routes: [
      { path: '/', upstreams: ['10.0.0.2:80'] },
      { path: '/api/', upstreams: ['10.0.0.3:80'] },
    ],
  },
  {
    name: 'tcp',
    tcp: [{ port: 8883, upstreams: ['10.0.0.4:1883'], tls: 'terminate', sni: ['mq.other.org'] }],
  },
].map((s) => serviceSchema.parse(s));

type Ref = { id: string; fingerprint: string; names: string[]; notAfter: string };
const cert = (id: string, fp: string, names: string[], notAfter = '2027-01-01T00:00:00.000Z'): Ref => ({
  id,
  fingerprint: fp.repeat(32),
  names,
  notAfter,
});
const render = (certs: Ref[], hosts = services) =>
  renderNginx(compile({ services: hosts, listeners: { http: 80, https: 443 }, certs }), env);

/** The names of the files that differ between two renderings. */
function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => a.get(n) !== b.get(n)).sort();
}

describe('certificates without reload: what a change touches', () => {
  const before = render([cert('c1', 'ab', ['*.example.com'])]);

  it('a renewed certificate changes only the state files', () => {
    const after = render([cert('c2', 'cd', ['*.example.com'], '2027-03-01T00:00:00.000Z')]);
    expect(changed(before, after)).toEqual([FAST_LANE_STATE, TLS_STATE].sort());
    expect(after.get(TLS_STATE)).toContain(`web.example.com\t${'cd'.repeat(32)}`);
    expect(after.get('nginx.conf')).not.toContain('cd'.repeat(32));
  });

  it('another certificate for a host already on HTTPS changes only the state files', () => {
    const after = render([
      cert('c1', 'ab', ['*.example.com']),
      cert('c3', 'ef', ['app.example.com'], '2027-06-01T00:00:00.000Z'),
    ]);
    expect(changed(before, after)).toEqual([FAST_LANE_STATE, TLS_STATE].sort());
    const state = after.get(TLS_STATE) as string;
    expect(state).toContain(`app.example.com\t${'ef'.repeat(32)}`);
    expect(state).toContain(`web.example.com\t${'ab'.repeat(32)}`);
    expect(tlsFingerprints(state).sort()).toEqual(['ab'.repeat(32), 'ef'.repeat(32)]);
    expect(tlsStateVersion(state)).not.toBe(tlsStateVersion(before.get(TLS_STATE)));
  });

  it('a TLS-terminating TCP route names its files: its certificate still reloads', () => {
    const a = render([cert('c1', 'ab', ['*.example.com']), cert('m1', '12', ['mq.other.org'])]);
    const b = render([cert('c1', 'ab', ['*.example.com']), cert('m2', '34', ['mq.other.org'])]);
    expect(changed(a, b)).toContain('nginx.conf');
    expect(b.get('nginx.conf')).toContain(`ssl_certificate /run/gatehouse/abc/tls/${'34'.repeat(32)}.crt;`);
  });

  it('no key and no certificate text reaches the generation: the table names fingerprints', () => {
    expect(before.get(TLS_STATE)).toBe(
      [
        '# gatehouse tls ' + (tlsStateVersion(before.get(TLS_STATE)) as string),
        `app.example.com\t${'ab'.repeat(32)}`,
        `web.example.com\t${'ab'.repeat(32)}`,
        '',
      ].join('\n'),
    );
  });
});

describe('tls state validation', () => {
  const fp = 'ab'.repeat(32);
  it('refuses a host or fingerprint Lua would not take, naming it', () => {
    expect(() => tlsState({ certOf: new Map([['bad host', fp]]) })).toThrow(/unsafe tls host: "bad host"/);
    expect(() => tlsState({ certOf: new Map([['a\tb', fp]]) })).toThrow(/unsafe tls host/);
    expect(() => tlsState({ certOf: new Map([['web.example.com', 'AB'.repeat(32)]]) })).toThrow(
      /unsafe fingerprint for web.example.com/,
    );
    expect(() => tlsState({ certOf: new Map([['*.example.com', fp]]) })).not.toThrow();
  });

  it('is the same bytes whatever the order of hosts', () => {
    const a = tlsState({
      certOf: new Map([
        ['b.example.com', fp],
        ['a.example.com', fp],
      ]),
    });
    const b = tlsState({
      certOf: new Map([
        ['a.example.com', fp],
        ['b.example.com', fp],
      ]),
    });
    expect(a).toBe(b);
  });

  it('sizes the shared dict in powers of two by the number of certificates', () => {
    expect(tlsHttp(0)).toEqual(['lua_shared_dict gh_certs 4m;']);
    expect(tlsHttp(128)).toEqual(['lua_shared_dict gh_certs 4m;']);
    expect(tlsHttp(129)).toEqual(['lua_shared_dict gh_certs 8m;']);
    expect(tlsHttp(10_000)).toEqual(['lua_shared_dict gh_certs 512m;']);
  });
});
