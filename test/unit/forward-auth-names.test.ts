import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { NameAnswer } from '../../src/dns/name-lookup.js';
import { UpstreamNames } from '../../src/dns/upstream-names.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { renderNginx } from '../../src/drivers/nginx/render.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';

const parse = (access: unknown, routeAccess?: unknown) =>
  serviceSchema.safeParse({
    name: 'app',
    hosts: ['app.test'],
    routes: [{ upstreams: ['10.0.0.1:80'], ...(routeAccess ? { access: routeAccess } : {}) }],
    ...(access ? { access } : {}),
  });
const issue = (r: ReturnType<typeof parse>) =>
  r.success ? undefined : { path: r.error.issues[0]?.path.join('.'), message: r.error.issues[0]?.message };

const env: RenderEnv = {
  prefix: '/var/lib/gatehouse/nginx',
  genDir: '/var/lib/gatehouse/nginx/gen/g1',
  statusSocket: '/var/lib/gatehouse/nginx/run/status.sock',
  generation: 'g1',
  modulesDir: '/usr/lib/nginx/modules',
  workers: 1,
  ipv6: false,
};

describe('forward-auth URLs by name: the schema', () => {
  it('accepts a forward-auth URL that names its host, as compose files name Authelia', () => {
    for (const url of [
      'http://authelia:9091/api/verify',
      'http://authelia:9091/api/verify?rd=https://auth.example.com/',
      'https://Auth.Lan:8443/verify',
      'http://10.0.0.9:9091/api/verify',
      'http://[fd00::9]:9091/api/verify',
    ]) {
      expect(parse({ forward_auth: { url } }).success, url).toBe(true);
      expect(parse(undefined, { forward_auth: { url } }).success, url).toBe(true);
    }
  });

  it('refuses a malformed one, naming the field', () => {
    const cases: [string, RegExp][] = [
      ['http://back_end:9091/verify', /name:port/],
      ['http://authelia/verify', /name:port/],
      ['http://authelia:9091', /with a path/],
      ['http://authelia:99999/verify', /port must be 1-65535/],
      ['http://localhost:9091/verify', /127\.0\.0\.1/],
      ['ftp://authelia:9091/verify', /with a path/],
      ['http://authelia:9091/a b', /URL characters/],
    ];
    for (const [url, message] of cases) {
      expect(issue(parse({ forward_auth: { url } })), url).toEqual({
        path: 'access.forward_auth.url',
        message: expect.stringMatching(message),
      });
      expect(issue(parse(undefined, { forward_auth: { url } }))?.path, url).toBe(
        'routes.0.access.forward_auth.url',
      );
    }
  });
});

