import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../src/api/views/index.js';
import { Dockerd } from '../helpers/dockerd.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { until, type Res } from '../helpers/net.js';

/**
 * An upstream that names a Docker container (`http://authelia:9091`, as compose files do), with a
 * real dockerd (its containers in a network namespace this test makes): Gatehouse on the host cannot
 * ask Docker's embedded DNS, and resolves the name through what the docker source knows of the
 * running containers. The container stopped: the offline page; started again: served again.
 */
describe('upstreams naming Docker containers', () => {
  let dk: Dockerd;
  let t: TestGatehouse;
  const compose = { 'com.docker.compose.project': 'auth', 'com.docker.compose.service': 'authelia' };

  const answers = (want: number, body?: string): Promise<Res> =>
    until(async () => {
      const r = await t.get('auth.test');
      return r.status === want && (body === undefined || r.body === `${body}\n`) ? r : undefined;
    }, 15_000);

  beforeAll(async () => {
    dk = await Dockerd.start('dn');
    t = await startTestGatehouse({ docker_endpoint: dk.endpoint });
  });
  afterAll(async () => {
    await t?.close();
    await dk?.close();
  });

  it('serves a service whose upstream is a compose service name', async () => {
    await dk.run('auth-authelia-1', {
      network: Dockerd.APP_NETWORK,
      labels: compose,
      port: 9091,
      body: 'authelia one',
    });
    const put = await t.api('PUT', '/api/v1/services/auth?wait=true', {
      hosts: ['auth.test'],
      routes: [{ upstreams: ['http://authelia:9091'] }],
    });
    expect(put.status).toBeLessThan(300);
    await answers(200, 'authelia one');
    const name = ((await t.api('GET', '/api/v1/status')).json as unknown as Status).edge.upstreamNames?.[0];
    expect(name).toMatchObject({ name: 'authelia', state: 'ok' });
    expect(name?.addresses[0]).toMatch(new RegExp(`^${dk.net.app.replace(/\./g, '\\.')}\\.`));
  });

  it('a stopped container gives the offline page; its successor is served', async () => {
    await dk.docker(['rm', '-f', 'auth-authelia-1']);
    const offline = await answers(503);
    expect(offline.body).toMatch(/auth is offline/);
    await dk.run('auth-authelia-2', {
      network: Dockerd.APP_NETWORK,
      labels: compose,
      port: 9091,
      body: 'authelia two',
    });
    await answers(200, 'authelia two');
  });
});
