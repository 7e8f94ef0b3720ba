import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';

const root = resolve(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI (bin/gatehouse.js), over the running Gatehouse's local unix socket. */
function cli(dataDir: string, args: string[], input = ''): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), '--data-dir', dataDir, ...args], {
      env,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

describe('CLI over the local socket', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  const run = (...args: string[]) => cli(t.dataDir, args);

  beforeAll(async () => {
    t = await startTestGatehouse();
    backend = await echoBackend('cli-socket');
  }, 60_000);

  afterAll(async () => {
    await backend?.close();
    await t?.close();
  });

  it('audits a change made through the socket, naming the CLI user', async () => {
    const add = await run(
      'service',
      'add',
      '--name',
      'audited',
      '--host',
      'audited.test',
      '--upstream',
      `127.0.0.1:${backend.port}`,
    );
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const uid = process.getuid?.() ?? 0;
    const listed = await run('audit', '--json');
    expect(listed.code).toBe(0);
    const entries = (
      JSON.parse(listed.stdout) as {
        entries: { actor: string; via: string; ip: string; method: string; path: string; status: number }[];
      }
    ).entries;
    const entry = entries.find((e) => e.path === '/api/v1/services/audited');
    expect(entry).toMatchObject({
      actor: `cli:uid${uid}`,
      via: 'socket',
      ip: 'local',
      method: 'PUT',
      status: 201,
    });
    // The same through the HTTP API, and the human table names it too.
    const api = await t.api('GET', `/api/v1/audit?actor=cli:uid${uid}`);
    expect(api.status).toBe(200);
    expect(JSON.stringify(api.body)).toContain('/api/v1/services/audited');
    const human = await run('audit');
    expect(human.stdout).toMatch(
      new RegExp(`cli:uid${uid} +socket +local +PUT /api/v1/services/audited +201`),
    );
  });
});
