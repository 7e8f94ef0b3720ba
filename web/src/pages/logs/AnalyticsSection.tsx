import { useEffect, useState } from 'react';
import type { AnalyticsView } from '../../../../src/api/views';
import { api, messageOf } from '../../api';
import { plainButton } from '../../components/buttons';
import { Notice } from '../../components/Notice';
import { Table } from '../../components/Table';
import { LatencyChart, RequestsChart } from './Chart';
import { logsHref } from './filters';

const WINDOWS = [
  ['1h', 'Last hour'],
  ['24h', 'Last 24 h'],
  ['7d', 'Last 7 days'],
] as const;
type Window = (typeof WINDOWS)[number][0];

const since: Record<Window, string> = { '1h': '1h', '24h': '24h', '7d': '7d' };

function Figure({ testId, label, value }: { testId: string; label: string; value: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3" data-testid={testId}>
      <div className="text-xs text-slate-500">{label}</div>
      <div className="text-lg font-semibold">{value}</div>
    </div>
  );
}

const ms = (v: number | null) => (v === null ? '–' : `${Math.round(v * 10) / 10} ms`);

/**
 * Analytics over 1 h, 24 h or 7 d, for every service or the one the log filter names: the figures,
 * two charts, and the top paths, clients and denied addresses (each a link to its log lines).
 */
export function AnalyticsSection({ service }: { service: string }) {
  const [win, setWin] = useState<Window>('24h');
  const [a, setA] = useState<AnalyticsView | null>(null);
  const [error, setError] = useState('');
  const [reads, setReads] = useState(0);
  useEffect(() => {
    let gone = false;
    const q = new URLSearchParams({ window: win });
    if (service) q.set('service', service);
    api<AnalyticsView>('GET', `/analytics?${q}`).then(
      (r) => {
        if (gone) return;
        setA(r);
        setError('');
      },
      (e: unknown) => !gone && setError(messageOf(e)),
    );
    return () => {
      gone = true;
    };
  }, [win, service, reads]);
  const base = { since: since[win], ...(service ? { service } : {}) };
  const long = win === '7d';
  return (
    <div className="flex flex-col gap-3" data-testid="analytics">
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="font-semibold">Traffic{service ? ` of ${service}` : ''}</h2>
        <div role="group" aria-label="Window" className="flex gap-1">
          {WINDOWS.map(([w, label]) => (
            <button
              key={w}
              type="button"
              aria-pressed={w === win}
              onClick={() => setWin(w)}
              className={`${plainButton} ${w === win ? 'bg-slate-900 text-white hover:bg-slate-700' : ''}`}
            >
              {label}
            </button>
          ))}
        </div>
        <button type="button" className={plainButton} onClick={() => setReads((n) => n + 1)}>
          Refresh
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {a ? (
        <>
          <div className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-6">
            <Figure testId="fig-requests" label="Requests" value={String(a.requests)} />
            <Figure
              testId="fig-error-rate"
              label="Error rate (5xx)"
              value={`${(a.error_rate * 100).toFixed(a.error_rate < 0.1 ? 2 : 1)} %`}
            />
            <Figure testId="fig-4xx" label="Client errors (4xx)" value={String(a.errors_4xx)} />
            <Figure testId="fig-denied" label="Denied (401/403/429)" value={String(a.denied)} />
            <Figure testId="fig-p50" label="p50 latency" value={ms(a.p50_ms)} />
            <Figure testId="fig-p95" label="p95 latency" value={ms(a.p95_ms)} />
          </div>
          <div className="grid gap-3 md:grid-cols-2">
            <div className="rounded-lg border border-slate-200 bg-white p-3">
              <h3 className="mb-1 text-sm font-medium">Requests (5xx in red)</h3>
              <RequestsChart series={a.series} long={long} />
            </div>
            <div className="rounded-lg border border-slate-200 bg-white p-3">
              <h3 className="mb-1 text-sm font-medium">Average duration</h3>
              <LatencyChart series={a.series} long={long} />
            </div>
          </div>
          <div className="grid gap-3 lg:grid-cols-3">
            <div>
              <h3 className="mb-1 text-sm font-medium">Top paths</h3>
              <Table testId="top-paths" columns={['Path', 'Requests', '5xx']}>
                {a.top_paths.map((p) => (
                  <tr key={`${p.host}${p.path}`} className="border-t border-slate-100">
                    <td className="px-3 py-1.5 break-all">
                      {p.host}
                      {p.path}
                    </td>
                    <td className="px-3 py-1.5">{p.requests}</td>
                    <td className="px-3 py-1.5">{p.errors_5xx}</td>
                  </tr>
                ))}
              </Table>
            </div>
            <div>
              <h3 className="mb-1 text-sm font-medium">Top clients</h3>
              <Table testId="top-clients" columns={['Client', 'Requests', '5xx']}>
                {a.top_clients.map((c) => (
                  <tr key={c.client} className="border-t border-slate-100">
                    <td className="px-3 py-1.5 font-mono">
                      <a className="text-sky-700 underline" href={logsHref({ ...base, client: c.client })}>
                        {c.client}
                      </a>
                    </td>
                    <td className="px-3 py-1.5">{c.requests}</td>
                    <td className="px-3 py-1.5">{c.errors_5xx}</td>
                  </tr>
                ))}
              </Table>
            </div>
            <div>
              <h3 className="mb-1 text-sm font-medium">Top denied addresses</h3>
              <Table testId="top-denied" columns={['Client', 'Denied']}>
                {a.top_denied.map((c) => (
                  <tr key={c.client} className="border-t border-slate-100">
                    <td className="px-3 py-1.5 font-mono">
                      <a
                        className="text-sky-700 underline"
                        href={logsHref({ ...base, client: c.client, status: '401,403,429' })}
                      >
                        {c.client}
                      </a>
                    </td>
                    <td className="px-3 py-1.5">{c.requests}</td>
                  </tr>
                ))}
              </Table>
            </div>
            {a.top_countries.length ? (
              <div>
                <h3 className="mb-1 text-sm font-medium">Top countries</h3>
                <Table testId="top-countries" columns={['Country', 'Requests', 'Denied']}>
                  {a.top_countries.map((c) => (
                    <tr key={c.country} className="border-t border-slate-100">
                      <td className="px-3 py-1.5 font-mono">{c.country}</td>
                      <td className="px-3 py-1.5">{c.requests}</td>
                      <td className="px-3 py-1.5">{c.denied}</td>
                    </tr>
                  ))}
                </Table>
              </div>
            ) : null}
          </div>
        </>
      ) : (
        <p className="text-sm text-slate-500">Loading…</p>
      )}
    </div>
  );
}
