import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { renderNginx } from '../../src/drivers/nginx/render.js';
import { serviceSchema, type ServiceInput } from '../../src/model/service.js';
import { SESSION_COOKIE } from '../../src/model/session.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden');
const env: RenderEnv = {
  prefix: '/var/lib/gatehouse/nginx',
  genDir: '/var/lib/gatehouse/nginx/gen/g1',
  statusSocket: '/var/lib/gatehouse/nginx/run/status.sock',
  generation: 'g1',
  modulesDir: '/usr/lib/nginx/modules',
  workers: 2,
  ipv6: true,
  trustedProxies: ['10.0.0.1', '192.168.0.0/16'],
  resolvers: ['10.0.0.53', '[fd00::53]'],
};

const auth = { forward_auth: { url: 'http://10.0.1.5:3000/auth/verify', copy_headers: ['X-Gateway-Token'] } };

const cases: Record<string, ServiceInput[]> = {
  // Simple public services: map lines only, no server or upstream blocks.
  'fast-lane': [
    { name: 'a', hosts: ['a.example.com'], routes: [{ upstreams: ['10.0.0.1:80'] }] },
    {
      name: 'b',
      hosts: ['b.example.com', 'www.b.example.com'],
      routes: [{ upstreams: ['https://10.0.0.2:443'] }],
    },
    // A map keyword as a host is escaped; "r", "t", "n" first letters are not (nginx reads \\r).
    { name: 'kw', hosts: ['include', 'rtn.example.com'], routes: [{ upstreams: ['10.0.0.3:80'] }] },
  ],
  // Everything a route can say: several paths, LB, headers, strip, forward auth, health, TCP.
  full: [
    // A WAF: detection only at paranoia 2, two rules left out.
    {
      name: 'forum',
      hosts: ['forum.example.com'],
      waf: { mode: 'detect', paranoia: 2, exclude_rules: [942100, 920350] },
      routes: [{ upstreams: ['10.0.1.9:80'] }],
    },
    {
      name: 'nextcloud',
      hosts: ['cloud.example.com'],
      routes: [
        {
          path: '/',
          upstreams: ['10.0.1.5:8080', '10.0.1.6:8080'],
          lb: 'least_conn',
          health: { path: '/status', interval: '10s' },
          headers: {
            // Host overrides the common header of that name rather than adding a second one.
            request: { set: { 'X-Env': 'prod $HOME "q"', Host: 'internal.example' }, delete: ['X-Debug'] },
            response: { delete: ['Server'], set: { 'X-Frame-Options': 'DENY' } },
          },
        },
        { path: '/api/', upstreams: ['[fd00::5]:9000'], strip_prefix: true, access: auth },
        { path: '/legacy', upstreams: ['10.0.1.7:80'], strip_prefix: true, lb: 'first' },
      ],
      tcp: [{ port: 8883, upstreams: ['10.0.0.9:1883', '10.0.0.10:1883'], lb: 'ip_hash' }],
    },
    // A wildcard pulls an exact host it covers out of the fast lane.
    { name: 'wild', hosts: ['*.apps.example.com'], routes: [{ path: '/', upstreams: ['10.0.2.1:80'] }] },
    { name: 'exact', hosts: ['x.apps.example.com'], routes: [{ upstreams: ['10.0.2.2:80'] }] },
    // IP rules: alone only these sources; with forward auth either admits. A rate limit on top.
    {
      name: 'ops',
      hosts: ['ops.example.com'],
      routes: [
        {
          path: '/',
          upstreams: ['10.0.4.1:80'],
          access: { ip: ['10.44.0.0/16', 'fd00::/8'], rate_limit: { requests: 100, per: '1m' } },
        },
        {
          path: '/admin/',
          upstreams: ['10.0.4.1:80'],
          access: { ip: ['192.168.1.0/24'], forward_auth: { url: 'http://10.0.4.2:9091/verify' } },
        },
        {
          path: '/api/',
          upstreams: ['10.0.4.1:80'],
          access: { public: true, rate_limit: { requests: 5, per: '1s' } },
          // Its own limits: bandwidth only, its connections not counted.
          limits: { bandwidth: '512k' },
        },
      ],
      // Counted across the routes without limits of their own.
      limits: { connections: 100, connections_per_client: 4 },
    },
    // No "/" route: the server block answers 404 outside its paths.
    { name: 'only-api', hosts: ['api.example.com'], routes: [{ path: '/v1/', upstreams: ['10.0.3.1:80'] }] },
  ],
  // The gate: login (with groups), rules before everything, login or a LAN, identity header sets.
  gate: [
    // CrowdSec's decisions are enforced in this case: a public service that opts out of them.
    {
      name: 'status',
      hosts: ['status.example.com'],
      crowdsec: false,
      routes: [{ upstreams: ['10.0.5.9:80'] }],
    },
    {
      name: 'photos',
      hosts: ['photos.example.com'],
      routes: [
        { path: '/', upstreams: ['10.0.5.1:80'] },
        {
          path: '/share/',
          upstreams: ['10.0.5.1:80'],
          access: { public: true, rules: [{ action: 'deny', path: '/share/private/' }] },
        },
      ],
      access: {
        login: { groups: ['family'] },
        ip: ['192.168.1.0/24'],
        identity_headers: ['remote'],
        links: true,
        rules: [
          { action: 'deny', cidr: '0.0.0.0/0', path: '/admin/' },
          { action: 'allow', path: '/public/', method: ['GET', 'HEAD'] },
          { action: 'deny', country_not: ['DE', 'AT'], path: '/family/' },
          { action: 'deny', asn: [64512] },
          {
            action: 'allow',
            header: [
              { name: 'X-Api-Key', equals: 'k' },
              { name: 'X-Ci', regex: '^r[0-9]+$' },
            ],
          },
        ],
      },
    },
    {
      name: 'wiki',
      hosts: ['wiki.example.com'],
      routes: [{ upstreams: ['10.0.5.2:80'], headers: { request: { set: { 'X-Email': 'fixed' } } } }],
      access: { login: {}, rate_limit: { requests: 10, per: '1s', by: 'user' } },
    },
    // API keys: Authorization: Bearer on one route, a named header on another.
    {
      name: 'hooks',
      hosts: ['hooks.example.com'],
      routes: [
        { path: '/', upstreams: ['10.0.5.4:80'] },
        { path: '/in/', upstreams: ['10.0.5.4:80'], access: { api_keys: { header: 'X-Hook-Key' } } },
      ],
      access: { login: {}, api_keys: true },
    },
    // Round trips only where needed: basic credentials (the gate), an external provider.
    {
      name: 'ci',
      hosts: ['ci.example.com'],
      routes: [{ upstreams: ['10.0.5.3:80'] }],
      // The slow path (basic credentials) applies the limits too.
      limits: { connections_per_client: 2 },
      access: {
        login: {},
        rate_limit: { requests: 30, per: '1m' },
        basic: [
          {
            user: 'deploy',
            password_hash:
              '$argon2id$v=19$m=19456,t=2,p=1$aOo5wZZAqOeoiX7eM1uhCg$Dt23KW1nveUzp4pxsQxOahwhKWpi0j+QsM4So6Dbfp4',
          },
        ],
      },
    },
    {
      name: 'sso',
      hosts: ['sso.example.com'],
      routes: [{ upstreams: ['10.0.5.4:80'] }],
      access: {
        login: {},
        forward_auth: { url: 'http://10.0.5.5:9091/verify', copy_headers: ['Remote-User'] },
      },
    },
    // Other auth setups' conventions: redirects passed on, a plain 401 sent to a login URL.
    {
      name: 'descope',
      hosts: ['descope.example.com'],
      routes: [{ upstreams: ['10.0.5.6:80'] }],
      access: {
        forward_auth: {
          url: 'http://10.0.5.7:8080/verify',
          pass_redirects: true,
          login_url: 'https://login.example.com/?app=descope',
        },
      },
    },
  ],
};

