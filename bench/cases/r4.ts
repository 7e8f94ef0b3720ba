import type { BenchContext } from '../lib/context.js';
import { BASE_DOMAIN, REGISTER_TOKEN, startBenchGatehouse } from '../lib/gatehouse.js';
import { mb } from '../lib/procmem.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, percentile, round } from '../lib/stats.js';
import { R4_PLAN, runSoak, type SoakPlan, type SoakResult } from '../lib/soak.js';

function rows(r: SoakResult, id: string, goals: boolean): Row[] {
  const { start, end, peakRss, peakProcesses } = r.nginx;
  const { plan, sockets, requests, changes } = r;
  const live = changes.liveMs;
  const liveText = live.length
    ? `register→200 p50 ${round(median(live))} ms, p99 ${round(percentile(live, 99))} ms`
    : 'no registration went live';
  return [
    {
      id,
      measure: 'nginx processes at the end − at the start',
      value: end.processes - start.processes,
      unit: 'processes',
      ...(goals ? { goal: { op: '<=' as const, value: 2 } } : {}),
      detail: `${start.processes} → ${end.processes} (peak ${peakProcesses.processes} at ${round(peakProcesses.atMs / 1000)} s)`,
    },
    {
      id,
      measure: "nginx's summed RSS, peak − start",
      value: mb(peakRss.rssBytes - start.rssBytes),
      unit: 'MB',
      ...(goals ? { goal: { op: '<=' as const, value: 64 } } : {}),
      detail: `${mb(start.rssBytes)} → peak ${mb(peakRss.rssBytes)} at ${round(peakRss.atMs / 1000)} s → end ${mb(end.rssBytes)} MB`,
    },
    {
      id,
      measure: `WebSockets dropped of ${plan.sockets}`,
      value: sockets.dropped.length + sockets.openFailures.length,
      unit: 'sockets',
      ...(goals ? { goal: { op: '<=' as const, value: 0 } } : {}),
      detail:
        `${sockets.opened} opened, ${sockets.exchanges} messages, ${sockets.failedExchanges.length} without echo;` +
        ` ${sockets.lastExchangeOk} of ${sockets.openAtEnd} echoed at the end`,
    },
    {
      id,
      measure: 'failed requests on unchanged routes',
      value: requests.failed,
      unit: 'requests',
      ...(goals ? { goal: { op: '<=' as const, value: 0 } } : {}),
      detail: `${requests.sent} sent, a fresh connection each`,
    },
    {
      id,
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
  const fast = await soak(R4_PLAN);
  // The comparison: the same soak where every change is a service with its own server block, so
  // every change reloads nginx and old workers live on while they hold WebSockets.
  const reloading = await soak({ ...R4_PLAN, churn: 'server-block' });
  return {
    rows: [...rows(fast, 'R4', true), ...rows(reloading, 'R4 reload', false)],
    notes: [...notes(fast, 'R4'), ...notes(reloading, 'R4 reload')],
    data: { simple: fast, serverBlock: reloading },
  };
}

async function soak(plan: SoakPlan): Promise<SoakResult> {
  const bg = await startBenchGatehouse();
  try {
    return await runSoak(
      {
        gh: bg.gh,
        httpPort: bg.httpPort,
        registerPort: bg.registerPort,
        registerToken: REGISTER_TOKEN,
        baseDomain: BASE_DOMAIN,
      },
      plan,
    );
  } finally {
    await bg.close();
  }
}

function notes(r: SoakResult, id: string): string[] {
  const out = [
    ...r.changes.failed.slice(0, 5).map((f) => `${id}: change failed: ${f}`),
    ...r.requests.examples.slice(0, 5).map((f) => `${id}: request failed: ${f}`),
    ...r.sockets.dropped.slice(0, 5).map((f) => `${id}: socket dropped: ${f}`),
    ...r.sockets.failedExchanges.slice(0, 5).map((f) => `${id}: ${f}`),
  ];
  if (r.lastReload) out.push(`${id}: last reload ${r.lastReload.at} (${r.lastReload.reason})`);
  return out;
}
