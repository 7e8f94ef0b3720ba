import type { ChildProcess } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { REGISTER_TOKEN } from './gatehouse.js';
import { echoBackend, http, type TestServer } from './net.js';
import { GATEHOUSE_BIN, kill, Lab, requirePrerequisites, run, until } from './netns.js';
import { REPLICA_ADMIN, cleanEnv } from './replicas.js';
import { testDir } from './tmp.js';

/**
 * The two-machine layout of docs/ha.md ("Two machines, no third") in network namespaces: machines
 * `a` and `b`, each running a control-plane replica (`gatehouse up`, its own data dir, one database
 * URL) and an edge (`gatehouse edge --register-listen :9876`, following its own replica first, then
 * the other's); PostgreSQL on a third host `db`; the backend and the clients in this process, on the
 * lab's root address. Every address is in the lab's private /24; every process is stopped by PID.
 */

export const BASE_DOMAIN = 'two.test';
const SECRET = 'two-machines-secret-0123456789';
/** The same ports on both machines (each machine is its own namespace). */
export const PORTS = {
  api: 7070,
  replicaHttp: 8080,
  replicaRegister: 9875,
  edgeHttp: 80,
  edgeRegister: 9876,
};

export type MachineName = 'a' | 'b';

/** PostgreSQL in the lab's `db` namespace, listening on that host's address only. */
async function startPostgresIn(lab: Lab): Promise<{ url: string; stop: () => Promise<void> }> {
  const base = await testDir('gh-two-pg-');
  const dir = join(base, 'cluster');
  await mkdir(dir, { mode: 0o700 });
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  await chown(dir, uid, gid);
  await chmod(base, 0o711);
  const bin = async (name: string) => {
    const { stdout } = await run('sh', ['-c', `ls -d /usr/lib/postgresql/*/bin/${name} | sort -V | tail -1`]);
    return stdout.trim() || name;
  };
  const [initdb, pgCtl] = [await bin('initdb'), await bin('pg_ctl')];
  const inNs = (cmd: string, args: string[]) =>
    run('ip', ['netns', 'exec', lab.ns('db'), 'runuser', '-u', 'postgres', '--', cmd, ...args], {
      timeout: 60_000,
    });
  await inNs(initdb, ['-D', dir, '-A', 'trust', '--locale=C', '-E', 'UTF8']);
  await appendFile(join(dir, 'pg_hba.conf'), `host all all ${lab.addr(0)}/24 trust\n`);
  const ip = lab.ip('db');
  // PostgreSQL's own defaults: how soon a dead machine's sessions go is Gatehouse's to ask for.
  const opts = `-k ${dir} -p 5432 -c listen_addresses=${ip}`;
  await inNs(pgCtl, ['-D', dir, '-l', join(dir, 'log'), '-o', opts, '-w', 'start']);
  const admin = new pg.Client({ connectionString: `postgres://postgres@${ip}:5432/postgres` });
  await admin.connect();
  await admin.query('create database gatehouse');
  await admin.end();
  return {
    url: `postgres://postgres@${ip}:5432/gatehouse`,
    async stop() {
      await inNs(pgCtl, ['-D', dir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** One proxy machine: its replica and its edge, in its namespace. */
export class Machine {
  replica: ChildProcess | undefined;
  edge: ChildProcess | undefined;
  dead = false;

  constructor(
    readonly lab: Lab,
    readonly name: MachineName,
    readonly dataDir: string,
    readonly edgeDir: string,
  ) {}

  get ip(): string {
    return this.lab.ip(this.name);
  }

  get apiUrl(): string {
    return `http://${this.ip}:${PORTS.api}`;
  }

  /** `gatehouse up` as docs/ha.md shows it: API on the private address, registration on loopback. */
  startReplica(databaseUrl: string): void {
    this.replica = this.lab.spawn(
      this.name,
      'env',
      [
        '-i',
        ...Object.entries({
          ...cleanEnv(),
          GATEHOUSE_DATABASE_URL: databaseUrl,
          GATEHOUSE_SECRET: SECRET,
          GATEHOUSE_ADMIN_TOKEN: REPLICA_ADMIN,
          GATEHOUSE_REGISTER_TOKEN: REGISTER_TOKEN,
          GATEHOUSE_BASE_DOMAIN: BASE_DOMAIN,
          GATEHOUSE_REPLICA_NAME: `gh-${this.name}`,
          GATEHOUSE_NGINX_WORKERS: '1',
          GATEHOUSE_LOG_FORMAT: 'json',
        }).map(([k, v]) => `${k}=${v ?? ''}`),
        process.execPath,
        GATEHOUSE_BIN,
        'up',
        ...['--data-dir', this.dataDir, '--api-listen', `${this.ip}:${PORTS.api}`],
        ...['--http-port', String(PORTS.replicaHttp), '--https-port', '0'],
        ...['--register-listen', `127.0.0.1:${PORTS.replicaRegister}`, '--log-level', 'warn'],
      ],
      `replica-${this.name}.log`,
    );
  }

  /** `gatehouse edge`, its own replica first, then the other machine's. */
  startEdge(token: string, other: Machine): void {
    this.edge = this.lab.spawn(
      this.name,
      process.execPath,
      [
        GATEHOUSE_BIN,
        'edge',
        ...['--control', `${this.apiUrl},${other.apiUrl}`, '--insecure-control', '--node-token', token],
        ...['--edge-dir', this.edgeDir, '--edge-http-port', String(PORTS.edgeHttp), '--edge-https-port', '0'],
        ...['--register-listen', `:${PORTS.edgeRegister}`, '--log-level', 'warn'],
      ],
      `edge-${this.name}.log`,
    );
  }

  /**
   * The machine dies: its cable is pulled first (so nothing it had open hears a reset: connections
   * to it hang as to a dead host), then every process in its namespace (replica, edge agent, both
   * nginx masters and their workers) gets SIGKILL by PID. Returns the PIDs killed.
   */
  async crash(): Promise<number[]> {
    this.lab.linkDown(this.name);
    this.dead = true;
    const { stdout } = await run('ip', ['netns', 'pids', this.lab.ns(this.name)]);
    const pids = stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) kill(pid, 'SIGKILL');
    return pids;
  }

  diagnostics(): string {
    return [
      `-- replica-${this.name}.log`,
      this.lab.tail(`replica-${this.name}.log`, 8),
      `-- edge-${this.name}.log`,
      this.lab.tail(`edge-${this.name}.log`, 8),
    ].join('\n');
  }
}

/** The whole layout, started and ready: both edges take registrations and serve. */
export class TwoMachines {
  lab!: Lab;
  backend!: TestServer;
  a!: Machine;
  b!: Machine;
  databaseUrl = '';
  private pgStop: (() => Promise<void>) | undefined;
  private readonly dirs: string[] = [];

  static async start(tag: string): Promise<TwoMachines> {
    const t = new TwoMachines();
    try {
      await t.setUp(tag);
      return t;
    } catch (err) {
      const diag = [t.a?.diagnostics(), t.b?.diagnostics()].filter(Boolean).join('\n');
      await t.close();
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${diag}`);
    }
  }

  machine(name: MachineName): Machine {
    return name === 'a' ? this.a : this.b;
  }

  /** The management API of a machine's replica, with the admin token. */
  async api(m: Machine, method: string, path: string, body?: unknown) {
    const r = await http(PORTS.api, m.ip, path, {
      address: m.ip,
      method,
      headers: { authorization: `Bearer ${REPLICA_ADMIN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: JSON.parse(r.body || '{}') as Record<string, unknown> };
  }

  /** A SQL query on the shared database (from this process, over the lab's bridge). */
  async query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
    const c = new pg.Client({ connectionString: this.databaseUrl });
    await c.connect();
    try {
      return (await c.query<R>(text)).rows;
    } finally {
      await c.end();
    }
  }

  private async setUp(tag: string): Promise<void> {
    requirePrerequisites();
    this.lab = await Lab.create(['a', 'b', 'db'], tag);
    this.backend = await echoBackend('app', 0, this.lab.rootIp);
    const pgc = await startPostgresIn(this.lab);
    this.pgStop = pgc.stop;
    this.databaseUrl = pgc.url;
    const make = async (name: MachineName) => {
      const [data, edge] = [await testDir(`gh-two-${name}-`), await testDir(`gh-two-edge-${name}-`)];
      this.dirs.push(data, edge);
      return new Machine(this.lab, name, data, edge);
    };
    [this.a, this.b] = [await make('a'), await make('b')];
    // One after the other: the first runs the migrations (the second would wait on their lock).
    for (const m of [this.a, this.b]) {
      m.startReplica(this.databaseUrl);
      await until(
        () => `replica ${m.name} answering\n${m.diagnostics()}`,
        async () => {
          if (m.replica?.exitCode !== null) throw new Error(`replica ${m.name} exited\n${m.diagnostics()}`);
          const r = await http(PORTS.api, m.ip, '/healthz', { address: m.ip, timeoutMs: 2000 }).catch(
            () => undefined,
          );
          return r?.status === 200 || undefined;
        },
        60_000,
        100,
      );
    }
    for (const [m, other] of [
      [this.a, this.b],
      [this.b, this.a],
    ] as const) {
      const node = await this.api(this.a, 'POST', '/api/v1/nodes', {
        name: `proxy-${m.name}`,
        role: 'public',
      });
      if (node.status !== 201) throw new Error(`node add proxy-${m.name}: ${node.status}`);
      m.startEdge(String(node.json.token), other);
    }
    for (const m of [this.a, this.b]) {
      await until(
        () => `edge ${m.name} taking registrations\n${m.diagnostics()}`,
        async () => {
          if (m.edge?.exitCode !== null) throw new Error(`edge ${m.name} exited\n${m.diagnostics()}`);
          const r = await http(PORTS.edgeRegister, m.ip, '/health', { address: m.ip, timeoutMs: 2000 }).catch(
            () => undefined,
          );
          return (r !== undefined && r.status > 0 && r.status < 500) || undefined;
        },
        60_000,
        100,
      );
    }
  }

  /** Stops everything (the lab's processes by PID, PostgreSQL), removes the dirs. */
  async close(): Promise<void> {
    await this.pgStop?.();
    await this.lab?.destroy();
    await this.backend?.close();
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}
