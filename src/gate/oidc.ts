import type * as Oidc from 'openid-client';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, GatehouseError, notFound } from '../model/errors.js';
import type { Identity } from '../model/identity.js';
import type { ProviderCreate, ProviderView } from '../model/provider.js';
import { SIGN_IN, STATE_DIR, stateFile } from '../model/session.js';
import type { Database, Db } from '../store/db.js';
import type { Sealer } from '../store/secrets.js';
import { openStep, signStep } from './totp.js';
import type { UserStore } from './users.js';

type ProviderRow = Database['providers'];

/**
 * openid-client (with jose and oauth4webapi, ~1.5 MB of heap) is loaded at the first sign-in
 * through a provider: most installations never use one.
 */
let oidcModule: Promise<typeof Oidc> | undefined;
function loadOidc(): Promise<typeof Oidc> {
  oidcModule ??= import('openid-client');
  return oidcModule;
}

/** What the browser carries between the redirect to the provider and the callback (signed). */
interface Pending {
  p: string;
  v: string;
  s: string;
  n: string;
  rd: string;
}

export const OIDC_COOKIE = 'gh_oidc';

/**
 * OpenID Connect sign-in (authorization code + PKCE, openid-client). A provider identity (issuer +
 * subject) is linked to a local user, created on first sign-in; the provider's groups claim, mapped
 * through `group_map`, sets the user's groups at every sign-in.
 */
