import { useState } from 'react';
import type {
  NodeList,
  NodeStatusView,
  ReplicaStatusView,
  Status,
  StreamEvent,
} from '../../../src/api/views';
import { api } from '../api';
import { badge, StateBadge } from '../components/badges';
import { plainButton } from '../components/buttons';
import { ConfirmStep } from '../components/ConfirmStep';
import { LoadedList } from '../components/LoadedList';
import { ListHeading, PageHeader } from '../components/PageHeader';
import { Outcome } from '../components/Notice';
import { actionsColumn, Table } from '../components/Table';
import { local, relative } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { useStream } from '../hooks/useStream';
import { NodeAdd } from './nodes/NodeAdd';

/** Reports arrive as `node` events; being offline (no report for a while) shows on a re-read this often. */
const IDLE_MS = 5_000;

function SyncCell({ n, current }: { n: NodeStatusView; current: number | undefined }) {
  if (!n.applied_hash) return <span className="text-slate-500">nothing applied yet</span>;
  const lag = current === undefined ? undefined : Math.max(0, current - n.applied_version);
  return (
    <div className="flex flex-col gap-0.5">
      <span className="flex flex-wrap items-center gap-2">
        <span data-testid="lag">{lag ?? '…'}</span>
        {n.in_sync ? (
          <span className={`${badge} bg-green-100 text-green-800`}>in sync</span>
        ) : (
          <span className={`${badge} bg-amber-100 text-amber-900`}>behind</span>
        )}
      </span>
      {n.in_sync && lag ? (
        <span className="text-xs text-slate-500">versions since change nothing it serves</span>
      ) : null}
    </div>
  );
}

function NodeRowView({
  n,
  current,
  showFollows,
  onRemove,
}: {
  n: NodeStatusView;
  current: number | undefined;
  /** Several replicas (PostgreSQL): which one the node follows. */
  showFollows: boolean;
  onRemove: (name: string) => void;
}) {
  return (
    <tr className="border-t border-slate-100 align-top" data-node={n.name}>
      <td className="px-3 py-1.5">
        <span className="font-medium">{n.name}</span>
        {n.version ? <span className="block text-xs text-slate-500">agent {n.version}</span> : null}
        {n.replica && showFollows ? (
          <span className="block text-xs text-slate-500" data-testid="follows" title={n.control}>
            follows replica {n.replica}
          </span>
        ) : null}
      </td>
      <td className="px-3 py-1.5">{n.role}</td>
      <td className="px-3 py-1.5">
        <StateBadge on={n.online} yes="online" no="offline" testId="online" />
      </td>
      <td className="whitespace-nowrap px-3 py-1.5" title={n.last_seen ? local(n.last_seen) : undefined}>
        {n.last_seen ? relative(n.last_seen) : 'never'}
      </td>
      <td className="px-3 py-1.5 font-mono">{n.address || '—'}</td>
      <td className="px-3 py-1.5" data-testid="applied">
        {n.applied_hash ? n.applied_version : '—'}
      </td>
      <td className="px-3 py-1.5">
        <SyncCell n={n} current={current} />
      </td>
      <td className="px-3 py-1.5">
        {n.down_servers.length === 0 ? (
          <span className="text-slate-500">none</span>
        ) : (
          <ul data-testid="node-down">
            {n.down_servers.map((s) => (
              <li key={s} className="whitespace-nowrap font-mono text-xs text-red-800">
                {s}
              </li>
            ))}
          </ul>
        )}
        {n.last_error ? (
          <span role="note" className="mt-1 block text-xs text-red-700">
            Last error: {n.last_error}
          </span>
        ) : null}
      </td>
      <td className="px-3 py-1.5 text-right">
        <button
          type="button"
          onClick={() => onRemove(n.name)}
          aria-label={`Remove node ${n.name}`}
          className={plainButton}
        >
          Remove
        </button>
      </td>
    </tr>
  );
}

/** Removing a node is one step more than a click: the agent on it stops serving at once. */
function ConfirmRemove({
  name,
  busy,
  onConfirm,
  onCancel,
}: {
  name: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <ConfirmStep
      label="Confirm removal"
      action={busy ? 'Removing…' : `Remove ${name}`}
      busy={busy}
      onConfirm={onConfirm}
      onCancel={onCancel}
    >
      Remove node <strong>{name}</strong>? The control plane refuses its token at once; its agent stops its
      nginx and deletes its cache.
    </ConfirmStep>
  );
}

/**
 * Edge nodes: what each applied and how far behind the registry it is, kept current by the event
 * stream (`version` for a change, `node` for a node's report) and by reading again every few
 * seconds (a node going silent is announced by nothing).
 */
export function Nodes() {
  const [current, setCurrent] = useState<number | undefined>(undefined);
  const [replica, setReplica] = useState<ReplicaStatusView | undefined>(undefined);
  const [removing, setRemoving] = useState('');

  const {
    data: nodes,
    error,
    setError,
    load,
  } = useLoad(async () => {
    const [n, s] = await Promise.all([api<NodeList>('GET', '/nodes'), api<Status>('GET', '/status')]);
    setCurrent(s.version);
    setReplica(s.replica);
    return n.nodes;
  });
  const { busy, done, setDone, run } = useAction(setError);
  const live = useStream({
    // A node reported what it applied: its version, lag and health changed.
    node: () => void load(),
    version: (data) => {
      setCurrent((JSON.parse(data) as StreamEvent<'version'>).version);
      void load();
    },
  });
  // Going offline is an absence of reports, which no event announces: read again now and then.
  usePoll(load, IDLE_MS);

  const remove = (name: string) =>
    run(async () => {
      await api('DELETE', `/nodes/${encodeURIComponent(name)}`);
      setRemoving('');
      setDone(`Removed node ${name}.`);
      await load();
    });

  return (
    <section aria-labelledby="nodes-title" className="flex flex-col gap-6">
      <PageHeader id="nodes-title" title="Nodes" live={live} />
      <NodeAdd onAdded={() => void load()} />
      <ListHeading title="Edge nodes" onRefresh={() => void load()}>
        <span className="text-sm text-slate-600">
          Registry version <span data-testid="current-version">{current ?? '…'}</span>
        </span>
        {replica?.store === 'postgresql' ? (
          <span className="text-sm text-slate-600" data-testid="replica">
            Replica {replica.id} ({replica.leading ? 'the leader' : `leader: ${replica.leader ?? 'none'}`})
          </span>
        ) : null}
      </ListHeading>
      <Outcome error={error} done={done} />
      {removing ? (
        <ConfirmRemove
          name={removing}
          busy={busy}
          onConfirm={() => void remove(removing)}
          onCancel={() => setRemoving('')}
        />
      ) : null}
      <LoadedList items={nodes} empty="No nodes yet. The control plane’s own nginx serves everything.">
        {(nodes) => (
          <Table
            testId="nodes"
            columns={[
              'Name',
              'Role',
              'State',
              'Last seen',
              'Address',
              'Applied version',
              'Lag (versions)',
              'Upstreams down',
              actionsColumn,
            ]}
          >
            {nodes.map((n) => (
              <NodeRowView
                key={n.name}
                n={n}
                current={current}
                showFollows={replica?.store === 'postgresql'}
                onRemove={(name) => {
                  setDone('');
                  setRemoving(name);
                }}
              />
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
