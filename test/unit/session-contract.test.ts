import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { gateEndpoint, gateHttp, gateInit } from '../../src/drivers/nginx/gate.js';
import { renderNginx } from '../../src/drivers/nginx/render.js';
import { RevocationSync } from '../../src/drivers/nginx/revocations.js';
import { RevocationFiles, Sessions } from '../../src/gate/sessions.js';
import type { Identity } from '../../src/model/identity.js';
import { serviceSchema, type ServiceInput } from '../../src/model/service.js';
import {
  SESSION_COOKIE,
  SESSION_KEY_ENV,
  SessionCodec,
  sessionClaims,
  SIGN_IN,
  stateFile,
  stateTime,
  TOKEN,
} from '../../src/model/session.js';
import { openSqlite, type Db } from '../../src/store/db.js';

/**
 * The session contract, proven both ways: the gate (TypeScript) mints tokens and writes state files
 * (and sends revocations to nginx's shared memory), and the Lua check nginx runs (the generated
 * gate.lua, gate-lib.lua, gate-revocations.lua and gate-policies.lua, in a real nginx whose one
 * location answers the verdict and the identity it set) accepts what it should and refuses a
 * tampered, expired, out-of-scope or revoked session.
 */

const KEY = 'k'.repeat(43);
const IP = '192.0.2.7';

const services: ServiceInput[] = [
  {
    name: 'photos',
    hosts: ['photos.example.com'],
    routes: [{ upstreams: ['10.0.5.1:80'] }],
    access: { login: { groups: ['family'] }, links: true },
  },
  {
    name: 'wiki',
    hosts: ['wiki.example.com'],
    routes: [{ upstreams: ['10.0.5.2:80'] }],
    access: { login: {} },
  },
  {
    name: 'corp',
    hosts: ['corp.example.com'],
    routes: [{ upstreams: ['10.0.5.3:80'] }],
    access: { provider: 'corp' },
  },
];

const alice: Identity = {
  uid: 'u_alice',
  username: 'alice',
  email: 'alice@example.com',
  name: 'Alice Liddell',
  first_name: 'Alice',
  last_name: 'Liddell',
  groups: ['family', 'admins'],
};
const bob: Identity = { ...alice, uid: 'u_bob', username: 'bob', groups: [] };

const IDENTITY = ['user', 'uid', 'email', 'name', 'first', 'last', 'groups'] as const;

