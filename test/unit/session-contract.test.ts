import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { renderNginx } from '../../src/drivers/nginx/render.js';
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
 * The session contract, proven both ways: the gate (TypeScript) mints tokens and writes state files,
 * and the njs check nginx runs (the generated njs/gate.js and njs/policies.js, evaluated here in a
 * bare V8 context with Node's fs and crypto standing in for njs's) accepts what it should and
 * refuses a tampered, expired, out-of-scope or revoked session.
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

interface NjsRequest {
  variables: Record<string, string>;
  headersIn: Record<string, string>;
  uri: string;
  method: string;
  error(message: string): void;
}
interface NjsGate {
  verdict(r: NjsRequest): string;
}

/** Evaluates the generated njs check; `env` is what nginx would pass it (`env` directive). */
function loadNjs(gateJs: string, policiesJs: string, env: Record<string, string>): NjsGate {
  const context = vm.createContext({});
  const evaluate = (source: string, imports: string[], args: unknown[]): unknown => {
    let body = source;
    for (const line of imports) {
      expect(body).toContain(line);
      body = body.replace(line, '');
    }
    expect(body).toMatch(/^export default /m);
    body = body.replace(/^export default /m, 'return ');
    const params = ['P', 'fs', 'crypto', 'process', 'Buffer'];
    return vm.compileFunction(body, params, { parsingContext: context })(...args);
  };
  const P = evaluate(policiesJs, [], []);
  const imports = ["import P from 'policies.js';", "import fs from 'fs';", "import crypto from 'crypto';"];
  return evaluate(gateJs, imports, [P, fs, crypto, { env }, Buffer]) as NjsGate;
}

