import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { parseAddressSource, type AddressSource } from '../model/public-address.js';
import type { Logger } from '../observe/log.js';
import type { Db } from '../store/db.js';
import type { EdgeAddress } from './record-plan.js';

/** The event in the events log when the address changes (its detail names the old and the new). */
export type PublicAddressEvent = 'public_address_changed';

/** What GET /status shows of the watcher (on the replica that runs it: the leader). */
export interface PublicAddressStatus {
  /** `public_address_source` as set. */
  source: string;
  /** The address in use ('' before one was ever read). */
  address: string;
  /** Where it was read: the URL that answered (without its query) or `interface <name>`. */
  from: string;
  checked_at: string | null;
  changed_at: string | null;
  next_check_at: string | null;
  /** Whether the last check read an address (else the one before is kept). */
  ok: boolean;
  /** What went wrong in the last check, per URL ('' when nothing did): an answer that is no address, no answer. */
  message: string;
}

export interface PublicAddressOptions {
  /** `public_address_source` (checked by the settings schema). */
  source: string;
  intervalMs: number;
  db: Db;
  event: (kind: PublicAddressEvent, detail: string) => void;
  log: Logger;
  /** Per URL. */
  timeoutMs?: number;
  /** The machine's interfaces (os.networkInterfaces; tests give their own). */
  interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
}

/** The last address read, in `meta`: a new leader or a restart knows the old one. */
const META_KEY = 'public-address';
/** Longest answer read from a URL (an address is at most 45 characters). */
const MAX_ANSWER = 256;

type Reading = { address: string; from: string } | { problem: string };

/**
 * Watches this node's public address (dynamic DNS): an interface's address, or the first of a list
 * of "what is my address" URLs that answers with one. A change is stored, goes into the events log
 * with the old and the new address, and is told to the listeners (the external records, whose
 * target it is part of: see `edges`). A failed check keeps the address it had and is retried at
 * the next interval. Runs on the leader.
 */
export class PublicAddress {
  private readonly src: AddressSource;
  private readonly listeners = new Set<() => void>();
  private state: PublicAddressStatus;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private abort: AbortController | undefined;

  constructor(private readonly o: PublicAddressOptions) {
    const p = parseAddressSource(o.source);
    this.src = 'error' in p ? { kind: 'off' } : p;
    this.state = {
      source: o.source,
      address: '',
      from: '',
      checked_at: null,
      changed_at: null,
      next_check_at: null,
      ok: false,
      message: '',
    };
  }

  get enabled(): boolean {
    return this.src.kind !== 'off';
  }

  /** Tells `fn` when the address changed; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * This node as a public edge at its address, for the records' target (none before one is known).
   * A replica that does not watch (not leading) takes the address the leader stored.
   */
  async edges(): Promise<EdgeAddress[]> {
    if (!this.enabled) return [];
    const address = this.running ? this.state.address : await this.stored();
    return address ? [{ role: 'public', address, online: true }] : [];
  }

  /** The watcher's state where it runs; undefined elsewhere (or when off). */
  status(): PublicAddressStatus | undefined {
    return this.running ? { ...this.state } : undefined;
  }

  /**
   * Starts watching: the stored address is the current one until the first check (begun now, not
   * waited for: slow URLs do not hold up the start) says otherwise.
   */
  async start(): Promise<void> {
    if (!this.enabled || this.running) return;
    this.running = true;
    this.state.address = await this.stored();
    void this.check();
  }

  private async stored(): Promise<string> {
    const row = await this.o.db.selectFrom('meta').selectAll().where('key', '=', META_KEY).executeTakeFirst();
    return row && isIP(row.value) !== 0 ? row.value : '';
  }

  async stop(): Promise<void> {
    this.running = false;
    // A URL still being asked is given up (its timeout could hold the shutdown for seconds).
    this.abort?.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state.next_check_at = null;
    await this.busy;
  }

  /** Reads the address now (checks never overlap); the next one follows an interval later. */
  async check(): Promise<void> {
    if (!this.running) return;
    if (this.busy) return this.busy;
    clearTimeout(this.timer);
    this.busy = this.once()
      .catch((err: unknown) => this.o.log.warn({ err: String(err) }, 'public address: check failed'))
      .finally(() => {
        this.busy = undefined;
        if (!this.running) return;
        this.timer = setTimeout(() => void this.check(), this.o.intervalMs);
        this.timer.unref();
        this.state.next_check_at = new Date(Date.now() + this.o.intervalMs).toISOString();
      });
    return this.busy;
  }

