import { useState } from 'react';
import type { Rollback, SnapshotDiff, SnapshotList, VersionInfoView } from '../../../src/api/views';
import { api, messageOf } from '../api';
import { buttonClass } from '../components/buttons';
import { ConfirmStep } from '../components/ConfirmStep';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { Patch } from '../components/Patch';
import { Table } from '../components/Table';
import { local } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useLoad } from '../hooks/useLoad';

function changeText(s: VersionInfoView): string {
  const ops = s.changes.map((c) => `${c.op} ${c.name}`).join(', ');
  return s.reason ? (ops ? `${ops} (${s.reason})` : s.reason) : ops;
}

/** The registry's versions: pick one to see what changed since, and roll back to it. */
export function Snapshots() {
  const [selected, setSelected] = useState<number | null>(null);
  const [diff, setDiff] = useState<SnapshotDiff | null>(null);
  const [confirming, setConfirming] = useState(false);
  const { data, error, setError, load } = useLoad(() => api<SnapshotList>('GET', '/snapshots?limit=100'));
  const current = data?.version ?? null;
  const items = data?.snapshots ?? null;
  const { busy, done, setDone, run } = useAction(setError);

  async function select(version: number) {
    setSelected(version);
    setConfirming(false);
    setDiff(null);
    setError('');
    try {
      setDiff(await api<SnapshotDiff>('GET', `/snapshots/diff?from=${version}`));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const rollback = (version: number) =>
    run(async () => {
      setError('');
      const r = await api<Rollback>('POST', `/snapshots/${version}/rollback`, { wait: true });
      // `changed` names the services the rollback touched: none when the registry already held them.
      setDone(
        r.changed.length
          ? `Rolled back to version ${version}: the registry is now at version ${r.version}.`
          : `Nothing to roll back: version ${version} is what the registry holds (version ${r.version}).`,
      );
      setConfirming(false);
      setSelected(null);
      setDiff(null);
      await load();
    });

  return (
    <section aria-labelledby="snap-title" className="flex flex-col gap-6">
      <h1 id="snap-title" className="text-xl font-semibold">
        Snapshots
      </h1>
      <Outcome error={error} done={done} />
      <LoadedList items={items} empty="No versions yet.">
        {(items) => (
          <Table testId="snapshots" columns={['Version', 'When', 'Source', 'Actor', 'Change']}>
            {items.map((s) => (
              <tr
                key={s.version}
                className={'border-t border-slate-100 ' + (selected === s.version ? 'bg-sky-50' : '')}
              >
                <td className="px-3 py-1.5">
                  <button
                    type="button"
                    aria-pressed={selected === s.version}
                    onClick={() => void select(s.version)}
                    className="rounded px-1 font-medium text-sky-700 underline hover:text-sky-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
                  >
                    Version {s.version}
                  </button>
                  {s.version === current ? (
                    <span className="ml-1 text-xs text-slate-500">(current)</span>
                  ) : null}
                </td>
                <td className="whitespace-nowrap px-3 py-1.5">{local(s.at)}</td>
                <td className="px-3 py-1.5">{s.source}</td>
                <td className="px-3 py-1.5">{s.actor}</td>
                <td className="px-3 py-1.5 text-slate-600">{changeText(s)}</td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
      {selected !== null ? (
        <div aria-labelledby="diff-title" role="region" className="flex flex-col gap-3">
          <h2 id="diff-title" className="font-semibold">
            Version {selected} → current ({current})
          </h2>
          <LoadedList items={diff?.changes} empty="No difference from the current version.">
            {(changes) => (
              <div className="flex flex-col gap-3" data-testid="diff">
                {changes.map((c) => (
                  <div key={c.name}>
                    <h3 className="mb-1 text-sm font-medium">
                      {c.name} <span className="text-slate-500">({c.op})</span>
                    </h3>
                    <Patch patch={c.patch} />
                  </div>
                ))}
              </div>
            )}
          </LoadedList>
          {selected === current ? null : confirming ? (
            <ConfirmStep
              label="Confirm rollback"
              action={busy ? 'Rolling back…' : 'Confirm rollback'}
              busy={busy}
              onConfirm={() => void rollback(selected)}
              onCancel={() => setConfirming(false)}
            >
              Roll back to version {selected}? The change above is undone as a new version.
            </ConfirmStep>
          ) : (
            <div>
              <button type="button" onClick={() => setConfirming(true)} className={buttonClass}>
                Roll back to this version
              </button>
            </div>
          )}
        </div>
      ) : null}
    </section>
  );
}
