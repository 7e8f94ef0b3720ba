import type { Draft, DraftHeaders } from './draft.js';
import { list, parseBool } from './draft.js';
import type { Middleware, Opt } from './traefik-labels.js';

/**
 * A router's Traefik middlewares → the access, headers and prefix stripping of its service.
 *
 * Traefik runs every middleware in turn, so an IP allowlist plus basic auth means both. Gatehouse's
 * access admits a request when any of its methods does, so an allowlist beside another method is
 * written as deny rules for every other address. A middleware or option that restricts access and has
 * no equivalent fails the router (it stays unpublished); one that only shapes responses is reported
 * and left out.
 */

/** Types whose absence changes nothing about who gets in: reported as ignored. */
const HARMLESS = new Set(['compress', 'retry', 'buffering', 'circuitbreaker', 'contenttype', 'grpcweb']);

/** Every option of the access middlewares: any other is a typo or newer feature, and fails closed. */
const ACCESS_OPTIONS: Record<string, Record<string, 'use' | 'ignore'>> = {
  basicauth: {
    users: 'use',
    usersfile: 'use',
    realm: 'ignore',
    removeheader: 'ignore',
    headerfield: 'ignore',
  },
  ipallowlist: {
    sourcerange: 'use',
    'ipstrategy.depth': 'ignore',
    'ipstrategy.excludedips': 'ignore',
    'ipstrategy.ipv6subnet': 'ignore',
    rejectstatuscode: 'ignore',
  },
  forwardauth: {
    address: 'use',
    authresponseheaders: 'use',
    trustforwardheader: 'ignore',
    authrequestheaders: 'ignore',
    authresponseheadersregex: 'ignore',
    addauthcookiestoresponse: 'ignore',
    headerfield: 'ignore',
    forwardbody: 'ignore',
    maxbodysize: 'ignore',
    preservelocationheader: 'ignore',
    preserverequestmethod: 'ignore',
    'tls.ca': 'ignore',
    'tls.cert': 'ignore',
    'tls.key': 'ignore',
    'tls.insecureskipverify': 'ignore',
    'tls.caoptional': 'ignore',
  },
};

const IGNORE_WHY: Record<string, string> = {
  'ipstrategy.depth': 'the client address is taken from trusted_proxies',
  'ipstrategy.excludedips': 'the client address is taken from trusted_proxies',
  trustforwardheader: 'the gate sees the client address Gatehouse determined',
};

/** Security headers Traefik's headers middleware sets from options, as the header lines it sends. */
function securityHeaders(opts: Map<string, Opt>): [string, string, string][] {
  const out: [string, string, string][] = [];
  const get = (k: string) => opts.get(k);
  const on = (k: string) => parseBool(get(k)?.value ?? '') === true;
  const frame = get('customframeoptionsvalue');
  if (frame) out.push(['X-Frame-Options', frame.value, frame.label]);
  else if (on('framedeny')) out.push(['X-Frame-Options', 'DENY', (get('framedeny') as Opt).label]);
  if (on('contenttypenosniff'))
    out.push(['X-Content-Type-Options', 'nosniff', (get('contenttypenosniff') as Opt).label]);
  if (on('browserxssfilter'))
    out.push(['X-XSS-Protection', '1; mode=block', (get('browserxssfilter') as Opt).label]);
  for (const [k, h] of [
    ['contentsecuritypolicy', 'Content-Security-Policy'],
    ['referrerpolicy', 'Referrer-Policy'],
    ['permissionspolicy', 'Permissions-Policy'],
  ] as const) {
    const o = get(k);
    if (o) out.push([h, o.value, o.label]);
  }
  const sts = get('stsseconds');
  if (sts && Number(sts.value) > 0) {
    const extra = `${on('stsincludesubdomains') ? '; includeSubDomains' : ''}${on('stspreload') ? '; preload' : ''}`;
    out.push(['Strict-Transport-Security', `max-age=${sts.value.trim()}${extra}`, sts.label]);
  }
  return out;
}
const SECURITY_OPTIONS = new Set([
  'customframeoptionsvalue',
  'framedeny',
  'contenttypenosniff',
  'browserxssfilter',
  'contentsecuritypolicy',
  'referrerpolicy',
  'permissionspolicy',
  'stsseconds',
  'stsincludesubdomains',
  'stspreload',
]);

