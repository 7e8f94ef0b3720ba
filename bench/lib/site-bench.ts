import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Res } from '../../test/helpers/net.js';
import { until } from '../../test/helpers/net.js';
import { buildHomeLab, type HomeLab } from '../../test/helpers/home-lab.js';
import { backendScript, EDGE_HTTP, type SiteLab } from '../../test/helpers/site-lab.js';
import { cpuSnapshot, type CpuSnapshot } from './proc-cpu.js';
import { parseWrk, type WrkResult } from './wrk.js';

export { EDGE_HTTP };
export const HOME_HOST = 'app.home.test';
export const LOCAL_HOST = 'app.local.test';

/**
 * The e2e tests' site lab (buildHomeLab in test/helpers/home-lab.ts) for the issue 16 figures: a
 * control plane in this process, a VPS edge agent with a WireGuard server in the "inet" namespace,
 * a home behind NAT whose connector dials it, and two services on the VPS edge: one whose upstream
 * is the NAS at home (through the tunnel), one whose upstream is the same kind of backend on the
 * VPS's own loopback.
 */
export class SiteBench {
  private constructor(readonly hl: HomeLab) {}

  get lab(): SiteLab {
    return this.hl.lab;
  }

  static async start(): Promise<SiteBench> {
    const hl = await buildHomeLab({
      nasBody: () => 'ok',
      logLevel: 'warn',
      services: {
        homeapp: { host: HOME_HOST, upstream: '192.168.77.20:8080' },
        localapp: { host: LOCAL_HOST, upstream: '127.0.0.1:9090' },
      },
    });
    try {
      hl.lab.spawn('inet', process.execPath, ['-e', backendScript('127.0.0.1', 9090, 'ok')], 'local.log');
      const b = new SiteBench(hl);
      const site = await hl.addSite('home', { subnets: ['192.168.77.0/24'] });
      await hl.connect('home', site.command);
      await until(async () => ((await b.get(LOCAL_HOST)).status === 200 ? true : undefined), 30_000, 200);
      await until(
        async () => ((await b.get(HOME_HOST)).status === 200 ? true : undefined),
        30_000,
        200,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${hl.logs()}`);
      });
      return b;
    } catch (err) {
      await hl.close();
      throw err;
    }
  }

  /** One request through the VPS edge's nginx (from the root namespace); status 0 on no answer. */
  get(host: string, timeoutMs = 2000): Promise<Res> {
    return this.hl.via('inet', host, timeoutMs);
  }

  /** wrk inside the VPS namespace against its own nginx on loopback (the client is not the link). */
  wrk(host: string, seconds: number, connections: number): Promise<WrkResult> {
    const args = ['netns', 'exec', this.lab.ns('inet'), 'wrk', '-t1', `-c${connections}`];
    args.push(`-d${seconds}s`, '-H', `Host: ${host}`, `http://127.0.0.1:${EDGE_HTTP}/`);
    return new Promise((resolve, reject) => {
      execFile('ip', args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`wrk ${host}: ${err.message} ${stderr}`.trim()));
        try {
          resolve(parseWrk(stdout));
        } catch (e) {
          reject(new Error(`wrk ${host}: ${(e as Error).message}\n${stdout}`));
        }
      });
    });
  }

  /** CPU so far of both tunnel ends' wireguard-go processes (the VPS edge's and the connector's). */
  async wireguardCpu(): Promise<CpuSnapshot> {
    const pids: number[] = [];
    for (const h of ['inet', 'lan'] as const) {
      const { stdout } = await this.lab.exec(h, 'ip', ['netns', 'pids', this.lab.ns(h)]);
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
        const comm = (() => {
          try {
            return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          } catch {
            return '';
          }
        })();
        if (comm === 'wireguard-go') pids.push(pid);
      }
    }
    return cpuSnapshot(pids, false);
  }

  async close(): Promise<void> {
    await this.hl.close();
  }
}
