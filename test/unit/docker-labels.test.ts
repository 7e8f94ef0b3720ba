import { describe, expect, it } from 'vitest';
import { complement } from '../../src/sources/docker/cidr.js';
import { dockerOptions, parseEvent } from '../../src/sources/docker/client.js';
import type { ContainerFacts } from '../../src/sources/docker/facts.js';
import { covers, labelFacts as facts } from '../helpers/dockerd.js';
import { parseContainer, VPN_RANGES } from '../../src/sources/docker/labels.js';
import { loadSettings } from '../../src/model/settings.js';

const on = { 'gatehouse.enable': 'true', 'gatehouse.port': '80' };

describe('docker labels: gatehouse.*', () => {
  it('two labels publish a service behind sign-in, at the container address', () => {
    const r = parseContainer(facts({ ...on, 'gatehouse.domain': 'cloud.example.com' }));
    expect(r.problems).toEqual([]);
    expect(r.services).toEqual([
      expect.objectContaining({
        name: 'web',
        hosts: ['cloud.example.com'],
        routes: [expect.objectContaining({ path: '/', upstreams: ['172.17.0.5:80'] })],
        access: { login: { groups: [] } },
        labels: { 'gatehouse/container': 'web' },
      }),
    ]);
  });

  it('maps every route label', () => {
    const r = parseContainer(
      facts({
        ...on,
        'gatehouse.domain': 'a.example.com, b.example.com',
        'gatehouse.path': '/app',
        'gatehouse.healthcheck': '/status',
        'gatehouse.tls.upstream': 'true',
        'gatehouse.expose': 'lan',
        'gatehouse.groups': 'family,admins',
      }),
    );
    expect(r.problems).toEqual([]);
    const s = r.services[0];
    expect(s?.hosts).toEqual(['a.example.com', 'b.example.com']);
    expect(s?.expose).toBe('lan');
    expect(s?.routes[0]).toMatchObject({
      path: '/app',
      upstreams: ['https://172.17.0.5:80'],
      health: { path: '/status' },
    });
    expect(s?.access).toEqual({ login: { groups: ['family', 'admins'] } });
  });

  it.each([
    [{ 'gatehouse.auth': 'none' }, { public: true }],
    [{ 'gatehouse.access': 'public' }, { public: true }],
    [{ 'gatehouse.access': 'public', 'gatehouse.auth': 'required' }, { login: { groups: [] } }],
    [{ 'gatehouse.access': 'link-only' }, { links: true }],
    [
      { 'gatehouse.access': 'link-only', 'gatehouse.auth': 'required' },
      { links: true, login: { groups: [] } },
    ],
    [{ 'gatehouse.access': 'vpn-only' }, { ip: VPN_RANGES }],
  ])('access %j → %j', (labels, access) => {
    const r = parseContainer(facts({ ...on, 'gatehouse.domain': 'a.example.com', ...labels }));
    expect(r.problems).toEqual([]);
    expect(r.services[0]?.access).toEqual(access);
  });

  it('vpn-only with sign-in needs both: every other address is denied first', () => {
    const r = parseContainer(
      facts({
        ...on,
        'gatehouse.domain': 'a.example.com',
        'gatehouse.access': 'vpn-only',
        'gatehouse.auth': 'required',
      }),
    );
    const access = r.services[0]?.access;
    expect(access?.login).toEqual({ groups: [] });
    const denied = (access?.rules ?? []).flatMap((rule) => (Array.isArray(rule.cidr) ? rule.cidr : []));
    expect(access?.rules?.every((rule) => rule.action === 'deny')).toBe(true);
    for (const ip of ['8.8.8.8', '127.0.0.1', '172.32.0.1', '2001:db8::1', '100.63.255.255'])
      expect(covers(denied, ip), ip).toBe(true);
    for (const ip of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', 'fd00::1'])
      expect(covers(denied, ip), ip).toBe(false);
  });

  it('gatehouse.<name>.* are further services that inherit the container-wide labels', () => {
    const r = parseContainer(
      facts({
        ...on,
        'gatehouse.domain': 'app.example.com',
        'gatehouse.auth': 'none',
        'gatehouse.api.path': '/api',
        'gatehouse.api.port': '8080',
        'gatehouse.admin.domain': 'admin.example.com',
        'gatehouse.admin.auth': 'required',
      }),
    );
    expect(r.problems).toEqual([]);
    const byName = new Map(r.services.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(['web', 'web-admin', 'web-api']);
    expect(byName.get('web-api')).toMatchObject({
      hosts: ['app.example.com'],
      routes: [{ path: '/api', upstreams: ['172.17.0.5:8080'] }],
      access: { public: true },
    });
    expect(byName.get('web-admin')?.access).toEqual({ login: { groups: [] } });
    expect(r.anchors.get('web-admin')).toBe('gatehouse.admin.domain');
  });

  it('names every bad label, with its value, and publishes nothing it could not build', () => {
    const r = parseContainer(
      facts({
        'gatehouse.enable': 'true',
        'gatehouse.domain': 'ok.example.com,bad_domain',
        'gatehouse.port': 'http',
        'gatehouse.groups': 'Family',
        'gatehouse.acess': 'public',
      }),
    );
    expect(r.services).toEqual([]);
    expect(r.problems).toEqual([
      { label: 'gatehouse.acess', message: expect.stringMatching(/^unknown label/) },
      { label: 'gatehouse.port', message: '"http" is not a port (1-65535)' },
      { label: 'gatehouse.domain', message: expect.stringMatching(/^"bad_domain": not a valid host name/) },
      { label: 'gatehouse.groups', message: expect.stringMatching(/^"Family": use 1-63 lowercase/) },
      { label: 'gatehouse.domain', message: 'service web not published' },
    ]);
  });

  it('refuses values it cannot read instead of guessing', () => {
    const bad = (labels: Record<string, string>) =>
      parseContainer(facts({ ...on, 'gatehouse.domain': 'a.example.com', ...labels }));
    expect(bad({ 'gatehouse.auth': 'maybe' }).problems[0]).toEqual({
      label: 'gatehouse.auth',
      message: '"maybe" is not required or none',
    });
    expect(bad({ 'gatehouse.access': 'lan' }).services).toEqual([]);
    expect(bad({ 'gatehouse.auth': 'none', 'gatehouse.groups': 'family' }).problems[0]).toEqual({
      label: 'gatehouse.groups',
      message: 'groups need sign-in (gatehouse.auth=required)',
    });
    expect(bad({ 'gatehouse.expose': 'internet' }).problems[0]?.label).toBe('gatehouse.expose');
    expect(bad({ 'gatehouse.path': '/a b' }).problems[0]?.label).toBe('gatehouse.path');
  });

  it('only publishes containers that opt in, and says so when labels are there without it', () => {
    expect(parseContainer(facts({ 'gatehouse.domain': 'a.example.com' })).problems).toEqual([
      { label: 'gatehouse.domain', message: 'gatehouse.enable=true is missing: not published' },
    ]);
    expect(
      parseContainer(facts({ 'gatehouse.enable': 'false', 'gatehouse.domain': 'a.example.com' })),
    ).toMatchObject({
      services: [],
      problems: [],
    });
    expect(parseContainer(facts({ 'gatehouse.enable': 'true' })).problems[0]).toMatchObject({
      label: 'gatehouse.domain',
    });
  });

  it('derives valid, unique service names from container names', () => {
    const r = parseContainer(
      facts(
        { ...on, 'gatehouse.domain': 'a.example.com', 'gatehouse.Extra_Part.domain': 'b.example.com' },
        { name: 'My_Project.Web_1' },
      ),
    );
    expect(r.services.map((s) => s.name)).toEqual(['my-project-web-1']);
    expect(r.problems[0]?.label).toBe('gatehouse.Extra_Part.domain');
    const long = parseContainer(
      facts({ ...on, 'gatehouse.api.domain': 'a.example.com' }, { name: 'x'.repeat(80) }),
    );
    expect(long.services[0]?.name).toBe(`${'x'.repeat(59)}-api`);
  });
});

describe('docker labels: the upstream address', () => {
  const ask = (more: Partial<ContainerFacts>, network?: string) =>
    parseContainer(facts({ ...on, 'gatehouse.domain': 'a.example.com' }, more), network ? { network } : {});
  const nets = [
    { name: 'proj_default', ip: '10.5.0.2' },
    { name: 'proj_db', ip: '10.6.0.2' },
  ];
  const published = [{ privatePort: 80, publicPort: 8081, ip: '0.0.0.0', type: 'tcp' }];

  it("uses the container's IP on the configured network, which wins over a published port", () => {
    expect(ask({ networks: nets, ports: published }, 'proj_db').services[0]?.routes[0]?.upstreams).toEqual([
      '10.6.0.2:80',
    ]);
    expect(ask({ ports: published }).services[0]?.routes[0]?.upstreams).toEqual(['172.17.0.5:80']);
  });

  it('a label picks the network too (gatehouse.network or traefik.docker.network)', () => {
    const r = parseContainer(
      facts(
        { ...on, 'gatehouse.domain': 'a.example.com', 'gatehouse.network': 'proj_default' },
        { networks: nets },
      ),
    );
    expect(r.services[0]?.routes[0]?.upstreams).toEqual(['10.5.0.2:80']);
  });

  it('falls back to the published port when no single network says where', () => {
    expect(ask({ networks: nets, ports: published }).services[0]?.routes[0]?.upstreams).toEqual([
      '127.0.0.1:8081',
    ]);
    const specific = [{ privatePort: 80, publicPort: 9000, ip: '192.168.1.4', type: 'tcp' }];
    expect(ask({ networks: [], ports: specific }).services[0]?.routes[0]?.upstreams).toEqual([
      '192.168.1.4:9000',
    ]);
  });

  it('reports a container it cannot reach', () => {
    const r = ask({ networks: nets });
    expect(r.services).toEqual([]);
    expect(r.problems[0]).toEqual({
      label: 'gatehouse.port',
      message:
        'no address for port 80: on several networks (proj_default, proj_db): set docker_network or the gatehouse.network label, and the port is not published on the host',
    });
  });

  it('host networking: the port is on the host', () => {
    expect(
      ask({ networkMode: 'host', networks: [{ name: 'host', ip: '' }] }).services[0]?.routes[0]?.upstreams,
    ).toEqual(['127.0.0.1:80']);
  });

  it('the only exposed port is the default', () => {
    const r = parseContainer(
      facts(
        { 'gatehouse.enable': 'true', 'gatehouse.domain': 'a.example.com' },
        { ports: [{ privatePort: 3000, type: 'tcp' }] },
      ),
    );
    expect(r.services[0]?.routes[0]?.upstreams).toEqual(['172.17.0.5:3000']);
  });
});

describe('docker source helpers', () => {
  it('complement covers exactly the addresses outside', () => {
    const out = complement(['10.0.0.0/8', '::1']);
    expect(covers(out, '9.255.255.255')).toBe(true);
    expect(covers(out, '11.0.0.0')).toBe(true);
    expect(covers(out, '10.200.0.1')).toBe(false);
    expect(covers(out, '::1')).toBe(false);
    expect(covers(out, '::2')).toBe(true);
    expect(complement([])).toEqual(['0.0.0.0/0', '::/0']);
    expect(complement(VPN_RANGES)).toHaveLength(45);
  });

  it('docker settings: off by default, checked, from flags or GATEHOUSE_DOCKER_*', () => {
    const s = loadSettings({}, {});
    expect([s.docker_endpoint, s.docker_network, s.docker_resync_interval]).toEqual(['', undefined, '5m']);
    const env = {
      GATEHOUSE_DOCKER_ENDPOINT: 'tcp://10.0.0.2:2375',
      GATEHOUSE_DOCKER_NETWORK: 'proj_default',
    };
    expect(loadSettings({}, env)).toMatchObject({
      docker_endpoint: 'tcp://10.0.0.2:2375',
      docker_network: 'proj_default',
    });
    expect(() => loadSettings({ docker_endpoint: '/var/run/docker.sock' }, {})).toThrow(
      /setting --docker-endpoint: unix:\/\/\/path\/to\/docker.sock or tcp:\/\/host:port/,
    );
    expect(() => loadSettings({ docker_resync_interval: 'often' }, {})).toThrow(/docker-resync-interval/);
  });

  it('reads endpoints and events', () => {
    expect(dockerOptions('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerOptions('tcp://10.0.0.2:2375')).toEqual({ host: '10.0.0.2', port: 2375, protocol: 'http' });
    expect(() => dockerOptions('http://x')).toThrow(/unix:\/\/\/path or tcp:\/\/host:port/);
    const line = JSON.stringify({
      Type: 'container',
      Action: 'rename',
      Actor: { ID: 'abc', Attributes: { name: '/new', oldName: '/old', 'gatehouse.enable': 'true' } },
    });
    expect(parseEvent(line)).toEqual({
      action: 'rename',
      id: 'abc',
      name: 'new',
      oldName: 'old',
      attributes: { name: '/new', oldName: '/old', 'gatehouse.enable': 'true' },
    });
    expect(
      parseEvent('{"Type":"network","Action":"connect","Actor":{"ID":"n","Attributes":{"name":"x"}}}'),
    ).toBe(undefined);
    expect(parseEvent('not json')).toBe(undefined);
  });
});
