import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh temp dir for a test, inside this run's own directory (made by test/global-setup.ts), so
 * that the end-of-run check for leaked nginx masters only looks at what this run started.
 */
export function testDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env.GATEHOUSE_TEST_RUN_DIR ?? tmpdir(), prefix));
}

/**
 * testDir for an nginx prefix of its own (NginxDriver tests): entered by nginx's workers (0711), as
 * a data dir is (Gatehouse refuses one they cannot reach), since they connect to sockets below it.
 */
export async function nginxTestDir(prefix: string): Promise<string> {
  const dir = await testDir(prefix);
  await chmod(dir, 0o711);
  return dir;
}
