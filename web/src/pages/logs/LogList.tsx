import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { AccessLogEntry, AccessLogList } from '../../../../src/api/views';
import { api, ApiError, messageOf } from '../../api';
import { buttonClass, plainButton } from '../../components/buttons';
import { CheckboxField, Field, SelectField } from '../../components/Field';
import { LoadedList } from '../../components/LoadedList';
import { Notice } from '../../components/Notice';
import { Table } from '../../components/Table';
import { filterQuery, logsHref, type LogFilters } from './filters';

const PAGE = 100;
/** The live tail keeps this many lines on the page. */
const TAIL_KEEP = 500;

const RANGES = [
  { value: '', label: 'Any time' },
  { value: '15m', label: 'Last 15 min' },
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 h' },
  { value: '7d', label: 'Last 7 days' },
];

const statusClass = (s: number) =>
  s >= 500 ? 'text-red-700 font-semibold' : s >= 400 ? 'text-amber-700' : 'text-slate-700';

/** "2026-12-07 10:00:00" in local time, to the second. */
function when(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A datetime-local input's value as the API's ISO time; other text as typed (15m, 7d, epoch ms). */
const toApiTime = (v: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) ? new Date(v).toISOString() : v);

/** An ISO time (or epoch ms) as a datetime-local input's value, in local time; other text as none. */
function localInput(v: string | undefined): string {
  if (!v) return '';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return v;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(t)) return '';
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** The filters' error answers name the field as `query.<field>`: shown on that field. */
function fieldErrors(e: unknown): Record<string, string> {
  if (!(e instanceof ApiError)) return {};
  return Object.fromEntries((e.body.issues ?? []).map((i) => [i.field.replace(/^query\./, ''), i.message]));
}

/**
 * The access log: a filter form (service, status, client, user, time), the records newest first
 * with older pages, and a live tail that adds records as edges send them.
 */
