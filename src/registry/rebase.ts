import type { Service, ServiceRecord } from '../model/service.js';
import type { CatchUp } from './catch-up.js';
import type { VersionRow } from './persist.js';

/** What a service could contend for with another: its names (hosts, TLS names) and TCP ports. */
function contested(s: Service | undefined, names: Set<string>, ports: Set<number>): boolean {
  if (!s) return true;
  for (const h of s.hosts) {
    if (h.includes('*')) return false;
    names.add(h.toLowerCase());
  }
  for (const t of s.tcp) {
    ports.add(t.port);
    for (const n of t.sni ?? []) {
      if (n.includes('*')) return false;
      names.add(n.toLowerCase());
    }
  }
  return true;
}

/**
 * Whether writes checked against a state without `c` (the versions other replicas stored meanwhile)
 * hold just as well on the state with it, so that they can be stored after `c` as they are, numbered
 * on from it, rather than refused and checked again. Conservative: only when `c` only puts records,
 * none of them a record the writes touch, with no host, TLS name or TCP port in common with them
 * (before or after), and no wildcard on either side (a wildcard covers hosts that are not its own);
 * then neither side's checks (names, owners, claims, `ifUpdatedAt`, the last route) look at the other.
 */
export function independent(
  c: CatchUp,
  staged: readonly VersionRow[],
  records: ReadonlyMap<string, ServiceRecord>,
): boolean {
  if (c.whole || c.unloadable.length > 0) return false;
  const mine = { names: new Set<string>(), ports: new Set<number>(), records: new Set<string>() };
  for (const row of staged) {
    if (row.fixed) return false;
    for (const ch of row.changes) {
      mine.records.add(ch.name);
      for (const r of [ch.before, ch.after])
        if (r && !contested(r.service, mine.names, mine.ports)) return false;
    }
  }
  const theirs = { names: new Set<string>(), ports: new Set<number>() };
  for (const [name, after] of c.changes) {
    if (!after || mine.records.has(name)) return false;
    const before = records.get(name);
    if (!contested(after.service, theirs.names, theirs.ports)) return false;
    if (before && !contested(before.service, theirs.names, theirs.ports)) return false;
  }
  for (const n of theirs.names) if (mine.names.has(n)) return false;
  for (const p of theirs.ports) if (mine.ports.has(p)) return false;
  return true;
}
