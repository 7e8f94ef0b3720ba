import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import type { DnsRecordEvent } from '../dns/record-status.js';
import type { PublicAddressEvent } from '../dns/public-address.js';
import { join } from 'node:path';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import type { Db } from '../store/db.js';
import { generatedSecret, type Sealer } from '../store/secrets.js';
import { previousSessionKey, SESSION_KEY } from '../store/rotate.js';
import {
  SESSION_COOKIE,
  SessionCodec,
  type PreviousSessionKey,
  SIGN_IN,
  STATE_DIR,
  stateFile,
  type GateEnv,
  type PublicOrigin,
} from '../model/session.js';
import { RevocationFiles, Sessions } from './sessions.js';
import { UserStore } from './users.js';
import { LinkStore } from './links.js';
import { ApiKeyStore } from './api-keys.js';
import { MagicLinks, type SendMail } from './magic-links.js';
import { Providers } from './oidc.js';
import { checkTotp, hashRecovery, newTotp, recoveryCodes } from './totp.js';
import { notFound } from '../model/errors.js';
import type { Database } from '../store/db.js';

export interface GateOptions {
  db: Db;
  dataDir: string;
  sealer: Sealer;
  registry: Registry;
  log: Logger;
  /** Base domain: the session cookie covers it and its subdomains. */
  baseDomain?: string;
  /** The login portal's host. */
  portalHost?: string;
  sessionTtlMs: number;
  /** Name shown on the portal's pages. */
  brand: string;
  /** Scheme and port clients use (setting `public_url`); absent: those of each request. */
  publicOrigin?: PublicOrigin;
  /**
   * `scheme://host[:port]` as clients reach a host outside a request (links made through the API):
   * `public_url`'s, https when a certificate covers the host, else http on the HTTP listener.
   */
  originOf?: (host: string) => Promise<string>;
  /** Sign-in links by email (settings magic_link_channel, magic_link_ttl): how long one works. */
  magicLinkTtlMs?: number;
  /** Sends the links (through the email channel's server). */
  sendMail?: SendMail;
}

export type SecurityEvent =
  | 'login'
  | 'login_failed'
  | 'login_throttled'
  | 'logout'
  | 'session_revoked'
  | 'totp_failed'
  | 'totp_enrolled'
  | 'recovery_code_used'
  | 'link_used'
  | 'link_refused'
  // Sign-in links by email (routes-magic.ts).
  | 'magic_link_sent'
  | 'magic_link_failed'
  | 'magic_link_refused'
  | 'denied'
  // The WAF (waf-audit.ts): refused, or let through by a detect-only service.
  | 'waf_blocked'
  | 'waf_detected'
  | 'rate_limited'
  | 'unauthenticated'
  | 'cert_expiring'
  | 'cert_order_failed'
  | 'docker_labels'
  // Tunnels (vpn/stats-watch.ts): a site's tunnel through an edge, a VPN client's handshakes.
  | 'tunnel_up'
  | 'tunnel_down'
  | 'vpn_client_connected'
  | 'vpn_client_idle'
  // External DNS records (dns/external-records.ts): written, removed, left alone, failing.
  | DnsRecordEvent
  // Dynamic DNS (dns/public-address.ts): the public address changed (old and new in the detail).
  | PublicAddressEvent;

/** Where a security event happened: the host and path asked for (never the query: it may hold tokens). */
export interface EventPlace {
  host: string;
  path: string;
}

/** A security event as listeners (the API's live stream) see it. */
export interface EventRecord {
  kind: SecurityEvent;
  ip: string;
  username: string;
  detail: string;
  host: string;
  path: string;
  at: string;
}

/**
 * The gate: users, sessions and what nginx needs to check them (key, state files, policy env). The
 * portal and API servers use it; nginx never calls it on the hot path.
 */
export class Gate {
  readonly users: UserStore;
  readonly sessions: Sessions;
  readonly links: LinkStore;
  readonly apiKeys: ApiKeyStore;
  /** Sign-in links by email; absent when not set up. */
  readonly magic?: MagicLinks;
  readonly providers: Providers;
  readonly env: GateEnv;
  /** Security events since start, by kind (also stored in the events table). */
  readonly counts = new Map<string, number>();
  private readonly listeners = new Set<(e: EventRecord) => void>();
  private readonly keyListeners: ((key: string, previous?: PreviousSessionKey) => Promise<void>)[] = [];
  /** Told after the ways to sign in were looked at again here (not when a peer asked for it). */
  private readonly availabilityListeners: (() => void)[] = [];