export class Providers {
  private readonly configs = new Map<string, Promise<Oidc.Configuration>>();

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly users: UserStore,
    private readonly stateDir: string,
    /** The session key now (short-lived sign-in steps are signed with it). */
    private readonly keyOf: () => string,
    /** Called after providers change (sign-in availability depends on them). */
    private readonly changed: () => Promise<void>,
  ) {}

  async count(): Promise<number> {
    return (await this.db.selectFrom('providers').select('name').execute()).length;
  }

  async create(input: ProviderCreate): Promise<ProviderView> {
    const exists = await this.db
      .selectFrom('providers')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (exists) throw conflict('name', `provider ${input.name} exists`);
    const known = new Set((await this.users.listGroups()).map((g) => g.name));
    for (const [from, to] of Object.entries(input.group_map)) {
      if (!known.has(to))
        throw new GatehouseError('invalid', `group_map.${from}: no group ${to} (create it first)`, 400, [
          { field: `group_map.${from}`, message: `no group ${to}` },
        ]);
    }
    await this.db
      .insertInto('providers')
      .values({
        name: input.name,
        label: input.label ?? input.name,
        issuer: input.issuer,
        client_id: input.client_id,
        client_secret: this.sealer.seal(input.client_secret),
        scopes: input.scopes.join(' '),
        groups_claim: input.groups_claim,
        username_claim: input.username_claim,
        group_map: JSON.stringify(input.group_map),
        groups_passthrough: input.groups_passthrough ? 1 : 0,
        created_at: new Date().toISOString(),
      })
      .execute();
    await this.changed();
    return this.get(input.name);
  }

  async list(): Promise<ProviderView[]> {
    const rows = await this.db.selectFrom('providers').selectAll().orderBy('name').execute();
    return rows.map(view);
  }

  async get(name: string): Promise<ProviderView> {
    return view(await this.row(name));
  }

  async remove(name: string): Promise<void> {
    await this.row(name);
    await this.db.deleteFrom('providers').where('name', '=', name).execute();
    this.configs.delete(name);
    await this.changed();
  }

  /** `p/oidc-<name>` exists for each provider: nginx tells a route nobody can sign in to apart. */
  async syncAvailability(): Promise<void> {
    const rows = await this.db.selectFrom('providers').select('name').execute();
    const names = new Set(rows.map((r) => r.name));
    const dir = join(this.stateDir, STATE_DIR.signIn);
    const prefix = SIGN_IN.oidcPrefix;
    for (const f of await readdir(dir)) {
      if (f.startsWith(prefix) && !names.has(f.slice(prefix.length))) await rm(join(dir, f), { force: true });
    }
    for (const n of names)
      await writeFile(stateFile.signIn(this.stateDir, `${prefix}${n}`), SIGN_IN.mark, { mode: 0o644 });
  }

  /** The provider's authorization URL, and the signed value the browser keeps until the callback. */
  async start(name: string, redirectUri: string, rd: string): Promise<{ url: string; pending: string }> {
    const row = await this.row(name);
    const config = await this.config(row);
    const oidc = await loadOidc();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: row.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const pending: Pending = { p: name, v: verifier, s: state, n: nonce, rd };
    return { url: url.href, pending: signStep(this.keyOf(), 'oidc', { ...pending }, 10 * 60_000) };
  }

  /** Completes the callback: the local user this provider identity signs in as, and where to go. */
  async finish(
    callbackUrl: URL,
    pendingToken: string,
  ): Promise<{ user: Database['users']; identity: Identity; provider: string; rd: string }> {
    const p = openStep(this.keyOf(), 'oidc', pendingToken) as Pending | undefined;
    if (!p || typeof p.p !== 'string')
      throw new GatehouseError('oidc_expired', 'the sign-in took too long; start again', 400);
    const row = await this.row(p.p);
    const config = await this.config(row);
    const oidc = await loadOidc();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: p.v,
      expectedState: p.s,
      expectedNonce: p.n,
      idTokenExpected: true,
    });
    const id = tokens.claims();
    if (!id) throw new GatehouseError('oidc_failed', 'the provider sent no ID token', 502);
    let claims: Record<string, unknown> = { ...id };
    try {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, id.sub);
      claims = {
        ...info,
        ...claims,
        ...(info[row.groups_claim] !== undefined ? { [row.groups_claim]: info[row.groups_claim] } : {}),
      };
    } catch {
      // The ID token is enough; userinfo only adds claims.
    }
    const user = await this.localUser(row, id.sub, claims);
    if (user.disabled) throw new GatehouseError('user_disabled', 'this account is disabled', 403);
    return { user, identity: await this.users.identity(user), provider: row.name, rd: p.rd };
  }

  private async localUser(
    row: ProviderRow,
    subject: string,
    claims: Record<string, unknown>,
  ): Promise<Database['users']> {
    const text = (k: string, max: number) =>
      clean(typeof claims[k] === 'string' ? (claims[k] as string) : '', max);
    // An address the provider has not verified is nobody's to vouch for upstream.
    const email = claims.email_verified === true ? text('email', 254) : '';
    const fields = {
      email: /^[^\s@]+@[^\s@]+$/.test(email) ? email : '',
      name: text('name', 128),
      first_name: text('given_name', 64),
      last_name: text('family_name', 64),
      groups: await this.mapGroups(row, claims[row.groups_claim]),
    };
    const link = await this.db
      .selectFrom('user_links')
      .select('user_id')
      .where('provider', '=', row.name)
      .where('subject', '=', subject)
      .executeTakeFirst();
    let userRow = link ? await this.users.rowById(link.user_id) : undefined;
    if (!userRow) {
      const username = await this.freeUsername(
        text(row.username_claim, 64) || email.split('@')[0] || subject,
        row.name,
      );
      await this.users.create({ username, role: 'user', ...fields });
      userRow = (await this.users.row(username)) as Database['users'];
      await this.db
        .deleteFrom('user_links')
        .where('provider', '=', row.name)
        .where('subject', '=', subject)
        .execute();
      await this.db
        .insertInto('user_links')
        .values({ provider: row.name, subject, user_id: userRow.id })
        .execute();
      return userRow;
    }
    const current = await this.users.identity(userRow);
    const same =
      current.email === fields.email &&
      current.name === fields.name &&
      current.first_name === fields.first_name &&
      current.last_name === fields.last_name &&
      current.groups.join(',') === [...fields.groups].sort().join(',');
    if (!same) await this.users.update(userRow.username, fields);
    return (await this.users.rowById(userRow.id)) as Database['users'];
  }

  private async mapGroups(row: ProviderRow, raw: unknown): Promise<string[]> {
    const values = Array.isArray(raw)
      ? raw.filter((v): v is string => typeof v === 'string')
      : typeof raw === 'string'
        ? [raw]
        : [];
    const map = JSON.parse(row.group_map) as Record<string, string>;
    const local = new Set((await this.users.listGroups()).map((g) => g.name));
    const out = new Set<string>();
    for (const v of values) {
      const mapped = map[v] ?? (row.groups_passthrough === 1 ? v : undefined);
      if (mapped !== undefined && local.has(mapped)) out.add(mapped);
    }
    return [...out].sort();
  }

  private async freeUsername(wanted: string, provider: string): Promise<string> {
    let base =
      wanted
        .toLowerCase()
        .replace(/[^a-z0-9._-]/g, '-')
        .replace(/^[^a-z0-9]+/, '')
        .slice(0, 48) || 'user';
    if (!(await this.users.row(base))) return base;
    base = `${base}-${provider}`.slice(0, 60);
    for (let i = 0; ; i++) {
      const candidate = i === 0 ? base : `${base}-${i}`;
      if (!(await this.users.row(candidate))) return candidate;
    }
  }

  private config(row: ProviderRow): Promise<Oidc.Configuration> {
    let c = this.configs.get(row.name);
    if (!c) {
      const insecure = row.issuer.startsWith('http://');
      c = loadOidc()
        .then((oidc) =>
          oidc.discovery(
            new URL(row.issuer),
            row.client_id,
            this.sealer.open(row.client_secret),
            undefined,
            // Plain HTTP only for an issuer configured with http:// (a provider on the LAN or loopback).
            insecure ? { execute: [oidc.allowInsecureRequests], timeout: 10 } : { timeout: 10 },
          ),
        )
        .catch((err: unknown) => {
          this.configs.delete(row.name);
          throw new GatehouseError(
            'oidc_unreachable',
            `provider ${row.name}: ${(err as Error).message}`,
            502,
          );
        });
      this.configs.set(row.name, c);
    }
    return c;
  }

  private async row(name: string): Promise<ProviderRow> {
    const row = await this.db.selectFrom('providers').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`provider ${name}`);
    return row;
  }
}

function clean(s: string, max: number): string {
  return s
    .replace(/[\p{Cc},]/gu, ' ')
    .trim()
    .slice(0, max);
}

function view(r: ProviderRow): ProviderView {
  return {
    name: r.name,
    label: r.label,
    issuer: r.issuer,
    client_id: r.client_id,
    scopes: r.scopes.split(' '),
    groups_claim: r.groups_claim,
    username_claim: r.username_claim,
    group_map: JSON.parse(r.group_map) as Record<string, string>,
    groups_passthrough: r.groups_passthrough === 1,
    created_at: r.created_at,
  };
}
