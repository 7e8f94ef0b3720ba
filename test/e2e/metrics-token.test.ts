import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type Gatehouse } from '../../src/gatehouse.js';
import { loadSettings } from '../../src/model/settings.js';
import { ADMIN_TOKEN, loopbackSettings, REGISTER_TOKEN } from '../helpers/gatehouse.js';
import { json } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
const METRICS_TOKEN = 'test-metrics-token-0123456789';
const WRONG_TOKEN = 'not-a-token-of-this-gatehouse-0123';

/** The built CLI (bin/gatehouse.js) with only the GATEHOUSE_ variables given here. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), ...args], {
      env: { ...base, ...env },
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stderr }));
  });
}

describe('the read-only metrics token', () => {
  let gh: Gatehouse;
  let dataDir: string;
  let apiPort: number;
  let logFile: string;
  const as = (token: string, method: string, path: string, body?: unknown) =>
    json(apiPort, method, path, body, { authorization: `Bearer ${token}` });

  beforeAll(async () => {
    dataDir = await testDir('gh-metrics-token-');
    logFile = join(await testDir('gh-metrics-log-'), 'gatehouse.log');
    const s = await loopbackSettings(dataDir, {
      admin_token: ADMIN_TOKEN,
      register_token: REGISTER_TOKEN,
      metrics_token: METRICS_TOKEN,
      base_domain: 'gw.test',
      nginx_workers: 1,
    });
    apiPort = s.apiPort;
    // Everything Gatehouse logs, at its most verbose level, into a file this test reads.
    const log = pino({ level: 'trace' }, pino.destination({ dest: logFile, sync: true }));
    gh = await startGatehouse(s.settings, log);
  }, 60_000);

  afterAll(async () => {
    await gh?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('reads /metrics in the Prometheus text format', async () => {
    const r = await as(METRICS_TOKEN, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain('# TYPE gatehouse_applied_version gauge');
    const line = r.body.split('\n').find((l) => l.startsWith('gatehouse_applied_version '));
    expect(line).toMatch(/^gatehouse_applied_version [0-9]+$/);
    // docs/observability.md lists every metric exported.
    const doc = await readFile(join(root, 'docs', 'observability.md'), 'utf8');
    const names = [...r.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(doc, name).toContain(`\`${name}\``);
  });

  it('is refused everywhere else, exactly as a wrong token is', async () => {
    const service = { name: 'm1', hosts: ['m1.test'], upstreams: ['127.0.0.1:9'] };
    const calls: [string, string, unknown?][] = [
      ['GET', '/api/v1/services'],
      ['PUT', '/api/v1/services/m1', service],
      ['GET', '/api/v1/status'],
      ['GET', '/api/v1/audit'],
      ['POST', '/api/v1/rotate/admin-token', {}],
      ['POST', '/metrics'],
    ];
    for (const [method, path, body] of calls) {
      const wrong = await as(WRONG_TOKEN, method, path, body);
      const metrics = await as(METRICS_TOKEN, method, path, body);
      expect(wrong.status, `${method} ${path} with a wrong token`).toBe(401);
      expect(metrics.status, `${method} ${path} with the metrics token`).toBe(wrong.status);
      expect(metrics.json, `${method} ${path}`).toEqual(wrong.json);
      expect(metrics.headers['www-authenticate']).toBe(wrong.headers['www-authenticate']);
    }
    // Nothing was changed by the attempts.
    const list = await as(ADMIN_TOKEN, 'GET', '/api/v1/services');
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.json)).not.toContain('m1.test');
  });

  it('leaves the admin token able to read /metrics', async () => {
    const r = await as(ADMIN_TOKEN, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^gatehouse_applied_version [0-9]+$/m);
    const none = await json(apiPort, 'GET', '/metrics');
    expect(none.status).toBe(401);
  });

  it('never appears in the log', async () => {
    const text = await readFile(logFile, 'utf8');
    // The log was written (so the check below reads something).
    expect(text).toContain('"level"');
    expect(text).not.toContain(METRICS_TOKEN);
  });

  it('is refused at start when shorter than 16 characters, naming the setting', async () => {
    expect(() => loadSettings({}, { GATEHOUSE_METRICS_TOKEN: 'short-token' })).toThrow(
      'setting GATEHOUSE_METRICS_TOKEN: at least 16 characters',
    );
    expect(() => loadSettings({ metrics_token: 'short-token' }, {})).toThrow(
      'setting --metrics-token: at least 16 characters',
    );
    // The real command: it stops before anything starts, and the value itself is not echoed.
    const dir = await testDir('gh-metrics-short-');
    const r = await cli(['up', '--data-dir', dir], { GATEHOUSE_METRICS_TOKEN: 'short-token' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('GATEHOUSE_METRICS_TOKEN: at least 16 characters');
    expect(r.stderr).not.toContain('short-token');
    await rm(dir, { recursive: true, force: true });
  });
});
