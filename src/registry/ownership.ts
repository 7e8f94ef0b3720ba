import { conflict, GatehouseError } from '../model/errors.js';
import type { Service, ServiceRecord, Source } from '../model/service.js';
import { covers } from '../model/tls.js';

/** The writer of a change: a source and, within it, an owner (a container, a file, an agent). */
export interface Writer {
  source: Source;
  owner?: string;
}

/**
 * Sources whose owners may share a host with each other: containers of one Docker daemon (whoever
 * starts them is trusted with every route, as in Traefik: a compose project splits one host across
 * containers by path), and the operator's edge files. Self-registrations and agents, which anyone
 * with the registration token can make, may not.
 */
const SHARED_HOST_SOURCES: ReadonlySet<Source> = new Set(['docker', 'file']);

/** Sources that may change records created by another source: only the operator's own API. */
const OVERRIDING_SOURCES: ReadonlySet<Source> = new Set(['api']);

/** Whether this writer may change anyone's records (and so takes over what it changes). */
export function overrides(w: Writer): boolean {
  return OVERRIDING_SOURCES.has(w.source);
}

/** A source only changes or removes what its owner created; the operator's API anything. */
export function checkOwner(name: string, existing: ServiceRecord, w: Writer): void {
  if (overrides(w)) return;
  const owner = existing.meta.owner ?? '';
  if (existing.meta.source === w.source && owner === (w.owner ?? '')) return;
  throw conflict(
    'name',
    `service ${name} belongs to ${existing.meta.source}${owner ? ` (${owner})` : ''}, not ${w.source}${w.owner ? ` (${w.owner})` : ''}`,
  );
}

/**
 * A source other than the operator's API may not add routes to a host another source (or, for
 * registrations and agents, another owner) serves: a public path in front of a guarded service,
 * an exact host carved out of a wildcard. `servesHost` (the claim index) answers the common case,
 * a new host, without looking at any record.
 */
export function checkHosts(
  svc: Service,
  w: Writer,
  records: Iterable<[string, ServiceRecord | undefined]>,
  servesHost: (host: string) => boolean,
): void {
  if (overrides(w)) return;
  const mine = (r: ServiceRecord) =>
    r.service.name === svc.name ||
    (r.meta.source === w.source &&
      (SHARED_HOST_SOURCES.has(w.source) || (!!w.owner && (r.meta.owner ?? '') === w.owner)));
  const contested = svc.hosts
    .map((host, i) => ({ host, i }))
    .filter(({ host }) => host.startsWith('*.') || servesHost(host));
  if (contested.length === 0) return;
  for (const [name, r] of records) {
    if (!r || mine(r)) continue;
    for (const { host, i } of contested)
      if (r.service.hosts.some((h) => covers(h, host) || covers(host, h)))
        throw conflict(
          `hosts.${i}`,
          `host ${host} is served by service ${name} (${r.meta.source}${r.meta.owner ? ` ${r.meta.owner}` : ''}); only its owner or the operator may add routes to it`,
        );
  }
}

/**
 * A write made on what its writer last read (`ifUpdatedAt`: that `meta.updated_at`, or 'absent'
 * for a service that must not exist yet) is refused if the record changed since.
 */
export function checkUnchanged(name: string, existing: ServiceRecord | undefined, ifUpdatedAt: string): void {
  if ((existing?.meta.updated_at ?? 'absent') === ifUpdatedAt) return;
  throw new GatehouseError(
    'changed_meanwhile',
    existing
      ? `service ${name} was changed at ${existing.meta.updated_at} by someone else; reload it and apply your change again`
      : ifUpdatedAt === 'absent'
        ? `service ${name} does not exist`
        : `service ${name} was deleted meanwhile`,
    409,
  );
}
