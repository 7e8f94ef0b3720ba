import { describe, expect, it } from 'vitest';
import { parseContainer } from '../../src/sources/docker/labels.js';
import { parseRule } from '../../src/sources/docker/traefik-rule.js';
import { covers, labelFacts as facts } from '../helpers/dockerd.js';

const ARGON = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
const R = 'traefik.http.routers';
const M = 'traefik.http.middlewares';

/** A container with one router `app` on port 8080, plus `more` labels. */
function router(rule: string, more: Record<string, string> = {}) {
  return parseContainer(
    facts({
      'traefik.enable': 'true',
      [`${R}.app.rule`]: rule,
      'traefik.http.services.app.loadbalancer.server.port': '8080',
      ...more,
    }),
  );
}

describe('traefik rules', () => {
  it('reads Host, PathPrefix and Path with && and ||', () => {
    expect(parseRule('Host(`a.example.com`, `b.example.com`)')).toEqual({
      hosts: ['a.example.com', 'b.example.com'],
      paths: [{ value: '/', exact: false }],
    });
    expect(parseRule('Host(`a.example.com`) || Host("b.example.com")')).toMatchObject({
      hosts: ['a.example.com', 'b.example.com'],
    });
    expect(parseRule('Host(`A.example.com`) && (PathPrefix(`/api`) || Path(`/health`))')).toEqual({
      hosts: ['a.example.com'],
      paths: [
        { value: '/api', exact: false },
        { value: '/health', exact: true },
      ],
    });
    expect(
      parseRule('(Host(`a.example.com`) && PathPrefix(`/x`)) || (Host(`b.example.com`) && PathPrefix(`/x`))'),
    ).toEqual({ hosts: ['a.example.com', 'b.example.com'], paths: [{ value: '/x', exact: false }] });
  });

  it('refuses what it cannot route exactly', () => {
    const error = (rule: string) => {
      const r = parseRule(rule);
      return 'error' in r ? r.error : undefined;
    };
    expect(error('Host(`a.example.com`) && Method(`GET`)')).toMatch(/^matcher Method is not supported/);
    expect(error('Host(`a.example.com`) && ClientIP(`10.0.0.0/8`)')).toMatch(/^matcher ClientIP/);
    expect(error('!Host(`a.example.com`)')).toMatch(/negation/);
    expect(error('PathPrefix(`/api`)')).toMatch(/needs a Host/);
    expect(error('Host(`a.example.com`) && Host(`b.example.com`)')).toMatch(/no host in common/);
    expect(error('(Host(`a.example.com`) && PathPrefix(`/x`)) || Host(`b.example.com`)')).toMatch(
      /split it into one router per host group/,
    );
    expect(error('Host(`a.example.com`')).toMatch(/^cannot read the rule/);
  });
});

