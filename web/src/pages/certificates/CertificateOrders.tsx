import type { OrderView } from '../../../../src/api/views';
import { local, relative } from '../../components/when';

/** The manager keys orders by their names joined with commas, in the order asked for. */
export const orderKey = (names: string[]) => names.join(',');

/** The stages an ACME order goes through; each step the API reports belongs to one. */
const STAGES = ['Order placed', 'Proving control', 'Finalizing', 'Issued'] as const;

function stageOf(o: Pick<OrderView, 'state' | 'step'>): number {
  if (o.state === 'issued' || o.step === 'issued') return 3;
  const step = o.step ?? '';
  if (step === 'finalizing') return 2;
  if (/^(setting|waiting|answering)\b/.test(step)) return 1;
  return 0;
}

/** Where an order stands: its stages, done ones ticked, the current one with the API's own words. */
export function OrderProgress({ order }: { order: Pick<OrderView, 'state' | 'step'> }) {
  const at = stageOf(order);
  return (
    <ol className="flex flex-wrap gap-x-3 gap-y-1 text-sm" aria-label="Progress">
      {STAGES.map((label, i) => {
        const done = i < at || (i === at && order.state === 'issued');
        const now = i === at && !done;
        return (
          <li
            key={label}
            aria-current={now ? 'step' : undefined}
            className={done ? 'text-green-800' : now ? 'font-medium text-sky-800' : 'text-slate-400'}
          >
            <span aria-hidden="true">{done ? '✓ ' : now ? '● ' : '○ '}</span>
            {label}
            {now && order.step ? <span className="font-normal text-slate-600"> ({order.step})</span> : null}
          </li>
        );
      })}
    </ol>
  );
}

/** Orders under way, as a live progress list, and failed ones with their error and next try. */
export function OrdersPanel({ orders }: { orders: OrderView[] }) {
  const issuing = orders.filter((o) => o.state === 'issuing');
  const failed = orders.filter((o) => o.state === 'failed');
  return (
    <div className="flex flex-col gap-4">
      <div aria-live="polite">
        <h2 className="mb-2 font-semibold">Orders under way</h2>
        {issuing.length === 0 ? (
          <p className="text-sm text-slate-500">None.</p>
        ) : (
          <ul className="flex flex-col gap-2" data-testid="orders-issuing">
            {issuing.map((o) => (
              <li
                key={orderKey(o.names)}
                data-order={orderKey(o.names)}
                className="flex flex-col gap-1 rounded border border-sky-200 bg-sky-50 px-3 py-2"
              >
                <span className="break-all font-medium">{o.names.join(', ')}</span>
                <OrderProgress order={o} />
                <span className="text-xs text-slate-500" title={local(o.updatedAt)}>
                  last step {relative(o.updatedAt)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
      {failed.length ? (
        <div>
          <h2 className="mb-2 font-semibold">Failed orders</h2>
          <ul className="flex flex-col gap-2" data-testid="orders-failed">
            {failed.map((o) => (
              <li
                key={orderKey(o.names)}
                data-order={orderKey(o.names)}
                className="flex flex-col gap-1 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-900"
              >
                <span className="break-all font-medium">{o.names.join(', ')}</span>
                <span className="break-words">{o.error || 'failed'}</span>
                {o.retryAt ? (
                  <span className="text-xs" title={local(o.retryAt)}>
                    Next try {relative(o.retryAt)} ({local(o.retryAt)})
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
