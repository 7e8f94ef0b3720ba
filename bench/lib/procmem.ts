import { readFileSync } from 'node:fs';

export interface ProcMem {
  pid: number;
  /** What the process is: `nginx: master process …`, `nginx: worker process`. */
  name: string;
  rssBytes: number;
  /**
   * Proportional set size: each shared page divided by the number of processes mapping it. nginx
   * workers share most of the master's parsed config copy-on-write, so their RSS counts it again
   * and again while their PSS sums to the real footprint.
   */
  pssBytes: number;
}

/** Direct children of `pid` (Linux 3.5+ with CONFIG_PROC_CHILDREN, as on Debian). */
export function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

function kbField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} field`);
  return Number(m[1]) * 1024;
}

export function procMem(pid: number): ProcMem {
  const name = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  const rssBytes = kbField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
  const pssBytes = kbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  return { pid, name, rssBytes, pssBytes };
}

/**
 * The nginx master and its live workers. A worker that exited meanwhile holds no memory: a zombie not
 * yet reaped has no VmRSS, a reaped one no /proc entry; it is left out.
 */
export function nginxTree(masterPid: number): ProcMem[] {
  const workers = childrenOf(masterPid).flatMap((pid) => {
    try {
      return [procMem(pid)];
    } catch {
      return [];
    }
  });
  return [procMem(masterPid), ...workers];
}

export function mb(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}
