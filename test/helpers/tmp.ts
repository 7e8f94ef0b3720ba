import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh temp dir for a test, inside this run's own directory (made by test/global-setup.ts), so
 * that the end-of-run check for leaked nginx masters only looks at what this run started.
 */
export function testDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env.GATEHOUSE_TEST_RUN_DIR ?? tmpdir(), prefix));
}
