import { HaPair } from '../../test/helpers/ha-pair.js';
import { now } from '../../test/helpers/netns.js';
import type { BenchContext } from '../lib/context.js';
import type { CaseResult } from '../lib/report.js';
import { median, round, sleep } from '../lib/stats.js';

const ROUNDS = 5;

/**
 * P6: HA failover. Two edges in network namespaces share a VIP through real keepalived (the files
 * `gatehouse ha keepalived` writes: VRRPv3, unicast, advert 0.1 s); a client in a third namespace
 * requests through the VIP back to back. Each round the master host dies hard (keepalived, agent and
 * nginx SIGKILLed, cable pulled) and the figure is the client's gap: its last answer before the kill
 * to its first answer after. The host then comes back and takes the VIP back (its priority is higher):
 * that planned hand-back's longest gap is reported too.
 */
export async function p6(_ctx: BenchContext): Promise<CaseResult> {
  const pair = await HaPair.start({ tag: 'p6' });
  const failover: number[] = [];
  const handBack: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const killedAt = pair.a.crash();
      const gap = await pair.client.waitServedAfter(killedAt, 10_000);
      failover.push(gap.gapMs);
      if (!pair.b.holdsVip()) throw new Error(`P6: round ${i + 1}: b served without holding the VIP`);
      // Let the backup settle as master before the old one returns.
      await sleep(500);
      const back = now();
      await pair.a.reboot();
      await pair.a.waitState('MASTER', 20_000);
      await pair.b.waitState('BACKUP', 10_000);
      await sleep(500);
      handBack.push(pair.client.longestGap(back, now()));
    }
  } finally {
    await pair.close();
  }
  const fmt = (xs: number[]) => xs.map((x) => round(x)).join(', ');
  return {
    rows: [
      {
        id: 'P6',
        measure: 'HA failover: master host killed → backup serves through the VIP, max',
        value: round(Math.max(...failover)),
        unit: 'ms',
        goal: { op: '<=', value: 1000 },
        detail: `${ROUNDS} kills, gap between the client's answers: p50 ${round(median(failover))} ms; ${fmt(failover)} ms`,
      },
      {
        id: 'P6',
        measure: 'HA hand-back to the returning master, longest gap, max',
        value: round(Math.max(...handBack)),
        unit: 'ms',
        detail: `p50 ${round(median(handBack))} ms; ${fmt(handBack)} ms`,
      },
    ],
    notes: [],
    data: { rounds: ROUNDS, failover, handBack },
  };
}
