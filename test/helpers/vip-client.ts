import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type Lab, until } from './netns.js';

/** A client in its own namespace that asks the VIP every few milliseconds, on a fresh connection. */
export interface Probe {
  start: number;
  end: number;
  status: number;
  ok: boolean;
}

export interface Gap {
  /** End of the last good answer before `at`. */
  lastOkBefore: number;
  /** End of the first good answer to a request sent after `at`. */
  firstOkAfter: number;
  gapMs: number;
}

/**
 * Runs in the client's namespace (plain JS: a child process cannot load TypeScript). Probes the VIP
 * every 10 ms, a new connection each time (so each one goes wherever ARP points now), and answers
 * one-off checks of a list of hosts asked on stdin.
 */
const CLIENT_JS = `
const http = require('node:http');
const [vip, host, timeoutMs] = process.argv.slice(1);
const now = () => performance.timeOrigin + performance.now();
const get = (h, timeout) => new Promise((resolve) => {
  const req = http.request({ host: vip, port: 80, path: '/', headers: { host: h }, agent: false, timeout }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode === 200 && res.headers['x-backend'] ? 200 : res.statusCode || -1));
    res.on('error', () => resolve(-1));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve(-1));
  req.end();
});
// A new request every 10 ms whatever the others do: one stuck on the dead host does not hold the
// next back, so the first answer after a failover is seen within ~10 ms of the VIP answering.
setInterval(async () => {
  const s = now();
  const status = await get(host, Number(timeoutMs));
  process.stdout.write('p ' + s.toFixed(1) + ' ' + now().toFixed(1) + ' ' + status + '\\n');
}, 10);
require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, hosts } = JSON.parse(line);
  const statuses = await Promise.all(hosts.map((h) => get(h, 2000)));
  process.stdout.write('c ' + id + ' ' + JSON.stringify(statuses) + '\\n');
}).on('close', () => process.exit(0));
`;

/** A client in its own namespace sending requests to the VIP every 10 ms. */
export class VipClient {
  readonly probes: Probe[] = [];
  private readonly pending = new Map<number, (statuses: number[]) => void>();
  private nextId = 1;

  constructor(private readonly child: ChildProcess) {
    if (!child.stdout) throw new Error('the client needs a stdout pipe');
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, a = '', b = '', c = ''] = line.split(' ');
      if (kind === 'p') {
        const status = Number(c);
        this.probes.push({ start: Number(a), end: Number(b), status, ok: status === 200 });
      } else if (kind === 'c') {
        this.pending.get(Number(a))?.(JSON.parse(line.slice(line.indexOf(' ', 2) + 1)) as number[]);
        this.pending.delete(Number(a));
      }
    });
  }

  static start(lab: Lab, host: string, vip: string, serviceHost: string, timeoutMs = 1000): VipClient {
    return new VipClient(
      lab.spawn(host, process.execPath, ['-e', CLIENT_JS, vip, serviceHost, String(timeoutMs)]),
    );
  }

  /** The HTTP status each host answers through the VIP (200: served by the backend). */
  check(hosts: string[]): Promise<number[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the client did not answer')), 10_000);
      this.pending.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.child.stdin?.write(`${JSON.stringify({ id, hosts })}\n`);
    });
  }

  /** The first good answer after `at`, once there is one (undefined until then). */
  gapAfter(at: number): Gap | undefined {
    // Requests overlap, so their answers arrive out of order: compare end times, not positions.
    const ends = (ps: Probe[]) => ps.map((p) => p.end);
    const before = Math.max(...ends(this.probes.filter((p) => p.ok && p.end <= at)));
    const after = Math.min(...ends(this.probes.filter((p) => p.ok && p.start >= at)));
    if (!Number.isFinite(before) || !Number.isFinite(after)) return undefined;
    return { lastOkBefore: before, firstOkAfter: after, gapMs: after - before };
  }

  /** Waits for the first good answer after `at`. */
  waitServedAfter(at: number, timeoutMs: number): Promise<Gap> {
    return until('the VIP serving again', () => this.gapAfter(at), timeoutMs, 10);
  }

  /** The longest stretch without a good answer between `from` and `to`. */
  longestGap(from: number, to: number): number {
    const ok = this.probes
      .filter((p) => p.ok && p.end >= from && p.end <= to)
      .map((p) => p.end)
      .sort((x, y) => x - y);
    let worst = 0;
    for (let i = 1; i < ok.length; i++) worst = Math.max(worst, (ok[i] as number) - (ok[i - 1] as number));
    return worst;
  }
}
