import { join } from 'node:path';
import type { EdgeConfig } from '../compile/edge-config.js';
import { NginxDriver } from '../drivers/nginx/driver.js';
import type { Logger } from '../observe/log.js';

export interface AgentOptions {
  /** The control plane's management API, e.g. http://10.0.0.1:7070. */
  control: string;
  token: string;
  dataDir: string;
  httpPort: number;
  nginxBin: string;
  modulesDir: string;
  workers: number;
  log: Logger;
}

/**
 * An edge node: long-polls the control plane with the config hash it holds, applies each new config
 * through its own nginx (the same driver as the control plane's local edge) and reports what it
 * applied. Only outgoing requests: an edge behind NAT works.
 */
export class EdgeAgent {
  private stopped = false;
  private abort = new AbortController();
  private have = '';
  readonly driver: NginxDriver;

  constructor(private readonly o: AgentOptions) {
    this.driver = new NginxDriver({
      bin: o.nginxBin,
      prefix: join(o.dataDir, 'nginx'),
      modulesDir: o.modulesDir,
      workers: o.workers,
      log: o.log.child({ part: 'nginx' }),
    });
  }

  async run(): Promise<void> {
    await this.driver.init();
    while (!this.stopped) {
      try {
        const res = await fetch(
          `${this.o.control.replace(/\/$/, '')}/edge/v1/config?have=${this.have}&wait=25`,
          {
            headers: { authorization: `Bearer ${this.o.token}` },
            signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(40_000)]),
          },
        );
        if (res.status === 204) continue;
        if (res.status === 401) throw new Error('the control plane refused this node token');
        if (!res.ok) throw new Error(`control plane answered ${res.status}`);
        const body = (await res.json()) as { hash: string; version: number; config: EdgeConfig };
        // This edge's own listeners; the config's identity stays the control plane's hash.
        const cfg: EdgeConfig = { ...body.config, listeners: { http: this.o.httpPort, https: 0 } };
        const t0 = performance.now();
        await this.driver.apply(cfg);
        this.have = body.hash;
        this.o.log.info({ version: body.version, ms: Math.round(performance.now() - t0) }, 'config applied');
        await this.report('');
      } catch (err) {
        if (this.stopped) break;
        const message = err instanceof Error ? err.message : String(err);
        this.o.log.warn({ err: message }, 'edge: could not get or apply the config; retrying');
        await this.report(message).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async report(error: string): Promise<void> {
    await fetch(`${this.o.control.replace(/\/$/, '')}/edge/v1/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ applied_hash: this.have, error: error.slice(0, 1000) }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.driver.stop();
  }
}
