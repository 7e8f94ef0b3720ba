import { randomBytes } from 'node:crypto';
import type { RecordProvider } from './records.js';
import { ownerName, ownership, sameSets, type ActualHost } from './record-plan.js';

/**
 * What a provider holds for a host: its A, AAAA and CNAME sets and its ownership mark. A zone's
 * wildcard answers for a name without records: asked at a sibling that surely has none (of `apps`
 * for `*.apps.zone`, which `*.apps.zone` itself would not answer), the same answer means these are
 * an enclosing wildcard's, not the host's own.
 */
export async function readHost(provider: RecordProvider, host: string, owner: string): Promise<ActualHost> {
  const [sets, mark] = await Promise.all([provider.get(host), provider.get(ownerName(host))]);
  const own = sets.filter((s) => s.type !== 'TXT');
  const txt = mark.find((s) => s.type === 'TXT')?.values ?? [];
  const actual: ActualHost = { sets: own, owner: ownership(txt, owner) };
  const bare = host.replace(/^\*\./, '');
  if (actual.owner.state === 'none' && own.length > 0 && bare !== provider.zone) {
    const parent = bare.slice(bare.indexOf('.') + 1);
    const probe = await provider.get(`gh-probe-${randomBytes(6).toString('hex')}.${parent}`);
    actual.synthesized = sameSets(
      own,
      probe.filter((s) => s.type !== 'TXT').map((s) => ({ ...s, name: host })),
    );
  }
  return actual;
}
