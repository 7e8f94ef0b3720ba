import pino from 'pino';

export type Logger = pino.Logger;

/** Structured logs on stderr. Secrets never reach a log call: redact covers the usual carriers. */
export function createLogger(level: string, name = 'gatehouse'): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
