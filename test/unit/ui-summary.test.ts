import { describe, expect, it } from 'vitest';
import { linkCreateSchema } from '../../src/model/link.js';
import { LINK_TTL_DEFAULT } from '../../web/src/defaults.js';
import { accessLabel, healthOf, summarize } from '../../web/src/pages/summary.js';

describe('services list summary (web UI)', () => {
  it('names who may pass, so that a public service stands out from a guarded one', () => {
    expect(accessLabel(undefined)).toBe('public');
    expect(accessLabel({ public: true })).toBe('public');
    expect(accessLabel({ login: { groups: [] } })).toBe('sign-in');
    expect(accessLabel({ login: { groups: ['ops', 'dev'] } })).toBe('sign-in (ops, dev)');
    expect(accessLabel({ provider: 'kc' })).toBe('OIDC (kc)');
    expect(accessLabel({ ip: ['10.0.0.0/8', '192.0.2.1/32'], links: true })).toBe('addresses (2) or links');
    expect(accessLabel({ basic: [{}] })).toBe('basic');
    expect(accessLabel({ forward_auth: { url: 'http://192.0.2.1/' } })).toBe('forward auth');
  });

  it('shows each route’s access when they differ, route access over the service’s', () => {
    const s = summarize(
      {
        name: 'app',
        hosts: ['app.test'],
        access: { login: { groups: ['ops'] } },
        routes: [
          { path: '/', upstreams: ['192.0.2.1:80'] },
          { path: '/api/', upstreams: ['192.0.2.1:80', '192.0.2.2:80'], access: { public: true } },
        ],
      },
      undefined,
    );
    expect(s.access).toBe('/: sign-in (ops); /api/: public');
    expect(s.open).toBe(true);
    expect(s.upstreams).toEqual(['192.0.2.1:80', '192.0.2.2:80']);
    const guarded = summarize(
      { name: 'g', hosts: ['g.test'], access: { login: {} }, routes: [{ upstreams: ['192.0.2.1:80'] }] },
      undefined,
    );
    expect([guarded.access, guarded.open]).toEqual(['sign-in', false]);
  });

  it('says HTTPS only where a certificate covers the hosts', () => {
    const svc = {
      name: 'a',
      hosts: ['a.example.com', 'b.example.com'],
      routes: [{ upstreams: ['192.0.2.1:80'] }],
    };
    expect(summarize(svc, undefined, []).https).toBe('no certificate yet');
    expect(summarize(svc, undefined, ['a.example.com']).https).toBe('1 of 2 hosts');
    expect(summarize(svc, undefined, ['*.example.com']).https).toBe('yes');
    expect(summarize(svc, undefined, ['*.other.example.com']).https).toBe('no certificate yet');
    expect(summarize({ ...svc, tls: 'none' }, undefined, ['*.example.com']).https).toBe('off');
  });

  it('never calls an unchecked service healthy', () => {
    const svc = { name: 'web', hosts: ['w.test'], routes: [{ upstreams: ['192.0.2.1:80'] }] };
    expect(healthOf(svc, { downServers: [] }).label).toBe('not checked');
    expect(healthOf(svc, { downServers: [], checkedServers: ['web-r0 192.0.2.1:80'] }).label).toBe('healthy');
    // Another service whose name starts the same is not this one.
    expect(healthOf(svc, { downServers: ['web-api-r0 192.0.2.1:80'] }).label).toBe('not checked');
    expect(
      healthOf(svc, {
        downServers: [],
        failingServers: [
          { server: 'web-r0 192.0.2.1:80', errors: 3 },
          { server: 'web-r1 192.0.2.2:80', errors: 1 },
        ],
      }).label,
    ).toBe('failing (4 errors)');
    expect(
      healthOf(svc, { downServers: ['web-r0 192.0.2.1:80'], checkedServers: ['web-r0 192.0.2.1:80'] }).label,
    ).toBe('1 upstream down');
    expect(healthOf({ ...svc, suspended: true }, { downServers: [] }).label).toBe('suspended');
  });

  it('fills in the same link lifetime as the API and the CLI', () => {
    expect(linkCreateSchema.parse({ service: 'a' }).ttl).toBe(LINK_TTL_DEFAULT);
  });
});
