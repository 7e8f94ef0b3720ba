import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';
import { runCli } from '../helpers/netns.js';
import { testDir } from '../helpers/tmp.js';

interface Report {
  version: number;
  services: { name: string; op: string; patch: string }[];
  users: { username: string; op: string }[];
  groups: { name: string; op: string }[];
}

/** The declarative edge file: applied as one change, owned by the file, watched when configured. */
describe('file source: gatehouse apply and GATEHOUSE_FILE', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let dir: string;
  const up = () => [`127.0.0.1:${app.port}`];
  interface FileUser {
    username: string;
    email?: string;
    role?: string;
    groups?: string[];
  }
  const edgeFile = () => ({
    groups: [{ name: 'family', description: 'the household' }],
    users: [
      { username: 'alice', email: 'alice@home.test', groups: ['family'] },
      { username: 'bob', role: 'admin' },
    ] as FileUser[],
    templates: { intranet: { routes: [{ path: '/', upstreams: ['{backend_ip}:{backend_port}'] }] } },
    services: [
      {
        name: 'wiki',
        hosts: ['wiki.file.test'],
        routes: [{ upstreams: up() }],
        access: { login: { groups: ['family'] } },
      },
      { name: 'blog', hosts: ['blog.file.test'], routes: [{ upstreams: up() }] },
    ],
  });
  const apply = async (doc: unknown, opts: { dry_run?: boolean; owner?: string } = {}) =>
    t.api('POST', '/api/v1/apply', {
      owner: opts.owner ?? 'edge.yaml',
      document: typeof doc === 'string' ? doc : YAML.stringify(doc),
      dry_run: opts.dry_run ?? false,
    });

  beforeAll(async () => {
    app = await echoBackend('app');
    dir = await testDir('gh-file-');
    t = await startTestGatehouse();
    await t.api('PUT', '/api/v1/services/ops?wait=true', {
      hosts: ['ops.file.test'],
      routes: [{ upstreams: up() }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('applies services, groups, users and templates as one change; again, it is a no-op', async () => {
    const before = t.gh.registry.version;
    const r = await apply(edgeFile());
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const report = r.json as unknown as Report;
    expect(report.version).toBe(before + 1);
    expect(report.services.map((s) => `${s.op} ${s.name}`)).toEqual(['create blog', 'create wiki']);
    expect(report.users.map((u) => `${u.op} ${u.username}`)).toEqual(['create alice', 'create bob']);
    expect((await t.get('blog.file.test')).status).toBe(200);
    const users = (await t.api('GET', '/api/v1/users')).json as unknown as {
      users: { username: string; groups: string[]; has_password: boolean }[];
    };
    expect(users.users.find((u) => u.username === 'alice')).toMatchObject({
      groups: ['family'],
      has_password: false,
    });
    // Nobody has a password yet (files hold no secrets): sign-in is closed until one is set.
    expect((await t.get('wiki.file.test')).status).toBe(503);
    await t.api('PATCH', '/api/v1/users/alice', { password: 'alice password 1' });
    expect((await t.get('wiki.file.test')).status).toBe(401);
    // Owned by the file, shown by the API.
    const svc = (await t.api('GET', '/api/v1/services/wiki')).json as unknown as {
      meta: { source: string; owner: string };
    };
    expect(svc.meta).toMatchObject({ source: 'file', owner: 'edge.yaml' });
    // The file's template serves self-registration.
    const reg = await t.reg('POST', '/register', {
      subdomain: 'intra',
      backend_ip: '127.0.0.1',
      backend_port: app.port,
      type: 'intranet',
    });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const again = (await apply(edgeFile())).json as unknown as Report;
    expect(again.services).toEqual([]);
    expect(again.users).toEqual([]);
    expect(t.gh.registry.version).toBe(before + 2);
  });

  it('--dry-run prints the diff and changes nothing; removing entries removes only what the file owns', async () => {
    const doc = edgeFile();
    doc.services = [{ ...doc.services[0]!, hosts: ['wiki2.file.test'] }];
    doc.users = [doc.users[0]!];
    const version = t.gh.registry.version;
    const dry = (await apply(doc, { dry_run: true })).json as unknown as Report;
    expect(dry.services.map((s) => `${s.op} ${s.name}`)).toEqual(['delete blog', 'update wiki']);
    expect(dry.services.find((s) => s.name === 'wiki')?.patch).toContain('+  - wiki2.file.test');
    expect(dry.users).toEqual([{ username: 'bob', op: 'delete' }]);
    expect(t.gh.registry.version).toBe(version);
    expect((await t.get('blog.file.test')).status).toBe(200);

    // The CLI shows the same diff.
    const file = join(dir, 'edge.yaml');
    await writeFile(file, YAML.stringify(doc));
    const cli = await runCli([
      '--api',
      `http://127.0.0.1:${t.apiPort}`,
      '--token',
      ADMIN_TOKEN,
      'apply',
      '-f',
      file,
      '--dry-run',
    ]);
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain('+  - wiki2.file.test');
    expect(cli.stdout).toContain('delete user bob');
    expect(cli.stdout).toContain('would be made (dry run)');

    const applied = await runCli([
      '--api',
      `http://127.0.0.1:${t.apiPort}`,
      '--token',
      ADMIN_TOKEN,
      'apply',
      '-f',
      file,
    ]);
    expect(applied.status, applied.stderr).toBe(0);
    expect((await t.get('blog.file.test')).status).toBe(404);
    expect((await t.get('wiki2.file.test')).status).toBe(401);
    // What the API and self-registration created is untouched.
    expect((await t.get('ops.file.test')).status).toBe(200);
    expect(t.gh.registry.get('intra')).toBeDefined();
    const users = (await t.api('GET', '/api/v1/users')).json as unknown as { users: { username: string }[] };
    expect(users.users.map((u) => u.username)).toEqual(['alice']);
  });

  it('is all or nothing: a conflict or a name it does not own changes nothing, naming the field', async () => {
    const version = t.gh.registry.version;
    const clash = edgeFile();
    clash.services.push({ name: 'taken', hosts: ['ops.file.test'], routes: [{ upstreams: up() }] });
    clash.users.push({ username: 'carol' });
    const r = await apply(clash);
    expect(r.status).toBe(409);
    expect(r.json.error?.message).toContain('service ops');
    expect(t.gh.registry.version).toBe(version);
    expect(
      ((await t.api('GET', '/api/v1/users')).json as unknown as { users: unknown[] }).users,
    ).toHaveLength(1);
    // A user made through the API is not the file's to change.
    await t.api('POST', '/api/v1/users', { username: 'dave', password: 'dave password 1' });
    const doc = edgeFile();
    doc.users.push({ username: 'dave' });
    const owned = await apply(doc);
    expect(owned.status).toBe(409);
    expect((owned.json.error as { issues?: { field: string }[] }).issues?.[0]?.field).toBe(
      'users.2.username',
    );
    // Another file may not take over this one's services.
    const other = await apply({ services: [edgeFile().services[0]] }, { owner: 'other.yaml' });
    expect(other.status).toBe(409);
    expect(other.json.error?.message).toContain('file (edge.yaml)');
    expect(t.gh.registry.version).toBe(version);
  });

  it('refuses bad input naming the field', async () => {
    const bad = await apply({
      services: [{ name: 'x', hosts: ['not a host'], routes: [{ upstreams: up() }] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^document\.services\.0\.hosts\.0: /);
    const notYaml = await apply('services: [unclosed');
    expect(notYaml.status).toBe(400);
    expect(notYaml.json.error?.message).toMatch(/^document: not YAML/);
    const builtin = await apply({
      templates: { simple: { routes: [{ path: '/', upstreams: ['{backend_ip}:1'] }] } },
    });
    expect(builtin.status).toBe(409);
    expect(builtin.json.error?.message).toMatch(/^templates\.simple: /);
    const empty = await apply('# nothing here\n');
    expect(empty.status).toBe(400);
    expect(empty.json.error?.message).toContain('the file is empty');
    const owner = await apply({}, { owner: '../etc' });
    expect(owner.status).toBe(400);
    expect(owner.json.error?.message).toMatch(/^owner: /);
  });
});

describe('file source: the watched file (GATEHOUSE_FILE)', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let file: string;

  beforeAll(async () => {
    app = await echoBackend('app');
    const dir = await testDir('gh-watched-');
    file = join(dir, 'edge.yaml');
    const svc = (host: string) => ({
      services: [{ name: 'site', hosts: [host], routes: [{ upstreams: [`127.0.0.1:${app.port}`] }] }],
    });
    await writeFile(file, YAML.stringify(svc('one.watch.test')));
    t = await startTestGatehouse({ file });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('is applied at start and on each change; a broken edit keeps the last good one serving', async () => {
    expect((await t.get('one.watch.test')).status).toBe(200);
    const svc = (host: string) => ({
      services: [{ name: 'site', hosts: [host], routes: [{ upstreams: [`127.0.0.1:${app.port}`] }] }],
    });
    await writeFile(file, YAML.stringify(svc('two.watch.test')));
    await until(async () => ((await t.get('two.watch.test')).status === 200 ? true : undefined), 5_000);
    // Old workers may answer for a moment during the reload: wait until it is done.
    await t.gh.edge.waitFor(t.gh.registry.version);
    expect((await t.get('one.watch.test')).status).toBe(404);

    await writeFile(file, 'services:\n  - name: site\n    hosts: [bad host]\n');
    const status = async () =>
      (
        (await t.api('GET', '/api/v1/status')).json as unknown as {
          sources: { file?: { lastError?: { message: string } } };
        }
      ).sources.file;
    const broken = await until(async () => ((await status())?.lastError ? await status() : undefined), 5_000);
    expect(broken?.lastError?.message).toContain('services.0.hosts.0');
    expect((await t.get('two.watch.test')).status).toBe(200);

    // Emptied (a writer caught half-way, a mistake): nothing is removed.
    await writeFile(file, '');
    await until(
      async () => ((await status())?.lastError?.message.includes('empty') ? true : undefined),
      5_000,
    );
    expect((await t.get('two.watch.test')).status).toBe(200);

    await writeFile(file, YAML.stringify(svc('three.watch.test')));
    await until(async () => ((await t.get('three.watch.test')).status === 200 ? true : undefined), 5_000);
    expect((await status())?.lastError).toBeUndefined();
  });
});