function hashFormat(hash: string): string | undefined {
  if (hash.startsWith('$argon2id$')) return undefined;
  if (hash.startsWith('$apr1$')) return 'Apache MD5 ($apr1$)';
  if (/^\$2[aby]\$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA})';
  if (/^\$[156]\$/.test(hash)) return 'crypt';
  return 'an unrecognised format';
}

/** The middleware names a router uses, chains expanded, in order; undefined after a failure. */
function expand(d: Draft, ref: Opt, defs: Map<string, Middleware>): Middleware[] | undefined {
  const out: Middleware[] = [];
  const walk = (names: string[], label: string, seen: string[]): boolean => {
    for (const full of names) {
      const [name = '', provider] = full.split('@');
      if (provider !== undefined && provider.toLowerCase() !== 'docker') {
        d.fail(label, `middleware ${full} is defined outside Docker labels (${provider}): not supported`);
        return false;
      }
      const mw = defs.get(name);
      if (!mw) {
        d.fail(label, `middleware ${name} is not defined in this container's labels`);
        return false;
      }
      if (mw.type === 'chain') {
        if (seen.includes(name)) {
          d.fail(label, `middleware chain ${name} includes itself`);
          return false;
        }
        const inner = mw.opts.get('middlewares');
        if (!walk(list(inner?.value ?? ''), inner?.label ?? mw.label, [...seen, name])) return false;
      } else {
        out.push(mw);
      }
    }
    return true;
  };
  return walk(list(ref.value), ref.label, []) ? out : undefined;
}

/**
 * "user:hash,user2:hash2" → entries. argon2id hashes hold commas themselves ($m=19456,t=2,p=1$), so
 * a comma starts a new entry only where a "name:" follows.
 */
function htpasswdEntries(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    if (out.length > 0 && !/^\s*[^:$\s]+:/.test(part)) out[out.length - 1] += `,${part}`;
    else out.push(part.trim());
  }
  return out.filter((e) => e !== '');
}

function addHeader(ops: DraftHeaders, name: string, value: string): void {
  if (value === '') (ops.delete ??= []).push(name);
  else (ops.set ??= {})[name] = value;
}