// HTTPS: a wildcard certificate serves a fast-lane host and a full site (with HSTS); a host under it
// that opts out, and a host no certificate covers, stay on HTTP.
cases.tls = [
  { name: 'fast', hosts: ['a.example.com'], routes: [{ upstreams: ['10.0.6.1:80'] }] },
  {
    name: 'cloud',
    hosts: ['cloud.example.com', 'cloud.other.org'],
    hsts: true,
    routes: [
      { path: '/', upstreams: ['10.0.6.2:80'] },
      { path: '/api/', upstreams: ['10.0.6.3:80'] },
    ],
  },
  { name: 'plain', hosts: ['plain.example.com'], tls: 'none', routes: [{ upstreams: ['10.0.6.4:80'] }] },
  // TCP: MQTT over TLS ended here; two services sharing 8443 by SNI; one waiting for a certificate.
  {
    name: 'mqtt',
    tcp: [{ port: 8883, upstreams: ['10.0.6.5:1883'], tls: 'terminate', sni: ['mqtt.example.com'] }],
  },
  {
    name: 'git',
    tcp: [{ port: 8443, upstreams: ['10.0.6.6:443'], tls: 'passthrough', sni: ['git.example.com'] }],
  },
  {
    name: 'vpn',
    tcp: [
      {
        port: 8443,
        upstreams: ['10.0.6.7:443'],
        tls: 'passthrough',
        sni: ['vpn.example.com', 'vpn2.example.com'],
      },
    ],
  },
  {
    name: 'nocert',
    tcp: [{ port: 9883, upstreams: ['10.0.6.8:1883'], tls: 'terminate', sni: ['mqtt.other.org'] }],
  },
];
const certs = {
  tls: [
    {
      id: 'c1',
      fingerprint: 'ab'.repeat(32),
      names: ['*.example.com', 'example.com'],
      notAfter: '2027-01-01T00:00:00.000Z',
    },
  ],
} as const;

