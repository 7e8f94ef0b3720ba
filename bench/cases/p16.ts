import type { BenchContext } from '../lib/context.js';
import type { CaseResult, Row } from '../lib/report.js';
import { HOME_HOST, LOCAL_HOST, SiteBench } from '../lib/site-bench.js';
import { cpuSpent } from '../lib/proc-cpu.js';
import { median, round } from '../lib/stats.js';
import type { WrkResult } from '../lib/wrk.js';

const ROUNDS = 4;
const SECONDS = 4;
const CONNECTIONS = 16;

/**
 * P16 (issue 16): requests/s through the VPS edge to the home service over the WireGuard tunnel ÷
 * the same edge to the same kind of backend on its own loopback, alternating in paired rounds in
 * one run. wrk runs on the VPS (its namespace) against its nginx, so only the upstream leg differs.
 * Both tunnel ends are userspace wireguard-go here (no kernel module): its per-packet cost, on the
 * same 2 cores as nginx, wrk and both backends, sets the ceiling.
 */
export async function p16(_ctx: BenchContext): Promise<CaseResult> {
  const bench = await SiteBench.start();
  const tunnel: WrkResult[] = [];
  const local: WrkResult[] = [];
  const notes: string[] = [];
  /** Cores' worth of CPU both wireguard-go processes used during each tunnel round. */
  const wgCores: number[] = [];
  try {
    // Warm both paths (nginx keepalive pools, the tunnel's session) before measuring.
    await bench.wrk(HOME_HOST, 1, CONNECTIONS);
    await bench.wrk(LOCAL_HOST, 1, CONNECTIONS);
    for (let i = 0; i < ROUNDS; i++) {
      const before = await bench.wireguardCpu();
      const t0 = performance.now();
      tunnel.push(await bench.wrk(HOME_HOST, SECONDS, CONNECTIONS));
      wgCores.push(cpuSpent(before, await bench.wireguardCpu()) / (performance.now() - t0));
      local.push(await bench.wrk(LOCAL_HOST, SECONDS, CONNECTIONS));
    }
  } finally {
    await bench.close();
  }
  const errors = [...tunnel, ...local].reduce((n, r) => n + r.non2xx + r.socketErrors, 0);
  if (errors > 0) notes.push(`P16: ${errors} non-2xx responses or socket errors during load`);
  const ratios = tunnel.map((t, i) => t.rps / (local[i]?.rps ?? NaN));
  const tMed = round(median(tunnel.map((r) => r.rps)));
  const lMed = round(median(local.map((r) => r.rps)));
  const rows: Row[] = [
    {
      id: 'P16',
      measure: 'req/s via the VPS edge: home service over WireGuard ÷ local upstream',
      value: round(median(ratios), 3),
      unit: 'ratio',
      detail: `median of ${ROUNDS} paired ${SECONDS}s wrk rounds (-c${CONNECTIONS}); tunnel ${tMed}/s, local ${lMed}/s; userspace wireguard-go sets the ceiling`,
    },
    {
      id: 'P16',
      measure: 'req/s via the VPS edge to the home service over the tunnel',
      value: tMed,
      unit: 'req/s',
      detail: `rounds: ${tunnel.map((r) => round(r.rps)).join(', ')}`,
    },
    {
      id: 'P16',
      measure: 'req/s via the VPS edge to a local upstream (same backend)',
      value: lMed,
      unit: 'req/s',
      detail: `rounds: ${local.map((r) => round(r.rps)).join(', ')}`,
    },
    {
      id: 'P16',
      measure: 'CPU of both wireguard-go processes during the tunnel rounds',
      value: round(median(wgCores), 2),
      unit: 'cores',
      detail: `rounds: ${wgCores.map((c) => round(c, 2)).join(', ')} (of the machine's cores, shared with nginx, wrk and the backends)`,
    },
  ];
  return { rows, notes, data: { tunnel, local, ratios, wgCores } };
}
