import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dockerd } from '../helpers/dockerd.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { until, type ReqOptions } from '../helpers/net.js';

/**
 * `gatehouse.access=vpn-only` narrowed to the VPN (issue 16): with `vpn_only_sources: vpn` a
 * container so labelled answers only requests from `vpn_range` and `vpn_only_extra`, through the
 * test Gatehouse's real nginx; a private address outside them gets 403 (with the default `private`
 * it would pass: test/e2e/docker.test.ts). Sources are addresses on this test's own veth and loopback.
 */
describe('vpn-only with vpn_only_sources: vpn', () => {
  let dk: Dockerd;
  let t: TestGatehouse;
  let outside = '';
  const gh = { 'gatehouse.enable': 'true', 'gatehouse.port': '80' };

  /** The status nginx answers for vpn.docker.test from `from` (connecting to the veth address). */
  const statusFrom = async (from: string, want: number): Promise<number> => {
    const opts: ReqOptions = from.startsWith('127.')
      ? { localAddress: from }
      : { address: dk.rootIp, localAddress: from };
    const got = await until(async () => {
      const r = await t.get('vpn.docker.test', '/', opts);
      return r.status === want ? r.status : undefined;
    }, 10_000).catch(async () => (await t.get('vpn.docker.test', '/', opts)).status);
    return got;
  };

  beforeAll(async () => {
    dk = await Dockerd.start('vo');
    // vpn_range is the lower half of the veth's /24 (its .1 is "a VPN address"); .200 is a private
    // address outside it.
    outside = `${dk.net.veth}.200`;
    execFileSync('ip', ['addr', 'add', `${outside}/32`, 'dev', dk.rootIf]);
    t = await startTestGatehouse({
      docker_endpoint: dk.endpoint,
      vpn_only_sources: 'vpn',
      vpn_range: `${dk.net.veth}.0/25`,
      vpn_only_extra: '127.0.0.2/32',
    });
    await dk.run('vpn', {
      labels: { ...gh, 'gatehouse.domain': 'vpn.docker.test', 'gatehouse.access': 'vpn-only' },
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await dk?.close();
  });

  it('admits the VPN range and the extra CIDRs; refuses other private addresses and loopback', async () => {
    expect(await statusFrom(dk.rootIp, 200)).toBe(200);
    expect(await statusFrom('127.0.0.2', 200)).toBe(200);
    expect(await statusFrom(outside, 403)).toBe(403);
    expect(await statusFrom('127.0.0.1', 403)).toBe(403);
    const r = await t.get('vpn.docker.test', '/', { address: dk.rootIp, localAddress: dk.rootIp });
    expect(r.body).toBe('vpn\n');
  }, 60_000);
});
