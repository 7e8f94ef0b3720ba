import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeConfig, HeaderOps, SiteRoute } from '../../src/compile/edge-config.js';
import { lit, str, UnsafeValueError } from '../../src/drivers/nginx/escape.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { renderNginx } from '../../src/drivers/nginx/render.js';
import type { Template } from '../../src/model/settings.js';
import { checkTemplates } from '../../src/sources/register/templates.js';
import { authServer } from '../helpers/auth-server.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type Res, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/**
 * Config injection: no value that reaches the nginx config may add a directive. A value is either
 * refused with a 4xx, or (where it is legitimately allowed, like a header value) written so that
 * nginx reads it back as the literal text: the upstream or the client receives it byte for byte.
 */

/** Attempts to break out of a quoted token, a directive or a block, or to name a variable. */
const PAYLOADS: [why: string, payload: string][] = [
  ['ends the directive, adds one', 'a.test; return 200 pwned;'],
  ['closes the double quote', 'x" ; return 200 "pwned'],
  ['closes a single quote', "x'; return 200 'pwned"],
  ['an nginx variable', '$host'],
  ['the dollar variable Gatehouse uses', '${gh_dollar}'],
  ['a variable in braces', '${request_uri}'],
  ['a new line and a location', 'a.test\nlocation / { return 200 pwned; }'],
  ['CR LF and a header', 'x\r\nX-Injected: pwned'],
  ['closes the block', '}'],
  ['opens a block', '{'],
  ['closes the server, opens another', 'a.test; } server { listen 1; return 200 pwned; } #'],
  ['escapes the closing quote', 'x\\"; return 200 pwned; #'],
  ['a comment', 'a.test # return 200 pwned'],
  ['an include', 'include /etc/passwd'],
  ['a NUL byte', 'a.test\u0000; return 200 pwned;'],
];

// eslint-disable-next-line no-control-regex -- control characters are what these payloads carry
const CONTROL = /[\x00-\x1f\x7f]/;
/** Payloads a header value may legitimately hold: printable ASCII. */
const VALUE_PAYLOADS: [why: string, payload: string][] = [
  ...PAYLOADS.filter(([, p]) => !CONTROL.test(p)),
  ['a lone backslash', '\\'],
  ['a backslash and n', '\\n'],
  ['a lone dollar', '$'],
  ['two dollars', '$$'],
  ['a regex capture', '$1'],
  ['an unclosed variable brace', '${'],
  ['a lone double quote', '"'],
  ['a semicolon', ';'],
  ['a percent-encoded NUL', '%00'],
  ['a directive on its own', 'return 200 pwned;'],
];

type Obj = Record<string, unknown>;
const UP = '127.0.0.1:9';
const route = (extra: Obj = {}): Obj => ({ path: '/', upstreams: [UP], ...extra });
const svc = (extra: Obj = {}): Obj => ({ name: 'evil', hosts: ['evil.test'], routes: [route()], ...extra });
const withRoute = (extra: Obj): Obj => svc({ routes: [route(extra)] });
const withAuth = (forwardAuth: Obj): Obj =>
  svc({ access: { forward_auth: { url: 'http://127.0.0.1:9/verify', ...forwardAuth } } });
const registration = (extra: Obj): Obj => ({
  subdomain: 'evil',
  backend_ip: '127.0.0.1',
  backend_port: 9,
  ...extra,
});

