import { createHash } from 'node:crypto';
import { routeId } from '../compile/compile.js';
import type { Registry } from '../registry/registry.js';
import { checkPassword } from './users.js';

interface BasicUser {
  user: string;
  password_hash: string;
}

/**
 * HTTP basic credentials of guarded routes, checked for nginx's auth_request (argon2id cannot run
 * inside nginx). A verified password is remembered for five minutes by a hash of the credentials,
 * so a script hammering a route costs one argon2 verification, not one per request.
 */
export class BasicCheck {
  private byPolicy = new Map<string, BasicUser[]>();
  private builtAt = -1;
  private readonly verified = new Map<string, number>();

  constructor(private readonly registry: Registry) {}

  /** The user the credentials sign in as, or undefined (unknown policy: undefined, fail closed). */
  async check(policy: string, authorization: string | undefined): Promise<string | undefined> {
    const users = this.usersFor(policy);
    const creds = parseBasic(authorization);
    if (!users || !creds) return undefined;
    const key = createHash('sha256').update(`${policy}\n${creds.user}\n${creds.password}`).digest('hex');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return creds.user;
    const entry = users.find((u) => u.user === creds.user);
    const ok = await checkPassword(entry?.password_hash ?? null, creds.password);
    if (!entry || !ok) return undefined;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, Date.now() + 5 * 60_000);
    return creds.user;
  }

  knows(policy: string): boolean {
    return this.usersFor(policy) !== undefined;
  }

  private usersFor(policy: string): BasicUser[] | undefined {
    if (this.builtAt !== this.registry.version) {
      const next = new Map<string, BasicUser[]>();
      for (const { service } of this.registry.list()) {
        for (const route of service.routes) {
          const basic = (route.access ?? service.access)?.basic;
          if (basic) next.set(routeId(service.name, route.path), basic);
        }
      }
      this.byPolicy = next;
      // Credentials remembered for a configuration that changed are forgotten with it.
      this.verified.clear();
      this.builtAt = this.registry.version;
    }
    return this.byPolicy.get(policy);
  }
}

function parseBasic(h: string | undefined): { user: string; password: string } | undefined {
  if (!h || !/^basic /i.test(h)) return undefined;
  const raw = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const colon = raw.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: raw.slice(0, colon), password: raw.slice(colon + 1).slice(0, 256) };
}
