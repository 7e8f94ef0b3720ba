import { describe, expect, it } from 'vitest';
import { fastLaneDelta } from '../../src/drivers/nginx/fast-lane-delta.js';
import { fastLaneTable, stateText } from '../../src/drivers/nginx/fast-lane.js';
import type { FastEntry } from '../../src/drivers/nginx/lanes.js';
import type { RoutePool } from '../../src/drivers/nginx/pools.js';

const pool = (name: string, port: number): RoutePool => ({
  name,
  pool: { id: `${name}-r0`, scheme: 'http', lb: 'round_robin', servers: [`127.0.0.1:${port}`] },
  offline: { title: name },
});
const host = (h: string, p: string): FastEntry => ({
  host: h,
  scheme: 'http',
  pool: p,
  offline: { title: h.split('.')[0] as string },
});

/** A table of `n` hosts, each with its own pool (as registrations make them). */
function table(n: number, extra: [string, number][] = []) {
  const names: [string, number][] = [
    ...Array.from({ length: n }, (_, i): [string, number] => [`s${i}`, 8000]),
    ...extra,
  ];
  return fastLaneTable(
    names.map(([name]) => host(`${name}.test`, `${name}-p1`)),
    names.map(([name, port]) => pool(`${name}-p1`, port)),
  );
}

describe('fast lane delta', () => {
  it('names a new host and its pool, and nothing else', () => {
    const prev = table(100);
    const next = table(100, [['new', 9000]]);
    const d = fastLaneDelta(prev, next, 'aa', 'bb');
    expect(d?.set).toEqual(['@new-p1', 'new.test']);
    expect(d?.deleted).toEqual([]);
    expect(d?.text).toBe(
      '# gatehouse fast lane patch aa bb\n' + `${next.get('@new-p1')}\n` + `${next.get('new.test')}\n`,
    );
  });

  it('deletes a removed host and its pool with -key lines', () => {
    const prev = table(100, [['gone', 9000]]);
    const d = fastLaneDelta(prev, table(100), 'aa', 'bb');
    expect(d?.text).toBe('# gatehouse fast lane patch aa bb\n-@gone-p1\n-gone.test\n');
  });

  it('sends a changed host line, and applied to the old table gives the new one', () => {
    const prev = table(100);
    const next = new Map(prev);
    next.set('s3.test', (prev.get('s3.test') as string).replace('\ts3\t', '\tThree\t'));
    const d = fastLaneDelta(prev, next, 'aa', 'bb');
    expect(d?.set).toEqual(['s3.test']);
    const applied = new Map(prev);
    for (const line of (d?.text ?? '').split('\n').slice(1, -1)) {
      if (line.startsWith('-')) applied.delete(line.slice(1));
      else applied.set(line.split('\t')[0] as string, line);
    }
    expect(stateText('bb', applied)).toBe(stateText('bb', next));
  });

  it('sends a changed pool, or one deleted earlier and back, as one line', () => {
    const prev = table(100, [['x', 9000]]);
    expect(fastLaneDelta(prev, table(100, [['x', 9001]]), 'aa', 'bb')?.set).toEqual(['@x-p1']);
    expect(fastLaneDelta(table(100), table(100, [['x', 9000]]), 'aa', 'bb')?.set).toEqual(
      expect.arrayContaining(['@x-p1']),
    );
  });

  it('sends the whole table when most of it changed', () => {
    const prev = table(200);
    const next = table(0, [['other', 1]]);
    expect(fastLaneDelta(prev, next, 'aa', 'bb')).toBeUndefined();
    // A small table: a few lines are still a patch.
    expect(fastLaneDelta(table(1), table(1, [['y', 2]]), 'aa', 'bb')?.set).toHaveLength(2);
  });

  it('an unchanged table is a header that only moves the version', () => {
    expect(fastLaneDelta(table(10), table(10), 'aa', 'bb')?.text).toBe('# gatehouse fast lane patch aa bb\n');
  });

  it('refuses versions that are not hex (they go into the header line)', () => {
    expect(() => fastLaneDelta(table(1), table(1), 'aa\n-x', 'bb')).toThrow(/unsafe/);
    expect(() => fastLaneDelta(table(1), table(1), 'aa', 'bb+kept')).toThrow(/unsafe/);
  });

  it('keeps the line made for an unchanged entry (same string, nothing escaped again)', () => {
    const e = host('keep.test', 'keep-p1');
    const p = pool('keep-p1', 1);
    const a = fastLaneTable([e], [p]);
    const b = fastLaneTable([e], [p]);
    expect(b.get('keep.test')).toBe(a.get('keep.test'));
    expect(fastLaneDelta(a, b, 'aa', 'bb')?.set).toEqual([]);
  });

  it('makes the same patch from the keys render says changed, without comparing the tables', () => {
    const prev = table(100);
    const next = new Map(prev);
    next.set('@new-p1', 'x');
    next.delete('s3.test');
    const changes = { from: prev, set: ['@new-p1'], deleted: ['s3.test'] };
    expect(fastLaneDelta(prev, next, 'aa', 'bb', changes)).toEqual(fastLaneDelta(prev, next, 'aa', 'bb'));
    // Changes against another table are not used: the tables are compared.
    const other = { from: table(1), set: [], deleted: [] };
    expect(fastLaneDelta(prev, next, 'aa', 'bb', other)?.set).toEqual(['@new-p1']);
    expect(() => fastLaneDelta(prev, next, 'aa', 'bb', { from: prev, set: ['gone'], deleted: [] })).toThrow(
      /missing key/,
    );
  });

  it('walks tables in order, and gives what looking every key up gives, also when keys move', () => {
    // A reference: every key looked up, as sets (order aside).
    const naive = (prev: Map<string, string>, next: Map<string, string>) => ({
      set: [...next].filter(([k, l]) => prev.get(k) !== l).map(([k]) => k),
      deleted: [...prev.keys()].filter((k) => !next.has(k)),
    });
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    for (let round = 0; round < 200; round++) {
      const prev = table(40);
      const entries = [...prev];
      for (let k = rand(6); k > 0; k--) {
        const i = rand(entries.length);
        const op = rand(4);
        if (op === 0) entries.splice(i, 1);
        else if (op === 1)
          entries.splice(i, 0, [`n${round}-${k}.test`, `n${round}-${k}.test\thttp\t@s1-p1\tN\t`]);
        else if (op === 2) entries[i] = [entries[i]?.[0] as string, `${entries[i]?.[1] as string}x`];
        else if (i + 1 < entries.length) {
          // A key moves (its line changed or not): the walk gives up and looks keys up instead.
          const [e] = entries.splice(i, 1) as [[string, string]];
          entries.push(rand(2) ? e : [e[0], `${e[1]}m`]);
        }
      }
      const next = new Map(entries);
      const d = fastLaneDelta(prev, next, 'aa', 'bb');
      const want = naive(prev, next);
      expect(d?.set.slice().sort(), `round ${round}`).toEqual(want.set.sort());
      expect(d?.deleted.slice().sort(), `round ${round}`).toEqual(want.deleted.sort());
    }
  });
});
