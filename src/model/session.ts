import { createHmac, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { Identity } from './identity.js';

/**
 * The session contract between the gate, which mints sessions and writes state files, and nginx's
 * Lua check (drivers/nginx/gate-lua.ts), which reads both on every request without a round trip.
 * Every name and format they share lives here; the Lua source is generated from these values, and
 * test/unit/session-contract.test.ts runs it against tokens and files the gate made.
 */

/** The session cookie's name (also removed from every request before it reaches an upstream). */
export const SESSION_COOKIE = 'gh_session';

/** The environment variable nginx passes to the Lua check with the session signing key (never a file). */
export const SESSION_KEY_ENV = 'GH_SESSION_KEY';

/**
 * After a session-key rotation: the previous key and until when it still verifies sessions, as
 * `<until ms> <key>` (absent, or empty, when there is none).
 */
export const SESSION_KEY_PREVIOUS_ENV = 'GH_SESSION_KEY_PREVIOUS';

/** A key that verifies (never signs) sessions made before a rotation, until `until` (ms). */
export interface PreviousSessionKey {
  key: string;
  until: number;
}

/** nginx's environment for the session check: the key, and the previous one while it holds. */
export function sessionKeyEnv(key: string, previous?: PreviousSessionKey): Record<string, string> {
  return {
    [SESSION_KEY_ENV]: key,
    [SESSION_KEY_PREVIOUS_ENV]: previous ? `${previous.until} ${previous.key}` : '',
  };
}

/**
 * A token: `base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part))`. No lifetime is
 * encoded beyond the claims' own issued and expiry times.
 */
export const TOKEN = { separator: '.', hmac: 'sha256', encoding: 'base64url' } as const;

/** A session's claims, with short keys: the token rides in the cookie of every request. */
export const sessionClaimsSchema = z.object({
  /** Session id. */
  s: z.string(),
  /** User id, username, email, display name, first and last name, groups. */
  u: z.string(),
  n: z.string(),
  e: z.string(),
  fn: z.string(),
  f: z.string(),
  l: z.string(),
  g: z.array(z.string()),
  /** Issued and expiry times, ms since the epoch. */
  i: z.number(),
  x: z.number(),
  /** The cookie's scope: the base domain (and its subdomains) or one host. */
  d: z.string(),
  /** How the user signed in: "password" or an OIDC provider's name. */
  v: z.string(),
});
export type SessionClaims = z.infer<typeof sessionClaimsSchema>;

/** Claim keys by meaning, for the Lua source (which reads them by these names). */
export const CLAIM = {
  sessionId: 's',
  userId: 'u',
  username: 'n',
  email: 'e',
  name: 'fn',
  firstName: 'f',
  lastName: 'l',
  groups: 'g',
  issued: 'i',
  expires: 'x',
  scope: 'd',
  via: 'v',
} as const satisfies Record<string, keyof SessionClaims>;

/** The claims of a session, in the order they are signed. */
export function sessionClaims(
  who: Identity,
  sid: string,
  issued: number,
  expires: number,
  scope: string,
  via: string,
): SessionClaims {
  return {
    s: sid,
    u: who.uid,
    n: who.username,
    e: who.email,
    fn: who.name,
    f: who.first_name,
    l: who.last_name,
    g: who.groups,
    i: issued,
    x: expires,
    d: scope,
    v: via,
  };
}

/**
 * Signs and checks tokens (see TOKEN). The Lua check makes the same computation. After a rotation
 * (`use`) it signs with the new key and still verifies with the previous one until its time is up.
 */
export class SessionCodec {
  constructor(
    private key: string,
    private previous?: PreviousSessionKey,
  ) {}

  /** From now on signs with `key`; `previous` verifies until its `until`. */
  use(key: string, previous?: PreviousSessionKey): void {
    this.key = key;
    this.previous = previous;
  }

  sign(claims: SessionClaims): string {
    const body = Buffer.from(JSON.stringify(claims)).toString(TOKEN.encoding);
    return `${body}${TOKEN.separator}${this.mac(body, this.key)}`;
  }

  /** The claims of a well-signed token, expired or not; undefined for anything else. */
  verify(token: string): SessionClaims | undefined {
    const dot = token.indexOf(TOKEN.separator);
    if (dot <= 0) return undefined;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const prev = this.previous && this.previous.until > Date.now() ? this.previous.key : undefined;
    if (!macMatches(given, this.mac(body, this.key)) && !(prev && macMatches(given, this.mac(body, prev))))
      return undefined;
    try {
      // Well signed means we wrote it: only the fields everything relies on are checked.
      const c = JSON.parse(Buffer.from(body, TOKEN.encoding).toString('utf8')) as SessionClaims;
      return typeof c.s === 'string' && typeof c.u === 'string' && typeof c.x === 'number' ? c : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(body: string, key: string): string {
    return createHmac(TOKEN.hmac, key).update(body).digest(TOKEN.encoding);
  }
}

function macMatches(given: Buffer, mac: string): boolean {
  const expected = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Files under the gate's state directory. nginx loads `r/` and `u/` into shared memory when it
 * starts (the gate sends new ones as it writes them); it tests `p/` and `l/` names per request and
 * reads a file only for the time it holds: a decimal number of ms since the
 * epoch, nothing else (written whole and renamed, so never half a number).
 */
export const STATE_DIR = {
  /** `r/<session id>`: that session is revoked; holds its expiry, after which the file may go. */
  revoked: 'r',
  /** `u/<user id>`: sessions of that user issued before the time it holds are stale. */
  userNotBefore: 'u',
  /** `p/<method>`: a way to sign in exists (see SIGN_IN); holds SIGN_IN.mark. */
  signIn: 'p',
  /**
   * `l/<service>/<address>`: a link admitted that address to the service until the time it holds
   * (and at the bandwidth after it: linkAdmission).
   */
  links: 'l',
  /** `k/<service>/<key id>`: an API key that opens the service (model/api-key.ts has its content). */
  apiKeys: 'k',
} as const;

/** Names of the files in `p/`: any way at all, passwords, and one per OIDC provider (prefix + name). */
export const SIGN_IN = { any: 'login', password: 'password', oidcPrefix: 'oidc-', mark: '1' } as const;

/** The time in a `u/` file that no session ever passes again (the largest a Date holds). */
export const NEVER_AGAIN_MS = 8_640_000_000_000_000;

/** Session and user ids become file names: the Lua check refuses longer ones, or any with / or . */
export const STATE_NAME_MAX = 64;
const SAFE_NAME = new RegExp(`^[A-Za-z0-9_-]{1,${STATE_NAME_MAX}}$`);

function safeName(id: string): string {
  if (!SAFE_NAME.test(id)) throw new Error(`unsafe id ${id}`);
  return id;
}

/** Paths of the state files, under the state directory `dir`. */
export const stateFile = {
  revoked: (dir: string, sid: string) => join(dir, STATE_DIR.revoked, safeName(sid)),
  userNotBefore: (dir: string, uid: string) => join(dir, STATE_DIR.userNotBefore, safeName(uid)),
  signIn: (dir: string, method: string) => join(dir, STATE_DIR.signIn, method),
  link: (dir: string, service: string, ip: string) => join(dir, STATE_DIR.links, service, ip),
  apiKey: (dir: string, service: string, id: string) => join(dir, STATE_DIR.apiKeys, service, safeName(id)),
};

/**
 * The content of a link admission (`l/`): until when, and with a bandwidth limit (bytes a second)
 * when every live link that admitted the address has one.
 */
export function linkAdmission(untilMs: number, bytesPerSecond?: number): string {
  return bytesPerSecond === undefined ? String(untilMs) : `${untilMs} ${bytesPerSecond}`;
}

/** The content of a file that holds a time. */
export function stateTime(ms: number): string {
  return String(ms);
}

/** The scheme and port part of the address clients use (`port` is `""` or `":8443"`). */
export interface PublicOrigin {
  scheme: 'http' | 'https';
  port: string;
}

/** What nginx needs to know of the gate (absent: no gate, guarded routes answer 503). */
export interface GateEnv {
  /** The gate's unix socket (login portal, session exchange). */
  socket: string;
  /** The state directory (see STATE_DIR). */
  stateDir: string;
  /** The login portal's host (`auth.<base domain>`); absent when none is configured. */
  portalHost?: string;
  /** Name of the session cookie: SESSION_COOKIE (carried to edge agents in the feed). */
  cookie: string;
  /** Scheme and port clients use (setting `public_url`); absent: those of each request. */
  publicOrigin?: PublicOrigin;
}
