import { invalid } from '../model/errors.js';
import { contains, parseBlock } from '../model/ipv4-block.js';
import type { ServiceRecord } from '../model/service.js';
import { parseEndpoint } from '../model/values.js';
import type { Db } from '../store/db.js';

/**
 * A service that says which site it lives at (`site: home`): the site must exist and every upstream
 * address must be inside one of its announced subnets (the blocks the public edges route into its
 * tunnel). Refused with a 400 naming `site`, or the upstream that is outside. Services without
 * `site` cost nothing here (the sites are read only when a changed service names one).
 */
export async function checkSites(db: Db, changes: [string, ServiceRecord | undefined][]): Promise<void> {
  const named = changes.flatMap(([, rec]) => (rec?.service.site ? [rec.service] : []));
  if (named.length === 0) return;
  const rows = await db.selectFrom('sites').select(['name', 'subnets']).execute();
  const subnets = new Map(rows.map((r) => [r.name, blocksOf(r.subnets)]));
  for (const s of named) {
    const site = s.site ?? '';
    const blocks = subnets.get(site);
    if (!blocks)
      throw invalid(
        'site',
        `no site named ${site}${rows.length ? ` (sites: ${rows.map((r) => r.name).join(', ')})` : ''}`,
      );
    const outside = (raw: string, tcp: boolean): string | undefined => {
      const e = parseEndpoint(raw, !tcp);
      const host = typeof e === 'string' ? raw : e.host;
      if (blocks.some((b) => contains(b.block, host))) return undefined;
      const list = blocks.map((b) => b.text).join(', ');
      return `${host} is not inside site ${site}'s subnets (${list || 'it announces none'})`;
    };
    for (const [i, r] of s.routes.entries())
      for (const [j, u] of r.upstreams.entries()) {
        const why = outside(u, false);
        if (why) throw invalid(`routes.${i}.upstreams.${j}`, why);
      }
    for (const [i, t] of s.tcp.entries())
      for (const [j, u] of t.upstreams.entries()) {
        const why = outside(u, true);
        if (why) throw invalid(`tcp.${i}.upstreams.${j}`, why);
      }
  }
}

function blocksOf(json: string): { text: string; block: NonNullable<ReturnType<typeof parseBlock>> }[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.flatMap((t) => {
    const block = typeof t === 'string' ? parseBlock(t) : undefined;
    return block ? [{ text: t as string, block }] : [];
  });
}
