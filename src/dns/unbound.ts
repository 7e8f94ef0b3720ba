import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';
import { wildcardBase, type LanDriver, type LanRecord, type LanSyncResult } from './lan-plan.js';

/** Seconds LAN clients may cache an answer. */
export const LAN_TTL = 60;
/** unbound-control gets this long per call. */
const CALL_MS = 5_000;

export interface UnboundOptions {
  /** Its remote control: a unix socket path, or IP@PORT (control-use-cert: no). */
  control: string;
  /** An unbound-control config of the operator's (certificates); unset: Gatehouse writes its own. */
  config?: string;
  bin: string;
  /** Where Gatehouse keeps its control config and the names it owns in this Unbound. */
  dir: string;
  log: Logger;
}

/** The names (and wildcard zones) Gatehouse put in Unbound: the only ones it changes or removes. */
interface Owned {
  names: string[];
  zones: string[];
}

/**
 * Drives a running Unbound through `unbound-control` (local_datas, local_zones and their
 * _remove, stdin in bulk): no restart, nothing written to its config. A host becomes local data at
 * its name (Unbound puts it in a transparent zone: other types at that name answer NODATA, other
 * names resolve as usual); a wildcard `*.apps.example.com` becomes a redirect zone at
 * `apps.example.com` with the data at its apex.
 */
export class UnboundDriver implements LanDriver {
  readonly kind = 'unbound' as const;
  private readonly stateFile: string;
  private readonly configFile: string;
  /** What the last sync left in Unbound (A/AAAA of owned names, every zone); unknown after a failure. */
  private held: { data: Map<string, Set<string>>; zones: Map<string, string> } | undefined;
  /** The owned names as last written (read from the file once). */
  private owned: Owned | undefined;

  constructor(private readonly o: UnboundOptions) {
    this.stateFile = join(o.dir, 'unbound-owned.json');
    this.configFile = o.config ?? join(o.dir, 'unbound-control.conf');
  }

  async sync(records: readonly LanRecord[], full: boolean): Promise<LanSyncResult> {
    try {
      return await this.push(records, full);
    } catch (err) {
      // What Unbound holds is unknown now: the next sync reads it again.
      this.held = undefined;
      throw err;
    }
  }

  private async push(records: readonly LanRecord[], full: boolean): Promise<LanSyncResult> {
    await this.ensureConfig();
    const want = desired(records);
    const owned = this.owned ?? (await this.readOwned());
    // Recorded before anything is pushed: a crash half-way still knows every name it may have put there.
    const before = {
      names: union(owned.names, [...want.data.keys()]),
      zones: union(owned.zones, [...want.zones]),
    };
    if (!sameOwned(before, owned)) await this.writeOwned(before);
    const names = new Set([...owned.names, ...want.data.keys()]);
    // A full sync reads what Unbound holds (drift: a restart empties it); a change goes by what the
    // last sync left there, one unbound-control call or two.
    const held =
      !full && this.held
        ? this.held
        : await Promise.all([this.listData(names), this.listZones()]).then(([data, zones]) => ({
            data,
            zones,
          }));
    const { data, zones } = held;

    const zonesGone = owned.zones.filter((z) => !want.zones.has(z) && zones.has(z));
    const zonesNew = [...want.zones].filter((z) => zones.get(z) !== 'redirect');
    const dataGone = owned.names.filter((n) => !want.data.has(n) && (data.get(n)?.size ?? 0) > 0);
    const dataNew = [...want.data].filter(([n, lines]) => !sameSet(lines, data.get(n) ?? new Set()));
    // A changed name is emptied first: local_data adds to what a name holds.
    const emptied = [...dataGone, ...dataNew.filter(([n]) => (data.get(n)?.size ?? 0) > 0).map(([n]) => n)];

    if (zonesGone.length) await this.call(['local_zones_remove'], lines(zonesGone));
    if (zonesNew.length) await this.call(['local_zones'], lines(zonesNew.map((z) => `${z} redirect`)));
    if (emptied.length) await this.call(['local_datas_remove'], lines(emptied));
    const rrs = dataNew.flatMap(([n, ls]) => [...ls].map((l) => rr(n, l)));
    if (rrs.length) await this.call(['local_datas'], lines(rrs));

    for (const z of zonesGone) zones.delete(z);
    for (const z of zonesNew) zones.set(z, 'redirect');
    for (const n of emptied) data.delete(n);
    for (const [n, ls] of dataNew) data.set(n, new Set(ls));
    this.held = held;
    const after = { names: [...want.data.keys()].sort(), zones: [...want.zones].sort() };
    if (!sameOwned(after, before)) await this.writeOwned(after);
    this.owned = after;
    const changed = new Set([...zonesGone, ...zonesNew, ...dataGone, ...dataNew.map(([n]) => n)]).size;
    if (changed > 0)
      this.o.log.info({ changed, names: want.data.size }, 'LAN DNS: Unbound local data updated');
    return { changed, unsupported: [] };
  }

