import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySets, type RecordProvider, type RecordSet } from '../../src/dns/records.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { fakeDnsApi } from '../helpers/dns-fakes.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { fakeOvhApi, type OvhFake } from '../helpers/ovh-fake.js';
import { testDir } from '../helpers/tmp.js';
import { hookScripts } from '../helpers/dns-hooks.js';

const ZONE = 'prov.test';
const OVH = {
  applicationKey: 'appKey0123',
  applicationSecret: 'app-secret-456',
  consumerKey: 'consumer-789',
};

/** The CLI (dist/, built by `npx tsc -p tsconfig.build.json`) against this Gatehouse's API. */
function cli(args: string[], input = ''): Promise<{ code: number | null; out: string }> {
  const bin = join(resolve(import.meta.dirname, '..', '..'), 'bin', 'gatehouse.js');
  const api = ['--api', `http://127.0.0.1:${t.apiPort}`, '--token', ADMIN_TOKEN];
  return new Promise((done) => {
    const p = spawn(process.execPath, [bin, ...api, ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => done({ code, out }));
    p.stdin.end(input);
  });
}

let t: TestGatehouse;
let bind: Bind;
let cf: Awaited<ReturnType<typeof fakeDnsApi>>;
let hz: Awaited<ReturnType<typeof fakeDnsApi>>;
let ovh: OvhFake;
let dir: string;
let hookEnv: Record<string, string>;

const addProvider = (body: Record<string, unknown>) => t.api('POST', '/api/v1/dns-providers', body);
const records = async (zone: string): Promise<RecordProvider> => {
  const p = await t.gh.dnsProviders.recordsFor(`x.${zone}`);
  if (!p) throw new Error(`no record provider for ${zone}`);
  return p;
};
/** What the real BIND answers for a name (its wildcard answers A 127.0.0.1 for names without records). */
const served = async (name: string) =>
  (await querySets(bind.server, name)).map((s) => ({ ...s, values: [...s.values].sort() }));
const script = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  await chmod(path, 0o755);
  return path;
};

