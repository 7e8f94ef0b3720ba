import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { shellQuote } from '../../src/edge/ha.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from './gatehouse.js';
import { startHetznerCloudFake, type HetznerCloudFake } from './hetzner-cloud-fake.js';
import { echoBackend, freePort, http, type TestServer } from './net.js';
import {
  childrenOf,
  GATEHOUSE_BIN,
  kill,
  Lab,
  now,
  requirePrerequisites,
  run,
  runCli,
  until,
  type CliResult,
} from './netns.js';
import { testDir } from './tmp.js';
import { VipClient } from './vip-client.js';

/** Two edge nodes sharing a VIP through real keepalived, driven by a control plane in this process. */
export interface EdgeNodeOptions {
  control: string;
  token: string;
  priority: number;
  peer: string;
  vip: string;
  routerId: number;
  onMaster?: string;
}

/** One edge of the pair: the edge agent (with its nginx) and keepalived, in the host's namespace. */
export class EdgeNode {
  agent: ChildProcess | undefined;
  keepalived: ChildProcess | undefined;
  readonly haDir: string;

  private constructor(
    readonly lab: Lab,
    readonly name: string,
    readonly edgeDir: string,
    readonly o: EdgeNodeOptions,
  ) {
    this.haDir = join(lab.dir, `ha-${name}`);
  }

  static async create(lab: Lab, name: string, o: EdgeNodeOptions): Promise<EdgeNode> {
    // Its own temp dir: nginx workers (nobody) must get through to it.
    return new EdgeNode(lab, name, await testDir(`gh-ha-edge-${name}-`), o);
  }

  get ip(): string {
    return this.lab.ip(this.name);
  }

