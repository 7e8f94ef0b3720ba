import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { decisionList, listVersion, networkKey, type EdgeDecision } from '../drivers/nginx/decisions.js';
import type { Logger } from '../observe/log.js';
import { writeFileAtomic } from '../store/files.js';

/**
 * Gatehouse as a bouncer of a CrowdSec Local API: it follows the API's decision stream (all of
 * them at start, then what changed, every poll interval), keeps the active ones, and writes them
 * as the list nginx enforces (decisions.ts) to a file the local edge sends to nginx's memory and
 * the feed sends to every remote edge. A Local API that does not answer keeps the last decisions
 * (each until it expires) and is asked again; its state is on the dashboard (`status`).
 */

/** A decision as the Local API gives it (the fields Gatehouse reads). */
const decisionSchema = z.object({
  id: z.number(),
  origin: z.string().default(''),
  scenario: z.string().default(''),
  scope: z.string(),
  value: z.string(),
  type: z.string(),
  duration: z.string(),
});

const streamSchema = z.object({
  new: z.array(decisionSchema).nullish(),
  deleted: z.array(decisionSchema).nullish(),
});

/** One decision the bouncer holds (GET /api/v1/crowdsec, the dashboard). */
export interface CrowdsecDecision {
  id: number;
  origin: string;
  scenario: string;
  /** `Ip` or `Range` (others are not enforced: `ignored` counts them). */
  scope: string;
  value: string;
  /** `ban` or `captcha` (both refused: the gate serves no captcha); other types count as ban. */
  type: 'ban' | 'captcha';
  /** When it expires (ISO time). */
  until: string;
}

export interface CrowdsecStatus {
  url: string;
  /** The last pull answered. */
  connected: boolean;
  lastPullAt?: string;
  lastError?: string;
  /** Active decisions held (and enforced). */
  decisions: number;
  /** Decisions of a scope nginx cannot enforce (Country, AS, a user name). */
  ignored: number;
  /** The list version nginx should hold. */
  version: string;
}

export interface CrowdsecOptions {
  url: string;
  apiKey: string;
  intervalMs: number;
  /** The decisions list nginx reads (RenderEnv.decisionsFile). */
  file: string;
  log: Logger;
  /** The list changed: send it to nginx and the edges. */
  onChange: () => void;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** A Go duration ("3h59m58.9s", "-1.5s", "250ms") in ms; NaN when it is none. */
export function goDurationMs(text: string): number {
  const m = /^(-)?((?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+)$/.exec(text);
  if (!m?.[2]) return NaN;
  const unit: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 1e-3,
    µs: 1e-3,
    ns: 1e-6,
  };
  let ms = 0;
  for (const [, n, u] of m[2].matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g))
    ms += Number(n) * (unit[u ?? ''] ?? NaN);
  return m[1] ? -ms : ms;
}

export class CrowdsecBouncer {
  private readonly held = new Map<number, CrowdsecDecision>();
  private ignored = new Set<number>();
  private startup = true;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private list = decisionList([]);
  private readonly state: Omit<CrowdsecStatus, 'decisions' | 'ignored' | 'version'>;
  private lastLogged = '';

  constructor(private readonly o: CrowdsecOptions) {
    this.state = { url: o.url, connected: false };
  }

  /** Reads the list last written (decisions survive a restart until the stream says otherwise). */
  async start(): Promise<void> {
    const text = await readFile(this.o.file, 'utf8').catch(() => undefined);
    const version = text && listVersion(text);
    if (text && version) this.list = { version, text };
    else await this.write(true);
    const tick = async () => {
      if (this.stopped) return;
      await this.pull();
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.o.intervalMs);
    };
    await tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The list nginx should hold: its version and text. */
  current(): { version: string; text: string } {
    return this.list;
  }

  status(): CrowdsecStatus {
    return {
      ...this.state,
      decisions: this.active().length,
      ignored: this.ignored.size,
      version: this.list.version,
    };
  }

  /** The active decisions, soonest to expire last. */
  active(): CrowdsecDecision[] {
    const now = Date.now();
    return [...this.held.values()].filter((d) => Date.parse(d.until) > now).sort((a, b) => b.id - a.id);
  }

  /** One look at the stream; resolves once the list is written (when it changed). */
  async pull(): Promise<void> {
    try {
      const url = new URL('v1/decisions/stream', this.o.url.endsWith('/') ? this.o.url : `${this.o.url}/`);
      if (this.startup) url.searchParams.set('startup', 'true');
      const res = await fetch(url, {
        headers: { 'X-Api-Key': this.o.apiKey, 'User-Agent': 'gatehouse-bouncer' },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (!res.ok) {
        const why = res.status === 403 ? 'the Local API refused the bouncer key (crowdsec_api_key)' : '';
        throw new Error(why || `the Local API answered ${res.status}`);
      }
      const body = streamSchema.parse(await res.json());
      if (this.startup) {
        this.held.clear();
        this.ignored.clear();
      }
      this.startup = false;
      const now = Date.now();
      for (const d of body.deleted ?? []) {
        this.held.delete(d.id);
        this.ignored.delete(d.id);
      }
      for (const d of body.new ?? []) {
        const left = goDurationMs(d.duration);
        const scope = d.scope.toLowerCase();
        if ((scope !== 'ip' && scope !== 'range') || !networkKey(d.value) || !(left > 0)) {
          if (left > 0) this.ignored.add(d.id);
          continue;
        }
        this.held.set(d.id, {
          id: d.id,
          origin: d.origin,
          scenario: d.scenario,
          scope: d.scope,
          value: d.value,
          type: d.type === 'captcha' ? 'captcha' : 'ban',
          until: new Date(now + left).toISOString(),
        });
      }
      this.state.connected = true;
      this.state.lastPullAt = new Date().toISOString();
      delete this.state.lastError;
      if (this.lastLogged) this.o.log.info({ url: this.o.url }, 'CrowdSec Local API answers again');
      this.lastLogged = '';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.state.connected = false;
      this.state.lastError = message.slice(0, 300);
      // Once per distinct failure, not every poll.
      if (message !== this.lastLogged)
        this.o.log.warn(
          { url: this.o.url, err: message },
          'CrowdSec Local API not answering; keeping the last decisions',
        );
      this.lastLogged = message;
    }
    // Expired ones leave the list too (nginx forgets them at their time anyway).
    for (const [id, d] of this.held) if (Date.parse(d.until) <= Date.now()) this.held.delete(id);
    await this.write();
  }

  private async write(force = false): Promise<void> {
    const decisions: EdgeDecision[] = [...this.held.values()].map((d) => ({
      value: d.value,
      type: d.type,
      until: Math.ceil(Date.parse(d.until) / 1000),
    }));
    const next = decisionList(decisions);
    if (next.version === this.list.version && !force) return;
    this.list = next;
    await mkdir(dirname(this.o.file), { recursive: true, mode: 0o755 });
    await writeFileAtomic(this.o.file, next.text, 0o644);
    this.o.onChange();
  }
}