export function LogList({ filters, live }: { filters: LogFilters; live: boolean }) {
  const [form, setForm] = useState<LogFilters>(filters);
  const [records, setRecords] = useState<AccessLogEntry[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [connected, setConnected] = useState(false);
  const latest = useRef(0);

  const load = useCallback(
    async (before?: number) => {
      const mine = ++latest.current;
      try {
        const q = filterQuery(filters);
        q.set('limit', String(PAGE));
        if (before) q.set('before', String(before));
        const r = await api<AccessLogList>('GET', `/logs?${q}`);
        if (mine !== latest.current) return;
        setRecords((cur) => (before ? [...(cur ?? []), ...r.records] : r.records));
        setNext(r.next);
        setError('');
        setErrors({});
      } catch (e) {
        if (mine !== latest.current) return;
        setError(messageOf(e));
        setErrors(fieldErrors(e));
        setRecords((cur) => cur ?? []);
      }
    },
    [filters],
  );
  useEffect(() => void load(), [load]);

  // The live tail: the same filters, new records on top.
  useEffect(() => {
    if (!live) return;
    const es = new EventSource(`/api/v1/logs/stream?${filterQuery(filters)}`, { withCredentials: true });
    es.addEventListener('open', () => setConnected(true));
    es.addEventListener('error', () => setConnected(false));
    es.addEventListener('logs', (m) => {
      const { records: fresh } = JSON.parse((m as MessageEvent<string>).data) as {
        records: AccessLogEntry[];
      };
      setRecords((cur) => {
        const seen = new Set((cur ?? []).map((r) => r.id));
        const add = fresh.filter((r) => !seen.has(r.id)).reverse();
        return [...add, ...(cur ?? [])].slice(0, TAIL_KEEP);
      });
    });
    return () => {
      es.close();
      setConnected(false);
    };
  }, [live, filters]);

  const set = (k: keyof LogFilters) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  const show = (e: FormEvent) => {
    e.preventDefault();
    const f = { ...form };
    if (f.until) f.until = toApiTime(f.until);
    if (f.since && !RANGES.some((r) => r.value === f.since)) f.since = toApiTime(f.since);
    window.location.hash = logsHref(f, live);
  };
  const preset = RANGES.some((r) => r.value === (form.since ?? ''));

  return (
    <div className="flex flex-col gap-3">
      <form
        onSubmit={show}
        className="grid grid-cols-2 gap-2 md:grid-cols-4 lg:grid-cols-7"
        aria-label="Filters"
      >
        <Field
          label="Service"
          name="service"
          value={form.service ?? ''}
          onChange={set('service')}
          error={errors.service}
          placeholder="all"
        />
        <Field
          label="Status"
          name="status"
          value={form.status ?? ''}
          onChange={set('status')}
          error={errors.status}
          placeholder="5xx, 404, 401,403"
        />
        <Field
          label="Client"
          name="client"
          value={form.client ?? ''}
          onChange={set('client')}
          error={errors.client}
          placeholder="address"
        />
        <Field label="User" name="user" value={form.user ?? ''} onChange={set('user')} error={errors.user} />
        <SelectField
          label="Time"
          name="since"
          value={preset ? (form.since ?? '') : ''}
          onChange={set('since')}
          options={RANGES}
          error={preset ? errors.since : undefined}
        />
        <Field
          label="From"
          name="from"
          type="datetime-local"
          value={preset ? '' : localInput(form.since)}
          onChange={set('since')}
          error={preset ? undefined : errors.since}
        />
        <Field
          label="Until"
          name="until"
          type="datetime-local"
          value={localInput(form.until)}
          onChange={set('until')}
          error={errors.until}
        />
        <div className="flex items-end gap-2">
          <button type="submit" className={buttonClass}>
            Show
          </button>
        </div>
      </form>
      <div className="flex flex-wrap items-center gap-3">
        <CheckboxField
          label="Live tail"
          checked={live}
          onChange={(e) => {
            window.location.hash = logsHref(filters, e.target.checked);
          }}
        />
        {live ? (
          <span className="text-sm text-slate-500" data-testid="tail-state">
            {connected ? 'following new records' : 'connecting…'}
          </span>
        ) : null}
        <button type="button" className={plainButton} onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {/* Refused filters: the error says why; no "No records match" below it. */}
      {error && !records?.length ? null : (
        <LoadedList items={records} empty="No records match.">
          {(rs) => (
            <Table
              testId="logs"
              columns={['Time', 'Status', 'Request', 'Duration', 'Client', 'User', 'Service', 'Node']}
            >
              {rs.map((r) => (
                <tr key={r.id} className="border-t border-slate-100 align-top">
                  <td className="whitespace-nowrap px-3 py-1.5">{when(r.time)}</td>
                  <td className={`px-3 py-1.5 ${statusClass(r.status)}`} data-testid="status">
                    {r.status}
                  </td>
                  <td className="px-3 py-1.5 break-all">
                    <span className="text-slate-500">{r.method}</span> {r.host}
                    {r.path}
                  </td>
                  <td className="whitespace-nowrap px-3 py-1.5">{Math.round(r.duration_ms)} ms</td>
                  <td className="px-3 py-1.5 font-mono break-all">
                    {r.client}
                    {r.country ? <span className="ml-1 text-slate-500">{r.country}</span> : null}
                  </td>
                  <td className="px-3 py-1.5 break-all">{r.user ?? ''}</td>
                  <td className="px-3 py-1.5">{r.service ?? '–'}</td>
                  <td className="px-3 py-1.5 text-slate-600">{r.node}</td>
                </tr>
              ))}
            </Table>
          )}
        </LoadedList>
      )}
      {next !== null && !live ? (
        <div>
          <button type="button" className={plainButton} onClick={() => void load(next)}>
            Older records
          </button>
        </div>
      ) : null}
    </div>
  );
}
