import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { routePool } from '../../src/drivers/nginx/pools.js';
import { PassiveHealth } from '../../src/edge/passive-health.js';
import { serviceSchema } from '../../src/model/service.js';
import { createLogger } from '../../src/observe/log.js';

const cfg = compile({
  services: [
    { name: 'a', hosts: ['a.test'], routes: [{ upstreams: ['10.0.0.1:80'] }] },
    { name: 'b', hosts: ['*.b.test'], routes: [{ upstreams: ['10.0.0.1:80', '10.0.0.2:80'] }] },
  ].map((s) => serviceSchema.parse(s)),
  listeners: { http: 80, https: 443 },
});

/** The datagram nginx sends, with the listener's own tag (read from what `start` would return). */
function setup() {
  let now = 1_000_000;
  let changes = 0;
  const p = new PassiveHealth(
    () => changes++,
    createLogger('silent'),
    () => now,
  );
  p.update(cfg);
  const tag = (p as unknown as { tag: string }).tag;
  const send = (line: string, t = tag) => p.receive(`<190>Dec  4 17:43:07 ${t}: ${line}`);
  return { p, send, advance: (ms: number) => (now += ms), changes: () => changes };
}

describe('passive health', () => {
  it('counts 502 and 504 per pool server, not the upstream’s own answers or other tags', () => {
    const { p, send } = setup();
    send('a.test|10.0.0.1:80|502');
    send('a.test|10.0.0.1:80|504');
    send('a.test|10.0.0.1:80|503');
    send('a.test|10.0.0.1:80|502', 'intruder');
    send('x.b.test|10.0.0.1:80, 10.0.0.2:80|502, 200');
    expect(p.failing().map((f) => [f.server, f.errors, f.lastStatus])).toEqual([
      ['a-r0 10.0.0.1:80', 2, '504'],
      ['b-r0 10.0.0.1:80', 1, '502'],
    ]);
    p.stop();
  });

  it('takes the pool nginx names, not "no live upstreams", and forgets after a minute', () => {
    const { p, send, advance } = setup();
    const b = routePool({ service: 'b', path: '/' });
    send(`y.b.test|gh_fast_http|502|${b}`);
    expect(p.failing()).toEqual([]);
    send(`a.test|10.0.0.1:80, 10.0.0.2:80|502, 504|${b}`);
    expect(p.failing().map((f) => f.server)).toEqual(['b-r0 10.0.0.1:80', 'b-r0 10.0.0.2:80']);
    advance(59_000);
    expect(p.failing()).toHaveLength(2);
    advance(2_000);
    expect(p.failing()).toEqual([]);
    p.stop();
  });

  it('counts a burst in full, kept as per-second tallies', () => {
    const { p, send, advance } = setup();
    for (let i = 0; i < 5000; i++) send('a.test|10.0.0.1:80|502');
    advance(1000);
    for (let i = 0; i < 5000; i++) send('a.test|10.0.0.1:80|504');
    expect(p.failing()).toMatchObject([{ server: 'a-r0 10.0.0.1:80', errors: 10_000, lastStatus: '504' }]);
    const buckets = (p as unknown as { hits: Map<string, unknown[]> }).hits.get('a-r0 10.0.0.1:80');
    expect(buckets).toHaveLength(2);
    p.stop();
  });

  it('falls back to every pool with the address when the host is no site of its own', () => {
    const { p, send } = setup();
    send('portal.test|10.0.0.1:80 : 10.0.0.9:1|502 : 502');
    expect(p.failing().map((f) => f.server)).toEqual(['a-r0 10.0.0.1:80', 'b-r0 10.0.0.1:80']);
    p.stop();
  });
});
