import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';

const root = resolve(import.meta.dirname, '..', '..');

/** The built CLI over the running Gatehouse's local unix socket (it cannot know the API's URL). */
function cli(
  dataDir: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), '--data-dir', dataDir, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/**
 * `control_url`: the `--control` URL in the commands `site add` and `node add` print. Unset, over
 * the unix socket, the command keeps a placeholder and the CLI says how to set it.
 */
describe('control_url in the printed commands', () => {
  let unset: TestGatehouse;
  let set: TestGatehouse;

  beforeAll(async () => {
    [unset, set] = await Promise.all([
      startTestGatehouse(),
      startTestGatehouse({ control_url: 'https://cp.example.test:7070/' }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await unset?.close();
    await set?.close();
  });

  it('set: site add and node add print a complete command', async () => {
    const site = await cli(set.dataDir, ['site', 'add', 'home', '--subnet', '192.168.1.0/24']);
    expect(site.code, site.stderr).toBe(0);
    expect(site.stdout).toMatch(
      /gatehouse site connect --control https:\/\/cp\.example\.test:7070 --site-token \S+ home/,
    );
    expect(site.stdout).not.toContain('control_url');
    const node = await cli(set.dataDir, ['node', 'add', 'vps']);
    expect(node.code, node.stderr).toBe(0);
    expect(node.stdout).toMatch(/gatehouse edge --control https:\/\/cp\.example\.test:7070 --node-token \S+/);
  });

  it('unset: the placeholder, and how to set control_url', async () => {
    const site = await cli(unset.dataDir, ['site', 'add', 'home']);
    expect(site.code, site.stderr).toBe(0);
    expect(site.stdout).toContain("--control <this API's URL>");
    expect(site.stdout).toContain('set control_url');
    const node = await cli(unset.dataDir, ['node', 'add', 'vps']);
    expect(node.stdout).toContain('set control_url');
  });
});