describe('traefik labels', () => {
  it('a plain router is public, named after the container, at the service port', () => {
    const r = router('Host(`app.example.com`)', {
      [`${R}.app.entrypoints`]: 'websecure',
      [`${R}.app.tls`]: 'true',
    });
    expect(r.problems).toEqual([]);
    expect(r.services).toEqual([
      expect.objectContaining({
        name: 'web',
        hosts: ['app.example.com'],
        routes: [expect.objectContaining({ path: '/', upstreams: ['172.17.0.5:8080'] })],
        access: { public: true },
        labels: { 'gatehouse/container': 'web', 'gatehouse/router': 'app' },
      }),
    ]);
  });

  it('several routers become several services; the only exposed port is the default', () => {
    const r = parseContainer(
      facts(
        {
          'traefik.enable': 'true',
          [`${R}.site.rule`]: 'Host(`a.example.com`)',
          [`${R}.api.rule`]: 'Host(`a.example.com`) && PathPrefix(`/api`)',
          [`${R}.api.middlewares`]: 'strip',
          [`${M}.strip.stripprefix.prefixes`]: '/api',
        },
        { ports: [{ privatePort: 3000, type: 'tcp' }] },
      ),
    );
    expect(r.problems).toEqual([]);
    expect(
      r.services.map((s) => [s.name, s.routes[0]?.path, s.routes[0]?.strip_prefix, s.routes[0]?.upstreams]),
    ).toEqual([
      ['web-site', '/', false, ['172.17.0.5:3000']],
      ['web-api', '/api', true, ['172.17.0.5:3000']],
    ]);
  });

  it('basicauth (argon2id) and an allowlist mean both: the allowlist becomes deny rules', () => {
    const r = router('Host(`a.example.com`)', {
      [`${R}.app.middlewares`]: 'auth,lan@docker',
      [`${M}.auth.basicauth.users`]: `ci:${ARGON},deploy:${ARGON}`,
      [`${M}.lan.ipallowlist.sourcerange`]: '192.168.0.0/16, 10.0.0.0/8',
    });
    expect(r.problems).toEqual([]);
    const access = r.services[0]?.access;
    expect(access?.basic).toEqual([
      { user: 'ci', password_hash: ARGON },
      { user: 'deploy', password_hash: ARGON },
    ]);
    expect(access?.ip).toBeUndefined();
    const denied = (access?.rules ?? []).flatMap((rule) => (Array.isArray(rule.cidr) ? rule.cidr : []));
    expect(covers(denied, '8.8.8.8')).toBe(true);
    expect(covers(denied, '192.168.3.4')).toBe(false);
  });

  it('an allowlist alone is ip access; forwardauth maps with its response headers', () => {
    expect(
      router('Host(`a.example.com`)', {
        [`${R}.app.middlewares`]: 'lan',
        [`${M}.lan.ipwhitelist.sourcerange`]: '10.0.0.0/8',
      }).services[0]?.access,
    ).toEqual({ ip: ['10.0.0.0/8'] });
    const fa = router('Host(`a.example.com`)', {
      [`${R}.app.middlewares`]: 'sso',
      [`${M}.sso.forwardauth.address`]: 'http://10.0.0.9:9091/api/verify?rd=https://auth.example.com',
      [`${M}.sso.forwardauth.authResponseHeaders`]: 'Remote-User,Remote-Groups',
      [`${M}.sso.forwardauth.trustForwardHeader`]: 'true',
    });
    expect(fa.services[0]?.access?.forward_auth).toEqual({
      url: 'http://10.0.0.9:9091/api/verify?rd=https://auth.example.com',
      copy_headers: ['Remote-User', 'Remote-Groups'],
    });
    expect(fa.problems).toEqual([
      {
        label: `${M}.sso.forwardauth.trustForwardHeader`,
        message: 'ignored: the gate sees the client address Gatehouse determined',
      },
    ]);
  });

  it('maps headers (custom and security) and notes the HTTPS redirect', () => {
    const r = router('Host(`a.example.com`)', {
      [`${R}.app.middlewares`]: 'chain1',
      [`${M}.chain1.chain.middlewares`]: 'hdr,https',
      [`${M}.hdr.headers.customRequestHeaders.X-Script-Name`]: '/app',
      [`${M}.hdr.headers.customRequestHeaders.X-Unwanted`]: '',
      [`${M}.hdr.headers.customResponseHeaders.X-Robots-Tag`]: 'noindex',
      [`${M}.hdr.headers.stsSeconds`]: '31536000',
      [`${M}.hdr.headers.stsIncludeSubdomains`]: 'true',
      [`${M}.hdr.headers.contentTypeNosniff`]: 'true',
      [`${M}.hdr.headers.accessControlAllowOriginList`]: '*',
      [`${M}.https.redirectscheme.scheme`]: 'https',
    });
    expect(r.services[0]?.routes[0]?.headers).toEqual({
      request: { set: { 'X-Script-Name': '/app' }, delete: ['X-Unwanted'] },
      response: {
        set: {
          'X-Robots-Tag': 'noindex',
          'X-Content-Type-Options': 'nosniff',
          'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
        },
      },
    });
    expect(r.problems.map((p) => p.message)).toEqual([
      'headers option accessControlAllowOriginList is not supported: ignored',
      'not needed: Gatehouse redirects HTTP to HTTPS itself once a certificate covers the host',
    ]);
  });

  it('fails closed on what would restrict access and has no equivalent', () => {
    const closed = (more: Record<string, string>) => {
      const r = router('Host(`a.example.com`)', more);
      expect(r.services).toEqual([]);
      return r.problems.map((p) => `${p.label}: ${p.message}`);
    };
    expect(
      closed({
        [`${R}.app.middlewares`]: 'a',
        [`${M}.a.basicauth.users`]: 'u:$2y$05$abcdefghijklmnopqrstuv',
      }),
    ).toContain(
      `${M}.a.basicauth.users: user u: a password hash in bcrypt; Gatehouse accepts argon2id (gatehouse hash-password)`,
    );
    expect(
      closed({ [`${R}.app.middlewares`]: 'a', [`${M}.a.basicauth.usersfile`]: '/etc/users' })[0],
    ).toMatch(/usersfile is not supported/);
    expect(closed({ [`${R}.app.middlewares`]: 'authelia@file' })[0]).toMatch(
      /defined outside Docker labels \(file\)/,
    );
    expect(closed({ [`${R}.app.middlewares`]: 'nope' })[0]).toMatch(
      /nope is not defined in this container's labels/,
    );
    expect(closed({ [`${R}.app.middlewares`]: 'p', [`${M}.p.plugin.geoblock.countries`]: 'DE' })[0]).toMatch(
      /middleware type plugin is not supported/,
    );
    expect(
      closed({ [`${R}.app.middlewares`]: 'l', [`${M}.l.ipallowlist.sourcerange`]: '10.0.0.0/8,lan' })[0],
    ).toMatch(/ipallowlist.sourcerange: "lan": not an IP address/);
    expect(
      closed({
        [`${R}.app.middlewares`]: 'a,l',
        [`${M}.a.forwardauth.address`]: 'http://10.0.0.9/verify',
        [`${M}.l.ipallowlist.sourcerange`]: '10.0.0.0/8,lan',
      })[0],
    ).toMatch(/sourcerange: not an IP address or CIDR block: lan/);
    expect(
      closed({
        [`${R}.app.middlewares`]: 'a',
        [`${M}.a.forwardauth.address`]: 'http://auth_elia:9091/api/verify',
      })[0],
    ).toMatch(
      /forwardauth\.address: "http:\/\/auth_elia:9091\/api\/verify": a URL http\(s\):\/\/IP:port\/path or http\(s\):\/\/name:port\/path \(with a port\)/,
    );
    // A container named by its compose service, as compose files name Authelia: accepted (resolved
    // as upstream names are, docs/upstream-names.md).
    expect(
      router('Host(`a.example.com`)', {
        [`${R}.app.middlewares`]: 'a',
        [`${M}.a.forwardauth.address`]: 'http://authelia:9091/api/verify',
      }).services[0]?.access?.forward_auth,
    ).toEqual({ url: 'http://authelia:9091/api/verify', copy_headers: [] });
    expect(
      closed({
        [`${R}.app.middlewares`]: 'a',
        [`${M}.a.basicauth.users`]: `u:${ARGON}`,
        [`${M}.a.basicauth.hashes`]: 'x',
      })[0],
    ).toMatch(/option hashes of basicauth is not supported/);
    expect(closed({ [`${R}.app.ruleSyntax`]: 'v2' })[0]).toMatch(/router option ruleSyntax is not supported/);
  });

  it("notes what it leaves out when that changes nobody's access", () => {
    const r = router('Host(`a.example.com`) && Path(`/status`)', {
      [`${R}.app.priority`]: '10',
      [`${R}.app.middlewares`]: 'gz',
      [`${M}.gz.compress`]: 'true',
      'traefik.http.services.app.loadbalancer.sticky.cookie': 'true',
    });
    expect(r.services[0]?.routes[0]?.path).toBe('/status');
    expect(r.problems.map((p) => p.label).sort()).toEqual([
      `${M}.gz.compress`,
      `${R}.app.priority`,
      `${R}.app.rule`,
      'traefik.http.services.app.loadbalancer.sticky.cookie',
    ]);
  });

  it('says why a container is not published at all', () => {
    const noEnable = parseContainer(facts({ [`${R}.app.rule`]: 'Host(`a.example.com`)' }));
    expect(noEnable.problems).toEqual([
      { label: 'traefik.enable', message: 'traefik.enable=true is missing: not published' },
    ]);
    const tcp = parseContainer(
      facts({ 'traefik.enable': 'true', 'traefik.tcp.routers.db.rule': 'HostSNI(`*`)' }),
    );
    expect(tcp.problems).toEqual([
      { label: 'traefik.tcp.routers.db.rule', message: 'TCP routing by Traefik labels is not supported' },
    ]);
    expect(parseContainer(facts({ 'traefik.enable': 'true' })).problems).toEqual([
      { label: 'traefik.enable', message: 'no router: name the host in a router rule' },
    ]);
    const noRule = parseContainer(facts({ 'traefik.enable': 'true', [`${R}.app.entrypoints`]: 'web' }));
    expect(noRule.problems[0]?.message).toMatch(/has no rule/);
  });

  it('works beside gatehouse labels on the same container', () => {
    const r = parseContainer(
      facts({
        'gatehouse.enable': 'true',
        'gatehouse.domain': 'a.example.com',
        'gatehouse.port': '80',
        'traefik.enable': 'true',
        [`${R}.app.rule`]: 'Host(`b.example.com`)',
        'traefik.http.services.app.loadbalancer.server.port': '8080',
      }),
    );
    expect(r.services.map((s) => s.name)).toEqual(['web', 'web-app']);
  });
});

