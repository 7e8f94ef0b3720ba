import type { CrowdsecView } from '../../../src/api/views';
import { api } from '../api';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { Notice } from './Notice';
import { local } from './when';

/**
 * CrowdSec's decisions as the edges enforce them (docs/crowdsec.md): whether the Local API answers,
 * and the newest decisions. Shown only when a Local API is set.
 */
export function CrowdsecCard() {
  const { data, error, load } = useLoad(() => api<CrowdsecView>('GET', '/crowdsec?limit=10'));
  usePoll(load, 5_000);
  if (!data?.enabled) return error ? <Notice kind="error">CrowdSec: {error}</Notice> : null;
  const s = data.status;
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4" data-testid="crowdsec">
      <h2 className="font-semibold">CrowdSec</h2>
      <p className="mt-1 text-sm text-slate-600">
        {s?.connected
          ? `Local API answers (last asked ${local(s.lastPullAt ?? '')}).`
          : `Local API not answering${s?.lastError ? `: ${s.lastError}` : ''}. The last decisions stay in force.`}{' '}
        {`${s?.decisions ?? 0} active decision${s?.decisions === 1 ? '' : 's'} enforced on every edge`}
        {s?.ignored ? `; ${s.ignored} of a scope the edges cannot enforce.` : '.'}
      </p>
      {data.decisions.length > 0 ? (
        <ul className="mt-2 flex flex-col gap-1 text-sm" aria-label="CrowdSec decisions">
          {data.decisions.map((d) => (
            <li key={d.id} className="break-words">
              <span className="font-mono">{d.value}</span> {d.type} until {local(d.until)}{' '}
              <span className="text-slate-500">({d.scenario || d.origin})</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