  private constructor(
    readonly opts: GateOptions,
    private key: string,
    private previous: PreviousSessionKey | undefined,
    private readonly files: RevocationFiles,
  ) {
    this.sessions = new Sessions(opts.db, new SessionCodec(key, previous), files, opts.sessionTtlMs);
    this.users = new UserStore(opts.db, async (uid, reason) => {
      if (reason === 'revoked') await this.sessions.revokeUser(uid);
      await this.sessions.userChanged(uid, reason === 'removed');
      await this.apiKeys.userChanged(uid);
      await this.refreshAvailability();
    });
    this.links = new LinkStore(opts.db, opts.registry, files.dir, (h) => this.originOf(h));
    this.apiKeys = new ApiKeyStore(opts.db, opts.registry, files.dir);
    if (opts.sendMail && opts.magicLinkTtlMs) this.magic = new MagicLinks(opts.db, opts.magicLinkTtlMs);
    this.providers = new Providers(
      opts.db,
      opts.sealer,
      this.users,
      files.dir,
      () => this.key,
      () => this.refreshAvailability(),
    );
    this.env = {
      socket: join(opts.dataDir, 'gate', 'gate.sock'),
      stateDir: files.dir,
      ...(opts.portalHost ? { portalHost: opts.portalHost } : {}),
      cookie: SESSION_COOKIE,
      ...(opts.publicOrigin ? { publicOrigin: opts.publicOrigin } : {}),
    };
  }

  static async open(opts: GateOptions): Promise<Gate> {
    const dir = join(opts.dataDir, 'gate');
    // nginx's workers (an unprivileged user) reach the socket and test for state files below here.
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(dir, 0o711);
    const files = new RevocationFiles(join(dir, 'state'));
    await files.init();
    await mkdir(join(files.dir, STATE_DIR.signIn), { recursive: true, mode: 0o711 });
    const key = await generatedSecret(opts.db, opts.sealer, SESSION_KEY);
    const previous = await previousSessionKey(opts.db, opts.sealer);
    const gate = new Gate(opts, key, previous, files);
    await gate.refreshAvailability();
    await gate.apiKeys.sync();
    return gate;
  }

  /** The key new sessions are signed with. */
  get sessionKey(): string {
    return this.key;
  }

  /** The key sessions made before the last rotation still verify with, while its time holds. */
  get previousSessionKey(): PreviousSessionKey | undefined {
    return this.previous && this.previous.until > Date.now() ? this.previous : undefined;
  }

  /**
   * After a session-key rotation (store/rotate.ts): new sessions are signed with `key`, sessions
   * made before still verify with `previous` until renewed or its time is up; every edge is told
   * (listeners: the local nginx and the feed) before this resolves.
   */
  async useSessionKey(key: string, previous: PreviousSessionKey): Promise<void> {
    this.key = key;
    this.previous = previous;
    this.sessions.codec.use(key, previous);
    for (const l of this.keyListeners) await l(key, previous);
  }

  /** Tells `listener` of each new session key (see useSessionKey). */
  onSessionKey(listener: (key: string, previous?: PreviousSessionKey) => Promise<void>): void {
    this.keyListeners.push(listener);
  }

  /** Tells `listener` of each revocation once its file is written; the change waits for it. */
  onRevocation(listener: (kind: 'r' | 'u', id: string, ms: number) => Promise<void>): void {
    this.files.onWrite(listener);
  }

  get cookieName(): string {
    return SESSION_COOKIE;
  }

  /**
   * Tells nginx which ways to sign in exist: `p/password` (some enabled user has a password),
   * `p/oidc-<name>` per provider, `p/login` (any of them). A login route with none answers 503.
   */
  async refreshAvailability(opts: { fromPeer?: boolean } = {}): Promise<void> {
    const n = await this.opts.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('disabled', '=', 0)
      .where('password_hash', 'is not', null)
      .executeTakeFirst();
    await this.providers.syncAvailability();
    const passwords = Number(n?.n ?? 0) > 0;
    // With sign-in links by email, a user with an address and no password can sign in too.
    const byEmail =
      !!this.magic &&
      Number(
        (
          await this.opts.db
            .selectFrom('users')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('disabled', '=', 0)
            .where('email', '!=', '')
            .executeTakeFirst()
        )?.n ?? 0,
      ) > 0;
    const any = passwords || byEmail || (await this.providers.count()) > 0;
    const mark = async (name: string, on: boolean) => {
      const file = stateFile.signIn(this.files.dir, name);
      if (on) await writeFile(file, SIGN_IN.mark, { mode: 0o644 });
      else await rm(file, { force: true });
    };
    await mark(SIGN_IN.password, passwords);
    await mark(SIGN_IN.any, any);
    if (!opts.fromPeer) for (const l of this.availabilityListeners) l();
  }

  /** Tells `listener` when users or providers changed here (replicas: the others look again). */
  onAvailability(listener: () => void): void {
    this.availabilityListeners.push(listener);
  }

  /** The cookie scope for a host: the base domain when the host is in it, else the host alone. */
  scopeFor(host: string): string {
    const base = this.opts.baseDomain;
    if (base && (host === base || host.endsWith(`.${base}`))) return base;
    return host;
  }