beforeAll(async () => {
  bind = await startBind(ZONE);
  dir = await testDir('gh-hooks-');
  const bindPort = bind.server.split(':')[1] as string;
  hookEnv = {
    TSIG_NAME: bind.tsigName,
    TSIG_SECRET: bind.tsigSecret,
    DNS_PORT: bindPort,
    CALLS: join(dir, 'calls.log'),
    ENV_DUMP: join(dir, 'env.txt'),
    API_KEY: 'hook-api-key-secret',
  };
  const hooks = hookScripts(ZONE);
  for (const [name, text] of Object.entries(hooks)) await script(name, text);
  await writeFile(join(dir, 'not-exec.sh'), hooks['hook.sh']);
  await script('group-writable.sh', hooks['hook.sh']);
  await chmod(join(dir, 'group-writable.sh'), 0o775);
  const fake = { token: 'fake-token-123', bind, bindZone: ZONE };
  cf = await fakeDnsApi('cloudflare', { ...fake, zone: `cf.${ZONE}` });
  hz = await fakeDnsApi('hetzner', { ...fake, zone: `hz.${ZONE}` });
  // OVH's clock is 2 minutes ahead: requests must be signed with its time (/auth/time).
  ovh = await fakeOvhApi({ ...OVH, zone: `ovh.${ZONE}`, bind, bindZone: ZONE, skewS: 120 });
  t = await startTestGatehouse();
  const common = { api_token: 'fake-token-123', propagation_servers: [bind.server] };
  for (const body of [
    { name: 'cf', type: 'cloudflare', zone: `cf.${ZONE}`, api_url: `http://127.0.0.1:${cf.port}`, ...common },
    { name: 'hz', type: 'hetzner', zone: `hz.${ZONE}`, api_url: `http://127.0.0.1:${hz.port}`, ...common },
    {
      name: 'ovh',
      type: 'ovh',
      zone: `ovh.${ZONE}`,
      endpoint: ovh.endpoint,
      application_key: OVH.applicationKey,
      application_secret: OVH.applicationSecret,
      consumer_key: OVH.consumerKey,
      propagation_servers: [bind.server],
    },
    {
      name: 'ex',
      type: 'exec',
      zone: `ex.${ZONE}`,
      command: join(dir, 'hook.sh'),
      check_server: bind.server,
      env: hookEnv,
    },
    { name: 'ex-mem', type: 'exec', zone: `mem.${ZONE}`, command: join(dir, 'hook.sh'), env: hookEnv },
  ]) {
    const r = await addProvider(body);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
  await cf?.close();
  await hz?.close();
  await ovh?.close();
  await bind?.close();
});

describe('DNS providers: record sets at Cloudflare, Hetzner, OVH (fakes) and an exec hook, on a real BIND', () => {
  it('never shows a secret (tokens, OVH secret and consumer key, a hook environment)', async () => {
    const r = await t.api('GET', '/api/v1/dns-providers');
    const text = JSON.stringify(r.json);
    for (const secret of ['fake-token-123', OVH.applicationSecret, OVH.consumerKey, bind.tsigSecret])
      expect(text).not.toContain(secret);
    const ovhView = (
      r.json as { providers: { name: string; config: Record<string, unknown> }[] }
    ).providers.find((p) => p.name === 'ovh');
    expect(ovhView?.config).toMatchObject({ application_key: OVH.applicationKey, endpoint: ovh.endpoint });
  });

  it('refuses bad input with 400 naming the field, creating nothing', async () => {
    const hook = { type: 'exec', zone: `bad.${ZONE}`, env: {} };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...hook, name: 'b1', command: 'hook.sh' }, 'command'],
      [{ ...hook, name: 'b2', command: join(dir, 'missing.sh') }, 'command'],
      [{ ...hook, name: 'b3', command: join(dir, 'not-exec.sh') }, 'command'],
      [{ ...hook, name: 'b4', command: dir }, 'command'],
      [{ ...hook, name: 'b9', command: join(dir, 'group-writable.sh') }, 'command'],
      [{ ...hook, name: 'b5', command: join(dir, 'hook.sh'), timeout_s: 601 }, 'timeout_s'],
      [{ ...hook, name: 'b6', command: join(dir, 'hook.sh'), env: { PATH: '/tmp' } }, 'env'],
      [
        { ...hook, name: 'b7', command: join(dir, 'hook.sh'), check_server: 'dns.example:53' },
        'check_server',
      ],
      [
        {
          name: 'b8',
          type: 'ovh',
          zone: `bad.${ZONE}`,
          application_key: OVH.applicationKey,
          application_secret: OVH.applicationSecret,
        },
        'consumer_key',
      ],
    ];
    for (const [body, field] of cases) {
      const r = await addProvider(body);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      const issues = (r.json as { error: { issues?: { field: string }[] } }).error.issues ?? [];
      expect(issues.map((i) => i.field).join(' '), JSON.stringify(r.json)).toContain(field);
    }
    const list = JSON.stringify((await t.api('GET', '/api/v1/dns-providers')).json);
    expect(list).not.toContain(`bad.${ZONE}`);
  });

  it('CLI: gatehouse dns provider add/ls/rm, secrets on standard input; bad input names the field', async () => {
    const secrets = JSON.stringify({ application_secret: 'cli-secret-1', consumer_key: 'cli-consumer-1' });
    const add = await cli(
      [
        'dns',
        'provider',
        'add',
        'cli-ovh',
        '--type',
        'ovh',
        '--zone',
        `cli.${ZONE}`,
        '--application-key',
        'cliKey1234',
        '--secrets-stdin',
      ],
      secrets,
    );
    expect(add.out).toContain(`added DNS provider cli-ovh (ovh, zone cli.${ZONE})`);
    expect(add.code).toBe(0);
    const ls = await cli(['dns', 'provider', 'ls']);
    expect(ls.out).toMatch(/cli-ovh\s+ovh\s+cli\.prov\.test/);
    expect(ls.out).not.toContain('cli-secret-1');
    const hook = await cli([
      'dns',
      'provider',
      'add',
      'cli-hook',
      '--type',
      'exec',
      '--zone',
      `cli2.${ZONE}`,
      '--command',
      join(dir, 'hook.sh'),
      '--timeout',
      '900',
    ]);
    expect(hook.code).not.toBe(0);
    expect(hook.out).toContain('timeout_s');
    expect((await cli(['dns', 'provider', 'rm', 'cli-ovh'])).out).toContain('removed DNS provider cli-ovh');
  });

  for (const [label, zone] of [
    ['Cloudflare', `cf.${ZONE}`],
    ['Hetzner', `hz.${ZONE}`],
    ['OVH', `ovh.${ZONE}`],
    ['exec hook', `ex.${ZONE}`],
  ] as const) {
    it(`${label}: puts, replaces exactly and removes A, CNAME and TXT sets, answered by BIND`, async () => {
      const p = await records(zone);
      const app = `app.${zone}`;
      await p.put({ name: app, type: 'A', ttl: 120, values: ['192.0.2.10', '192.0.2.11'] });
      expect(await served(app)).toEqual([
        { name: app, type: 'A', ttl: 120, values: ['192.0.2.10', '192.0.2.11'] },
      ]);
      // Replaced whole: one kept, one changed, one gone.
      await p.put({ name: app, type: 'A', ttl: 120, values: ['192.0.2.11', '198.51.100.7'] });
      expect((await served(app))[0]?.values).toEqual(['192.0.2.11', '198.51.100.7']);
      await p.put({ name: app, type: 'A', ttl: 60, values: ['198.51.100.7'] });
      expect(await served(app)).toEqual([{ name: app, type: 'A', ttl: 60, values: ['198.51.100.7'] }]);
      const owner: RecordSet = {
        name: `owner.${zone}`,
        type: 'TXT',
        ttl: 60,
        values: ['heritage=gatehouse,owner=a b'],
      };
      await p.put(owner);
      expect(await served(owner.name)).toContainEqual(owner);
      await p.put({ name: `alias.${zone}`, type: 'CNAME', ttl: 60, values: [app] });
      expect(await served(`alias.${zone}`)).toEqual([
        { name: `alias.${zone}`, type: 'CNAME', ttl: 60, values: [app] },
      ]);
      // What the provider says it holds is what was put.
      const got = await p.get(app);
      expect(got.find((s) => s.type === 'A')).toEqual({
        name: app,
        type: 'A',
        ttl: 60,
        values: ['198.51.100.7'],
      });
      expect((await p.get(`alias.${zone}`)).find((s) => s.type === 'CNAME')?.values).toEqual([app]);
      await p.remove(app, 'A');
      await p.remove(`alias.${zone}`, 'CNAME');
      await p.remove(owner.name, 'TXT');
      await p.remove(`never.${zone}`, 'AAAA');
      expect((await served(app)).find((s) => s.type === 'A')?.values).toEqual(['127.0.0.1']);
      expect(await served(`alias.${zone}`)).toEqual([
        { name: `alias.${zone}`, type: 'A', ttl: 60, values: ['127.0.0.1'] },
      ]);
      expect(await served(owner.name)).not.toContainEqual(expect.objectContaining({ type: 'TXT' }));
      // A hook with a check server reads BIND (its wildcard); the vendors hold nothing there.
      expect((await p.get(app)).filter((s) => s.values[0] !== '127.0.0.1')).toEqual([]);
    });
  }

  it('a put that changes nothing makes no change call; a vendor holds exactly the set (no duplicates)', async () => {
    const p = await records(`cf.${ZONE}`);
    const set: RecordSet = {
      name: `same.cf.${ZONE}`,
      type: 'AAAA',
      ttl: 300,
      values: ['2001:db8::1', '2001:db8::2'],
    };
    await p.put(set);
    const before = cf.calls.length;
    await p.put(set);
    expect(cf.calls.slice(before).every((c) => c.startsWith('GET '))).toBe(true);
    expect([...cf.records.values()].filter((r) => r.fqdn === set.name)).toHaveLength(2);
    await p.remove(set.name, 'AAAA');
    expect([...cf.records.values()].filter((r) => r.fqdn === set.name)).toHaveLength(0);
  });

  it('OVH: every call signed with its clock (2 min ahead of ours); a change is applied by /refresh', async () => {
    const p = await records(`ovh.${ZONE}`);
    const from = ovh.calls.length;
    await p.put({ name: `sig.ovh.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.44'] });
    expect(ovh.refused).toEqual([]);
    expect(ovh.calls.slice(from)).toEqual([
      `GET /1.0/domain/zone/ovh.${ZONE}/record`,
      `POST /1.0/domain/zone/ovh.${ZONE}/record`,
      `POST /1.0/domain/zone/ovh.${ZONE}/refresh`,
    ]);
    expect(await served(`sig.ovh.${ZONE}`)).toEqual([
      { name: `sig.ovh.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.44'] },
    ]);
    expect(ovh.calls).toContain('GET /1.0/auth/time');
    await p.remove(`sig.ovh.${ZONE}`, 'A');
  });

  it('errors name the provider and stay clean: bad token, unknown zone, bad signature, outside the zone', async () => {
    const bad = await addProvider({
      name: 'cf-bad',
      type: 'cloudflare',
      zone: `bad.cf.${ZONE}`,
      api_token: 'wrong-token-1',
      api_url: `http://127.0.0.1:${cf.port}`,
    });
    // A refused token says nothing about the zone: stored, and the answer says why it is unknown.
    expect(bad.status).toBe(201);
    expect(bad.json.zone_check).toMatchObject({
      state: 'unreachable',
      message: expect.stringMatching(/HTTP 401/),
    });
    const set = (name: string): RecordSet => ({ name, type: 'A', ttl: 60, values: ['192.0.2.1'] });
    await expect((await records(`bad.cf.${ZONE}`)).put(set(`a.bad.cf.${ZONE}`))).rejects.toThrow(
      /Cloudflare .*HTTP 401 .*Authentication error/,
    );
    // A zone the vendor does not hold is bad input: refused when the provider is added, nothing stored.
    const nozone = await addProvider({
      name: 'hz-nozone',
      type: 'hetzner',
      zone: `other.${ZONE}`,
      api_token: 'fake-token-123',
      api_url: `http://127.0.0.1:${hz.port}`,
    });
    expect(nozone.status).toBe(400);
    expect(nozone.json.error).toMatchObject({
      code: 'invalid',
      issues: [{ field: 'zone', message: expect.stringMatching(/Hetzner zone other.prov.test: HTTP 404/) }],
    });
    const listed = await t.api('GET', '/api/v1/dns-providers');
    expect(JSON.stringify(listed.json)).not.toContain('hz-nozone');
    expect(await t.gh.dnsProviders.recordsFor(`a.other.${ZONE}`)).toBeUndefined();
    await addProvider({
      name: 'ovh-badsecret',
      type: 'ovh',
      zone: `ovh.${ZONE}`.replace('ovh.', 'ovh2.'),
      endpoint: ovh.endpoint,
      application_key: OVH.applicationKey,
      application_secret: 'not-the-secret',
      consumer_key: OVH.consumerKey,
    });
    await expect((await records(`ovh2.${ZONE}`)).put(set(`a.ovh2.${ZONE}`))).rejects.toThrow(
      /OVH .*HTTP 400 .*INVALID_SIGNATURE/,
    );
    const calls = cf.calls.length;
    await expect((await records(`cf.${ZONE}`)).put(set('a.elsewhere.test'))).rejects.toThrow(
      /not inside the zone/,
    );
    await expect(
      (await records(`cf.${ZONE}`)).put({ name: `a.cf.${ZONE}`, type: 'A', ttl: 60, values: ['not-an-ip'] }),
    ).rejects.toThrow(/unsafe record/);
    expect(cf.calls.length).toBe(calls);
  });

  it('exec hook: the script gets PATH, the documented variables and its env only; without a check server get() answers what it put', async () => {
    const p = await records(`mem.${ZONE}`);
    const set: RecordSet = { name: `m.mem.${ZONE}`, type: 'A', ttl: 90, values: ['192.0.2.5', '192.0.2.6'] };
    const before = (await readFile(hookEnv.CALLS as string, 'utf8').catch(() => '')).split('\n').length - 1;
    await p.put(set);
    const calls = (await readFile(hookEnv.CALLS as string, 'utf8')).trim().split('\n').slice(before);
    expect(calls).toEqual([
      `cleanup m.mem.${ZONE}. A `,
      `present m.mem.${ZONE}. A 192.0.2.5`,
      `present m.mem.${ZONE}. A 192.0.2.6`,
    ]);
    expect((await served(set.name))[0]?.values).toEqual(set.values);
    expect(await p.get(set.name)).toEqual([set]);
    const env = (await readFile(hookEnv.ENV_DUMP as string, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split('=')[0]);
    const allowed = new Set(['PATH', 'PWD', 'SHLVL', '_', ...Object.keys(hookEnv)]);
    expect(env.filter((k) => !allowed.has(k as string) && !k?.startsWith('GATEHOUSE_'))).toEqual([]);
    expect(env).toEqual(
      expect.arrayContaining(['GATEHOUSE_RECORD_TYPE', 'GATEHOUSE_RECORD_TTL', 'GATEHOUSE_ZONE']),
    );
    await p.remove(set.name, 'A');
    expect(await p.get(set.name)).toEqual([]);
  });
});
