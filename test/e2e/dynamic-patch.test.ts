import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoBackend, http, until, type TestServer } from '../helpers/net.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';

/**
 * Registrations reach nginx's memory as a PATCH of the fast lane's table (the lines that changed),
 * through the real nginx with two workers; the whole table only when a patch cannot say it.
 */
describe('fast lane patches', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  const socket = () => join(t.dataDir, 'nginx', 'run', 'status.sock');
  const endpoint = (method: string, body?: string) =>
    http(0, 'localhost', '/fast-lane', { socketPath: socket(), method, ...(body ? { body } : {}) });
  const status = () => t.gh.edge.getFullStatus();
  const register = async (subdomain: string) => {
    const r = await t.reg('POST', '/register', {
      subdomain,
      backend_ip: '127.0.0.1',
      backend_port: backend.port,
    });
    expect(r.status).toBe(201);
    await t.gh.edge.waitFor(t.gh.registry.version);
  };
  const deregister = async (subdomain: string) => {
    expect((await t.reg('POST', '/deregister', { subdomain })).status).toBe(200);
    await t.gh.edge.waitFor(t.gh.registry.version);
  };
  const stateFile = () => readFileSync(join(t.dataDir, 'nginx', 'current', 'fast-lane.tsv'), 'utf8');
  /** The table the state file describes: its base, then its appended patches (state-journal.ts). */
  const fileTable = () => {
    const table = new Map<string, string>();
    const [base = '', ...sections] = stateFile().split(/^(?=# gatehouse fast lane patch )/m);
    const lines = [...base.split('\n').slice(1), ...sections.flatMap((x) => x.split('\n').slice(1))];
    for (const line of lines) {
      if (line === '' || line.startsWith('# end ')) continue;
      if (line.startsWith('-')) table.delete(line.slice(1));
      else table.set(line.split('\t')[0] as string, line);
    }
    return table;
  };

  beforeAll(async () => {
    backend = await echoBackend('patched');
    t = await startTestGatehouse({ nginx_workers: 2 });
    for (const s of ['seed0', 'seed1', 'seed2']) await register(s);
  });
  afterAll(async () => {
    await t?.close();
    await backend?.close();
  });

  it('register and remove under a request loop: patches, no reload, no failed request', async () => {
    const reloadBefore = (await status()).lastReload;
    let running = true;
    const failures: string[] = [];
    let sent = 0;
    const loop = (async () => {
      while (running) {
        const r = await t.get('seed1.gw.test').catch((e: unknown) => ({ status: 0, body: String(e) }));
        sent++;
        if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 80)}`);
      }
    })();
    await register('p1');
    expect((await status()).lastApplySent).toBe('patch');
    expect((await t.get('p1.gw.test')).status).toBe(200);
    await deregister('p1');
    expect((await status()).lastApplySent).toBe('patch');
    expect((await t.get('p1.gw.test')).status).toBe(404);
    await register('p2');
    expect((await status()).lastApplySent).toBe('patch');
    await new Promise((r) => setTimeout(r, 100));
    running = false;
    await loop;
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(5);
    const s = await status();
    expect(s.lastReload).toEqual(reloadBefore);
    expect(s.lastApplyMode).toBe('dynamic');
    expect(s.lastApplyStages).toEqual({
      wait: expect.any(Number),
      compile: expect.any(Number),
      render: expect.any(Number),
      file: expect.any(Number),
      send: expect.any(Number),
    });
    expect(s.fastLane?.memory).toBe(s.fastLane?.file);
    expect(fileTable().has('p2.gw.test')).toBe(true);
    expect(fileTable().has('p1.gw.test')).toBe(false);
  });

  it('a pool deleted by a patch and then back is a patch too (workers drop parsed pools when the serial moves)', async () => {
    await register('p3');
    expect((await t.get('p3.gw.test')).status).toBe(200);
    await deregister('p3');
    expect((await t.get('p3.gw.test')).status).toBe(404);
    await register('p3');
    expect((await status()).lastApplySent).toBe('patch');
    expect((await t.get('p3.gw.test')).status).toBe(200);
    await register('p4');
    expect((await status()).lastApplySent).toBe('patch');
  });

  it('a stale base is refused with 409 and the driver sends the whole table instead', async () => {
    const before = await status();
    const version = before.fastLane?.memory as string;
    const stale = await endpoint('PATCH', `# gatehouse fast lane patch 0123 4567\n-seed0.gw.test\n`);
    expect(stale.status).toBe(409);
    expect(stale.body).toContain(version);
    expect((await t.get('seed0.gw.test')).status).toBe(200);
    // A table written behind Gatehouse's back: the next patch's base is not nginx's version.
    const other = `# gatehouse fast lane abc\n${[...fileTable().values()].join('\n')}\n`;
    expect((await endpoint('PUT', other)).status).toBe(200);
    await register('p5');
    const s = await status();
    expect(s.lastApplySent).toBe('table');
    expect(s.fastLane?.memory).toBe(s.fastLane?.file);
    expect((await t.get('p5.gw.test')).status).toBe(200);
  });

  it('a malformed patch is refused with 400 naming the line and field, and changes nothing', async () => {
    const version = (await status()).fastLane?.memory as string;
    const good = fileTable().get('seed2.gw.test') as string;
    const extra = good.replace(/^seed2/, 'intruder');
    const cases: [string, string][] = [
      [`${extra}\nevil.gw.test\thttp\t127.0.0.1:80;x\tT\t\n`, 'line 3: address'],
      [`${extra}\nbad host\thttp\t@x\tT\t\n`, 'line 3: host'],
      [`nowhere.gw.test\thttp\t@no-such-pool\tT\t\n`, 'line 2: address names a pool the table lacks'],
      [`-@${good.split('\t')[2]?.slice(1)}\n`, 'line 2: delete'],
      [`-not a key\n`, 'line 2: delete'],
      [`${extra}\n${extra}\n`, 'line 3: host is listed twice'],
      [`@p\thttp\tround_robin\t127.0.0.1:1\t<b>\t\n`, 'line 2: title'],
    ];
    for (const [lines, message] of cases) {
      const res = await endpoint('PATCH', `# gatehouse fast lane patch ${version} abcd\n${lines}`);
      expect(res.status, lines).toBe(400);
      expect(res.body).toContain(message);
    }
    const header = await endpoint('PATCH', `# gatehouse fast lane ${version}\n`);
    expect(header.status).toBe(400);
    expect(header.body).toContain('line 1: header');
    expect((await endpoint('GET')).body).toBe(version);
    expect((await t.get('intruder.gw.test')).status).toBe(404);
    expect((await t.get('seed2.gw.test')).status).toBe(200);
  });

  it('two workers agree on a patched table', async () => {
    await register('p6');
    expect((await status()).lastApplySent).toBe('patch');
    // Each host asked on new connections until both workers have answered it.
    for (const [host, code] of [
      ['p6.gw.test', 200],
      ['p1.gw.test', 404],
    ] as const) {
      const seen = new Set<number>();
      for (let i = 0; i < 400 && seen.size < 2; i++) {
        const r = await viaWorker(t.httpPort, host, t.gh.edge.getStatus().proxy.pid);
        expect(r.status, host).toBe(code);
        if (r.worker) seen.add(r.worker);
      }
      expect(seen.size, host).toBe(2);
    }
  });

  it('a restarted nginx loads the patched table from its file', async () => {
    const master = t.gh.edge.getStatus().proxy.pid as number;
    process.kill(master, 'SIGKILL');
    await until(async () => {
      const pid = t.gh.edge.getStatus().proxy.pid;
      if (!pid || pid === master || !t.gh.edge.getStatus().proxy.running) return undefined;
      return (await t.get('p6.gw.test').catch(() => undefined))?.status === 200 ? true : undefined;
    }, 15_000);
    for (const h of ['p2', 'p3', 'p4', 'p5', 'p6', 'seed0'])
      expect((await t.get(`${h}.gw.test`)).status).toBe(200);
    expect((await t.get('p1.gw.test')).status).toBe(404);
    const s = await status();
    expect(s.fastLane?.memory).toBe(s.fastLane?.file);
    // And the next registration patches the table the restarted nginx loaded.
    await register('p7');
    expect((await status()).lastApplySent).toBe('patch');
    expect((await t.get('p7.gw.test')).status).toBe(200);
  });
});

/**
 * A request on a connection of its own, and the nginx worker that accepted it (found by the
 * connection's socket among each worker's open files while it is still open).
 */
async function viaWorker(
  port: number,
  host: string,
  master: number | undefined,
): Promise<{ status: number; worker?: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    return await new Promise((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: '/', headers: { host }, agent }, (res) => {
        // Kept alive: the connection is still open on nginx's side once the answer has ended.
        const local = res.socket.localPort;
        res.resume();
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            worker: local && master ? ownerOf(port, local, master) : undefined,
          });
        });
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    agent.destroy();
  }
}

/** The worker of `master` holding the accepted end of the connection from client port `local`. */
function ownerOf(port: number, local: number, master: number): number | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .find((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex(port)}`) && f[2]?.endsWith(`:${hex(local)}`);
    });
  const inode = line?.trim().split(/\s+/)[9];
  if (!inode) return undefined;
  const workers = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  for (const w of workers) {
    const fds = readdirSync(`/proc/${w}/fd`);
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${w}/fd/${fd}`) === `socket:[${inode}]`) return w;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
