import { describe, expect, it } from 'vitest';
import { UpstreamNames } from '../../src/dns/upstream-names.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { ContainerNames } from '../../src/sources/docker/container-names.js';
import type { ContainerFacts } from '../../src/sources/docker/facts.js';

const container = (
  name: string,
  networks: Record<string, string>,
  labels: Record<string, string> = {},
  networkMode = 'bridge',
): ContainerFacts => ({
  id: `id-${name}`,
  name,
  labels,
  networkMode,
  networks: Object.entries(networks).map(([n, ip]) => ({ name: n, ip })),
  ports: [],
});
const compose = (project: string, service: string) => ({
  'com.docker.compose.project': project,
  'com.docker.compose.service': service,
});

describe('upstream names: Docker containers by name', () => {
  it('knows a container by its name and compose service, at its addresses', () => {
    const names = new ContainerNames();
    names.replaceAll([
      container('auth-authelia-1', { auth_default: '172.18.0.5' }, compose('auth', 'authelia')),
      container('mqtt', { iot: '172.19.0.2', other: '172.20.0.2' }),
      container('hostnet', {}, {}, 'host'),
    ]);
    expect(names.lookup('authelia')).toEqual(['172.18.0.5']);
    expect(names.lookup('Auth-Authelia-1')).toEqual(['172.18.0.5']);
    expect(names.lookup('mqtt')).toEqual(['172.19.0.2', '172.20.0.2']);
    // Host networking: its address would be this machine's loopback.
    expect(names.lookup('hostnet')).toBeUndefined();
    expect(names.lookup('nope')).toBeUndefined();
  });

  it('docker_network: only addresses on that network', () => {
    const names = new ContainerNames('iot');
    names.replaceAll([
      container('mqtt', { iot: '172.19.0.2', other: '172.20.0.2' }),
      container('web', { other: '172.20.0.3' }),
    ]);
    expect(names.lookup('mqtt')).toEqual(['172.19.0.2']);
    expect(names.lookup('web')).toEqual([]);
  });

  it('replicas of one service all answer; one service name in two projects is ambiguous', () => {
    const names = new ContainerNames();
    names.replaceAll([
      container('app-web-1', { n: '172.18.0.2' }, compose('app', 'web')),
      container('app-web-2', { n: '172.18.0.3' }, compose('app', 'web')),
      container('blog-db-1', { n: '172.18.0.4' }, compose('blog', 'db')),
      container('shop-db-1', { n: '172.18.0.5' }, compose('shop', 'db')),
    ]);
    expect(names.lookup('web')).toEqual(['172.18.0.2', '172.18.0.3']);
    expect(names.lookup('db')).toBeUndefined();
    expect(names.lookup('shop-db-1')).toEqual(['172.18.0.5']);
  });

  it('a service naming a container follows it: started, moved, stopped (offline page)', async () => {
    const containers = new ContainerNames();
    const asked: string[] = [];
    let changes = 0;
    const names = new UpstreamNames({
      // The resolver knows nothing of containers (as on a host outside their networks).
      lookup: (name) => {
        asked.push(name);
        return Promise.resolve({ kind: 'absent', error: `${name}: no such name` });
      },
      log: silentLogger(),
      onChange: () => changes++,
      now: () => 0,
    });
    names.useKnown(containers);
    const svc = serviceSchema.parse({
      name: 'auth',
      hosts: ['auth.test'],
      routes: [{ upstreams: ['http://authelia:9091'] }],
    });
    await names.track([svc]);
    expect(names.addresses('authelia')).toEqual([]);
    expect(asked).toEqual(['authelia']);

    containers.set(
      'auth-authelia-1',
      container('auth-authelia-1', { n: '172.18.0.5' }, compose('auth', 'authelia')),
    );
    await new Promise((r) => setImmediate(r));
    expect(names.addresses('authelia')).toEqual(['172.18.0.5']);
    expect(names.view(svc).routes[0]?.upstreams).toEqual(['172.18.0.5:9091']);
    const before = changes;

    // Recreated with another address: followed at once (the container event), not at the TTL.
    containers.set(
      'auth-authelia-1',
      container('auth-authelia-1', { n: '172.18.0.9' }, compose('auth', 'authelia')),
    );
    await new Promise((r) => setImmediate(r));
    expect(names.addresses('authelia')).toEqual(['172.18.0.9']);
    expect(changes).toBe(before + 1);

    // Stopped: not known any more, and the resolver does not know it: no address, offline page.
    containers.set('auth-authelia-1', undefined);
    await new Promise((r) => setImmediate(r));
    expect(names.addresses('authelia')).toEqual([]);
    expect(names.status()[0]).toMatchObject({ state: 'unresolved', error: 'authelia: no such name' });
    names.stop();
  });
});
