import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
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

  /** The last good config, sealed with a key derived from the node token (only this node reads it). */
  private get cacheFile(): string {
    return join(this.o.dataDir, 'state.cache');
  }

  private cacheKey(): Buffer {
    return scryptSync(this.o.token, 'gatehouse edge cache v1', 32);
  }

  private async saveCache(body: unknown): Promise<void> {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.cacheKey(), iv);
    const data = Buffer.concat([c.update(JSON.stringify(body), 'utf8'), c.final()]);
    const tmp = `${this.cacheFile}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, Buffer.concat([Buffer.from('GHC1'), iv, c.getAuthTag(), data]), { mode: 0o600 });
    await rename(tmp, this.cacheFile);
  }

  /** Serves the cached config at start, so a restart while the control plane is away serves at once. */
  private async fromCache(): Promise<void> {
    const raw = await readFile(this.cacheFile).catch(() => undefined);
    if (!raw) return;
    let body: { hash: string; version: number; config: EdgeConfig };
    try {
      if (raw.subarray(0, 4).toString() !== 'GHC1') throw new Error('not a Gatehouse cache');
      const d = createDecipheriv('aes-256-gcm', this.cacheKey(), raw.subarray(4, 16));
      d.setAuthTag(raw.subarray(16, 32));
      body = JSON.parse(
        Buffer.concat([d.update(raw.subarray(32)), d.final()]).toString('utf8'),
      ) as typeof body;
    } catch (err) {
      // Damaged, or another node's: never served; the control plane will send the config.
      this.o.log.error(
        { file: this.cacheFile, err: err instanceof Error ? err.message : String(err) },
        'edge: the state cache cannot be read (damaged, or not this node’s); waiting for the control plane',
      );
      return;
    }
    await this.driver.apply({ ...body.config, listeners: { http: this.o.httpPort, https: 0 } });
    this.have = body.hash;
    this.o.log.info(
      { version: body.version },
      'edge: serving the cached config until the control plane answers',
    );
  }

  async run(): Promise<void> {
    await this.driver.init();
    await this.fromCache().catch((err: unknown) =>
      this.o.log.error({ err: String(err) }, 'edge: the cached config could not be applied'),
    );
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
        await this.saveCache(body);
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