const gateEnv: RenderEnv['gate'] = {
  socket: '/var/lib/gatehouse/gate/gate.sock',
  stateDir: '/var/lib/gatehouse/gate/state',
  portalHost: 'auth.example.com',
  cookie: SESSION_COOKIE,
};

describe('nginx driver golden files', () => {
  for (const [name, inputs] of Object.entries(cases)) {
    it(`renders ${name}`, () => {
      const services = inputs.map((s) => serviceSchema.parse(s));
      const cfg = compile({
        services,
        listeners: { http: 80, https: 443 },
        certs: name === 'tls' ? certs.tls.map((c) => ({ ...c, names: [...c.names] })) : [],
        ...(name === 'tls'
          ? { challenges: new Map([['tok_1-x', 'tok_1-x.thumb_print']]), ownHosts: ['auth.example.com'] }
          : {}),
        ...(name === 'gate' ? { crowdsec: true } : {}),
      });
      const files = renderNginx(cfg, {
        ...env,
        down: new Set(['nextcloud-r0 10.0.1.6:8080']),
        ...(name === 'gate' || name === 'tls' ? { gate: gateEnv } : {}),
        // GeoIP: one database with both countries and networks.
        ...(name === 'gate'
          ? {
              geoip: { country: '/var/lib/GeoIP/geo.mmdb', asn: '/var/lib/GeoIP/geo.mmdb' },
              decisionsFile: '/var/lib/gatehouse/crowdsec/decisions.list',
            }
          : {}),
        // Passive health's failure log (the edge's UDP listener), shown once.
        ...(name === 'full' ? { upstreamLog: { address: '127.0.0.1:5514', tag: 'ghtest' } } : {}),
      });
      const text = [...files]
        // The Lua tables (hosts, pools, certificates) and the Lua code too: what nginx's memory is loaded from.
        .filter(([f]) => /\.(conf|tsv|lua)$/.test(f))
        .map(([f, c]) => `### ${f}\n${c}`)
        .join('\n');
      const file = join(dir, `${name}.conf`);
      if (process.env.UPDATE_GOLDEN || !existsSync(file)) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, text);
      }
      expect(text).toBe(readFileSync(file, 'utf8'));
    });
  }

  it('serves no host over HTTPS on an edge without an HTTPS listener, even with certificates', () => {
    const services = cases.tls!.map((s) => serviceSchema.parse(s));
    const cfg = compile({
      services,
      listeners: { http: 80, https: 443 },
      certs: certs.tls.map((c) => ({ ...c, names: [...c.names] })),
    });
    expect(cfg.tls.hosts.length).toBeGreaterThan(0);
    // What an edge agent does with the control plane's config: its own listeners.
    const conf = renderNginx({ ...cfg, listeners: { http: 8080, https: 0 } }, { ...env, gate: gateEnv }).get(
      'nginx.conf',
    );
    // (A TCP route's own TLS port stays: it is not the HTTPS listener.)
    expect(conf).not.toMatch(/listen (?:\[::\]:)?(?:0|443)\b/);
    expect(conf).not.toMatch(/return 30[18] https:/);
    expect(conf).toMatch(/listen 8080/);
  });

  it('is deterministic whatever the order of services', () => {
    const services = cases.full!.map((s) => serviceSchema.parse(s));
    const a = compile({ services, listeners: { http: 80, https: 443 } });
    const b = compile({ services: [...services].reverse(), listeners: { http: 80, https: 443 } });
    expect(b.hash).toBe(a.hash);
    expect(renderNginx(b, env).get('nginx.conf')).toBe(renderNginx(a, env).get('nginx.conf'));
  });
});
