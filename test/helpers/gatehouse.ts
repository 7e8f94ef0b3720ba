import { rm } from 'node:fs/promises';
import { startGatehouse, type Gatehouse } from '../../src/gatehouse.js';
import { loadSettings } from '../../src/model/settings.js';
import { createLogger } from '../../src/observe/log.js';
import { freePort, http, json, type ReqOptions } from './net.js';
import { testDir } from './tmp.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const REGISTER_TOKEN = 'test-register-token-0123456789';

export interface TestGatehouse {
  gh: Gatehouse;
  dataDir: string;
  httpPort: number;
  apiPort: number;
  registerPort: number;
  /** Management API call with the admin token. */
  api(method: string, path: string, body?: unknown): ReturnType<typeof json>;
  /** Registration API call with the register token. */
  reg(method: string, path: string, body?: unknown): ReturnType<typeof json>;
  /** A request through nginx for `host`. */
  get(host: string, path?: string, opts?: ReqOptions): ReturnType<typeof http>;
  close(): Promise<void>;
}

/** Settings for a Gatehouse on free loopback ports (no TLS listener), shared with the benchmarks. */
export async function loopbackSettings(dataDir: string, extra: Record<string, unknown>) {
  const [httpPort, apiPort, registerPort] = [await freePort(), await freePort(), await freePort()];
  const settings = loadSettings(
    {
      data_dir: dataDir,
      http_port: httpPort,
      https_port: 0,
      api_listen: `127.0.0.1:${apiPort}`,
      register_listen: `127.0.0.1:${registerPort}`,
      ...extra,
    },
    {},
  );
  // A caller's own port wins over the one picked here.
  return { settings, httpPort: settings.http_port, apiPort, registerPort };
}

/** Starts a whole Gatehouse (registry, nginx, APIs) on free loopback ports in a temp data dir. */
export async function startTestGatehouse(extra: Record<string, unknown> = {}): Promise<TestGatehouse> {
  const dataDir = await testDir('gh-test-');
  const { settings, httpPort, apiPort, registerPort } = await loopbackSettings(dataDir, {
    admin_token: ADMIN_TOKEN,
    register_token: REGISTER_TOKEN,
    base_domain: 'gw.test',
    nginx_workers: 1,
    ...extra,
  });
  const gh = await startGatehouse(settings, createLogger(process.env.GATEHOUSE_TEST_LOG ?? 'silent'));
  const t: TestGatehouse = {
    gh,
    dataDir,
    httpPort,
    apiPort,
    registerPort,
    api: (method, path, body) =>
      json(apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
    reg: (method, path, body) =>
      json(registerPort, method, path, body, { authorization: `Bearer ${REGISTER_TOKEN}` }),
    get: (host, path = '/', opts = {}) => http(httpPort, host, path, opts),
    // Uses `t.gh`, not the first instance: a test may restart Gatehouse and put the new one there.
    async close() {
      const pid = t.gh.edge.getStatus().proxy.pid;
      await t.gh.close();
      if (pid !== undefined && alive(pid)) throw new Error(`nginx master ${pid} outlived the test`);
      // A worker that is still exiting may write one last file (a log): ENOTEMPTY is retried.
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
  return t;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
