/** A batch of access log records as an edge sends it holds at most this many (access-log.ts). */
export const ACCESS_LOG_BATCH_MAX = 5000;
