import type { ReactNode } from 'react';
import { StateBadge } from './badges';
import { RefreshButton } from './buttons';

/**
 * A page's title, with the event stream's state when the page follows it (`live`: updates arrive
 * as they happen; `offline`: only on reading again).
 */
export function PageHeader({ id, title, live }: { id: string; title: string; live?: boolean }) {
  return (
    <div className="flex items-center gap-3">
      <h1 id={id} className="text-xl font-semibold">
        {title}
      </h1>
      {live === undefined ? null : <StateBadge on={live} yes="live" no="offline" testId="live" />}
    </div>
  );
}

/** A list's heading row: its title, what sums it up (children), and a Refresh button. */
export function ListHeading({
  title,
  onRefresh,
  children,
}: {
  title: string;
  onRefresh: () => void;
  children?: ReactNode;
}) {
  return (
    <div className="flex flex-wrap items-center gap-3">
      <h2 className="font-semibold">{title}</h2>
      {children}
      <RefreshButton onClick={onRefresh} />
    </div>
  );
}