/** Applies a router's middlewares to its draft (whose routes are already there). */
export function applyMiddlewares(d: Draft, ref: Opt | undefined, defs: Map<string, Middleware>): void {
  const mws = ref ? expand(d, ref, defs) : [];
  if (!mws) return;
  const allow: { cidrs: string[]; label: string }[] = [];
  const admitters: { kind: 'basic' | 'forward_auth'; label: string }[] = [];
  const access = (d.service.access ??= {});
  const routes = d.service.routes;
  for (const mw of mws) {
    const known = ACCESS_OPTIONS[mw.type];
    if (known) {
      for (const [key, o] of mw.opts) {
        const use = known[key];
        if (use === undefined) d.fail(o.label, `option ${o.raw} of ${mw.type} is not supported`);
        else if (use === 'ignore') d.note(o.label, `ignored${IGNORE_WHY[key] ? `: ${IGNORE_WHY[key]}` : ''}`);
      }
    }
    const opt = (k: string) => mw.opts.get(k);
    switch (mw.type) {
      case 'basicauth': {
        const users = opt('users');
        if (!users) {
          d.fail(
            opt('usersfile')?.label ?? mw.label,
            'basicauth needs users in the label (usersfile is not supported)',
          );
          break;
        }
        if (opt('usersfile')) d.fail((opt('usersfile') as Opt).label, 'usersfile is not supported');
        const parsed = htpasswdEntries(users.value).map((entry) => {
          const at = entry.indexOf(':');
          return { user: entry.slice(0, Math.max(at, 0)), password_hash: entry.slice(at + 1) };
        });
        for (const u of parsed) {
          const format = hashFormat(u.password_hash);
          if (format)
            d.fail(
              users.label,
              `user ${u.user || '?'}: a password hash in ${format}; Gatehouse accepts argon2id (gatehouse hash-password)`,
            );
        }
        access.basic = [...(access.basic ?? []), ...parsed];
        d.origin(['access', 'basic'], users.label);
        admitters.push({ kind: 'basic', label: users.label });
        break;
      }
      case 'ipallowlist': {
        const range = opt('sourcerange');
        if (!range) d.fail(mw.label, 'ipallowlist needs sourcerange');
        else allow.push({ cidrs: list(range.value), label: range.label });
        break;
      }
      case 'forwardauth': {
        const address = opt('address');
        if (!address) {
          d.fail(mw.label, 'forwardauth needs address');
          break;
        }
        const copy = opt('authresponseheaders');
        access.forward_auth = { url: address.value.trim(), copy_headers: list(copy?.value ?? '') };
        d.origin(['access', 'forward_auth'], address.label);
        if (copy) d.origin(['access', 'forward_auth', 'copy_headers'], copy.label);
        admitters.push({ kind: 'forward_auth', label: address.label });
        break;
      }
      case 'headers': {
        for (const [key, o] of mw.opts) {
          const m = /^(customrequestheaders|customresponseheaders)\.(.+)$/.exec(key);
          if (m) {
            const side = m[1] === 'customrequestheaders' ? 'request' : 'response';
            const header = o.raw.slice(o.raw.indexOf('.') + 1);
            for (const [i, r] of routes.entries()) {
              addHeader(((r.headers ??= {})[side] ??= {}), header, o.value);
              d.origin(['routes', i, 'headers', side], o.label);
            }
          } else if (!SECURITY_OPTIONS.has(key)) {
            d.note(o.label, `headers option ${o.raw} is not supported: ignored`);
          }
        }
        for (const [header, value, label] of securityHeaders(mw.opts)) {
          for (const [i, r] of routes.entries()) {
            addHeader(((r.headers ??= {}).response ??= {}), header, value);
            d.origin(['routes', i, 'headers', 'response'], label);
          }
        }
        break;
      }
      case 'redirectscheme': {
        const scheme = opt('scheme');
        d.note(
          scheme?.label ?? mw.label,
          scheme?.value.trim().toLowerCase() === 'https'
            ? 'not needed: Gatehouse redirects HTTP to HTTPS itself once a certificate covers the host'
            : 'only a redirect to https is supported: ignored',
        );
        break;
      }
      case 'stripprefix': {
        const prefixes = opt('prefixes');
        const wanted = list(prefixes?.value ?? '');
        for (const [i, r] of routes.entries()) {
          if (!wanted.includes(r.path)) {
            d.fail(
              prefixes?.label ?? mw.label,
              `stripprefix must name the route's own path prefix (${r.path})`,
            );
          } else {
            r.strip_prefix = true;
            d.origin(['routes', i, 'strip_prefix'], (prefixes as Opt).label);
          }
        }
        break;
      }
      case 'ratelimit': {
        const average = opt('average');
        const period = opt('period');
        if (!average) break;
        access.rate_limit = { requests: Number(average.value), per: period?.value.trim() || '1s' };
        d.origin(['access', 'rate_limit'], average.label);
        if (period) d.origin(['access', 'rate_limit', 'per'], period.label);
        for (const [key, o] of mw.opts) {
          if (!['average', 'period'].includes(key))
            d.note(o.label, 'ignored: a client may burst up to the average; buckets are per client address');
        }
        break;
      }
      default:
        if (HARMLESS.has(mw.type)) d.note(mw.label, `middleware type ${mw.type} is not supported: ignored`);
        else d.fail(mw.label, `middleware type ${mw.type} is not supported`);
    }
  }
  if (admitters.length > 1) {
    d.fail(
      admitters[1]?.label ?? d.anchor,
      `${admitters.map((a) => a.kind).join(' and ')} cannot be combined`,
    );
  }
  if (allow.length > 0 && admitters.length === 0) {
    // Alone, the first allowlist is Gatehouse's own ip access; any further one narrows it.
    const [first, ...rest] = allow as [
      { cidrs: string[]; label: string },
      ...{ cidrs: string[]; label: string }[],
    ];
    access.ip = first.cidrs;
    d.origin(['access', 'ip'], first.label);
    for (const a of rest) d.onlyFrom(a.cidrs, a.label);
  } else {
    for (const a of allow) d.onlyFrom(a.cidrs, a.label);
  }
  if (allow.length === 0 && admitters.length === 0) access.public = true;
}
