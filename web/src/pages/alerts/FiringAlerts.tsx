import type { AlertList, AlertViewItem } from '../../../../src/api/views';
import { api } from '../../api';
import { RefreshButton } from '../../components/buttons';
import { badge } from '../../components/badges';
import { LoadedList } from '../../components/LoadedList';
import { Outcome } from '../../components/Notice';
import { Table } from '../../components/Table';
import { local, relative } from '../../components/when';
import { useLoad } from '../../hooks/useLoad';
import { usePoll } from '../../hooks/usePoll';
import { RULE_LABELS } from './ruleForm';
import type { AlertRuleName } from '../../../../src/model/alert-rule.js';

/** How often the alerts are read again (the engine looks every 5 s). */
const POLL_MS = 5000;

/** Alerts firing now, then those holding but not yet for their rule's hold time. */
export function FiringAlerts() {
  const { data, error, load } = useLoad(() => api<AlertList>('GET', '/alerts'));
  usePoll(load, POLL_MS);
  const all: AlertViewItem[] | undefined = data ? [...data.alerts, ...data.pending] : undefined;
  return (
    <section aria-labelledby="alerts-now-title" className="flex flex-col gap-3" data-testid="alerts-now">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h2 id="alerts-now-title" className="font-semibold">
          Firing now
        </h2>
        <RefreshButton onClick={() => void load()} />
      </div>
      <Outcome error={error} />
      <LoadedList items={all} empty="Nothing is firing.">
        {(alerts) => (
          <Table testId="alert-list" columns={['State', 'Alert', 'Rule', 'Since', 'Last sent']}>
            {alerts.map((a) => (
              <tr
                key={`${a.rule} ${a.subject}`}
                className="border-t border-slate-100 align-top"
                data-alert={a.rule}
              >
                <td className="px-3 py-1.5">
                  <span
                    className={`${badge} ${a.state === 'firing' ? 'bg-red-100 text-red-800' : 'bg-amber-100 text-amber-800'}`}
                  >
                    {a.state === 'firing' ? 'Firing' : 'Pending'}
                  </span>
                </td>
                <td className="px-3 py-1.5">
                  <div className="font-medium break-words">{a.title}</div>
                  <div className="text-xs break-words text-slate-600">{a.text}</div>
                </td>
                <td className="px-3 py-1.5">{RULE_LABELS[a.rule as AlertRuleName] ?? a.rule}</td>
                <td className="px-3 py-1.5 whitespace-nowrap" title={local(a.since)}>
                  {relative(a.since)}
                </td>
                <td className="px-3 py-1.5 whitespace-nowrap" title={a.last_sent ? local(a.last_sent) : ''}>
                  {a.last_sent ? relative(a.last_sent) : 'not yet'}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