  /**
   * Where sign-in may send a browser back to: only http(s) URLs on hosts Gatehouse serves (or the
   * portal itself). Anything else would make the portal an open redirect.
   */
  safeReturn(rd: string | undefined): URL | undefined {
    if (!rd) return undefined;
    let url: URL;
    try {
      url = new URL(rd);
    } catch {
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.username || url.password) return undefined;
    const host = url.hostname.toLowerCase();
    if (host === this.opts.portalHost || this.opts.registry.servesHost(host)) return url;
    // Hosts under the base domain may sit behind another proxy that asks the gate (/verify).
    const base = this.opts.baseDomain;
    if (base && (host === base || host.endsWith(`.${base}`))) return url;
    return undefined;
  }

  /** How a host is reached from outside: https when a certificate covers it. */
  originOf(host: string): Promise<string> {
    return this.opts.originOf ? this.opts.originOf(host) : Promise.resolve(`http://${host}`);
  }

  /** The portal's login URL that comes back to `rd`. */
  async loginUrl(rd: string): Promise<string> {
    return `${await this.originOf(this.opts.portalHost ?? '')}/login?rd=${encodeURIComponent(rd)}`;
  }

  /** Counts an event without storing it. */
  count(kind: SecurityEvent): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  /** Tells `fn` of each recorded event (the API's live stream); returns the unsubscribe. */
  onEvent(fn: (e: EventRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async event(
    kind: SecurityEvent,
    ip: string,
    username: string,
    detail = '',
    where?: EventPlace,
  ): Promise<void> {
    this.count(kind);
    const at = new Date().toISOString();
    const host = (where?.host ?? '').slice(0, 253);
    const path = (where?.path ?? '').slice(0, 500);
    for (const fn of this.listeners) fn({ kind, ip, username, detail, host, path, at });
    this.opts.log.info({ event: kind, ip, username, detail, host, path }, 'security event');
    await this.opts.db
      .insertInto('events')
      .values({ at, kind, ip, username, detail: detail.slice(0, 500), host, path })
      .execute();
  }

  /** Turns TOTP on for a user (admin path): returns the secret, its URL and recovery codes. */
  async enrolTotp(username: string): Promise<{ secret: string; url: string; recovery_codes: string[] }> {
    const row = await this.users.row(username);
    if (!row) throw notFound(`user ${username}`);
    const { secret, url } = newTotp(this.opts.brand, username);
    const codes = await this.saveTotp(row.id, secret);
    return { secret, url, recovery_codes: codes };
  }

  /** Stores a confirmed TOTP secret (sealed) and fresh recovery codes; returns the codes. */
  async saveTotp(userId: string, secret: string): Promise<string[]> {
    const { codes, hashes } = recoveryCodes();
    await this.users.setTotp(userId, this.opts.sealer.seal(secret), hashes);
    return codes;
  }

  async removeTotp(username: string): Promise<void> {
    const row = await this.users.row(username);
    if (!row) throw notFound(`user ${username}`);
    await this.users.setTotp(row.id, null, []);
  }

  /** Checks a second-factor code: a TOTP code not used before, or an unused recovery code. */
  async secondFactor(row: Database['users'], code: string, ip: string, where?: EventPlace): Promise<boolean> {
    if (!row.totp_secret) return true;
    const clean = code.trim();
    const db = this.opts.db;
    const step = checkTotp(this.opts.sealer.open(row.totp_secret), clean);
    if (step !== undefined) {
      // Each time step once: a conditional update, so two sign-ins racing with one code cannot both
      // win, and a restart forgets nothing.
      const r = await db
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', row.id)
        .where('totp_last_step', '<', step)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return true;
    }
    const h = hashRecovery(clean);
    const hashes = JSON.parse(row.recovery_codes) as string[];
    if (/^[0-9a-f]{5}-[0-9a-f]{5}$/i.test(clean) && hashes.includes(h)) {
      // Used up only if nobody used it meanwhile (the list we read is still the stored one).
      const r = await db
        .updateTable('users')
        .set({ recovery_codes: JSON.stringify(hashes.filter((x) => x !== h)) })
        .where('id', '=', row.id)
        .where('recovery_codes', '=', row.recovery_codes)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) {
        await this.event('recovery_code_used', ip, row.username, '', where);
        return true;
      }
    }
    await this.event('totp_failed', ip, row.username, '', where);
    return false;
  }

  /** Lets nginx's workers connect to the gate's socket, and nobody else without privileges. */
  async openSocket(path: string): Promise<void> {
    try {
      // Workers run as nobody:nogroup (nginx's default when started as root).
      await chown(path, 0, 65534);
      await chmod(path, 0o660);
    } catch {
      // Not root: nginx's workers run as this same user.
      await chmod(path, 0o600);
    }
  }
}
