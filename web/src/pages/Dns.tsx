import type { DnsDoctorHost, DnsDoctorReport, DnsRecordsList, LanDnsView } from '../../../src/api/views';
import { api } from '../api';
import { badge } from '../components/badges';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { ListHeading, PageHeader } from '../components/PageHeader';
import { Table } from '../components/Table';
import { local, relative } from '../components/when';
import { useLoad } from '../hooks/useLoad';
import { DnsProviders } from './dns/DnsProviders';

type Sets = DnsDoctorHost['public']['expected'];

/** Green where all is well, red where something answers wrong or not at all, amber where unsure, grey where not checked. */
const TONE: Record<string, string> = {
  ok: 'bg-green-100 text-green-800',
  allowed: 'bg-green-100 text-green-800',
  reachable: 'bg-green-100 text-green-800',
  missing: 'bg-red-100 text-red-800',
  wrong: 'bg-red-100 text-red-800',
  error: 'bg-red-100 text-red-800',
  denied: 'bg-red-100 text-red-800',
  problem: 'bg-red-100 text-red-800',
  unreachable: 'bg-red-100 text-red-800',
  timeout: 'bg-red-100 text-red-800',
  unknown: 'bg-amber-100 text-amber-900',
  warning: 'bg-amber-100 text-amber-900',
};

const LABEL: Record<string, string> = { not_public: 'LAN only', not_checked: 'not checked' };

function Badge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span data-testid={testId} className={`${badge} ${TONE[state] ?? 'bg-slate-200 text-slate-700'}`}>
      {LABEL[state] ?? state}
    </span>
  );
}

function SetList({ sets }: { sets: Sets }) {
  if (sets.length === 0) return <span className="text-slate-400">—</span>;
  return (
    <ul className="font-mono text-xs">
      {sets.map((s) => (
        <li key={s.type} className="break-all">
          {s.type} {s.values.join(', ')}
        </li>
      ))}
    </ul>
  );
}

/** One part's explanation, shown only where it has something to say. */
function Why({ show, text }: { show: boolean; text: string }) {
  return show ? <p className="mt-1 max-w-xs text-xs text-slate-600">{text}</p> : null;
}

function HostRow({ h }: { h: DnsDoctorHost }) {
  const bad = (s: string) => !['ok', 'allowed', 'off', 'not_public'].includes(s);
  return (
    <tr className="border-t border-slate-100 align-top" data-host={h.host}>
      <td className="px-3 py-1.5">
        <span className="font-medium break-all">{h.host}</span>
        <span className="block text-xs text-slate-500">{h.services.join(', ')}</span>
      </td>
      <td className="px-3 py-1.5">
        <Badge state={h.state} testId="host-state" />
      </td>
      <td className="px-3 py-1.5" data-testid="public">
        <span className="flex flex-wrap items-center gap-1">
          <Badge state={h.public.state} />
          {h.public.state !== 'not_public' && !h.public.managed ? (
            <span className="text-xs text-slate-500" title="external records do not keep this host">
              unmanaged
            </span>
          ) : null}
        </span>
        <Why show={bad(h.public.state)} text={h.public.message} />
      </td>
      <td className="px-3 py-1.5" data-testid="public-expected">
        <SetList sets={h.public.expected} />
      </td>
      <td className="px-3 py-1.5" data-testid="public-actual">
        <SetList sets={h.public.actual} />
      </td>
      <td className="px-3 py-1.5" data-testid="lan">
        <Badge state={h.lan.state} />
        {h.lan.expected.length ? (
          <span className="mt-1 block font-mono text-xs">
            {h.lan.actual.join(', ') || '—'}
            {h.lan.state !== 'ok' ? (
              <span className="block text-slate-500">should be {h.lan.expected.join(', ')}</span>
            ) : null}
          </span>
        ) : null}
        <Why show={bad(h.lan.state) && h.lan.state !== 'skipped'} text={h.lan.message} />
      </td>
      <td className="px-3 py-1.5" data-testid="caa">
        <Badge state={h.caa.state} />
        <span className="mt-1 block text-xs text-slate-600">
          {h.caa.at ? `${h.caa.issuers.join(', ') || 'no CA'} (at ${h.caa.at})` : 'no CAA: any CA'}
        </span>
        <Why show={h.caa.state === 'denied' || h.caa.state === 'error'} text={h.caa.message} />
      </td>
    </tr>
  );
}

