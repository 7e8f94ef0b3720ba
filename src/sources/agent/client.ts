import { probe } from '../../edge/health.js';
import type { Logger } from '../../observe/log.js';

/** The control plane answered and said no: retrying would not help. */
class RefusedError extends Error {}

export interface ServiceAgentOptions {
  /** The control plane's registration API, e.g. http://10.0.0.1:9876. */
  control: string;
  /** The registration token. */
  token: string;
  name: string;
  upstreams: string[];
  domains: string[];
  path: string;
  ttlMs: number;
  /** Checked locally on the first upstream each heartbeat; absent: always healthy. */
  healthPath?: string;
  log: Logger;
}

/**
 * `gatehouse agent`: keeps one service registered for a machine that runs no Docker. Registers,
 * heartbeats at a third of the TTL with the result of its own health check of the upstream (so an
 * upstream down is out of rotation at once, not after the TTL), re-registers when the control
 * plane forgot it (restarted, or removed it after a long silence), deregisters on stop.
 */
export class ServiceAgent {
  private stopped = false;
  private wake: (() => void) | undefined;
  private beat: Promise<void> = Promise.resolve();

  constructor(private readonly o: ServiceAgentOptions) {}

  private async call(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.o.control.replace(/\/$/, '')}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: await res.text() };
  }

  private async register(): Promise<void> {
    const r = await this.call('/agent/v1/register', {
      name: this.o.name,
      domains: this.o.domains,
      upstreams: this.o.upstreams,
      path: this.o.path,
      ttl: `${Math.round(this.o.ttlMs / 1000)}s`,
    });
    if (r.status >= 400) throw new RefusedError(`registration refused (${r.status}): ${r.text}`);
    this.o.log.info({ service: this.o.name }, 'registered');
  }

  /** Runs until stop(); a refused registration (bad input, wrong token) ends it with that error. */
  async run(): Promise<void> {
    // The control plane may not be up yet: keep trying; a refusal (bad input, token) ends it.
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        await this.register();
        break;
      } catch (err) {
        if (err instanceof RefusedError || this.stopped) throw err;
        this.o.log.warn({ err: String(err) }, 'control plane unreachable; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.max(500, this.o.ttlMs / 3));
      });
      if (this.stopped) break;
      this.beat = this.heartbeat();
      await this.beat;
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      const healthy = await this.healthy();
      const r = await this.call('/agent/v1/heartbeat', { name: this.o.name, healthy });
      // Forgotten (a long silence): register again, unless it is stopping (its deregistration
      // may be what the control plane answered to).
      if (r.status === 404 && !this.stopped) await this.register();
      else if (r.status >= 400) this.o.log.warn({ status: r.status, body: r.text }, 'heartbeat refused');
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'control plane unreachable; retrying');
    }
  }

  private healthy(): Promise<boolean> {
    const path = this.o.healthPath;
    if (!path) return Promise.resolve(true);
    // An upstream is IP:port or http(s)://IP:port.
    const m = /^(?:(https?):\/\/)?(\[?[^\]/]+?\]?:[0-9]+)\/?$/.exec(this.o.upstreams[0] ?? '');
    if (!m) return Promise.resolve(false);
    return probe(m[1] === 'https' ? 'https' : 'http', m[2]!, path, 5000);
  }

  /** Deregisters (the route goes at once) and ends run(). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    // A heartbeat on its way must not land after the deregistration (and re-register).
    await this.beat;
    await this.call('/agent/v1/deregister', { name: this.o.name }).catch((err: unknown) =>
      this.o.log.warn({ err: String(err) }, 'could not deregister'),
    );
  }
}