/** Every way a value reaches the config; each must refuse every payload. */
const VECTORS: {
  where: string;
  to: 'api' | 'reg';
  body: (p: string) => Obj;
  path?: (p: string) => string;
}[] = [
  { where: 'a host', to: 'api', body: (p) => svc({ hosts: [p] }) },
  { where: 'a second host', to: 'api', body: (p) => svc({ hosts: ['ok.test', p] }) },
  { where: 'a wildcard host', to: 'api', body: (p) => svc({ hosts: [`*.${p}`] }) },
  { where: 'a path', to: 'api', body: (p) => withRoute({ path: `/${p}` }) },
  { where: 'a stripped path', to: 'api', body: (p) => withRoute({ path: `/x/${p}`, strip_prefix: true }) },
  {
    where: 'a request.set name',
    to: 'api',
    body: (p) => withRoute({ headers: { request: { set: { [p]: 'v' } } } }),
  },
  {
    where: 'a request.delete name',
    to: 'api',
    body: (p) => withRoute({ headers: { request: { delete: [p] } } }),
  },
  {
    where: 'a response.set name',
    to: 'api',
    body: (p) => withRoute({ headers: { response: { set: { [p]: 'v' } } } }),
  },
  {
    where: 'a response.delete name',
    to: 'api',
    body: (p) => withRoute({ headers: { response: { delete: [p] } } }),
  },
  {
    where: 'the forward_auth URL path',
    to: 'api',
    body: (p) => withAuth({ url: `http://127.0.0.1:9/${p}` }),
  },
  {
    where: 'the forward_auth URL query',
    to: 'api',
    body: (p) => withAuth({ url: `http://127.0.0.1:9/v?${p}` }),
  },
  { where: 'the forward_auth URL host', to: 'api', body: (p) => withAuth({ url: `http://${p}:9/v` }) },
  { where: 'copy_headers', to: 'api', body: (p) => withAuth({ copy_headers: [p] }) },
  { where: 'an upstream', to: 'api', body: (p) => withRoute({ upstreams: [p] }) },
  { where: 'an upstream port', to: 'api', body: (p) => withRoute({ upstreams: [`127.0.0.1:9${p}`] }) },
  { where: 'an upstream URL', to: 'api', body: (p) => withRoute({ upstreams: [`http://${p}:80`] }) },
  {
    where: 'a TCP upstream',
    to: 'api',
    body: (p) => ({ name: 'evil', tcp: [{ port: 18831, upstreams: [p] }] }),
  },
  { where: 'a health check path', to: 'api', body: (p) => withRoute({ health: { path: `/${p}` } }) },
  { where: 'the service name', to: 'api', body: (p) => svc({ name: p }) },
  {
    where: 'the service name in the URL',
    to: 'api',
    body: () => svc(),
    path: (p) => `/api/v1/services/${encodeURIComponent(p)}`,
  },
  { where: 'a label key', to: 'api', body: (p) => svc({ labels: { [p]: 'v' } }) },
  { where: 'the registration subdomain', to: 'reg', body: (p) => registration({ subdomain: p }) },
  { where: 'the registration backend_ip', to: 'reg', body: (p) => registration({ backend_ip: p }) },
  { where: 'the registration type', to: 'reg', body: (p) => registration({ type: p }) },
];

const refusals = VECTORS.flatMap((v) => PAYLOADS.map(([why, payload]) => ({ ...v, why, payload })));

/** A template whose header value carries a payload of its own around a placeholder. */
const TENANT_VALUE = '{subdomain}" ; return 200 "pwned ${gh_dollar} $host {} \\';
const TEMPLATES: Record<string, Template> = {
  tenant: {
    routes: [
      {
        path: '/',
        upstreams: ['{backend_ip}:{backend_port}'],
        headers: { request: { set: { 'X-Tenant': TENANT_VALUE } } },
      },
    ],
  },
};

interface Echo {
  url: string;
  headers: Record<string, string>;
}

