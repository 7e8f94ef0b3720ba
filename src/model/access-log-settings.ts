import { z } from 'zod';

/** A whole number setting (from a flag or the environment it arrives as text). */
function whole(min: number, max: number) {
  const error = (iss: { input?: unknown }) =>
    `expected a whole number from ${min} to ${max}${Number.isNaN(iss.input) ? '' : ` (got ${JSON.stringify(iss.input)})`}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** The access log store's settings (src/observe/access-log-store.ts; docs/logs.md). */
export const accessLogSettings = {
  /** Records older than this many days are dropped (0: kept until a size limit drops them). */
  access_log_retention_days: whole(0, 3650).default(7),
  /** The store's records are dropped, oldest first, past this many. */
  access_log_max_rows: whole(1000, 100_000_000).default(2_000_000),
  /** ...or past this much space in its file (MB). */
  access_log_max_mb: whole(1, 1_000_000).default(1024),
  /**
   * Each record as a JSON line for Loki/Vector/Elastic: `off`, `stdout`, or an absolute file path
   * (appended to).
   */
  access_log_json: z
    .string()
    .regex(/^(?:off|stdout|\/[^\0]*)$/, 'off, stdout or an absolute file path')
    .default('off'),
};
