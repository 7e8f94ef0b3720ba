import { describe, expect, it } from 'vitest';
import { serviceSchema, type ServiceInput } from '../../src/model/service.js';
import { summarizeService, type ServiceFacts } from '../../src/model/summary.js';

const facts = (f: Partial<ServiceFacts> = {}): ServiceFacts => ({
  certNames: [],
  httpsListener: true,
  down: [],
  checked: [],
  ...f,
});
const svc = (s: Partial<ServiceInput>) =>
  serviceSchema.parse({
    name: 'app',
    hosts: ['app.test', 'www.app.test'],
    routes: [{ path: '/', upstreams: ['127.0.0.1:8080', '[::1]:8080'] }],
    ...s,
  });

describe('summarizeService', () => {
  it('names who may pass: public apart from every kind of guard, per route when they differ', () => {
    expect(summarizeService(svc({ access: { public: true } }), facts()).access).toBe('public');
    expect(summarizeService(svc({ access: { public: true } }), facts()).public).toBe(true);
    const guarded = summarizeService(
      svc({ access: { login: { groups: ['staff'] }, ip: ['10.0.0.0/8'], links: true } }),
      facts(),
    );
    expect(guarded).toMatchObject({ access: 'sign-in (staff) or addresses (1) or links', public: false });
    expect(summarizeService(svc({ access: { provider: 'corp' } }), facts()).access).toBe('OIDC (corp)');

    const mixed = svc({
      access: { login: {} },
      routes: [
        { path: '/', upstreams: ['127.0.0.1:1'] },
        { path: '/hook', upstreams: ['127.0.0.1:1'], access: { public: true } },
        {
          path: '/api/',
          upstreams: ['127.0.0.1:1'],
          access: { forward_auth: { url: 'http://127.0.0.1:9/auth' } },
        },
      ],
    });
    expect(summarizeService(mixed, facts())).toMatchObject({
      access: '/: sign-in; /hook: public; /api/: forward auth',
      public: true,
      upstreams: ['127.0.0.1:1'],
    });
  });

  it('says whether a certificate covers the hosts', () => {
    const s = svc({ access: { public: true } });
    expect(summarizeService(s, facts({ certNames: ['*.app.test', 'app.test'] })).https).toBe('yes');
    expect(summarizeService(s, facts({ certNames: ['app.test'] })).https).toBe('partial');
    expect(summarizeService(s, facts({ certNames: ['other.test'] })).https).toBe('no');
    expect(summarizeService(s, facts({ certNames: ['app.test'], httpsListener: false })).https).toBe('off');
    expect(summarizeService(svc({ access: { public: true }, tls: 'none' }), facts()).https).toBe('off');
  });

  it('reports state from health: unchecked is not up', () => {
    const s = svc({ access: { public: true } });
    const keys = ['app-r0 127.0.0.1:8080', 'app-r0 [::1]:8080'];
    expect(summarizeService(s, facts())).toMatchObject({ state: 'unchecked', state_label: 'not checked' });
    expect(summarizeService(s, facts({ checked: keys }))).toMatchObject({
      state: 'up',
      state_label: 'healthy',
    });
    // Failures nginx saw count, checked or not; another service whose name starts the same does not.
    const failing = [
      { server: 'app-r0 127.0.0.1:8080', errors: 3 },
      { server: 'app-r0 [::1]:8080', errors: 1 },
      { server: 'app-api-r0 127.0.0.1:9', errors: 7 },
    ];
    expect(summarizeService(s, facts({ failing }))).toMatchObject({
      state: 'failing',
      state_label: 'failing (4 errors)',
    });
    expect(summarizeService(s, facts({ failing: failing.slice(2) })).state).toBe('unchecked');
    expect(summarizeService(s, facts({ checked: keys, down: [keys[0] as string] }))).toMatchObject({
      state: 'degraded',
      down: '1/2',
    });
    expect(summarizeService(s, facts({ checked: keys, down: keys })).state).toBe('down');
    expect(summarizeService(svc({ access: { public: true }, suspended: true }), facts()).state).toBe(
      'suspended',
    );
  });
});
