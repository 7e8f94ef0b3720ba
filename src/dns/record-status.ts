import type { RecordSet } from './records.js';
import type { RecordTarget } from './record-plan.js';

/** External records as they stand: what GET /dns/records answers, and the events they make. */

/** Events in the events log (kind, host, detail). */
export type DnsRecordEvent =
  | 'dns_record_created'
  | 'dns_record_changed'
  | 'dns_record_removed'
  | 'dns_record_conflict'
  | 'dns_record_failed';

export type RecordState = 'ok' | 'pending' | 'conflict' | 'error';

/** One host: what it should have at its provider, what the provider answered, and how that stands. */
export interface HostRecords {
  host: string;
  zone: string;
  services: string[];
  state: RecordState;
  desired: RecordSet[];
  actual: RecordSet[];
  /** Why it is in conflict or error ('' when ok). */
  message: string;
  updated_at: string;
  /** When a failed write is tried again. */
  retry_at: string | null;
}

export interface RecordsStatus {
  enabled: boolean;
  /** This replica does the writes (the others answer with what they read, without writing). */
  leading: boolean;
  owner: string;
  target: { type: 'addresses' | 'cname' | 'none'; values: string[] };
  last_full_pass: string | null;
  records: HostRecords[];
}

/** External records in GET /status: hosts by state, and the first few in conflict or error. */
export interface RecordsSummary {
  ok: number;
  pending: number;
  conflict: number;
  error: number;
  problems: { host: string; state: RecordState; message: string; retry_at: string | null }[];
}

export function targetView(t: RecordTarget | undefined): RecordsStatus['target'] {
  if (!t) return { type: 'none', values: [] };
  return t.kind === 'cname'
    ? { type: 'cname', values: [t.host] }
    : { type: 'addresses', values: [...t.v4, ...t.v6] };
}