  /** `name → {"A 10.0.0.2", …}` for the names asked about (A and AAAA only). */
  private async listData(names: ReadonlySet<string>): Promise<Map<string, Set<string>>> {
    const out = await this.call(['list_local_data']);
    const m = new Map<string, Set<string>>();
    for (const line of out.split('\n')) {
      const [name, , cls, type, value] = line.trim().split(/\s+/);
      if (!name || cls !== 'IN' || (type !== 'A' && type !== 'AAAA') || value === undefined) continue;
      const n = name.toLowerCase();
      if (!names.has(n)) continue;
      let set = m.get(n);
      if (!set) m.set(n, (set = new Set()));
      set.add(`${type} ${canonical(value)}`);
    }
    return m;
  }

  /** `zone → type` of every local zone. */
  private async listZones(): Promise<Map<string, string>> {
    const out = await this.call(['list_local_zones']);
    const m = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [zone, type] = line.trim().split(/\s+/);
      if (zone && type) m.set(zone.toLowerCase(), type);
    }
    return m;
  }

  /** Runs unbound-control; its own message on failure (Unbound down, a refused line). */
  private call(args: string[], stdin?: string): Promise<string> {
    const server = this.o.control;
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.o.bin,
        ['-c', this.configFile, '-s', server, ...args],
        { timeout: CALL_MS, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          // Errors on a line still exit 0 in some versions: the output of a change starts with
          // "error" then (a listing is not read so: it may hold a name that begins with "error").
          const refused = !args[0]?.startsWith('list_') && /^error[\s:]/i.test(stdout);
          const failed = err ?? (refused ? new Error(stdout) : undefined);
          if (!failed) return resolve(stdout);
          const why = `${stderr}${stdout}`.replace(/\[\d+\] unbound-control\[[0-9:]+\] /g, '').trim();
          reject(
            new GatehouseError(
              'lan_dns_failed',
              `unbound-control ${args[0] ?? ''} at ${server}: ${why || (failed as Error).message}`,
              502,
            ),
          );
        },
      );
      // EPIPE when unbound-control exits before reading (refused, no socket): its exit status says so.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(stdin ?? '');
    });
  }

  private async ensureConfig(): Promise<void> {
    if (this.o.config) return;
    const c = this.o.control;
    const at = c.lastIndexOf('@');
    const iface = c.startsWith('/')
      ? [`  control-interface: "${c}"`]
      : [`  control-interface: ${c.slice(0, at)}`, `  control-port: ${c.slice(at + 1)}`];
    const text = [
      "# Written by Gatehouse: how it reaches Unbound's remote control.",
      'remote-control:',
      '  control-enable: yes',
      '  control-use-cert: no',
      ...iface,
      '',
    ].join('\n');
    await mkdir(dirname(this.configFile), { recursive: true, mode: 0o700 });
    const now = await readFile(this.configFile, 'utf8').catch(() => '');
    if (now !== text) await writeFile(this.configFile, text, { mode: 0o600 });
  }

  private async readOwned(): Promise<Owned> {
    try {
      const o = JSON.parse(await readFile(this.stateFile, 'utf8')) as Partial<Owned>;
      return {
        names: Array.isArray(o.names) ? o.names.filter((n) => typeof n === 'string') : [],
        zones: Array.isArray(o.zones) ? o.zones.filter((n) => typeof n === 'string') : [],
      };
    } catch {
      return { names: [], zones: [] };
    }
  }

  private async writeOwned(o: Owned): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.stateFile}.tmp`;
    await writeFile(tmp, JSON.stringify(o) + '\n', { mode: 0o600 });
    await rename(tmp, this.stateFile);
  }
}

/** Unbound's view of the records: data by fully qualified name, and the redirect zones of wildcards. */
function desired(records: readonly LanRecord[]): { data: Map<string, Set<string>>; zones: Set<string> } {
  const data = new Map<string, Set<string>>();
  const zones = new Set<string>();
  for (const r of records) {
    const name = `${wildcardBase(r.name)}.`;
    if (r.wildcard) zones.add(name);
    let set = data.get(name);
    if (!set) data.set(name, (set = new Set()));
    for (const a of r.a) set.add(`A ${a}`);
    for (const a of r.aaaa) set.add(`AAAA ${canonical(a)}`);
  }
  return { data, zones };
}

function rr(name: string, typeAndValue: string): string {
  const [type, value] = typeAndValue.split(' ');
  return `${name} ${LAN_TTL} IN ${type} ${value}`;
}

/** IPv6 written one way (as Unbound prints it: compressed, lower case). */
function canonical(address: string): string {
  if (!isIPv6(address)) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function lines(xs: readonly string[]): string {
  return xs.join('\n') + '\n';
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

function sameOwned(a: Owned, b: Owned): boolean {
  return (
    a.names.join(' ') === [...b.names].sort().join(' ') && a.zones.join(' ') === [...b.zones].sort().join(' ')
  );
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
