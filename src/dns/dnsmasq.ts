import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';
import type { LanDriver, LanRecord, LanSkipped, LanSyncResult } from './lan-plan.js';

/** The file Gatehouse owns in dnsmasq's hosts directory (nothing else there is touched). */
export const DNSMASQ_HOSTS_FILE = 'gatehouse-lan.hosts';

/**
 * Drives dnsmasq through a hosts file in its `--hostsdir`: dnsmasq watches that directory (inotify)
 * and reads a new or changed file at once, dropping the records of the old one, without a restart
 * or a signal. The file is written whole, to a temporary name dnsmasq ignores (a leading dot), then
 * renamed over the old one, so dnsmasq never reads half a file.
 */
export class DnsmasqDriver implements LanDriver {
  readonly kind = 'dnsmasq' as const;
  private readonly file: string;
  private readonly tmp: string;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.file = join(dir, DNSMASQ_HOSTS_FILE);
    this.tmp = join(dir, `.${DNSMASQ_HOSTS_FILE}.tmp`);
  }

  /** The file is read back every time (it is small): `full` changes nothing here. */
  async sync(records: readonly LanRecord[], _full?: boolean): Promise<LanSyncResult> {
    const isDir = await stat(this.dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new GatehouseError(
        'lan_dns_failed',
        `dnsmasq hosts dir ${this.dir} does not exist (the directory dnsmasq's --hostsdir names)`,
        502,
      );
    const unsupported: LanSkipped[] = [];
    const body: string[] = [];
    for (const r of records) {
      if (r.wildcard) {
        unsupported.push({
          name: r.name,
          service: r.service,
          reason: 'dnsmasq hosts files hold no wildcards (use address=/name/IP in its config, or Unbound)',
        });
        continue;
      }
      for (const a of [...r.a, ...r.aaaa]) body.push(`${a} ${r.name}`);
    }
    const text = [
      '# Written by Gatehouse (split-horizon DNS): changes here are overwritten.',
      ...body,
      '',
    ].join('\n');
    const now = await readFile(this.file, 'utf8').catch(() => undefined);
    if (now === text) return { changed: 0, unsupported };
    const before = new Set((now ?? '').split('\n').filter((l) => l && !l.startsWith('#')));
    const after = new Set(body);
    const changed = new Set(
      [...[...before].filter((l) => !after.has(l)), ...body.filter((l) => !before.has(l))].map(
        (l) => l.split(' ')[1],
      ),
    ).size;
    // dnsmasq drops its privileges: the file must be readable by its user.
    await writeFile(this.tmp, text, { mode: 0o644 });
    await rename(this.tmp, this.file);
    this.log.info({ changed, file: this.file }, 'LAN DNS: dnsmasq hosts file written');
    return { changed, unsupported };
  }
}
