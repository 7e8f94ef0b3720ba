import { closeSync, openSync, readSync, statSync } from 'node:fs';

// Reading nginx's error log since an offset, and its messages made short.

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** `[emerg]` lines written to the error log since `offset`, joined; empty when there are none. */
export function newEmergencies(path: string, offset: number): string {
  const size = fileSize(path);
  if (size <= offset) return '';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(size - offset, 64 * 1024));
    readSync(fd, buf, 0, buf.length, offset);
    return summarize(
      buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.includes('[emerg]'))
        .join('\n'),
    );
  } finally {
    closeSync(fd);
  }
}

/** nginx messages without timestamps and pids, at most a few lines. */
export function summarize(output: string): string {
  return output
    .split('\n')
    .map((l) => l.replace(/^\S+ \S+ \[(\w+)\] \d+#\d+: /, '[$1] ').replace(/^nginx: /, ''))
    .filter(
      (l, i, all) =>
        l.trim() && !l.includes('configuration file') && !l.includes('test failed') && all.indexOf(l) === i,
    )
    .slice(0, 5)
    .join('; ');
}
