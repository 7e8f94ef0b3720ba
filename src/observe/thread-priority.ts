import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Makes the calling thread (this thread alone: Linux keeps a priority per thread) run only when a
 * core would otherwise idle: SCHED_IDLE by `chrt` (util-linux), and the lowest nice value in case
 * that is refused. For the access log's threads: under a load that takes every core, nginx serving
 * requests comes first and the log is read and stored a little later (the lines wait in the file;
 * none is lost). With a core to spare it makes no difference. See docs/observability.md.
 */
export function yieldToRequests(onError: (message: string) => void): void {
  try {
    setPriority(19);
  } catch {
    // Not allowed here: the nice value stays.
  }
  let tid: string | undefined;
  try {
    tid = readlinkSync('/proc/thread-self').split('/').pop();
  } catch {
    return; // Not Linux.
  }
  if (!tid) return;
  execFile('chrt', ['--idle', '--pid', '0', tid], { timeout: 5000 }, (err) => {
    if (err) onError(`chrt --idle: ${err.message}`);
  });
}
