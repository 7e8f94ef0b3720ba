import { conflict } from '../../model/errors.js';
import type { Template } from '../../model/settings.js';
import type { UserStore } from '../../gate/users.js';
import type { Registry } from '../../registry/registry.js';
import { serviceDiff, type ServiceDiff } from '../../registry/snapshots.js';
import type { ServiceRecord } from '../../model/service.js';
import type { Db } from '../../store/db.js';
import { checkTemplates } from '../register/templates.js';
import type { EdgeFile, FileUser } from './document.js';

export interface FileApplyReport {
  owner: string;
  dry_run: boolean;
  /** Registry version after the change (unchanged on a dry run or a no-op). */
  version: number;
  services: ServiceDiff[];
  groups: { name: string; op: 'create' | 'update' | 'delete' }[];
  users: { username: string; op: 'create' | 'update' | 'delete' }[];
  templates: string[];
}

export interface FileDeps {
  registry: Registry;
  users: UserStore;
  db: Db;
  /** Where the file's registration templates go (the register listener reads them per request). */
  templates: Map<string, Record<string, Template>>;
  /** Templates that exist without any file (built in, from settings): a file may not redefine them. */
  baseTemplates: ReadonlySet<string>;
}

/**
 * Applies an edge file as its owner (the file's name): services through the registry as one
 * version (all or nothing, checked against everything else first), then users and groups it
 * manages, then its templates. What the owner held before and the file no longer lists is removed;
 * nothing another owner or the API created is touched, and a name taken by one is a conflict.
 */
export async function applyEdgeFile(
  deps: FileDeps,
  doc: EdgeFile,
  owner: string,
  opts: { dryRun?: boolean } = {},
): Promise<FileApplyReport> {
  const meta = { actor: `file:${owner}`, source: 'file' as const, owner, reason: `apply ${owner}` };
  checkTemplates(doc.templates, 'templates');
  for (const name of Object.keys(doc.templates)) {
    const other = [...deps.templates].find(([o, t]) => o !== owner && name in t)?.[0];
    if (deps.baseTemplates.has(name) || other)
      throw conflict(
        `templates.${name}`,
        `template ${name} is ${other ? `defined by ${other}` : 'built in or set in the settings'}; choose another name`,
      );
  }
  const identities = await planIdentities(deps, doc, owner);
  // Services first, checked in full (claims, ownership, ports) even on a dry run.
  const check = await deps.registry.reconcile(doc.services, { ...meta, dryRun: true });
  const services = serviceDiffs(deps.registry, doc, check.changed);
  let version = deps.registry.version;
  if (!opts.dryRun) {
    const before = check.changed.map((n): [string, ServiceRecord | undefined] => [n, deps.registry.get(n)]);
    version = (await deps.registry.reconcile(doc.services, meta)).version;
    try {
      await applyIdentities(deps, doc, owner, identities);
    } catch (err) {
      // Users or groups changed under us since the plan: take the services back, so the file is
      // applied whole or not at all (the identity changes made before the failure stay, reported).
      await deps.registry
        .restore(before, {
          ...meta,
          reason: `${owner}: rolled back (${String(err)})`.slice(0, 200),
          force: true,
        })
        .catch(() => undefined);
      throw err;
    }
    if (Object.keys(doc.templates).length > 0) deps.templates.set(owner, doc.templates);
    else deps.templates.delete(owner);
  }
  return {
    owner,
    dry_run: !!opts.dryRun,
    version,
    services,
    groups: identities.groups,
    users: identities.users,
    templates: Object.keys(doc.templates).sort(),
  };
}

function serviceDiffs(registry: Registry, doc: EdgeFile, changed: string[]): ServiceDiff[] {
  const wanted = new Map(doc.services.map((s) => [s.name, s]));
  return changed
    .sort()
    .map((name) =>
      serviceDiff(name, registry.get(name)?.service, wanted.get(name), `${name} (now)`, `${name} (file)`),
    )
    .filter((d): d is ServiceDiff => d !== undefined);
}

interface IdentityPlan {
  groups: FileApplyReport['groups'];
  users: FileApplyReport['users'];
}

/** What the file changes among users and groups; a name another owner holds is a conflict. */
async function planIdentities(deps: FileDeps, doc: EdgeFile, owner: string): Promise<IdentityPlan> {
  const groups = await deps.db.selectFrom('groups').select(['name', 'description', 'managed_by']).execute();
  const users = await deps.users.list();
  const plan: IdentityPlan = { groups: [], users: [] };
  const known = new Set([...groups.map((g) => g.name), ...doc.groups.map((g) => g.name)]);
  doc.groups.forEach((g, i) => {
    const have = groups.find((x) => x.name === g.name);
    if (have && have.managed_by !== owner)
      throw conflict(`groups.${i}.name`, `group ${g.name} exists and is not managed by ${owner}`);
    if (!have) plan.groups.push({ name: g.name, op: 'create' });
    else if (have.description !== g.description) plan.groups.push({ name: g.name, op: 'update' });
  });
  doc.users.forEach((u, i) => {
    const have = users.find((x) => x.username === u.username);
    if (have && have.managed_by !== owner)
      throw conflict(`users.${i}.username`, `user ${u.username} exists and is not managed by ${owner}`);
    u.groups.forEach((g, j) => {
      if (!known.has(g)) throw conflict(`users.${i}.groups.${j}`, `no group ${g}`);
    });
    if (!have) plan.users.push({ username: u.username, op: 'create' });
    else if (userChanged(have, u)) plan.users.push({ username: u.username, op: 'update' });
  });
  const listedUsers = new Set(doc.users.map((u) => u.username));
  for (const { username, managed_by } of users)
    if (managed_by === owner && !listedUsers.has(username)) plan.users.push({ username, op: 'delete' });
  const listedGroups = new Set(doc.groups.map((g) => g.name));
  for (const g of groups)
    if (g.managed_by === owner && !listedGroups.has(g.name)) plan.groups.push({ name: g.name, op: 'delete' });
  return plan;
}

function userChanged(have: Awaited<ReturnType<UserStore['list']>>[number], u: FileUser): boolean {
  return (
    have.email !== u.email ||
    have.name !== u.name ||
    have.first_name !== u.first_name ||
    have.last_name !== u.last_name ||
    have.role !== u.role ||
    have.disabled !== u.disabled ||
    [...have.groups].sort().join() !== [...new Set(u.groups)].sort().join()
  );
}

async function applyIdentities(
  deps: FileDeps,
  doc: EdgeFile,
  owner: string,
  plan: IdentityPlan,
): Promise<void> {
  for (const g of plan.groups.filter((x) => x.op !== 'delete')) {
    const want = doc.groups.find((x) => x.name === g.name);
    if (!want) continue;
    if (g.op === 'create') await deps.users.createGroup(want, owner);
    else
      await deps.db
        .updateTable('groups')
        .set({ description: want.description })
        .where('name', '=', g.name)
        .execute();
  }
  for (const u of plan.users) {
    const want = doc.users.find((x) => x.username === u.username);
    if (u.op === 'delete') {
      await deps.users.remove(u.username);
      continue;
    }
    if (!want) continue;
    if (u.op === 'create') {
      const { disabled, ...create } = want;
      await deps.users.create(create, owner);
      if (disabled) await deps.users.update(u.username, { disabled: true });
    } else {
      const { email, name, first_name, last_name, role, groups, disabled } = want;
      await deps.users.update(u.username, { email, name, first_name, last_name, role, groups, disabled });
    }
  }
  for (const g of plan.groups.filter((x) => x.op === 'delete')) await deps.users.removeGroup(g.name);
}
