import { useMemo } from 'react';
import { PageHeader } from '../components/PageHeader';
import { AnalyticsSection } from './logs/AnalyticsSection';
import { parseLogsArg } from './logs/filters';
import { LogList } from './logs/LogList';

/**
 * Logs: the access log from every edge (docs/logs.md) with filters and a live tail, and the traffic
 * over 1 h, 24 h or 7 d above it. The filters stand in the address (`#/logs/<query>`), so the
 * dashboard and the analytics link to the lines they count.
 */
export function Logs({ arg }: { arg?: string | undefined }) {
  const { filters, live } = useMemo(() => parseLogsArg(arg), [arg]);
  return (
    <section aria-labelledby="logs-title" className="flex flex-col gap-6">
      <PageHeader id="logs-title" title="Logs" />
      <AnalyticsSection service={filters.service ?? ''} />
      <div className="flex flex-col gap-3">
        <h2 className="font-semibold">Access log</h2>
        <LogList filters={filters} live={live} />
      </div>
    </section>
  );
}
