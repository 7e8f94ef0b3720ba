import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { R4_PLAN, runSoak, type SoakResult } from '../../bench/lib/soak.js';
import { REGISTER_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';

const MB = 1024 * 1024;

/**
 * R4 (issue 14): 1,000 routes, 200 WebSockets (half arriving during the run), a registration or
 * deregistration every second for 60 s, requests on unchanged routes meanwhile. Nothing is dropped
 * and nginx's processes and memory stay flat: registrations no longer reload nginx.
 */
describe('soak: registrations under open WebSockets', () => {
  let t: TestGatehouse;
  let r: SoakResult;

  beforeAll(async () => {
    t = await startTestGatehouse({ nginx_workers: 2 });
    r = await runSoak({
      gh: t.gh,
      httpPort: t.httpPort,
      registerPort: t.registerPort,
      registerToken: REGISTER_TOKEN,
      baseDomain: 'gw.test',
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('drops no WebSocket and every one still echoes at the end', () => {
    expect(r.sockets.openFailures).toEqual([]);
    expect(r.sockets.opened).toBe(R4_PLAN.sockets);
    expect(r.sockets.dropped).toEqual([]);
    expect(r.sockets.failedExchanges).toEqual([]);
    // Every socket sent a message every few seconds: at least one per socket besides the last.
    expect(r.sockets.exchanges).toBeGreaterThan(R4_PLAN.sockets * 2);
    expect(r.sockets.lastExchangeOk).toBe(R4_PLAN.sockets);
  });

  it('fails no request on an unchanged route', () => {
    expect(r.requests.sent).toBeGreaterThan(1000);
    expect(r.requests.examples).toEqual([]);
    expect(r.requests.failed).toBe(0);
  });

  it('lands every registration and deregistration, without reloading nginx', () => {
    expect(r.changes.failed).toEqual([]);
    expect(r.changes.registered + r.changes.deregistered).toBe(R4_PLAN.seconds);
    expect(r.changes.deregistered).toBeGreaterThan(20);
    expect(r.applies.reload).toBe(0);
    expect(r.applies.dynamic).toBeGreaterThan(0);
    expect(r.lastApplyMode).toBe('dynamic');
  });

  it("keeps nginx's process count and memory flat", () => {
    const { start, end, peakRss, peakProcesses } = r.nginx;
    expect(end.master).toBe(start.master);
    expect(end.processes).toBeLessThanOrEqual(start.processes + 2);
    expect(peakProcesses.processes).toBeLessThanOrEqual(start.processes + 2);
    expect(peakRss.rssBytes - start.rssBytes).toBeLessThanOrEqual(64 * MB);
  });
});
