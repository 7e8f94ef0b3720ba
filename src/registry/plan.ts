import { conflict, notFound } from '../model/errors.js';
import type { Service, ServiceRecord } from '../model/service.js';
import { checkHosts, checkOwner, checkUnchanged, overrides } from './ownership.js';
import type { WriteMeta } from './persist.js';
import type { Op } from './registry.js';
import type { Staging } from './staging.js';

/** What planning a write looks at: the state it will meet (stored and staged), and the claim index. */
export interface PlanState {
  staging: Staging;
  /** Stored records set aside at load: a delete of one is allowed. */
  unloadable: readonly { name: string }[];
  servesHost: (host: string) => boolean;
}

/**
 * The records `ops` change, each as it will be (undefined: deleted), checked against the state the
 * write meets: names, owners, `ifUpdatedAt`, who serves each host. Empty when nothing changes.
 * Throws the first refusal (a 4xx naming the field).
 */
export function planOps(ops: Op[], meta: WriteMeta, st: PlanState): [string, ServiceRecord | undefined][] {
  const now = new Date().toISOString();
  const next = new Map<string, ServiceRecord | undefined>();
  const unloadableDeletes = new Set<string>();
  const view = (name: string) => st.staging.view(name);
  for (const op of ops) {
    const name = op.kind === 'delete' ? op.name : op.service.name;
    const existing = next.has(name) ? next.get(name) : view(name);
    if (op.kind === 'delete' && !existing) {
      if (!st.unloadable.some((u) => u.name === name)) throw notFound(`service ${name}`);
      unloadableDeletes.add(name);
    }
    if (op.kind === 'create' && existing) {
      throw conflict(
        'name',
        `service ${name} already exists; use PUT /api/v1/services/${name} to replace it`,
      );
    }
    // Checked in the write queue: no write can land between this check and this write.
    if (op.kind !== 'delete' && op.ifUpdatedAt) checkUnchanged(name, existing, op.ifUpdatedAt);
    if (existing) checkOwner(name, existing, meta);
    // A source re-applying a record as it is (a file, a resync) has nothing new to claim.
    const unchanged = op.kind !== 'delete' && !!existing && sameService(existing.service, op.service);
    if (op.kind !== 'delete' && !unchanged) {
      // Lazily: only a host someone already serves makes checkHosts look at the records.
      const entries = st.staging.entries();
      const state = function* (): Generator<[string, ServiceRecord | undefined]> {
        for (const [n, r] of entries) yield [n, next.has(n) ? next.get(n) : r];
      };
      checkHosts(op.service, meta, state(), st.servesHost);
    }
    if (op.kind === 'delete') {
      next.set(name, undefined);
    } else if (!unchanged) {
      // The operator editing a source's record takes it over: the source's next sync must not
      // quietly undo the edit (it is told of the conflict instead).
      const takeover = existing && overrides(meta) && existing.meta.source !== meta.source;
      next.set(name, {
        service: op.service,
        meta: existing
          ? takeover
            ? { source: meta.source, created_at: existing.meta.created_at, updated_at: now }
            : { ...existing.meta, updated_at: now }
          : {
              source: meta.source,
              ...(meta.owner ? { owner: meta.owner } : {}),
              created_at: now,
              updated_at: now,
            },
      });
    } else {
      next.set(name, existing);
    }
  }
  const changed = [...next.keys()].filter((n) => unloadableDeletes.has(n) || next.get(n) !== view(n));
  return changed.map((n) => [n, next.get(n)]);
}

function sameService(a: Service, b: Service): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