describe('forward-auth URLs by name: resolved and compiled', () => {
  it('compiles the address, sends Host name:port, and answers 503 when the name resolves to nothing', async () => {
    let answer: NameAnswer = { kind: 'found', addresses: ['10.0.0.8', '10.0.0.7'], ttlMs: 5000 };
    let clock = 1_000_000;
    const names = new UpstreamNames({
      lookup: async () => answer,
      log: silentLogger(),
      onChange: () => undefined,
      now: () => clock,
    });
    const svc = serviceSchema.parse({
      name: 'app',
      hosts: ['app.test'],
      routes: [
        { upstreams: ['10.0.0.1:80'] },
        {
          path: '/admin',
          upstreams: ['10.0.0.1:80'],
          access: { forward_auth: { url: 'https://other.lan:8443/check' } },
        },
      ],
      access: {
        forward_auth: { url: 'http://Authelia:9091/api/verify?rd=x', copy_headers: ['Remote-User'] },
      },
    });
    expect(names.namesOf(svc)).toEqual(['authelia', 'other.lan']);
    await names.track([svc]);
    expect(names.status().map((s) => [s.name, s.forwardAuth, s.addresses])).toEqual([
      ['authelia', true, ['10.0.0.7', '10.0.0.8']],
      ['other.lan', true, ['10.0.0.7', '10.0.0.8']],
    ]);

    const cfg = compile({ services: [names.view(svc)], listeners: { http: 80, https: 0 } });
    const fa = (path: string) => cfg.sites[0]?.routes.find((r) => r.path === path)?.access.forwardAuth;
    expect(fa('/')).toEqual({
      url: 'http://10.0.0.7:9091/api/verify?rd=x',
      copyHeaders: ['Remote-User'],
      host: 'authelia:9091',
    });
    expect(fa('/admin')).toMatchObject({ url: 'https://10.0.0.7:8443/check', host: 'other.lan:8443' });
    const conf = renderNginx(cfg, env).get('nginx.conf') ?? '';
    expect(conf).toContain('proxy_set_header Host "authelia:9091";');
    expect(conf).toContain('proxy_pass "http://10.0.0.7:9091/api/verify?rd=x";');
    expect(conf).not.toMatch(/proxy_pass "http:\/\/authelia/);
    // HTTPS to a named auth server: its name in SNI; plain HTTP needs none.
    expect(conf.match(/proxy_ssl_name "[^"]*";/g)).toEqual(['proxy_ssl_name "other.lan";']);

    // NXDOMAIN: no address, the auth server is not asked: 503 (auth_request's "unavailable" page).
    answer = { kind: 'absent', error: 'authelia: no such name' };
    clock += 5000;
    await names.tick();
    const down = compile({ services: [names.view(svc)], listeners: { http: 80, https: 0 } });
    expect(down.sites[0]?.routes.find((r) => r.path === '/')?.access.forwardAuth).toMatchObject({
      host: 'authelia:9091',
      down: true,
    });
    const downConf = renderNginx(down, env).get('nginx.conf') ?? '';
    expect(downConf).toMatch(/location = \/__gatehouse\/auth\/\d+ \{\n\s+internal;\n\s+return 503;\n\s+\}/);
    expect(downConf).not.toContain('proxy_pass "http://10.0.0.7:9091');
    expect(names.status()[0]).toMatchObject({ name: 'authelia', state: 'unresolved', forwardAuth: true });
  });

  it("a name that resolves to one of Gatehouse's own listeners: left out, the route answers 503", async () => {
    const names = new UpstreamNames({
      lookup: async () => ({ kind: 'found', addresses: ['127.0.0.1'] }),
      log: silentLogger(),
      onChange: () => undefined,
      refuse: (ip, port) => (ip === '127.0.0.1' && port === 7070 ? 'the API port' : undefined),
    });
    const svc = serviceSchema.parse({
      name: 'sneaky',
      hosts: ['sneaky.test'],
      routes: [{ upstreams: ['10.0.0.1:80'] }],
      access: { forward_auth: { url: 'http://api.lan:7070/api/v1/services' } },
    });
    await names.track([svc]);
    const cfg = compile({ services: [names.view(svc)], listeners: { http: 80, https: 0 } });
    expect(cfg.sites[0]?.routes[0]?.access.forwardAuth).toMatchObject({ host: 'api.lan:7070', down: true });
    expect(names.status()[0]).toMatchObject({ name: 'api.lan', refused: ['127.0.0.1:7070: the API port'] });
  });

  it('an IP forward-auth URL is compiled as it was (Host: $proxy_host)', async () => {
    const names = new UpstreamNames({
      lookup: async () => ({ kind: 'absent', error: 'unused' }),
      log: silentLogger(),
      onChange: () => undefined,
    });
    const svc = serviceSchema.parse({
      name: 'ip',
      hosts: ['ip.test'],
      routes: [{ upstreams: ['10.0.0.1:80'] }],
      access: { forward_auth: { url: 'http://10.0.0.9:9091/verify' } },
    });
    await names.track([svc]);
    expect(names.view(svc)).toBe(svc);
    const cfg = compile({ services: [svc], listeners: { http: 80, https: 0 } });
    expect(cfg.sites[0]?.routes[0]?.access.forwardAuth).toEqual({
      url: 'http://10.0.0.9:9091/verify',
      copyHeaders: [],
    });
    expect(renderNginx(cfg, env).get('nginx.conf')).toContain('proxy_set_header Host $proxy_host;');
  });
});
