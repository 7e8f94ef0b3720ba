import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { GatehouseError } from '../model/errors.js';
import { checkName, checkRecordSet, propagated } from './http-providers.js';
import { querySets, type RecordProvider, type RecordSet, type RecordType } from './records.js';
import type { DnsProvider } from './rfc2136.js';

export interface ExecHookConfig {
  zone: string;
  /** Absolute path of the operator's script. */
  command: string;
  timeoutS: number;
  /** IP:port of a server answering for the zone (get() and DNS-01's wait ask it). */
  checkServer?: string;
  /** Operator-set variables (API keys of the service the script drives). */
  env: Record<string, string>;
  /** Where sets written are remembered when there is no check server (shared per provider). */
  memory?: Map<string, RecordSet>;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A DNS provider that is an operator's script, called as lego's `exec` provider and acme.sh hooks
 * are: `script present <fqdn.> <value>` and `script cleanup <fqdn.> <value>` (docs/dns.md). A record
 * set is written as `cleanup <fqdn.> ""` (the old set of that type) and one `present` per value,
 * with GATEHOUSE_RECORD_TYPE and GATEHOUSE_RECORD_TTL set.
 */
export class ExecHookProvider implements DnsProvider, RecordProvider {
  readonly zone: string;
  private readonly memory: Map<string, RecordSet>;

  constructor(private readonly c: ExecHookConfig) {
    this.zone = c.zone;
    this.memory = c.memory ?? new Map();
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    checkRecordSet(this.zone, { name: fqdn, type: 'TXT', ttl: 60, values: [value] });
    await this.run('present', fqdn, value, { type: 'TXT', ttl: 60, acme: true });
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    checkRecordSet(this.zone, { name: fqdn, type: 'TXT', ttl: 60, values: [value] });
    await this.run('cleanup', fqdn, value, { type: 'TXT', ttl: 60, acme: true });
  }

  waitFor(fqdn: string, value: string, timeoutMs = 120_000): Promise<void> {
    const servers = this.c.checkServer ? [this.c.checkServer] : undefined;
    return propagated(this.zone, servers, fqdn, value, timeoutMs);
  }

  async get(name: string): Promise<RecordSet[]> {
    if (this.c.checkServer) return querySets(this.c.checkServer, name);
    return [...this.memory.values()].filter((s) => s.name === name);
  }

  async put(set: RecordSet): Promise<void> {
    checkRecordSet(this.zone, set);
    const key = `${set.name} ${set.type}`;
    // Forgotten first: after a failure part-way, what the zone holds is not known.
    this.memory.delete(key);
    await this.run('cleanup', set.name, '', { type: set.type, ttl: set.ttl });
    for (const v of [...new Set(set.values)])
      await this.run('present', set.name, v, { type: set.type, ttl: set.ttl });
    this.memory.set(key, { ...set, values: [...new Set(set.values)] });
  }

  async remove(name: string, type: RecordType): Promise<void> {
    checkName(this.zone, name);
    await this.run('cleanup', name, '', { type, ttl: 60 });
    this.memory.delete(`${name} ${type}`);
  }

  /** Runs the script once; non-zero or past the timeout (its process group killed) is an error. */
  private run(
    action: 'present' | 'cleanup',
    fqdn: string,
    value: string,
    o: { type: RecordType; ttl: number; acme?: boolean },
  ): Promise<void> {
    const script = basename(this.c.command);
    const env: Record<string, string> = {
      ...this.c.env,
      PATH,
      GATEHOUSE_ZONE: this.zone,
      GATEHOUSE_RECORD_TYPE: o.type,
      GATEHOUSE_RECORD_TTL: String(o.ttl),
      GATEHOUSE_ACME: o.acme ? '1' : '0',
    };
    const what = `DNS hook ${script} ${action} ${fqdn}`;
    return new Promise((resolve, reject) => {
      const p = spawn(this.c.command, [action, `${fqdn}.`, value], {
        env,
        cwd: '/',
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      let timedOut = false;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let settled = false;
      let grace: NodeJS.Timeout | undefined;
      const settle = (err?: GatehouseError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(grace);
        p.stderr.destroy();
        if (err) return reject(err);
        if (timedOut)
          return reject(
            new GatehouseError(
              'dns_hook_timeout',
              `${what}: no answer in ${this.c.timeoutS} s (killed)${this.tail(stderr)}`,
              504,
            ),
          );
        if (exit?.code === 0) return resolve();
        const how =
          exit?.code === null || exit === undefined
            ? `killed by ${exit?.signal ?? 'a signal'}`
            : `exit ${exit.code}`;
        reject(new GatehouseError('dns_hook_failed', `${what}: ${how}${this.tail(stderr)}`, 502));
      };
      p.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(p.pid);
      }, this.c.timeoutS * 1000);
      p.on('error', (e) => settle(new GatehouseError('dns_hook_failed', `${what}: ${e.message}`, 502)));
      p.on('exit', (code, signal) => {
        exit = { code, signal };
        // Anything the script left behind in its group goes too; its stderr is read a moment longer.
        killGroup(p.pid);
        grace = setTimeout(() => settle(), 1000);
      });
      p.on('close', () => settle());
    });
  }

  /** The end of the script's stderr, with the operator's variables' values blanked out. */
  private tail(stderr: string): string {
    let s = stderr;
    for (const v of Object.values(this.c.env)) if (v.length >= 4) s = s.split(v).join('***');
    s = s.trim().slice(-300);
    return s ? `: ${s}` : '';
  }
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}
