import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { humanLine } from '../../src/observe/log.js';

describe('human log format', () => {
  it('prints time, level, part, message and fields on one line; secrets stay redacted', () => {
    const lines: string[] = [];
    const log = pino(
      { name: 'gatehouse', redact: { paths: ['token', '*.authorization'], censor: '[redacted]' } },
      { write: (l: string) => void lines.push(humanLine(l)) },
    );
    log.child({ part: 'edge' }).info({ version: 3, ms: 12, host: 'a b', token: 'sekrit' }, 'config applied');
    log.warn({ headers: { authorization: 'Bearer sekrit' } }, 'odd');
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d INFO {2}edge: config applied version=3 ms=12 host="a b" token=\[redacted\]\n$/,
    );
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d WARN {2}odd headers=\{"authorization":"\[redacted\]"\}\n$/);
    expect(lines.join('')).not.toContain('sekrit');
    // Whatever is not a log line passes as it is.
    expect(humanLine('plain text\n')).toBe('plain text\n');
  });
});