/** What external records and the LAN resolver report about themselves (their own pages in the API). */
function Keepers({ records, lan }: { records: DnsRecordsList | null; lan: LanDnsView | null }) {
  const count = (state: string) => records?.records.filter((r) => r.state === state).length ?? 0;
  const card = 'flex flex-col gap-1 rounded-lg border border-slate-200 bg-white p-3 text-sm';
  return (
    <div className="grid gap-3 md:grid-cols-2">
      <div className={card} data-testid="external-records">
        <h3 className="font-medium">External records</h3>
        {!records ? (
          <span className="text-slate-500">Loading…</span>
        ) : !records.enabled ? (
          <span className="text-slate-600">Off (dns_records: off).</span>
        ) : (
          <>
            <span className="text-slate-600">
              Pointing at{' '}
              <span className="font-mono text-xs">
                {records.target.type === 'none' ? 'nothing yet' : records.target.values.join(', ')}
              </span>
            </span>
            <span className="flex flex-wrap gap-1">
              {(['ok', 'pending', 'conflict', 'error'] as const).map((s) =>
                count(s) ? (
                  <span key={s} className={`${badge} ${TONE[s] ?? 'bg-amber-100 text-amber-900'}`}>
                    {count(s)} {s}
                  </span>
                ) : null,
              )}
              {records.records.length === 0 ? (
                <span className="text-slate-500">no hosts in a zone</span>
              ) : null}
            </span>
            {records.last_full_pass ? (
              <span className="text-xs text-slate-500" title={local(records.last_full_pass)}>
                Last read back {relative(records.last_full_pass)}
              </span>
            ) : null}
          </>
        )}
      </div>
      <div className={card} data-testid="lan-resolver">
        <h3 className="font-medium">LAN resolver (split horizon)</h3>
        {!lan ? (
          <span className="text-slate-500">Loading…</span>
        ) : lan.mode === 'off' ? (
          <span className="text-slate-600">Off (lan_dns: off).</span>
        ) : (
          <>
            <span className="flex flex-wrap items-center gap-2 text-slate-600">
              {lan.mode} at <span className="font-mono text-xs">{lan.server}</span>
              <Badge state={lan.in_sync ? 'ok' : 'wrong'} />
            </span>
            <span className="text-slate-600">
              LAN address{' '}
              <span className="font-mono text-xs">{lan.addresses.join(', ') || 'none known'}</span>
            </span>
            {lan.last_error ? <span className="text-xs text-red-700">{lan.last_error.message}</span> : null}
          </>
        )}
      </div>
    </div>
  );
}

/** DNS: the doctor's rows (public and LAN answers, CAA) per host, the providers, and the record keepers. */
export function Dns() {
  const doctor = useLoad(() => api<DnsDoctorReport>('GET', '/dns/doctor'));
  // Their own reads: a failure of one leaves the rest of the page as it is.
  const records = useLoad(() => api<DnsRecordsList>('GET', '/dns/records').catch(() => null));
  const lan = useLoad(() => api<LanDnsView>('GET', '/dns/lan').catch(() => null));
  const r = doctor.data;
  const refresh = () => void Promise.all([doctor.load(), records.load(), lan.load()]);
  return (
    <section aria-labelledby="dns-title" className="flex flex-col gap-6">
      <PageHeader id="dns-title" title="DNS" />
      <DnsProviders onChanged={refresh} />
      <ListHeading title="Hosts" onRefresh={refresh}>
        {r ? (
          <span className="flex flex-wrap items-center gap-2 text-sm text-slate-600" data-testid="summary">
            <Badge state={r.ok ? 'ok' : 'problem'} />
            {r.summary.hosts} {r.summary.hosts === 1 ? 'host' : 'hosts'}: {r.summary.ok} ok
            {r.summary.warning ? `, ${r.summary.warning} unsure` : ''}
            {r.summary.problem ? `, ${r.summary.problem} with a problem` : ''}
            <span title={local(r.checked_at)}>(checked {relative(r.checked_at)})</span>
          </span>
        ) : null}
      </ListHeading>
      <Outcome error={doctor.error} />
      {r ? (
        <p className="-mt-4 text-xs text-slate-500">
          Public answers from {r.public_resolver ?? 'each zone’s own server (else the system resolver)'}; CAA
          checked for {r.caa_issuer ?? 'no known CA'}; each query limited to {r.timeout_ms} ms.
        </p>
      ) : null}
      <LoadedList items={r?.hosts} empty="No hosts served yet.">
        {(hosts) => (
          <Table
            testId="dns-hosts"
            columns={['Host', 'State', 'Public DNS', 'Should be', 'Is', 'LAN DNS', 'CAA']}
          >
            {hosts.map((h) => (
              <HostRow key={h.host} h={h} />
            ))}
          </Table>
        )}
      </LoadedList>
      <h2 className="font-semibold">Provider reachability</h2>
      <LoadedList items={r?.providers} empty="No DNS providers.">
        {(providers) => (
          <Table testId="dns-providers" columns={['Name', 'Type', 'Zone', 'Reachable', 'Time', 'Answer']}>
            {providers.map((p) => (
              <tr key={p.name} className="border-t border-slate-100 align-top" data-provider={p.name}>
                <td className="px-3 py-1.5 font-medium">{p.name}</td>
                <td className="px-3 py-1.5">{p.type}</td>
                <td className="px-3 py-1.5">{p.zone}</td>
                <td className="px-3 py-1.5">
                  <Badge state={p.state} testId="provider-state" />
                </td>
                <td className="whitespace-nowrap px-3 py-1.5">{p.ms} ms</td>
                <td className="px-3 py-1.5 text-xs break-all text-slate-600">{p.message}</td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
      <Keepers records={records.data} lan={lan.data} />
    </section>
  );
}
