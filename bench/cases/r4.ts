import type { BenchContext } from '../lib/context.js';
import { BASE_DOMAIN, REGISTER_TOKEN, startBenchGatehouse } from '../lib/gatehouse.js';
import { mb } from '../lib/procmem.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, percentile, round } from '../lib/stats.js';
import { R4_PLAN, runSoak, type SoakResult } from '../lib/soak.js';

function rows(r: SoakResult): Row[] {
  const { start, end, peakRss, peakProcesses } = r.nginx;
  const { plan, sockets, requests, changes } = r;
  const live = changes.liveMs;
  const liveText = live.length
    ? `register→200 p50 ${round(median(live))} ms, p99 ${round(percentile(live, 99))} ms`
    : 'no registration went live';
  return [
    {
      id: 'R4',
      measure: 'nginx processes at the end − at the start',
      value: end.processes - start.processes,
      unit: 'processes',
      goal: { op: '<=', value: 2 },
      detail: `${start.processes} → ${end.processes} (peak ${peakProcesses.processes} at ${round(peakProcesses.atMs / 1000)} s)`,
    },
    {
      id: 'R4',
      measure: "nginx's summed RSS, peak − start",
      value: mb(peakRss.rssBytes - start.rssBytes),
      unit: 'MB',
      goal: { op: '<=', value: 64 },
      detail: `${mb(start.rssBytes)} → peak ${mb(peakRss.rssBytes)} at ${round(peakRss.atMs / 1000)} s → end ${mb(end.rssBytes)} MB`,
    },
    {
      id: 'R4',
      measure: `WebSockets dropped of ${plan.sockets}`,
      value: sockets.dropped.length + sockets.openFailures.length,
      unit: 'sockets',
      goal: { op: '<=', value: 0 },
      detail:
        `${sockets.opened} opened, ${sockets.exchanges} messages, ${sockets.failedExchanges.length} without echo;` +
        ` ${sockets.lastExchangeOk} of ${sockets.openAtEnd} echoed at the end`,
    },
    {
      id: 'R4',
      measure: 'failed requests on unchanged routes',
      value: requests.failed,
      unit: 'requests',
      goal: { op: '<=', value: 0 },
      detail: `${requests.sent} sent, a fresh connection each`,
    },
    {
      id: 'R4',
      measure: `reloads during ${plan.seconds} s of changes`,
      value: r.applies.reload,
      unit: 'reloads',
      detail:
        `${changes.registered} registrations, ${changes.deregistered} deregistrations, ${changes.failed.length} failed;` +
        ` ${r.applies.dynamic} dynamic applies; ${liveText}`,
    },
  ];
}

/**
 * R4: the soak (bench/lib/soak.ts) on its own Gatehouse with 1,000 routes: 200 WebSockets, a
 * registration or deregistration every second for 60 s, requests on unchanged routes meanwhile.
 */
export async function r4(_ctx: BenchContext): Promise<CaseResult> {
  const bg = await startBenchGatehouse();
  try {
    const r = await runSoak(
      {
        gh: bg.gh,
        httpPort: bg.httpPort,
        registerPort: bg.registerPort,
        registerToken: REGISTER_TOKEN,
        baseDomain: BASE_DOMAIN,
      },
      R4_PLAN,
    );
    const notes = [
      ...r.changes.failed.slice(0, 5).map((f) => `R4: change failed: ${f}`),
      ...r.requests.examples.slice(0, 5).map((f) => `R4: request failed: ${f}`),
      ...r.sockets.dropped.slice(0, 5).map((f) => `R4: socket dropped: ${f}`),
      ...r.sockets.failedExchanges.slice(0, 5).map((f) => `R4: ${f}`),
    ];
    if (r.lastReload) notes.push(`R4: last reload ${r.lastReload.at} (${r.lastReload.reason})`);
    return { rows: rows(r), notes, data: { ...r } };
  } finally {
    await bg.close();
  }
}
