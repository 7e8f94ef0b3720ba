import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import { loadSettings, parseListen } from '../../src/model/settings.js';
import { checkTemplates, instantiate, BUILTIN_TEMPLATES } from '../../src/sources/register/templates.js';

const noFile = () => {
  throw new Error('no file expected');
};

function failure(fn: () => unknown): GatehouseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return err as GatehouseError;
  }
  throw new Error('expected a failure');
}

describe('settings', () => {
  it('has the documented defaults', () => {
    const s = loadSettings({}, {}, noFile);
    expect(s).toMatchObject({
      data_dir: '/var/lib/gatehouse',
      http_port: 80,
      https_port: 443,
      api_listen: '127.0.0.1:7070',
      register_listen: ':9876',
      snapshot_keep: 100,
      snapshot_keep_days: 30,
    });
    expect(s.register_allow).toContain('192.168.0.0/16');
    expect(s.register_allow).toContain('fc00::/7');
  });

  it('takes flags over environment over file', () => {
    const file = 'http_port: 8000\nhttps_port: 8443\nbase_domain: file.example\n';
    const env = {
      GATEHOUSE_CONFIG: '/etc/gh.yaml',
      GATEHOUSE_HTTP_PORT: '8080',
      GATEHOUSE_REGISTER_ALLOW: '10.0.0.0/8, 192.168.1.0/24',
    };
    const s = loadSettings({ http_port: '9090' }, env, (p) => (p === '/etc/gh.yaml' ? file : ''));
    expect(s.http_port).toBe(9090);
    expect(s.https_port).toBe(8443);
    expect(s.base_domain).toBe('file.example');
    expect(s.register_allow).toEqual(['10.0.0.0/8', '192.168.1.0/24']);
  });

  it('names the bad setting and where it came from', () => {
    expect(failure(() => loadSettings({}, { GATEHOUSE_HTTP_PORT: '99999' }, noFile)).message).toMatch(
      /^setting GATEHOUSE_HTTP_PORT: /,
    );
    expect(failure(() => loadSettings({ api_listen: 'nope nope' }, {}, noFile)).message).toMatch(
      /^setting --api-listen: /,
    );
    expect(
      failure(() => loadSettings({}, { GATEHOUSE_REGISTER_ALLOW: '10.0.0.0/33' }, noFile)).message,
    ).toContain('GATEHOUSE_REGISTER_ALLOW');
    // nginx's config names paths below the data dir: refused at once, not at the first apply.
    expect(failure(() => loadSettings({ data_dir: '/srv/My Trial/gh' }, {}, noFile)).message).toMatch(
      /^setting --data-dir: .*without spaces/,
    );
    // An address without a port, or a port past 65535, never reaches listen() as NaN.
    for (const api_listen of ['1.2.3.4', '127.0.0.1:99999', 'localhost:7070'])
      expect(failure(() => loadSettings({ api_listen }, {}, noFile)).message).toMatch(
        /^setting --api-listen: /,
      );
    expect(loadSettings({ api_listen: '7071' }, {}, noFile).api_listen).toBe('7071');
    // One issue, one message saying what is accepted (not the same field told twice, not "NaN").
    const nonsense = failure(() => loadSettings({ api_listen: 'nonsense' }, {}, noFile));
    expect(nonsense.message).toBe(
      'setting --api-listen: expected HOST:PORT, :PORT, PORT (up to 65535) or unix:/path (got "nonsense")',
    );
    expect(nonsense.issues).toHaveLength(1);
    for (const http_port of ['abc', '8080abc', '1.5', '0', '65536']) {
      const e = failure(() => loadSettings({ http_port }, {}, noFile));
      expect(e.message).toMatch(/^setting --http-port: expected a port from 1 to 65535( \(got \S+\))?$/);
      expect(e.issues).toHaveLength(1);
    }
    expect(failure(() => loadSettings({ nginx_workers: 'x' }, {}, noFile)).message).toBe(
      'setting --nginx-workers: expected a whole number from 1 to 64',
    );
    expect(loadSettings({ https_port: '0' }, {}, noFile).https_port).toBe(0);
    const missing = () => {
      throw Object.assign(new Error("ENOENT: no such file or directory, open '/nope.yaml'"), {
        code: 'ENOENT',
      });
    };
    expect(failure(() => loadSettings({ config: '/nope.yaml' }, {}, missing)).message).toBe(
      'no such file: /nope.yaml (the config file)',
    );
    expect(failure(() => loadSettings({ config: '/x.yaml' }, {}, () => 'bogus_key: 1\n')).message).toContain(
      '/x.yaml',
    );
    expect(failure(() => loadSettings({ config: '/x.yaml' }, {}, () => ': : :\n  - [')).code).toBe(
      'config_invalid',
    );
    expect(failure(() => loadSettings({}, { GATEHOUSE_ADMIN_TOKEN: 'short' }, noFile)).message).toContain(
      'GATEHOUSE_ADMIN_TOKEN',
    );
  });

  it('parses listen addresses', () => {
    expect(parseListen(':9876')).toEqual({ host: '0.0.0.0', port: 9876 });
    expect(parseListen('127.0.0.1:7070')).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(parseListen('[::1]:7070')).toEqual({ host: '::1', port: 7070 });
    expect(parseListen('unix:/run/gh.sock')).toEqual({ path: '/run/gh.sock' });
  });
});

describe('registration templates', () => {
  it('fills placeholders, bracketing IPv6 backends', () => {
    const s = instantiate('simple', BUILTIN_TEMPLATES.simple!, {
      subdomain: 's1',
      backend_ip: 'fd00::7',
      backend_port: 8080,
      base_domain: 'example.com',
    });
    expect(s.hosts).toEqual(['s1.example.com']);
    expect(s.routes[0]?.upstreams).toEqual(['[fd00::7]:8080']);
  });

  it('builds the full template: public /auth/, guarded /api/, /ws and /', () => {
    const s = instantiate('full', BUILTIN_TEMPLATES.full!, {
      subdomain: 's42',
      backend_ip: '10.0.1.7',
      base_domain: 'example.com',
    });
    expect(s.routes.map((r) => [r.path, r.upstreams[0], r.access?.forward_auth?.url ?? 'public'])).toEqual([
      ['/auth/', '10.0.1.7:3000', 'public'],
      ['/api/', '10.0.1.7:18789', 'http://10.0.1.7:3000/auth/verify'],
      ['/ws', '10.0.1.7:18789', 'http://10.0.1.7:3000/auth/verify'],
      ['/', '10.0.1.7:8888', 'http://10.0.1.7:3000/auth/verify'],
    ]);
    expect(s.routes[1]?.access?.forward_auth?.copy_headers).toEqual(['X-Gateway-Token']);
  });

  it('asks for backend_port when the template needs it', () => {
    const err = failure(() =>
      instantiate('simple', BUILTIN_TEMPLATES.simple!, {
        subdomain: 's',
        backend_ip: '10.0.0.1',
        base_domain: 'e.com',
      }),
    );
    expect(err.issues[0]?.field).toBe('body.backend_port');
  });

  it('refuses a broken template from the config file at start-up', () => {
    const err = failure(() =>
      checkTemplates({ bad: { routes: [{ path: 'no-slash', upstreams: ['{backend_ip}:1'] }] } }),
    );
    expect(err.message).toContain('templates.bad');
    expect(err.message).toContain('routes.0.path');
  });
});
