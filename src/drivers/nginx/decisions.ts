import { callStatus } from './status-call.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { filePath } from './escape.js';
import type { RenderEnv } from './env.js';

/**
 * CrowdSec's decisions at the edge (src/gate/crowdsec.ts pulls them from the Local API): the list
 * nginx holds in shared memory (decisions-lua.ts), the checks that read it, and the access log
 * CrowdSec's own agent reads (its nginx parser's format).
 */

export const DECISIONS_PATH = '/decisions';

/** One decision as nginx takes it: a network, what to do, until when (epoch seconds). */
export interface EdgeDecision {
  /** An address (`192.0.2.7`, `2001:db8::1`) or a range (`192.0.2.0/24`). */
  value: string;
  type: 'ban' | 'captcha';
  until: number;
}

/** `<4|6> <prefix length> <network bytes in hex>` for an address or range; undefined for neither. */
export function networkKey(value: string): string | undefined {
  const [addr = '', lenText] = value.split('/');
  let fam = isIP(addr);
  if (fam === 0) return undefined;
  let bytes = fam === 4 ? v4Bytes(addr) : v6Bytes(addr);
  if (!bytes) return undefined;
  let len = lenText === undefined ? bytes.length * 8 : Number(lenText);
  if (!/^\d{1,3}$/.test(lenText ?? '0') || len > bytes.length * 8) return undefined;
  // An IPv4-mapped IPv6 address (::ffff:192.0.2.7) is the IPv4 address: nginx sees that one.
  if (fam === 6 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
    if (len < 96) return undefined;
    fam = 4;
    bytes = bytes.slice(12);
    len -= 96;
  }
  const n = Math.ceil(len / 8);
  const net = bytes.slice(0, n);
  if (len % 8 && n > 0) net[n - 1] = (net[n - 1] as number) & (0xff << (8 - (len % 8))) & 0xff;
  return `${fam} ${len} ${Buffer.from(net).toString('hex')}`;
}

function v4Bytes(a: string): number[] | undefined {
  const parts = a.split('.').map(Number);
  return parts.length === 4 && parts.every((p) => p >= 0 && p <= 255) ? parts : undefined;
}

function v6Bytes(a: string): number[] | undefined {
  let text = a;
  // A trailing dotted quad (::ffff:192.0.2.7) is two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1]) {
    const b = v4Bytes(quad[1]);
    if (!b) return undefined;
    text = `${text.slice(0, -quad[1].length)}${((b[0] as number) * 256 + (b[1] as number)).toString(16)}:${((b[2] as number) * 256 + (b[3] as number)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

/**
 * The list nginx takes (decisions-lua.ts checks it again, line by line): a header with the list's
 * version (a hash of its lines), then `<4|6> <length> <network hex> <type> <until>` a line, sorted.
 * Values that are not an address or range are left out (the bouncer counts them).
 */
export function decisionList(decisions: readonly EdgeDecision[]): { version: string; text: string } {
  const lines: string[] = [];
  for (const d of decisions) {
    const key = networkKey(d.value);
    if (key && Number.isSafeInteger(d.until) && d.until > 0) lines.push(`${key} ${d.type} ${d.until}`);
  }
  lines.sort();
  const body = lines.map((l) => `${l}\n`).join('');
  const version = createHash('sha256').update(body).digest('hex').slice(0, 32);
  return { version, text: `# gatehouse decisions ${version}\n${body}` };
}

/** The version a list file holds (its header), or undefined for none. */
export function listVersion(text: string): string | undefined {
  return /^# gatehouse decisions ([0-9a-f]+)\n/.exec(text)?.[1];
}

/** http context: the shared memory (an entry takes ~100 bytes: 64 MB hold ~500,000). */
export function decisionsHttp(): string[] {
  return ['lua_shared_dict gh_decisions 64m;', 'lua_shared_dict gh_decisions_meta 64k;'];
}

/** init_by_lua lines: the module, with the file's list, and the fast lane told to check it. */
export function decisionsInit(env: RenderEnv): string[] {
  const gen = filePath(env.genDir);
  const file = filePath(env.decisionsFile ?? '/nonexistent');
  return [
    `gh_decisions = dofile("${gen}/decisions.lua").init("${file}")`,
    'gh_fast.decisions = gh_decisions',
  ];
}

/** Each worker's timer that reads the list's version (decisions-lua.ts, M.worker). */
export function decisionsWorker(): string[] {
  return ['init_worker_by_lua_block {', '    gh_decisions.worker()', '}'];
}

/** The status server's location: GET the version nginx holds, PUT the whole list. */
export function decisionsEndpoint(): string[] {
  return [
    `location = ${DECISIONS_PATH} {`,
    '    client_body_buffer_size 64m;',
    '    client_max_body_size 64m;',
    '    content_by_lua_block {',
    '        gh_decisions.serve()',
    '    }',
    '}',
  ];
}

/**
 * A route's check (its location's rewrite phase): an address CrowdSec decided against gets 403
 * (a captcha decision too: the gate serves no captcha, and fails closed).
 */
export function decisionCheck(): string[] {
  return [
    'set_by_lua_block $gh_decision { return gh_decisions.verdict(ngx.var.remote_addr) }',
    'if ($gh_decision) {',
    '    return 403;',
    '}',
  ];
}

/**
 * The access log CrowdSec's agent reads (its acquisition, type nginx): the host, then nginx's
 * combined format, which the hub's nginx-logs parser knows. Written beside the main log.
 */
export function crowdsecLogFormat(): string {
  return (
    "log_format gh_crowdsec '$host $remote_addr - $remote_user [$time_local] " +
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"\';'
  );
}

export function crowdsecLog(env: RenderEnv): string {
  return `access_log ${filePath(env.prefix)}/logs/crowdsec.log gh_crowdsec buffer=32k flush=1s;`;
}

const call = (socketPath: string, method: 'GET' | 'PUT', body?: string) =>
  callStatus(socketPath, DECISIONS_PATH, method, {
    what: 'decisions',
    timeoutMs: 10_000,
    ...(body !== undefined ? { body } : {}),
  });

/**
 * Keeps nginx's shared memory in step with the decisions file: sends the file's list when nginx
 * holds another version. One at a time, so an older list never lands after a newer one.
 */
export class DecisionSync {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly socketPath: string,
    private readonly file: () => string | undefined,
  ) {}

  /** Resolves true when it sent the list; false when nginx holds it already (or runs no check). */
  sync(): Promise<boolean> {
    const next = this.queue.then(async () => {
      const file = this.file();
      if (!file) return false;
      const text = await readFile(file, 'utf8').catch(() => undefined);
      const version = text && listVersion(text);
      if (!text || !version) return false;
      const held = await call(this.socketPath, 'GET').catch(() => undefined);
      // No nginx (it reads the file when it starts), or no check rendered (no endpoint).
      if (!held || held.status === 404 || held.body === version) return false;
      const res = await call(this.socketPath, 'PUT', text);
      if (res.status !== 200) throw new Error(`nginx refused the decisions (${res.status}): ${res.body}`);
      return true;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The list version nginx holds ("" for none yet), or undefined when it has no check. */
  async held(): Promise<string | undefined> {
    const res = await call(this.socketPath, 'GET').catch(() => undefined);
    return res?.status === 200 ? res.body : undefined;
  }
}
