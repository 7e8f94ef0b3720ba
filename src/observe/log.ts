import pino from 'pino';

export type Logger = pino.Logger;

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
/** pino's own fields, shown in the line's head or not at all. */
const HEAD = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'part']);

/**
 * One pino JSON line as a person reads it: `17:50:01 INFO  edge: config applied version=3 ms=12`.
 * Anything that is not a log line passes through as it is.
 */
export function humanLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 19) : '--:--:--';
  const level = LEVELS[rec.level as number] ?? String(rec.level);
  const part = typeof rec.part === 'string' ? `${rec.part}: ` : '';
  const fields = Object.entries(rec)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} ${level} ${part}${String(rec.msg ?? '')}${fields.length ? ' ' + fields.join(' ') : ''}\n`;
}

/**
 * Logs on stderr: JSON lines for a log collector, or a human format when stderr is a terminal
 * (GATEHOUSE_LOG_FORMAT=json|human chooses). Secrets never reach a log call: redact covers the
 * usual carriers, in both formats.
 */
export function createLogger(level: string, name = 'gatehouse'): Logger {
  const format = process.env.GATEHOUSE_LOG_FORMAT ?? (process.stderr.isTTY ? 'human' : 'json');
  const dest =
    format === 'human'
      ? { write: (line: string) => void process.stderr.write(humanLine(line)) }
      : pino.destination(2);
  return pino(
    {
      name,
      level,
      redact: {
        paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    dest,
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
