import { Resolver } from 'node:dns/promises';
import type { CaaRecord, SetValues } from './doctor-compare.js';

/**
 * The DNS doctor's questions (src/dns/doctor.ts): each one time-limited and never throwing: an
 * answer, or why there is none.
 */

export type Answer<T> = { ok: true; value: T } | { ok: false; error: string; timeout: boolean };

/** Error codes of node:dns said the way an operator reads them. */
const CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEOUT: 'timed out',
  ECANCELLED: 'timed out',
  ESERVFAIL: 'the server failed (SERVFAIL)',
  EREFUSED: 'the server refused the query (REFUSED)',
  EBADRESP: 'a malformed answer',
  ECONNRESET: 'connection reset',
  EFORMERR: 'the server found the query malformed (FORMERR)',
  ENOTIMP: 'the server does not implement the query (NOTIMP)',
};

/** Why a query failed, in words (the code kept in brackets). */
export function reason(err: unknown): string {
  const code = (err as { code?: string } | undefined)?.code;
  if (code && CODES[code]) return `${CODES[code]} (${code})`;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** `p`, or a timeout after `ms` (then `onTimeout` runs, to cancel what is under way). */
export async function limited<T>(p: Promise<T>, ms: number, onTimeout?: () => void): Promise<Answer<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Answer<T>>((done) => {
    timer = setTimeout(() => {
      onTimeout?.();
      done({ ok: false, error: `no answer within ${ms} ms`, timeout: true });
    }, ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value): Answer<T> => ({ ok: true, value }),
        (err: unknown): Answer<T> => {
          const code = (err as { code?: string } | undefined)?.code;
          const late = code === 'ETIMEOUT' || code === 'ECANCELLED';
          return { ok: false, error: late ? `no answer within ${ms} ms` : reason(err), timeout: late };
        },
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A resolver asking `server` (IP:PORT; undefined: the system's resolvers), one try per query. */
export function resolverFor(server: string | undefined, ms: number): Resolver {
  const r = new Resolver({ timeout: Math.max(100, ms), tries: 1 });
  if (server) r.setServers([server]);
  return r;
}

/** No such name, or no record of the type: an empty answer, not a failure. */
const empty = <T>(err: unknown): T[] => {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
  throw err;
};

/** The A, AAAA and CNAME sets answered at `name` (a CNAME alone when there is one). */
export function askAddresses(
  server: string | undefined,
  name: string,
  ms: number,
): Promise<Answer<SetValues[]>> {
  const r = resolverFor(server, ms);
  const q = Promise.all([
    r.resolveCname(name).catch(empty<string>),
    r.resolve4(name).catch(empty<string>),
    r.resolve6(name).catch(empty<string>),
  ]).then(([cname, a, aaaa]): SetValues[] => {
    // A CNAME's answer carries its target's addresses too: those are not records at this name.
    if (cname.length > 0) return [{ type: 'CNAME', values: cname }];
    return [
      ...(a.length ? [{ type: 'A', values: [...a].sort() }] : []),
      ...(aaaa.length ? [{ type: 'AAAA', values: [...aaaa].sort() }] : []),
    ];
  });
  return limited(q, ms, () => r.cancel());
}

/** The addresses (A, and AAAA) answered at `name`. */
export function askIps(server: string, name: string, ms: number): Promise<Answer<string[]>> {
  const r = resolverFor(server, ms);
  const q = Promise.all([r.resolve4(name).catch(empty<string>), r.resolve6(name).catch(empty<string>)]).then(
    ([a, aaaa]) => [...a, ...aaaa].sort(),
  );
  return limited(q, ms, () => r.cancel());
}

/** The CAA records at `name` (none: []). */
export function askCaa(server: string | undefined, name: string, ms: number): Promise<Answer<CaaRecord[]>> {
  const r = resolverFor(server, ms);
  const q = r
    .resolveCaa(name)
    .catch(empty<Awaited<ReturnType<Resolver['resolveCaa']>>[number]>)
    .then((records) =>
      records.map((rec): CaaRecord => {
        const { critical, ...rest } = rec as unknown as Record<string, string | number>;
        const [tag, value] = Object.entries(rest)[0] ?? ['', ''];
        return { critical: Number(critical ?? 0), tag, value: String(value) };
      }),
    );
  return limited(q, ms, () => r.cancel());
}

/** The zone's SOA as `server` answers it (an authoritative server's proof it holds the zone). */
export function askSoa(
  server: string | undefined,
  zone: string,
  ms: number,
): Promise<Answer<{ nsname: string; serial: number }>> {
  const r = resolverFor(server, ms);
  return limited(
    r.resolveSoa(zone).then((s) => ({ nsname: s.nsname, serial: s.serial })),
    ms,
    () => r.cancel(),
  );
}

/** `fn` over `items`, at most `limit` at a time, results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