describe('config injection through the APIs', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  let auth: Awaited<ReturnType<typeof authServer>>;
  let baseline: Res;
  const conf = () => readFile(join(t.dataDir, 'nginx', 'current', 'nginx.conf'), 'utf8');
  const version = async () => Number((await t.api('GET', '/api/v1/status')).json.version);
  const echo = (r: Res): Echo => JSON.parse(r.body) as Echo;
  const baselineUnchanged = async () => {
    const now = await t.get('base.test', '/probe');
    expect({ status: now.status, body: now.body }).toEqual({ status: baseline.status, body: baseline.body });
  };
  /** The proxy is in sync with the registry: the config nginx -t accepted is the one serving. */
  const inSync = async () => {
    const s = await t.api('GET', '/api/v1/status');
    expect(s.json, JSON.stringify(s.json)).toMatchObject({ in_sync: true });
  };

  beforeAll(async () => {
    t = await startTestGatehouse({ templates: TEMPLATES });
    backend = await echoBackend('echo');
    auth = await authServer();
    const r = await t.api('PUT', '/api/v1/services/baseline?wait=true', {
      hosts: ['base.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
    });
    expect(r.status, r.body).toBe(201);
    baseline = await t.get('base.test', '/probe');
    expect(baseline.status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
    await backend?.close();
    await auth?.close();
  });

  describe('refuses every payload where it would reach the config', () => {
    let before: { version: number; conf: string };
    beforeAll(async () => {
      before = { version: await version(), conf: await conf() };
    });

    it.each(refusals)('$where: $why', async ({ to, body, path, payload }) => {
      const res =
        to === 'api'
          ? await t.api(path ? 'PUT' : 'POST', path?.(payload) ?? '/api/v1/services', body(payload))
          : await t.reg('POST', '/register', body(payload));
      expect(res.status, res.body).toBe(400);
      expect(res.json.error?.code).toBe('invalid');
      expect(await version()).toBe(before.version);
      expect(await conf()).toBe(before.conf);
    });

    // Valid host names that are keywords inside nginx's `map` ("include" would read a file named
    // after the upstream, "default" would replace the map's default): the driver escapes map keys.
    it.each(['include', 'default', 'hostnames', 'volatile'])(
      'a host named like a map keyword is just a host: %s',
      async (host) => {
        const res = await t.api('PUT', `/api/v1/services/kw-${host}?wait=true`, {
          hosts: [host],
          routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
        });
        expect(res.status, res.body).toBe(201);
        expect((await t.get(host)).status).toBe(200);
        expect((await t.get('unknown-host.test')).status).toBe(404);
        expect((await t.api('DELETE', `/api/v1/services/kw-${host}?wait=true`)).status).toBe(200);
        expect((await t.get(host)).status).toBe(404);
      },
    );

    it('left the proxy as it was', async () => {
      expect(await conf()).not.toContain('pwned');
      await baselineUnchanged();
      await inSync();
    });
  });

  describe('delivers header values literally', () => {
    let upstreamSaw: Echo;
    let clientGot: Res;
    const name = (i: number) => `X-P${i}`;
    beforeAll(async () => {
      const set = Object.fromEntries(VALUE_PAYLOADS.map(([, p], i) => [name(i), p]));
      const r = await t.api('PUT', '/api/v1/services/values?wait=true', {
        hosts: ['values.test'],
        routes: [
          { upstreams: [`127.0.0.1:${backend.port}`], headers: { request: { set }, response: { set } } },
        ],
      });
      expect(r.status, r.body).toBe(201);
      clientGot = await t.get('values.test', '/');
      expect(clientGot.status, clientGot.body).toBe(200);
      upstreamSaw = echo(clientGot);
    });

    it.each(VALUE_PAYLOADS.map(([why, payload], i) => ({ why, payload, i })))(
      'to the upstream and the client: $why',
      ({ payload, i }) => {
        expect(upstreamSaw.headers[name(i).toLowerCase()]).toBe(payload);
        expect(clientGot.headers[name(i).toLowerCase()]).toBe(payload);
      },
    );

    it('with the config valid, every payload inside its own header line, other routes unchanged', async () => {
      await inSync();
      const lines = (await conf()).split('\n').filter((l) => l.includes('pwned'));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).toMatch(/^\s*(proxy_set_header|add_header) "X-P\d+" ".*"( always)?;$/);
      await baselineUnchanged();
    });

    it('replacing a copy the client sends', async () => {
      const r = await t.get('values.test', '/', { headers: { 'X-P0': 'client' } });
      expect(echo(r).headers['x-p0']).toBe(VALUE_PAYLOADS[0]?.[1]);
    });
  });

  it('keeps label values, whatever they hold, out of the config', async () => {
    const hash = t.gh.edge.getStatus().appliedHash;
    const before = await conf();
    // Control characters are refused (a tool printing labels could be fed terminal escapes).
    const printable = PAYLOADS.filter(([, p]) => !/\p{Cc}/u.test(p));
    const refused = await t.api('PUT', '/api/v1/services/baseline', {
      hosts: ['base.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
      labels: { note: 'a\nb' },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error?.message).toMatch(/^labels\.note: /);
    const labels = Object.fromEntries(printable.map(([, p], i) => [`note.${i}`, p]));
    const r = await t.api('PUT', '/api/v1/services/baseline?wait=true', {
      hosts: ['base.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
      labels,
    });
    expect(r.status, r.body).toBe(200);
    expect(t.gh.registry.get('baseline')?.service.labels).toEqual(labels);
    expect(t.gh.edge.getStatus().appliedHash).toBe(hash);
    expect(await conf()).toBe(before);
    await baselineUnchanged();
  });

  it('delivers a template value literally, with the placeholder filled', async () => {
    const r = await t.reg('POST', '/register', {
      subdomain: 'acme',
      backend_ip: '127.0.0.1',
      backend_port: backend.port,
      type: 'tenant',
    });
    expect(r.status, r.body).toBe(201);
    await t.gh.edge.waitFor(Number(r.json.version));
    const seen = echo(await t.get('acme.gw.test', '/'));
    expect(seen.headers['x-tenant']).toBe(TENANT_VALUE.replace('{subdomain}', 'acme'));
    await inSync();
    await baselineUnchanged();
  });

  it('passes a forward_auth URL with unusual but legal characters through unchanged', async () => {
    const target = "/verify/'a'(b)*!+,=:@~&c?d='e'&f=%24(g)";
    const r = await t.api('PUT', '/api/v1/services/guarded?wait=true', {
      hosts: ['guarded.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
      access: {
        forward_auth: { url: `http://127.0.0.1:${auth.port}${target}`, copy_headers: ['X-Gateway-Token'] },
      },
    });
    expect(r.status, r.body).toBe(201);
    const res = await t.get('guarded.test', '/inside', { headers: { 'x-test-auth': 'ok' } });
    expect(res.status, res.body).toBe(200);
    expect(auth.calls.at(-1)?.url).toBe(target);
    expect(echo(res).headers['x-gateway-token']).toBe('gw-token-42');
    await inSync();
  });

  it('routes and strips paths made of unusual but legal characters', async () => {
    const path = "/q'(x)!*+,=:@~";
    const r = await t.api('PUT', '/api/v1/services/odd?wait=true', {
      hosts: ['odd.test'],
      routes: [
        { path: '/', upstreams: [UP] },
        { path, upstreams: [`127.0.0.1:${backend.port}`], strip_prefix: true },
      ],
    });
    expect(r.status, r.body).toBe(201);
    const res = await t.get('odd.test', `${path}/rest?a=1`);
    expect(res.status, res.body).toBe(200);
    expect(echo(res).url).toBe('/rest?a=1');
    await inSync();
    await baselineUnchanged();
  });

  it('still answers unknown hosts with the 404 page and never "pwned"', async () => {
    const res = await t.get('nowhere.test');
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('pwned');
  });
});

describe('templates with hostile values', () => {
  const hostile: [why: string, template: Template][] = [
    [
      'in a host',
      { hosts: ['{subdomain}.test; return 200 pwned;'], routes: [{ upstreams: ['{backend_ip}:1'] }] },
    ],
    [
      'in a path',
      { routes: [{ path: '/{subdomain} { return 200 pwned; }', upstreams: ['{backend_ip}:1'] }] },
    ],
    ['in an upstream', { routes: [{ upstreams: ['{backend_ip}:1; return 200 pwned;'] }] }],
    [
      'in a header name',
      {
        routes: [{ upstreams: ['{backend_ip}:1'], headers: { request: { set: { 'X-{subdomain};': 'v' } } } }],
      },
    ],
    [
      'in a header value, as a new line',
      {
        routes: [
          { upstreams: ['{backend_ip}:1'], headers: { request: { set: { 'X-A': 'v\nreturn 200 pwned;' } } } },
        ],
      },
    ],
    [
      'in the forward_auth URL',
      {
        routes: [{ upstreams: ['{backend_ip}:1'] }],
        access: { forward_auth: { url: 'http://{backend_ip}:3000/"; return 200 pwned; "' } },
      },
    ],
  ];

  it.each(hostile)('stop start-up: %s', (_why, template) => {
    expect(() => checkTemplates({ evil: template })).toThrow(/setting templates\.evil/);
  });
});

describe('escaping in the renderer, without the schema in front', () => {
  const env: RenderEnv = {
    prefix: '/var/lib/gatehouse/nginx',
    genDir: '/var/lib/gatehouse/nginx/gen/g1',
    statusSocket: '/var/lib/gatehouse/nginx/run/status.sock',
    generation: 'g1',
    modulesDir: '/usr/lib/nginx/modules',
    workers: 1,
  };
  const noHeaders: HeaderOps = { requestSet: [], requestDelete: [], responseSet: [], responseDelete: [] };

  interface Hostile {
    host?: string;
    path?: string;
    headers?: Partial<HeaderOps>;
    access?: SiteRoute['access'];
    server?: string;
    poolId?: string;
    /** The offline page's title and text. */
    title?: string;
    message?: string;
  }
  /** A one-route EdgeConfig with hostile parts; path "/" and no headers or auth make it fast-lane. */
  const edge = (h: Hostile): EdgeConfig => {
    const poolId = h.poolId ?? 'svc-r0';
    return {
      schema: 1,
      hash: '0'.repeat(64),
      listeners: { http: 8080, https: 0 },
      tls: { certs: [], hosts: [] },
      acme: [],
      sites: [
        {
          hosts: [h.host ?? 'ok.test'],
          routes: [
            {
              service: 'svc',
              offline: { title: h.title ?? 'svc', ...(h.message ? { message: h.message } : {}) },
              path: h.path ?? '/',
              pool: poolId,
              stripPrefix: false,
              access: h.access ?? { public: true },
              headers: { ...noHeaders, ...h.headers },
            },
          ],
        },
      ],
      pools: [{ id: poolId, scheme: 'http', lb: 'round_robin', servers: [h.server ?? '127.0.0.1:8080'] }],
      tcp: [],
    };
  };
  const render = (h: Hostile): string => renderNginx(edge(h), env).get('nginx.conf') ?? '';
  const unsafeForLit = (p: string) => CONTROL.test(p) || /[$"\\{};]/.test(p);

  it.each(PAYLOADS)('lit refuses or quotes as one token: %s', (_why, p) => {
    if (unsafeForLit(p)) expect(() => lit(p)).toThrow(UnsafeValueError);
    else expect(lit(p)).toBe(`"${p}"`);
  });

  it.each<[string, string]>([
    ['x" ; return 200 "pwned', '"x\\" ; return 200 \\"pwned"'],
    ['$host', '"${gh_dollar}host"'],
    ['${gh_dollar}', '"${gh_dollar}{gh_dollar}"'],
    ['a; } server { return 200 pwned; }', '"a; } server { return 200 pwned; }"'],
    ['x\\"; return 200 pwned; #', '"x\\\\\\"; return 200 pwned; #"'],
    ['\\', '"\\\\"'],
    ["it's", '"it\'s"'],
  ])('str escapes %j as %s', (value, quoted) => {
    expect(str(value)).toBe(quoted);
  });

  it.each(PAYLOADS.filter(([, p]) => CONTROL.test(p)))('str refuses control characters: %s', (_why, p) => {
    expect(() => str(p)).toThrow(UnsafeValueError);
  });

  const unsafe = PAYLOADS.filter(([, p]) => unsafeForLit(p));
  const requestSet = (name: string, value: string): Partial<HeaderOps> => ({ requestSet: [[name, value]] });
  it.each(unsafe)('refuses a hostile host in the fast-lane map: %s', (_why, p) => {
    expect(() => render({ host: p })).toThrow(UnsafeValueError);
  });
  it.each(unsafe)('refuses a hostile host in a server block: %s', (_why, p) => {
    expect(() => render({ host: p, path: '/x/' })).toThrow(UnsafeValueError);
  });
  it.each(unsafe)('refuses a hostile location path: %s', (_why, p) => {
    expect(() => render({ path: `/${p}` })).toThrow(UnsafeValueError);
  });
  it.each(unsafe)('refuses a hostile header name: %s', (_why, p) => {
    expect(() => render({ headers: requestSet(p, 'v') })).toThrow(UnsafeValueError);
    expect(() => render({ headers: { responseDelete: [p] } })).toThrow(UnsafeValueError);
  });
  it.each(PAYLOADS)('refuses a hostile copy_headers name: %s', (_why, p) => {
    const access = { public: false, forwardAuth: { url: 'http://127.0.0.1:9/v', copyHeaders: [p] } };
    expect(() => render({ access })).toThrow(UnsafeValueError);
  });
  it.each(PAYLOADS)('refuses a hostile upstream address or pool id: %s', (_why, p) => {
    expect(() => render({ server: `127.0.0.1:80${p}` })).toThrow(UnsafeValueError);
    expect(() => render({ path: '/x/', poolId: `svc-r0${p}` })).toThrow(UnsafeValueError);
  });

  it.each(VALUE_PAYLOADS)('writes a hostile header value as one escaped string: %s', (_why, p) => {
    const out = render({ headers: { requestSet: [['X-A', p]], responseSet: [['X-B', p]] } });
    expect(out).toContain(`proxy_set_header "X-A" ${str(p)};\n`);
    expect(out).toContain(`add_header "X-B" ${str(p)} always;\n`);
  });

  it.each(VALUE_PAYLOADS)('writes a hostile offline-page title and text as escaped HTML: %s', (_why, p) => {
    // A route below "/" keeps the host out of the fast lane: its page text is in its pool's line.
    const files = renderNginx(edge({ title: p, message: p, path: '/x/' }), env);
    const line = (files.get('fast-lane.tsv') ?? '').split('\n').find((l) => l.startsWith('@')) ?? '';
    const [, , , , title, message] = line.split('\t');
    expect(title).not.toMatch(/[<>"'$]/);
    expect(message).not.toMatch(/[<>"'$]/);
    expect(title).toBeTruthy();
  });

  it.each(VALUE_PAYLOADS)(
    'writes a hostile offline-page title and text escaped in the fast lane: %s',
    (_why, p) => {
      const state = renderNginx(edge({ title: p, message: p }), env).get('fast-lane.tsv') ?? '';
      const line = state.split('\n').find((l) => l.startsWith('ok.test\t')) ?? '';
      const [, , , title, message] = line.split('\t');
      expect(title).not.toMatch(/[<>"'$]/);
      expect(message).not.toMatch(/[<>"'$]/);
      expect(title).toBeTruthy();
    },
  );

  it('refuses header values and auth URLs with control characters', () => {
    expect(() => render({ headers: requestSet('X-A', 'v\nreturn 200 pwned;') })).toThrow(UnsafeValueError);
    const access = { public: false, forwardAuth: { url: 'http://127.0.0.1:9/v\n}', copyHeaders: [] } };
    expect(() => render({ access })).toThrow(UnsafeValueError);
  });

  it('renders a config nginx -t accepts, with every escapable payload in it', async () => {
    const dir = await testDir('gh-inject-');
    try {
      const at = {
        ...env,
        prefix: dir,
        genDir: join(dir, 'gen', 'g1'),
        statusSocket: join(dir, 'status.sock'),
      };
      const values = VALUE_PAYLOADS.map(([, p], i): [string, string] => [`X-P${i}`, p]);
      const access = {
        public: false,
        forwardAuth: { url: 'http://127.0.0.1:9/"; return 200 pwned; "', copyHeaders: ['X-Token'] },
      };
      const files = renderNginx(
        edge({
          path: '/x/',
          access,
          headers: { requestSet: values, responseSet: values },
          title: VALUE_PAYLOADS.map(([, p]) => p).join(' '),
          message: VALUE_PAYLOADS.map(([, p]) => p).join(' '),
        }),
        at,
      );
      for (const [rel, content] of files) {
        await mkdir(dirname(join(at.genDir, rel)), { recursive: true });
        await writeFile(join(at.genDir, rel), content);
      }
      for (const d of ['logs', 'tmp', 'run', 'sock']) await mkdir(join(dir, d));
      const conf = join(at.genDir, 'nginx.conf');
      const out = await new Promise<string>((resolve) =>
        execFile(
          'nginx',
          ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'logs', 'error.log')],
          (err, so, se) => resolve(err ? `failed: ${so}${se}` : 'ok'),
        ),
      );
      expect(out).toBe('ok');
      expect(files.get('nginx.conf')).toContain(
        'proxy_pass "http://127.0.0.1:9/\\"; return 200 pwned; \\"";',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