describe('session contract: the njs check accepts what the gate mints', () => {
  let dir: string;
  let stateDir: string;
  let db: Db;
  let sessions: Sessions;
  let njs: NjsGate;
  let files: Map<string, string>;
  let policyOf: (host: string) => string;
  const errors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-session-contract-'));
    stateDir = join(dir, 'state');
    db = await openSqlite(':memory:');
    const revocations = new RevocationFiles(stateDir);
    await revocations.init();
    sessions = new Sessions(db, new SessionCodec(KEY), revocations, 3_600_000);
    // Sign-in is available (what Gate.refreshAvailability and Providers.syncAvailability write).
    await mkdir(dirname(stateFile.signIn(stateDir, SIGN_IN.any)), { recursive: true });
    await writeFile(stateFile.signIn(stateDir, SIGN_IN.any), SIGN_IN.mark);
    await writeFile(stateFile.signIn(stateDir, `${SIGN_IN.oidcPrefix}corp`), SIGN_IN.mark);

    const cfg = compile({
      services: services.map((s) => serviceSchema.parse(s)),
      listeners: { http: 80, https: 443 },
    });
    const env: RenderEnv = {
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
    files = renderNginx(cfg, env);
    njs = loadNjs(files.get('njs/gate.js') as string, files.get('njs/policies.js') as string, {
      [SESSION_KEY_ENV]: KEY,
    });
    policyOf = (host) => cfg.sites.find((s) => s.hosts.includes(host))?.routes[0]?.access.policy as string;
  });

  afterAll(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A browser's request for `/` on `host` with these session cookies, as nginx shows it to njs. */
  function request(host: string, tokens: string[], ip = IP): NjsRequest {
    const header = ['theme=dark', ...tokens.map((t) => `${SESSION_COOKIE}=${t}`)].join('; ');
    return {
      variables: {
        host,
        http_host: host,
        scheme: 'https',
        request_uri: '/',
        remote_addr: ip,
        gh_policy: policyOf(host),
        http_cookie: header,
        // nginx's $cookie_<name>: the first cookie of that name.
        ...(tokens[0] !== undefined ? { [`cookie_${SESSION_COOKIE}`]: tokens[0] } : {}),
      },
      headersIn: { Accept: 'text/html' },
      uri: '/',
      method: 'GET',
      error: (m) => errors.push(m),
    };
  }
  const verdict = (host: string, tokens: string[], ip?: string) => njs.verdict(request(host, tokens, ip));
  const login = (who: Identity, scope = 'example.com', via = 'password') =>
    sessions.create(who, { ip: IP, userAgent: 'test', via, scope });

  it('passes a session the gate minted, with the identity the token carries', async () => {
    const { token, claims } = await login(alice);
    expect(sessions.codec.verify(token)).toEqual(claims);
    const r = request('photos.example.com', [token]);
    expect(njs.verdict(r)).toBe('pass');
    expect(r.variables).toMatchObject({
      gh_user: 'alice',
      gh_uid: 'u_alice',
      gh_email: 'alice@example.com',
      gh_name: 'Alice Liddell',
      gh_first: 'Alice',
      gh_last: 'Liddell',
      gh_groups: 'family,admins',
    });
    // The groups in the token decide: bob may see the wiki, not the family's photos.
    const bobs = (await login(bob)).token;
    expect(verdict('wiki.example.com', [bobs])).toBe('pass');
    expect(verdict('photos.example.com', [bobs])).toBe('deny');
  });

  it('refuses a tampered token, one signed with another key, and one without a key', async () => {
    const { token, claims } = await login(bob);
    const dot = token.indexOf(TOKEN.separator);
    const mac = token.slice(dot + 1);
    const flipped = `${token.slice(0, dot + 1)}${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
    expect(verdict('wiki.example.com', [flipped])).toBe('login');
    // Claims changed under the original signature (bob in the family).
    const body = Buffer.from(JSON.stringify({ ...claims, g: ['family'] })).toString(TOKEN.encoding);
    expect(verdict('photos.example.com', [`${body}${TOKEN.separator}${mac}`])).toBe('login');
    expect(verdict('wiki.example.com', [new SessionCodec('another key').sign(claims)])).toBe('login');
    const keyless = loadNjs(files.get('njs/gate.js') as string, files.get('njs/policies.js') as string, {});
    expect(keyless.verdict(request('wiki.example.com', [token]))).toBe('login');
  });

  it('refuses an expired session and one outside its cookie scope', () => {
    const now = Date.now();
    const codec = sessions.codec;
    const expired = codec.sign(
      sessionClaims(alice, 'sid_old', now - 7_200_000, now - 1, 'example.com', 'password'),
    );
    expect(verdict('wiki.example.com', [expired])).toBe('login');
    const hostOnly = codec.sign(
      sessionClaims(alice, 'sid_host', now, now + 60_000, 'wiki.example.com', 'password'),
    );
    expect(verdict('wiki.example.com', [hostOnly])).toBe('pass');
    expect(verdict('photos.example.com', [hostOnly])).toBe('login');
    const elsewhere = codec.sign(
      sessionClaims(alice, 'sid_else', now, now + 60_000, 'other.test', 'password'),
    );
    expect(verdict('wiki.example.com', [elsewhere])).toBe('login');
  });

  it('refuses a revoked session (r/), and looks past a stale cookie to a good one', async () => {
    const stale = await login(alice);
    const fresh = await login(alice);
    expect(await sessions.revoke(stale.claims.s)).toBe(true);
    expect(verdict('wiki.example.com', [stale.token])).toBe('login');
    expect(verdict('wiki.example.com', [fresh.token])).toBe('pass');
    expect(verdict('wiki.example.com', [stale.token, fresh.token])).toBe('pass');
  });

  it('refuses sessions issued before a user changed (u/) until renewed, and all after removal', async () => {
    const carol: Identity = { ...alice, uid: 'u_carol', username: 'carol' };
    const before = await login(carol);
    expect(verdict('wiki.example.com', [before.token])).toBe('pass');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await sessions.userChanged(carol.uid, false);
    expect(verdict('wiki.example.com', [before.token])).toBe('login');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const renewed = await sessions.renew(before.claims, 'example.com', () => Promise.resolve(carol));
    expect(verdict('wiki.example.com', [renewed?.token as string])).toBe('pass');
    await sessions.userChanged(carol.uid, true);
    expect(verdict('wiki.example.com', [renewed?.token as string])).toBe('login');
    expect(verdict('wiki.example.com', [(await login(carol)).token])).toBe('login');
  });

  it('passes a provider route only for that provider’s sessions; no sign-in method: unavailable', async () => {
    expect(verdict('corp.example.com', [(await login(alice)).token])).toBe('login');
    expect(verdict('corp.example.com', [(await login(alice, 'example.com', 'corp')).token])).toBe('pass');
    await rm(stateFile.signIn(stateDir, `${SIGN_IN.oidcPrefix}corp`));
    expect(verdict('corp.example.com', [])).toBe('unavailable');
  });

  it('admits an address a link admitted (l/) until the time its file holds', async () => {
    const file = stateFile.link(stateDir, 'photos', IP);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, stateTime(Date.now() + 60_000));
    expect(verdict('photos.example.com', [])).toBe('pass');
    expect(verdict('photos.example.com', [], '192.0.2.8')).toBe('login');
    await writeFile(file, stateTime(Date.now() - 1));
    expect(verdict('photos.example.com', [])).toBe('login');
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

  it('never reached the check’s error path', () => {
    expect(errors).toEqual([]);
  });
});
