import { readFileSync } from 'node:fs';
import { childrenOf } from './procmem.js';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const HZ = 100;

/** CPU time (user + system) of `pid` so far, in ms; 0 once it is gone. */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
  } catch {
    return 0;
  }
}

function withDescendants(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = childrenOf(pid);
  } catch {
    // gone
  }
  return [pid, ...kids.flatMap(withDescendants)];
}

/** CPU ms so far of each process in the trees rooted at `roots`. */
export type CpuSnapshot = Map<number, number>;

export function cpuSnapshot(roots: number[], descend = true): CpuSnapshot {
  const pids = roots.filter((p) => p > 0).flatMap((p) => (descend ? withDescendants(p) : [p]));
  return new Map(pids.map((p) => [p, cpuMsOf(p)]));
}

/** CPU ms spent between two snapshots by the processes in `after` (new ones from zero). */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** The whole machine's CPU time so far (every core): busy and total, in ms (/proc/stat). */
export function machineCpu(): { busyMs: number; totalMs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  // idle and iowait
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busyMs: ((total - idle) * 1000) / HZ, totalMs: (total * 1000) / HZ };
}