/** An nginx running the generated check on a unix socket (workers as root: the state is in /tmp). */
async function checkNginx(
  dir: string,
  env: RenderEnv,
  key: string | undefined,
  dict = '32m',
): Promise<ChildProcess> {
  const vars = IDENTITY.map((v) => `$gh_${v}`).join('|');
  const conf = [
    'load_module /usr/lib/nginx/modules/ndk_http_module.so;',
    'load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;',
    `env ${SESSION_KEY_ENV};`,
    'user root;',
    'daemon off;',
    'worker_processes 2;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 64; }',
    'http {',
    `  access_log off;`,
    `  client_body_temp_path ${dir}/body;`,
    'lua_package_path "/usr/share/lua/5.1/?.lua;;";',
    ...gateHttp({ ...env, gate: undefined }, true).map((l) =>
      l.replace('gh_revoked 32m', `gh_revoked ${dict}`),
    ),
    'init_by_lua_block {',
    '  require "resty.core"',
    ...gateInit(env, true),
    '}',
    'server {',
    `  listen unix:${dir}/check.sock;`,
    '  set_real_ip_from unix:;',
    '  real_ip_header X-Forwarded-For;',
    '  location / {',
    '    set $gh_policy $http_x_policy;',
    '    set_by_lua_block $gh_verdict { return gh_gate.verdict() }',
    `    return 200 "$gh_verdict|${vars}";`,
    '  }',
    ...gateEndpoint(true),
    '}',
    '}',
  ].join('\n');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    env: { ...process.env, [SESSION_KEY_ENV]: key ?? '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  for (let i = 0; i < 200; i++) {
    if (await ask(`${dir}/check.sock`, { host: 'x', policy: '' }).catch(() => undefined)) return child;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the check nginx did not start');
}

interface Ask {
  host: string;
  policy: string;
  cookie?: string;
  ip?: string;
}

function ask(socketPath: string, a: Ask): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      host: a.host,
      'x-policy': a.policy,
      'x-forwarded-for': a.ip ?? IP,
      accept: 'text/html',
    };
    if (a.cookie) headers.cookie = a.cookie;
    const req = request({ socketPath, path: '/', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('session contract: the Lua check in nginx accepts what the gate mints', () => {
  let dir: string;
  let stateDir: string;
  let db: Db;
  let sessions: Sessions;
  let env: RenderEnv;
  let files: Map<string, string>;
  const nginxes: ChildProcess[] = [];
  let policyOf: (host: string) => string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-session-contract-'));
    stateDir = join(dir, 'state');
    db = await openSqlite(':memory:');
    const revocations = new RevocationFiles(stateDir);
    await revocations.init();
    // What gatehouse.ts wires: each revocation reaches nginx's shared memory before it is done.
    const sync = new RevocationSync(join(dir, 'keyed', 'check.sock'), () => stateDir);
    revocations.onWrite((kind, id, ms) => sync.add([{ kind, id, ms }]));
    sessions = new Sessions(db, new SessionCodec(KEY), revocations, 3_600_000);
    // Sign-in is available (what Gate.refreshAvailability and Providers.syncAvailability write).
    await mkdir(dirname(stateFile.signIn(stateDir, SIGN_IN.any)), { recursive: true });
    await writeFile(stateFile.signIn(stateDir, SIGN_IN.any), SIGN_IN.mark);
    await writeFile(stateFile.signIn(stateDir, `${SIGN_IN.oidcPrefix}corp`), SIGN_IN.mark);

    const cfg = compile({
      services: services.map((s) => serviceSchema.parse(s)),
      listeners: { http: 80, https: 443 },
    });
    env = {
      prefix: join(dir, 'nginx'),
      genDir: join(dir, 'nginx', 'gen'),
      statusSocket: join(dir, 'status.sock'),
      generation: 'g1',
      modulesDir: '/usr/lib/nginx/modules',
      workers: 1,
      gate: {
        socket: join(dir, 'gate.sock'),
        stateDir,
        portalHost: 'auth.example.com',
        cookie: SESSION_COOKIE,
      },
    };
    await mkdir(env.genDir, { recursive: true });
    files = renderNginx(cfg, env);
    for (const [name, content] of files) {
      if (name.endsWith('.lua')) await writeFile(join(env.genDir, name), content);
    }
    nginxes.push(await checkNginx(join(dir, 'keyed'), env, KEY));
    policyOf = (host) => cfg.sites.find((s) => s.hosts.includes(host))?.routes[0]?.access.policy as string;
  });

  afterAll(async () => {
    for (const n of nginxes) n.kill('SIGQUIT');
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A browser's request for `/` on `host` with these session cookies: verdict and identity. */
  async function check(host: string, tokens: string[], ip = IP, socket = join(dir, 'keyed', 'check.sock')) {
    const cookie = ['theme=dark', ...tokens.map((t) => `${SESSION_COOKIE}=${t}`)].join('; ');
    const [v, ...ids] = (await ask(socket, { host, policy: policyOf(host), cookie, ip })).split('|');
    return { verdict: v, identity: Object.fromEntries(IDENTITY.map((k, i) => [k, ids[i]])) };
  }
  const verdict = async (host: string, tokens: string[], ip?: string) =>
    (await check(host, tokens, ip)).verdict;
  const login = (who: Identity, scope = 'example.com', via = 'password') =>
    sessions.create(who, { ip: IP, userAgent: 'test', via, scope });

  it('passes a session the gate minted, with the identity the token carries', async () => {
    const { token, claims } = await login(alice);
    expect(sessions.codec.verify(token)).toEqual(claims);
    expect(await check('photos.example.com', [token])).toEqual({
      verdict: 'pass',
      identity: {
        user: 'alice',
        uid: 'u_alice',
        email: 'alice@example.com',
        name: 'Alice Liddell',
        first: 'Alice',
        last: 'Liddell',
        groups: 'family,admins',
      },
    });
    // The groups in the token decide: bob may see the wiki, not the family's photos.
    const bobs = (await login(bob)).token;
    expect(await verdict('wiki.example.com', [bobs])).toBe('pass');
    expect(await verdict('photos.example.com', [bobs])).toBe('deny');
  });

  it('refuses a tampered token, one signed with another key, and one without a key', async () => {
    const { token, claims } = await login(bob);
    const dot = token.indexOf(TOKEN.separator);
    const mac = token.slice(dot + 1);
    const flipped = `${token.slice(0, dot + 1)}${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
    expect(await verdict('wiki.example.com', [flipped])).toBe('login');
    // Claims changed under the original signature (bob in the family).
    const body = Buffer.from(JSON.stringify({ ...claims, g: ['family'] })).toString(TOKEN.encoding);
    expect(await verdict('photos.example.com', [`${body}${TOKEN.separator}${mac}`])).toBe('login');
    expect(await verdict('wiki.example.com', [new SessionCodec('another key').sign(claims)])).toBe('login');
    nginxes.push(await checkNginx(join(dir, 'keyless'), env, undefined));
    const keyless = await check('wiki.example.com', [token], IP, join(dir, 'keyless', 'check.sock'));
    expect(keyless.verdict).toBe('login');
  });

  it('refuses an expired session and one outside its cookie scope', async () => {
    const now = Date.now();
    const codec = sessions.codec;
    const expired = codec.sign(
      sessionClaims(alice, 'sid_old', now - 7_200_000, now - 1, 'example.com', 'password'),
    );
    expect(await verdict('wiki.example.com', [expired])).toBe('login');
    const hostOnly = codec.sign(
      sessionClaims(alice, 'sid_host', now, now + 60_000, 'wiki.example.com', 'password'),
    );
    expect(await verdict('wiki.example.com', [hostOnly])).toBe('pass');
    expect(await verdict('photos.example.com', [hostOnly])).toBe('login');
    const elsewhere = codec.sign(
      sessionClaims(alice, 'sid_else', now, now + 60_000, 'other.test', 'password'),
    );
    expect(await verdict('wiki.example.com', [elsewhere])).toBe('login');
  });

  it('refuses a revoked session (r/), and looks past a stale cookie to a good one', async () => {
    const stale = await login(alice);
    const fresh = await login(alice);
    expect(await sessions.revoke(stale.claims.s)).toBe(true);
    expect(await verdict('wiki.example.com', [stale.token])).toBe('login');
    expect(await verdict('wiki.example.com', [fresh.token])).toBe('pass');
    expect(await verdict('wiki.example.com', [stale.token, fresh.token])).toBe('pass');
  });

  it('refuses sessions issued before a user changed (u/) until renewed, and all after removal', async () => {
    const carol: Identity = { ...alice, uid: 'u_carol', username: 'carol' };
    const before = await login(carol);
    expect(await verdict('wiki.example.com', [before.token])).toBe('pass');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await sessions.userChanged(carol.uid, false);
    expect(await verdict('wiki.example.com', [before.token])).toBe('login');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const renewed = await sessions.renew(before.claims, 'example.com', () => Promise.resolve(carol));
    expect(await verdict('wiki.example.com', [renewed?.token as string])).toBe('pass');
    await sessions.userChanged(carol.uid, true);
    expect(await verdict('wiki.example.com', [renewed?.token as string])).toBe('login');
    expect(await verdict('wiki.example.com', [(await login(carol)).token])).toBe('login');
  });

  it('passes a provider route only for that provider’s sessions; no sign-in method: unavailable', async () => {
    expect(await verdict('corp.example.com', [(await login(alice)).token])).toBe('login');
    expect(await verdict('corp.example.com', [(await login(alice, 'example.com', 'corp')).token])).toBe(
      'pass',
    );
    await rm(stateFile.signIn(stateDir, `${SIGN_IN.oidcPrefix}corp`));
    expect(await verdict('corp.example.com', [])).toBe('unavailable');
  });

  it('admits an address a link admitted (l/) until the time its file holds', async () => {
    const file = stateFile.link(stateDir, 'photos', IP);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, stateTime(Date.now() + 60_000));
    expect(await verdict('photos.example.com', [])).toBe('pass');
    expect(await verdict('photos.example.com', [], '192.0.2.8')).toBe('login');
    await writeFile(file, stateTime(Date.now() - 1));
    expect(await verdict('photos.example.com', [])).toBe('login');
  });

  it('keeps the session cookie from upstreams (the renderer strips the contract’s cookie name)', async () => {
    const { token } = await login(alice);
    const conf = files.get('nginx.conf') as string;
    const strips = [...conf.matchAll(/^\s*"~(\^.*\$)" "\$(gh_c\d)\$(gh_c\d)";$/gm)];
    expect(strips).toHaveLength(2);
    let cookie = `theme=dark; ${SESSION_COOKIE}=x.y; lang=en; ${SESSION_COOKIE}=${token}`;
    for (const [, pattern, first, second] of strips) {
      const m = new RegExp(pattern as string).exec(cookie);
      if (m?.groups) cookie = `${m.groups[first as string] ?? ''}${m.groups[second as string] ?? ''}`;
    }
    expect(cookie).toBe('theme=dark; lang=en;');
  });

  it('with its shared memory full, nginx refuses a revoked session all the same (from the files)', async () => {
    nginxes.push(await checkNginx(join(dir, 'tiny'), env, KEY, '12k'));
    const tiny = join(dir, 'tiny', 'check.sock');
    const many = Array.from({ length: 2000 }, (_, i) => ({ kind: 'r' as const, id: `filler_${i}`, ms: 1 }));
    await expect(new RevocationSync(tiny, () => stateDir).add(many)).rejects.toThrow(/shared memory/);
    const gone = await login(alice);
    const kept = await login(alice);
    expect(await sessions.revoke(gone.claims.s)).toBe(true);
    expect((await check('wiki.example.com', [gone.token], IP, tiny)).verdict).toBe('login');
    expect((await check('wiki.example.com', [kept.token], IP, tiny)).verdict).toBe('pass');
  });

  it('never reached the check’s error path', async () => {
    const log = await readFile(join(dir, 'keyed', 'error.log'), 'utf8');
    expect(log).not.toMatch(/gate check failed|\[error\]|\[alert\]/);
  });
});