  private async once(): Promise<void> {
    const { found, problems } = await this.read();
    if (!this.running) return;
    const now = new Date().toISOString();
    this.state.checked_at = now;
    this.state.ok = found !== undefined;
    this.state.message = problems.join('; ');
    if (!found) {
      const kept = this.state.address ? `; kept ${this.state.address}` : '';
      this.state.message = `${this.state.message || 'no address'}${kept}`;
      this.o.log.warn({ problems, kept: this.state.address }, 'public address: not read');
      return;
    }
    if (problems.length > 0)
      this.o.log.info({ problems, from: found.from }, 'public address: some sources failed');
    this.state.from = found.from;
    const old = this.state.address;
    if (found.address === old) return;
    await this.o.db
      .insertInto('meta')
      .values({ key: META_KEY, value: found.address })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: found.address }))
      .execute();
    this.state.address = found.address;
    this.state.changed_at = now;
    const detail = `public address changed from ${old || 'none'} to ${found.address} (${found.from})`;
    this.o.log.info({ old: old || null, new: found.address, from: found.from }, 'public address changed');
    this.o.event('public_address_changed', detail);
    for (const fn of this.listeners) fn();
  }

  /** The address from the source, and what went wrong on the way (URLs asked one after the other). */
  private async read(): Promise<{ found?: { address: string; from: string }; problems: string[] }> {
    if (this.src.kind === 'interface') {
      const r = interfaceAddress(this.src.name, (this.o.interfaces ?? networkInterfaces)());
      return 'problem' in r ? { problems: [r.problem] } : { found: r, problems: [] };
    }
    if (this.src.kind === 'off') return { problems: [] };
    const problems: string[] = [];
    this.abort = new AbortController();
    for (const url of this.src.urls) {
      if (!this.running) break;
      const r = await askUrl(url, this.o.timeoutMs ?? 5000, this.abort.signal);
      if ('address' in r) return { found: r, problems };
      problems.push(`${shown(url)}: ${r.problem}`);
    }
    return { problems };
  }
}

/** An interface's address: its first IPv4 one, else its first IPv6 one that is not link-local. */
export function interfaceAddress(name: string, all: NodeJS.Dict<NetworkInterfaceInfo[]>): Reading {
  const list = all[name];
  if (!list) return { problem: `interface ${name}: not found` };
  const v4 = list.find((i) => i.family === 'IPv4');
  const v6 = list.find((i) => i.family === 'IPv6' && !/^fe[89ab]/i.test(i.address));
  const a = v4 ?? v6;
  return a
    ? { address: normalise(a.address), from: `interface ${name}` }
    : { problem: `interface ${name}: no address` };
}

/**
 * One "what is my address" URL: its answer's text (trimmed) if that is an IP address. A connection
 * of its own each time (no pooled one the service may have closed meanwhile); redirects are not
 * followed.
 */
export function askUrl(url: string, timeoutMs: number, stop?: AbortSignal): Promise<Reading> {
  return new Promise((done) => {
    let settled = false;
    const finish = (r: Reading) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
      req.destroy();
      done(r);
    };
    const onStop = () => finish({ problem: 'stopped' });
    const timer = setTimeout(() => finish({ problem: `no answer in ${timeoutMs / 1000} s` }), timeoutMs);
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { agent: false, headers: { accept: 'text/plain', 'user-agent': 'gatehouse' } },
      (res) => {
        if (res.statusCode !== 200) return finish({ problem: `answered HTTP ${res.statusCode ?? 0}` });
        const chunks: Buffer[] = [];
        let size = 0;
        const judge = () =>
          finish(answer(Buffer.concat(chunks).subarray(0, MAX_ANSWER).toString('utf8'), url));
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          // Longer than any address: what came is judged (it is none), the rest is not read.
          if (size > MAX_ANSWER) judge();
        });
        res.on('end', judge);
        res.on('error', (err) => finish({ problem: `answer cut short (${errCode(err)})` }));
      },
    );
    req.on('error', (err) => finish({ problem: `unreachable (${errCode(err)})` }));
    if (stop?.aborted) return onStop();
    stop?.addEventListener('abort', onStop);
    req.end();
  });
}

function answer(text: string, url: string): Reading {
  const v = text.trim();
  if (v.length <= 45 && isIP(v) !== 0) return { address: normalise(v), from: shown(url) };
  const seen = v.length > 40 ? `${v.slice(0, 40)}…` : v;
  return { problem: `answered ${JSON.stringify(seen)}, not an IP address (ignored)` };
}

function errCode(err: Error & { code?: string }): string {
  return err.code ?? err.message;
}

/** IPv4-mapped IPv6 as IPv4; IPv6 in lower case. */
function normalise(a: string): string {
  const m = /^::ffff:([0-9.]+)$/i.exec(a);
  if (m && isIPv4(m[1] as string)) return m[1] as string;
  return a.toLowerCase();
}

/** A URL as logged and shown: without its query (it may hold a token). */
function shown(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
