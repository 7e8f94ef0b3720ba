import {
  appendFileSync,
  openSync,
  renameSync,
  writeFileSync,
  writeSync,
  closeSync,
  truncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogTail } from '../../src/observe/access-log-reader.js';
import { testDir } from '../helpers/tmp.js';

describe('following a log file', () => {
  let tail: LogTail | undefined;
  afterEach(async () => {
    await tail?.stop();
    tail = undefined;
  });

  async function follow(file: string, opts: ConstructorParameters<typeof LogTail>[2] = {}) {
    const got: string[] = [];
    tail = new LogTail(file, (lines) => void got.push(...lines), { pollMs: 60_000, ...opts });
    await tail.start();
    return got;
  }

  it('reads only new lines, whole lines only', async () => {
    const file = join(await testDir('gh-tail-'), 'access.log');
    writeFileSync(file, 'old 1\nold 2\n');
    const got = await follow(file);
    appendFileSync(file, 'new 1\nnew 2\npart');
    await tail?.poll();
    expect(got).toEqual(['new 1', 'new 2']);
    appendFileSync(file, 'ial\n');
    await tail?.poll();
    expect(got).toEqual(['new 1', 'new 2', 'partial']);
  });

  it('loses nothing through a rename and reopen (nginx USR1), even lines written to the old file after it', async () => {
    const dir = await testDir('gh-tail-');
    const file = join(dir, 'access.log');
    writeFileSync(file, '');
    const got = await follow(file, { drainMs: 50 });
    // nginx holds the file open: a worker's buffer reaches the old file after the rename.
    const nginx = openSync(file, 'a');
    writeSync(nginx, 'a\n');
    renameSync(file, `${file}.1`);
    writeFileSync(file, 'c\n');
    writeSync(nginx, 'b\n');
    closeSync(nginx);
    await tail?.poll();
    expect(got.sort()).toEqual(['a', 'b', 'c']);
    appendFileSync(file, 'd\n');
    await new Promise((r) => setTimeout(r, 60));
    await tail?.poll();
    await tail?.poll();
    expect(got).toContain('d');
    expect(got).toHaveLength(4);
  });

  it('starts again from the top of a file truncated in place, and of one that appears later', async () => {
    const dir = await testDir('gh-tail-');
    const file = join(dir, 'access.log');
    const got = await follow(file);
    await tail?.poll();
    writeFileSync(file, 'first\n');
    await tail?.poll();
    expect(got).toEqual(['first']);
    appendFileSync(file, 'second line that is long\n');
    await tail?.poll();
    truncateSync(file, 0);
    appendFileSync(file, 'x\n');
    await tail?.poll();
    expect(got).toEqual(['first', 'second line that is long', 'x']);
  });

  it('reads a big file in bounded chunks, skipping a line longer than the bound', async () => {
    const file = join(await testDir('gh-tail-'), 'access.log');
    writeFileSync(file, '');
    const sizes: number[] = [];
    const got: string[] = [];
    tail = new LogTail(
      file,
      (lines) => {
        sizes.push(lines.length);
        got.push(...lines);
      },
      { pollMs: 60_000, chunkBytes: 4096, maxLineBytes: 1000 },
    );
    await tail.start();
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'y'.repeat(50)}`);
    appendFileSync(
      file,
      lines.slice(0, 1000).join('\n') + '\n' + 'z'.repeat(5000) + '\n' + lines.slice(1000).join('\n') + '\n',
    );
    await tail.poll();
    expect(got).toEqual(lines);
    expect(tail.skipped).toBe(1);
    // Each hand-over is one chunk's lines (4 KiB of ~60-byte lines).
    expect(Math.max(...sizes)).toBeLessThanOrEqual(70);
  });
});
