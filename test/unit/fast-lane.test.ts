import { describe, expect, it } from 'vitest';
import type { Pool } from '../../src/compile/edge-config.js';
import { UnsafeValueError } from '../../src/drivers/nginx/escape.js';
import { fastLaneState, stateVersion } from '../../src/drivers/nginx/fast-lane.js';
import type { FastEntry } from '../../src/drivers/nginx/lanes.js';
import { poolLine, type RoutePool } from '../../src/drivers/nginx/pools.js';

const entry = (over: Partial<FastEntry> = {}): FastEntry => ({
  host: 'a.example.com',
  scheme: 'http',
  pool: 'a-r0',
  offline: { title: 'a' },
  ...over,
});
const pool = (over: Partial<Pool> = {}): Pool => ({
  id: 'a-r0',
  scheme: 'http',
  lb: 'round_robin',
  servers: ['10.0.0.1:80'],
  ...over,
});

const named = (p: Pool, offline: RoutePool['offline'] = { title: 'A' }): RoutePool => ({
  name: p.id,
  pool: p,
  offline,
});

describe('fast lane state file', () => {
  it('renders a version line, one line per pool, one per host, page text HTML-escaped', () => {
    const state = fastLaneState(
      [
        entry(),
        entry({
          host: 'b.example.com',
          scheme: 'https',
          pool: 'b-r0',
          offline: { title: 'B <&> "$"', message: "it's down" },
        }),
      ],
      'abc123',
      [
        named(pool()),
        named(
          pool({ id: 'b-r0', scheme: 'https', lb: 'first', servers: ['[fd00::5]:443', '10.0.0.2:443'] }),
          {
            title: 'B <&> "$"',
            message: "it's down",
          },
        ),
      ],
    );
    expect(state).toBe(
      '# gatehouse fast lane abc123\n' +
        '@a-r0\thttp\tround_robin\t10.0.0.1:80\tA\t\n' +
        '@b-r0\thttps\tfirst\t[fd00::5]:443,10.0.0.2:443\tB &lt;&amp;&gt; &quot;&#36;&quot;\tit&#39;s down\n' +
        'a.example.com\thttp\t@a-r0\ta\t\n' +
        'b.example.com\thttps\t@b-r0\tB &lt;&amp;&gt; &quot;&#36;&quot;\tit&#39;s down\n',
    );
    expect(stateVersion(state)).toBe('abc123');
    expect(fastLaneState([], 'ff')).toBe('# gatehouse fast lane ff\n');
  });

  it('marks the servers active health found down, and every server of a suspended pool', () => {
    const p = pool({ servers: ['10.0.0.1:80', '10.0.0.2:80'], lb: 'least_conn' });
    const page = { title: 'A' };
    expect(poolLine('a-r0', p, page, new Set(['a-r0 10.0.0.2:80', 'other 10.0.0.1:80']))).toBe(
      '@a-r0\thttp\tleast_conn\t10.0.0.1:80,10.0.0.2:80/down\tA\t',
    );
    expect(poolLine('a-r0', { ...p, down: true }, page)).toBe(
      '@a-r0\thttp\tleast_conn\t10.0.0.1:80/down,10.0.0.2:80/down\tA\t',
    );
  });

  it('refuses values that could break a line or reach Lua unchecked, naming what is wrong', () => {
    const state =
      (fast: FastEntry[], pools: Pool[] = [pool()], v = 'ab', offline?: RoutePool['offline']) =>
      () =>
        fastLaneState(
          fast,
          v,
          pools.map((p) => named(p, offline)),
        );
    expect(state([entry({ host: 'A.example.com' })])).toThrow(UnsafeValueError);
    expect(state([entry({ host: 'a\tb' })])).toThrow(UnsafeValueError);
    expect(state([entry({ pool: 'b-r0' })])).toThrow(/no pool b-r0/);
    expect(state([entry({ offline: { title: 'a\tb' } })])).toThrow(UnsafeValueError);
    expect(state([entry({ offline: { title: 'a', message: 'x\ny' } })])).toThrow(UnsafeValueError);
    expect(state([entry()], [pool()], 'not hex')).toThrow(UnsafeValueError);
    expect(state([], [pool({ servers: ['10.0.0.1:80\nx'] })])).toThrow(/unsafe address/);
    expect(state([], [pool({ servers: ['10.0.0.1:80,10.0.0.2:80'] })])).toThrow(/unsafe address/);
    expect(state([], [pool({ id: 'a\tb' })])).toThrow(/unsafe nginx identifier/);
    expect(state([], [pool({ lb: 'random' as Pool['lb'] })])).toThrow(/unknown lb/);
    expect(state([], [pool({ scheme: 'ftp' as Pool['scheme'] })])).toThrow(/unknown scheme/);
    expect(state([], [pool({ servers: [] })])).toThrow(/no servers/);
    expect(state([], [pool()], 'ab', { title: 'x', message: 'a\tb' })).toThrow(/offline page/);
    expect(state([], [pool()], 'ab', { title: '' })).toThrow(/offline page/);
  });
});