  /** `gatehouse ha keepalived` with this node's values, as an operator would run it. */
  async configure(): Promise<CliResult> {
    await mkdir(this.haDir, { recursive: true });
    const r = await runCli([
      'ha',
      'keepalived',
      '--out',
      this.haDir,
      '--interface',
      'eth0',
      '--vip',
      `${this.o.vip}/24`,
      '--peer',
      this.o.peer,
      '--source-ip',
      this.ip,
      '--priority',
      String(this.o.priority),
      '--router-id',
      String(this.o.routerId),
      ...(this.o.onMaster ? ['--on-master', this.o.onMaster] : []),
    ]);
    if (r.status !== 0) throw new Error(`gatehouse ha keepalived failed: ${r.stderr}`);
    // keepalived's own check of the file, in the namespace where the interface exists.
    const conf = join(this.haDir, 'keepalived.conf');
    try {
      await run('ip', ['netns', 'exec', this.lab.ns(this.name), 'keepalived', '-t', '-l', '-f', conf]);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`keepalived -t refused ${conf}: ${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    return r;
  }

  startAgent(): void {
    this.agent = this.lab.spawn(
      this.name,
      process.execPath,
      [
        GATEHOUSE_BIN,
        'edge',
        '--control',
        this.o.control,
        '--node-token',
        this.o.token,
        '--edge-dir',
        this.edgeDir,
        '--edge-http-port',
        '80',
        // The control URL is plain HTTP on the lab's private bridge.
        '--insecure-control',
        '--log-level',
        process.env.GATEHOUSE_TEST_LOG ?? 'warn',
      ],
      `agent-${this.name}.log`,
    );
  }

  /**
   * keepalived's pid files, like /run: emptied by a reboot. Here a killed VRRP process can stay a
   * zombie (PID 1 does not reap orphans), and keepalived would take its pid file for a live one.
   */
  get runDir(): string {
    return join(this.lab.dir, `run-${this.name}`);
  }

  startKeepalived(): void {
    mkdirSync(this.runDir, { recursive: true });
    this.keepalived = this.lab.spawn(
      this.name,
      'keepalived',
      [
        '-n',
        '-l',
        '-D',
        '-P',
        '-f',
        join(this.haDir, 'keepalived.conf'),
        '-p',
        join(this.runDir, 'keepalived.pid'),
        '-r',
        join(this.runDir, 'vrrp.pid'),
      ],
      `keepalived-${this.name}.log`,
    );
  }

  /** Whether this edge's own nginx serves `host` from the backend (asked from the root namespace). */
  async serves(host: string): Promise<boolean> {
    const r = await http(80, host, '/', { address: this.ip, timeoutMs: 1000 }).catch(() => undefined);
    return r?.status === 200 && r.headers['x-backend'] !== undefined;
  }

  holdsVip(): boolean {
    return this.lab.addresses(this.name).includes(this.o.vip);
  }

  /** Where this boot's part of notify.log starts: what a dead host logged is history. */
  private logMark = 0;

  /** The state notify.sh last logged since this host (re)started (MASTER, BACKUP, FAULT), if any. */
  state(): string | undefined {
    const lines = this.notifyLog().slice(this.logMark).trim().split('\n');
    return [...lines]
      .reverse()
      .map((l) => / is now ([A-Z]+) /.exec(l)?.[1])
      .find(Boolean);
  }

  notifyLog(): string {
    try {
      return readFileSync(join(this.haDir, 'notify.log'), 'utf8');
    } catch {
      return '';
    }
  }

  waitState(state: string, timeoutMs: number): Promise<true> {
    return until(
      () => `${this.name} ${state}\n${this.diagnostics()}`,
      () => (this.state() === state ? true : undefined),
      timeoutMs,
    );
  }

  private pidFrom(file: string): number | undefined {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      return Number.isInteger(pid) && pid > 1 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The host dies: keepalived (its VRRP process first, so nothing says goodbye with a priority-0
   * advert), the edge agent, nginx and its workers, all SIGKILLed, and its cable pulled. Returns
   * when it happened (`now()`).
   */
  crash(): number {
    const vrrp = this.pidFrom(join(this.runDir, 'vrrp.pid'));
    const nginx = this.pidFrom(join(this.edgeDir, 'nginx', 'run', 'nginx.pid'));
    const workers = nginx === undefined ? [] : childrenOf(nginx);
    const at = now();
    kill(vrrp, 'SIGKILL');
    kill(this.keepalived?.pid, 'SIGKILL');
    kill(this.agent?.pid, 'SIGKILL');
    kill(nginx, 'SIGKILL');
    for (const w of workers) kill(w, 'SIGKILL');
    this.lab.linkDown(this.name);
    this.logMark = this.notifyLog().length;
    return at;
  }

  /** Back after a reboot: addresses as at boot (no stale VIP), cable in, agent and keepalived started. */
  async reboot(): Promise<void> {
    await rm(this.runDir, { recursive: true, force: true });
    await this.lab.delAddress(this.name, `${this.o.vip}/24`);
    await this.lab.linkUp(this.name);
    this.startAgent();
    this.startKeepalived();
  }

  diagnostics(): string {
    return [
      `-- keepalived-${this.name}.log`,
      this.lab.tail(`keepalived-${this.name}.log`, 8),
      `-- agent-${this.name}.log`,
      this.lab.tail(`agent-${this.name}.log`, 5),
      `-- notify.log`,
      this.notifyLog().trimEnd().split('\n').slice(-6).join('\n'),
    ].join('\n');
  }
}

export interface HaPairOptions {
  /** Run `gatehouse ha hetzner-floating-ip` against a fake of the Hetzner Cloud API on becoming master. */
  hetzner?: boolean;
  tag?: string;
}

export const HETZNER = { token: 'fake-hcloud-token-0123456789', floatingIp: 7, servers: { a: 101, b: 102 } };

/**
 * The whole setup: a control plane in this process, a backend, two enrolled edges `a` (priority 150)
 * and `b` (100) running keepalived with one VIP, and a client `c` probing the VIP. `a` is started
 * first and is MASTER, `b` BACKUP, when this resolves. On any failure, what was started is stopped.
 */
export class HaPair {
  lab!: Lab;
  t!: TestGatehouse;
  backend!: TestServer;
  fake: HetznerCloudFake | undefined;
  a!: EdgeNode;
  b!: EdgeNode;
  client!: VipClient;
  apiPort = 0;
  readonly service = 'web';
  /** The edges' dirs, recorded as soon as made: removed by close() even after a partial start. */
  private readonly edgeDirs: string[] = [];

  get vip(): string {
    return this.lab.addr(100);
  }

  host(subdomain: string): string {
    return `${subdomain}.gw.test`;
  }

  static async start(o: HaPairOptions = {}): Promise<HaPair> {
    const p = new HaPair();
    try {
      await p.setUp(o);
      return p;
    } catch (err) {
      await p.close();
      throw err;
    }
  }

  /** The management API with the admin token, on the address the edges use too. */
  async api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const r = await http(this.apiPort, 'gatehouse', path, {
      address: this.lab.rootIp,
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as Record<string, unknown>;
  }

  /** Whether the control plane says `node` has applied its current config. */
  async inSync(node: EdgeNode): Promise<boolean> {
    const { nodes } = (await this.api('GET', '/api/v1/nodes')) as {
      nodes: { name: string; in_sync: boolean }[];
    };
    return nodes.some((n) => n.name === `edge-${node.name}` && n.in_sync);
  }

  /** Registers `subdomain` → the backend through the registration API, as a SaaS backend would. */
  async register(subdomain: string): Promise<number> {
    const r = await this.t.reg('POST', '/register', {
      subdomain,
      backend_ip: this.lab.rootIp,
      backend_port: this.backend.port,
    });
    return r.status;
  }

  private async setUp(o: HaPairOptions): Promise<void> {
    requirePrerequisites();
    this.lab = await Lab.create(['a', 'b', 'c'], o.tag);
    this.backend = await echoBackend('app', 0, this.lab.rootIp);
    // The management API (and the edges' long-poll) on the root's bridge address, not on 0.0.0.0.
    this.apiPort = await freePort();
    this.t = await startTestGatehouse({ api_listen: `${this.lab.rootIp}:${this.apiPort}` });
    if ((await this.register(this.service)) >= 300) throw new Error('registering the first service failed');
    let tokenFile = '';
    if (o.hetzner) {
      this.fake = await startHetznerCloudFake({
        token: HETZNER.token,
        floatingIps: [HETZNER.floatingIp],
        servers: Object.values(HETZNER.servers),
        host: this.lab.rootIp,
      });
      tokenFile = join(this.lab.dir, 'hcloud-token');
      await writeFile(tokenFile, `${HETZNER.token}\n`, { mode: 0o600 });
    }
    const node = async (name: 'a' | 'b', peer: 'a' | 'b', priority: number) => {
      const { token } = await this.api('POST', '/api/v1/nodes', { name: `edge-${name}`, role: 'public' });
      const onMaster = this.fake
        ? [
            process.execPath,
            GATEHOUSE_BIN,
            'ha',
            'hetzner-floating-ip',
            '--floating-ip-id',
            String(HETZNER.floatingIp),
            '--server-id',
            String(HETZNER.servers[name]),
            '--token-file',
            tokenFile,
            '--api-url',
            this.fake.url,
            '--wait',
            '10',
          ]
            .map(shellQuote)
            .join(' ')
        : undefined;
      const n = await EdgeNode.create(this.lab, name, {
        control: `http://${this.lab.rootIp}:${this.apiPort}`,
        token: String(token),
        priority,
        peer: this.lab.ip(peer),
        vip: this.vip,
        routerId: 42,
        onMaster,
      });
      this.edgeDirs.push(n.edgeDir);
      await n.configure();
      return n;
    };
    [this.a, this.b] = await Promise.all([node('a', 'b', 150), node('b', 'a', 100)]);
    const web = this.host(this.service);
    for (const n of [this.a, this.b]) n.startAgent();
    for (const n of [this.a, this.b]) {
      await until(
        () => `${n.name} serving ${web}\n${n.diagnostics()}`,
        () => {
          const agent = n.agent;
          if (agent && (agent.exitCode !== null || agent.signalCode !== null)) {
            throw new Error(`the agent on ${n.name} exited:\n${n.diagnostics()}`);
          }
          return n.serves(web).then((s) => s || undefined);
        },
        15_000,
      );
    }
    // a first, so that it is the master from the start (b would otherwise win a race to be ready).
    this.a.startKeepalived();
    await this.a.waitState('MASTER', 10_000);
    this.b.startKeepalived();
    await this.b.waitState('BACKUP', 10_000);
    this.client = VipClient.start(this.lab, 'c', this.vip, web);
    await until(
      'the client served through the VIP',
      () => this.client.probes.some((p) => p.ok) || undefined,
      5000,
    );
  }

  diagnostics(): string {
    return [this.a?.diagnostics(), this.b?.diagnostics()].filter(Boolean).join('\n');
  }

  /** Stops everything, in reverse order of starting; safe after a partial start. */
  async close(): Promise<void> {
    await this.lab?.destroy();
    await this.fake?.close();
    await this.t?.close();
    await this.backend?.close();
    for (const d of this.edgeDirs) await rm(d, { recursive: true, force: true });
  }
}
