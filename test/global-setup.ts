import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** This run's directory: every test data dir goes below it (see test/helpers/tmp.ts). */
let runDir = '';

export function setup(): void {
  runDir = mkdtempSync(join(tmpdir(), 'gh-run-'));
  // nginx workers run as an unprivileged user and must get through to the data dirs below.
  chmodSync(runDir, 0o711);
  // Workers are started after this and inherit it.
  process.env.GATEHOUSE_TEST_RUN_DIR = runDir;
}

/** nginx masters whose prefix lies in this run's directory. */
function strayMasters(): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.startsWith('nginx: master') && cmd.includes(`${runDir}/`))
        found.push({ pid: Number(entry), cmd });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * After all test files: no nginx master a test started may outlive the run. Any that did is
 * stopped, and the run fails so that the leak gets fixed.
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
  } else {
    rmSync(runDir, { recursive: true, force: true });
  }
}