describe('traefik routers beside gatehouse labels, and entrypoints (fail closed)', () => {
  it('refuses a router that would be public beside gatehouse.* access labels', () => {
    const r = router('Host(`app.example.com`) && PathPrefix(`/api`)', {
      'gatehouse.enable': 'true',
      'gatehouse.domain': 'app.example.com',
      'gatehouse.auth': 'required',
    });
    expect(r.services.map((s) => s.name).sort()).not.toContain(expect.stringContaining('app-app'));
    expect(r.services.every((s) => s.routes.every((x) => !(x.access ?? s.access)?.public))).toBe(true);
    expect(r.problems.some((p) => p.label === `${R}.app.rule` && p.message.includes('would be public'))).toBe(
      true,
    );
    // With an access middleware of its own it is published.
    const guarded = router('Host(`app.example.com`) && PathPrefix(`/api`)', {
      'gatehouse.auth': 'required',
      [`${R}.app.middlewares`]: 'lan',
      [`${M}.lan.ipallowlist.sourcerange`]: '10.0.0.0/8',
    });
    expect(guarded.services).toHaveLength(1);
  });

  it('refuses a router on an entrypoint that may be internal', () => {
    const internal = router('Host(`app.example.com`)', { [`${R}.app.entrypoints`]: 'internal' });
    expect(internal.services).toEqual([]);
    expect(internal.problems.some((p) => p.label === `${R}.app.entrypoints`)).toBe(true);
    const usual = router('Host(`app.example.com`)', { [`${R}.app.entrypoints`]: 'web,websecure' });
    expect(usual.services).toHaveLength(1);
  });
});
