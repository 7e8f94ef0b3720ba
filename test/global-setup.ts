import { readdirSync, readFileSync } from 'node:fs';

/** Test data dirs start with these (see test/helpers). */
const TEST_PREFIXES = ['/gh-test-', '/gh-cli-', '/gh-driver-'];

/** nginx masters whose prefix is a test data dir, with their pids. */
function strayMasters(): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.startsWith('nginx: master') && TEST_PREFIXES.some((p) => cmd.includes(p)))
        found.push({ pid: Number(entry), cmd });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * After all test files: no nginx master a test started may outlive the run. Any that did is
 * stopped, and the run fails so the leak gets fixed.
 */
export function teardown(): void {
  const stray = strayMasters();
  for (const { pid } of stray) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (stray.length) {
    console.error(`nginx masters outlived the tests:\n${stray.map((s) => `${s.pid} ${s.cmd}`).join('\n')}`);
    process.exitCode = 1;
  }
}
