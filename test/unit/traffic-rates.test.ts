import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import { TrafficMetrics } from '../../src/observe/traffic-export.js';
import { TrafficRates } from '../../src/observe/traffic-rates.js';

function record(service: string | null, status: number): AccessLogRecord {
  return {
    time: 0,
    node: 'local',
    host: 'h.test',
    service,
    route: service ? '/' : null,
    method: 'GET',
    path: '/',
    status,
    duration_ms: 1,
    upstream: null,
    upstream_ms: null,
    bytes_in: 1,
    bytes_out: 1,
    client: '127.0.0.1',
    user: null,
    country: null,
  };
}

describe('traffic rates (the error-rate rule’s figures)', () => {
  const setup = () => {
    let now = 1_000_000;
    const metrics = new TrafficMetrics(new Registry());
    const rates = new TrafficRates(metrics, () => now);
    const hit = (node: string, service: string | null, status: number, n = 1) => {
      for (let i = 0; i < n; i++)
        metrics.node(node).add({ record: record(service, status), attempts: 1, failures: 0 });
    };
    return { metrics, rates, hit, advance: (ms: number) => (now += ms) };
  };

  it('counts only what happened within the window, over every node, 5xx as errors', () => {
    const { rates, hit, advance } = setup();
    hit('local', 'shop', 500, 50); // before the first look: not in any window
    expect(rates.rates(60_000).size).toBe(0);
    advance(30_000);
    hit('local', 'shop', 200, 8);
    hit('vps', 'shop', 502, 2);
    hit('vps', 'blog', 404, 5);
    hit('local', null, 500, 3); // no service answered
    expect(Object.fromEntries(rates.rates(60_000))).toEqual({
      shop: { requests: 10, errors: 2 },
      blog: { requests: 5, errors: 0 },
    });
    // A minute after those requests they are out of the window.
    for (let i = 0; i < 8; i++) {
      advance(10_000);
      rates.rates(60_000);
    }
    hit('local', 'shop', 503, 1);
    expect(Object.fromEntries(rates.rates(60_000))).toEqual({ shop: { requests: 1, errors: 1 } });
  });

  it('a node whose counters started again counts from zero, never negative', () => {
    const { metrics, rates, hit, advance } = setup();
    hit('vps', 'shop', 500, 20);
    rates.rates(60_000);
    advance(20_000);
    metrics.forget('vps'); // the edge restarted: its counters begin again
    hit('vps', 'shop', 500, 5);
    expect(rates.rates(60_000).get('shop')).toEqual({ requests: 5, errors: 5 });
  });
});
