/** The log page's filters, as the API takes them and as they stand in the page's address. */
export interface LogFilters {
  service?: string;
  status?: string;
  client?: string;
  user?: string;
  since?: string;
  until?: string;
}

export const FILTER_KEYS = ['service', 'status', 'client', 'user', 'since', 'until'] as const;

/** The filters' query string (empty ones left out). */
export function filterQuery(f: LogFilters): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = f[k]?.trim();
    if (v) q.set(k, v);
  }
  return q;
}

/** The log page showing these filters: `#/logs/<query>` (the query encoded as one path part). */
export function logsHref(f: LogFilters, live = false): string {
  const q = filterQuery(f);
  if (live) q.set('live', '1');
  const s = q.toString();
  return s ? `#/logs/${encodeURIComponent(s)}` : '#/logs';
}

/** The filters (and the live tail's switch) in the page's argument. */
export function parseLogsArg(arg: string | undefined): { filters: LogFilters; live: boolean } {
  const q = new URLSearchParams(arg ?? '');
  const filters: LogFilters = {};
  for (const k of FILTER_KEYS) {
    const v = q.get(k);
    if (v) filters[k] = v;
  }
  return { filters, live: q.get('live') === '1' };
}
