import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Rfc2136Provider } from '../../src/dns/rfc2136.js';
import type { RecordType } from '../../src/dns/records.js';
import type { Bind } from './bind.js';
import { startServer, type TestServer } from './net.js';

/** One record a fake vendor holds, as it publishes it (CNAME targets absolute without the dot). */
export interface FakeRecord {
  id: string;
  fqdn: string;
  type: RecordType;
  value: string;
  ttl: number;
}

export const FAKE_TYPES: readonly string[] = ['A', 'AAAA', 'CNAME', 'TXT'];

/**
 * Publishes a fake vendor's records into a real BIND (through RFC 2136), set by set, so that what the
 * fake API holds is really resolvable, as with the vendor. Publications run one after the other.
 */
export class BindPublisher {
  private readonly backing: Rfc2136Provider;
  private chain: Promise<void> = Promise.resolve();

  constructor(bind: Bind, bindZone: string) {
    this.backing = new Rfc2136Provider({
      zone: bindZone,
      server: bind.server,
      tsigName: bind.tsigName,
      tsigAlgorithm: 'hmac-sha256',
      tsigSecret: bind.tsigSecret,
    });
  }

  /** Makes BIND hold, for each (name, type) in `keys`, exactly the records of `records` there. */
  publish(records: Iterable<FakeRecord>, keys: Iterable<[string, RecordType]>): Promise<void> {
    const all = [...records];
    const todo = [...keys];
    const next = this.chain.then(async () => {
      for (const [fqdn, type] of todo) {
        const of = all.filter((r) => r.fqdn === fqdn && r.type === type);
        if (of.length === 0) await this.backing.remove(fqdn, type);
        else
          await this.backing.put({
            name: fqdn,
            type,
            ttl: of[0]?.ttl || 60,
            values: [...new Set(of.map((r) => r.value))],
          });
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((r) => {
    let s = '';
    req.on('data', (d: Buffer) => (s += d.toString()));
    req.on('end', () => r(s));
  });
}

export function sendJson(res: ServerResponse, status: number, data: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(data === undefined ? '' : JSON.stringify(data));
}

type Fake = TestServer & { calls: string[]; records: Map<string, FakeRecord> };

/**
 * FAKES of Cloudflare's (v4) and Hetzner DNS's HTTP APIs (their real services are on the internet):
 * zone lookup by name, records listed (filtered, paged), created, updated and deleted in the vendor's
 * JSON shapes, with its errors (401 for a bad token, 404 for an unknown zone or record, 400/422 for a
 * bad record). Each keeps its records in a real BIND. They log every call.
 */
export async function fakeDnsApi(
  vendor: 'cloudflare' | 'hetzner',
  opts: { zone: string; token: string; bind: Bind; bindZone: string },
): Promise<Fake> {
  const calls: string[] = [];
  const records = new Map<string, FakeRecord>();
  const pub = new BindPublisher(opts.bind, opts.bindZone);
  const handle = vendor === 'cloudflare' ? cloudflare : hetzner;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    calls.push(`${req.method ?? ''} ${url.pathname}`);
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return sendJson(res, 400, { error: 'malformed JSON' });
    }
    const r = await handle({ req, url, body, records, zone: opts.zone, token: opts.token });
    if (r.changed?.length) await pub.publish(records.values(), r.changed);
    sendJson(res, r.status, r.data);
  };
  const server = await startServer(
    (req, res) => void handler(req, res).catch((e: Error) => sendJson(res, 500, { error: e.message })),
  );
  return Object.assign(server, { calls, records });
}

interface Ctx {
  req: IncomingMessage;
  url: URL;
  body: Record<string, unknown>;
  records: Map<string, FakeRecord>;
  zone: string;
  token: string;
}
interface Answer {
  status: number;
  data: unknown;
  changed?: [string, RecordType][];
}

const ZONE_ID = 'z1';

function paged<T>(
  list: T[],
  url: URL,
  perPageDefault: number,
): { items: T[]; page: number; per: number; last: number } {
  const per = Math.min(Number(url.searchParams.get('per_page') ?? perPageDefault) || perPageDefault, 5000);
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  return {
    items: list.slice((page - 1) * per, page * per),
    page,
    per,
    last: Math.max(1, Math.ceil(list.length / per)),
  };
}

/** A record's value fits its type (what the vendors check before storing). */
function validValue(type: string, value: string): boolean {
  if (type === 'A') return /^\d{1,3}(\.\d{1,3}){3}$/.test(value);
  if (type === 'AAAA') return value.includes(':');
  if (type === 'CNAME') return /^[a-z0-9._-]+\.?$/i.test(value);
  return value.length <= 2048;
}

function cloudflare(c: Ctx): Answer {
  const fail = (status: number, code: number, message: string): Answer => ({
    status,
    data: { success: false, errors: [{ code, message }], messages: [], result: null },
  });
  const ok = (result: unknown, info?: unknown): Answer => ({
    status: 200,
    data: { success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) },
  });
  if (c.req.headers.authorization !== `Bearer ${c.token}`) return fail(401, 10000, 'Authentication error');
  const shape = (r: FakeRecord) => ({
    id: r.id,
    zone_id: ZONE_ID,
    zone_name: c.zone,
    name: r.fqdn,
    type: r.type,
    content: r.value,
    proxied: false,
    ttl: r.ttl,
  });
  if (c.req.method === 'GET' && c.url.pathname === '/zones') {
    const found = c.url.searchParams.get('name') === c.zone;
    return ok(found ? [{ id: ZONE_ID, name: c.zone, status: 'active' }] : [], {
      page: 1,
      per_page: 20,
      count: found ? 1 : 0,
      total_count: found ? 1 : 0,
      total_pages: 1,
    });
  }
  const m = /^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(c.url.pathname);
  if (!m) return fail(404, 7000, 'No route for that URI');
  if (m[1] !== ZONE_ID)
    return fail(
      404,
      7003,
      `Could not route to ${c.url.pathname}, perhaps your object identifier is invalid?`,
    );
  const id = m[2];
  const q = c.url.searchParams;
  if (c.req.method === 'GET' && !id) {
    const list = [...c.records.values()].filter(
      (r) =>
        (!q.get('type') || r.type === q.get('type')) &&
        (!q.get('name') || r.fqdn === q.get('name')?.toLowerCase()) &&
        (!q.get('content') || r.value === q.get('content')),
    );
    const p = paged(list, c.url, 100);
    return ok(p.items.map(shape), {
      page: p.page,
      per_page: p.per,
      count: p.items.length,
      total_count: list.length,
      total_pages: p.last,
    });
  }
  if (c.req.method === 'POST' || c.req.method === 'PUT') {
    const b = c.body;
    const type = String(b.type ?? '');
    const rawName = String(b.name ?? '').toLowerCase();
    const fqdn = rawName === '@' ? c.zone : rawName.endsWith(c.zone) ? rawName : `${rawName}.${c.zone}`;
    const content = String(b.content ?? '');
    const ttl = Number(b.ttl ?? 1);
    if (!FAKE_TYPES.includes(type)) return fail(400, 9000, 'DNS record type is invalid.');
    if (!validValue(type, content)) return fail(400, 9005, 'Content for the record is invalid.');
    if (!(ttl === 1 || (ttl >= 60 && ttl <= 86400))) return fail(400, 9021, 'Invalid TTL.');
    const before = id ? c.records.get(id) : undefined;
    if (id && !before) return fail(404, 81044, 'Record does not exist.');
    const others = [...c.records.values()].filter((r) => r.fqdn === fqdn && r.id !== id);
    if (others.some((r) => r.type === type && r.value === content.replace(/\.$/, '')))
      return fail(400, 81058, 'An identical record already exists.');
    if (others.some((r) => (r.type === 'CNAME') !== (type === 'CNAME')))
      return fail(400, 81053, 'An A, AAAA, or CNAME record with that host already exists.');
    const rec: FakeRecord = {
      id: id ?? randomUUID().replace(/-/g, ''),
      fqdn,
      type: type as RecordType,
      value: type === 'CNAME' ? content.replace(/\.$/, '').toLowerCase() : content,
      ttl: ttl === 1 ? 300 : ttl,
    };
    c.records.set(rec.id, rec);
    const changed: [string, RecordType][] = [[fqdn, rec.type]];
    if (before) changed.push([before.fqdn, before.type]);
    return { ...ok(shape(rec)), changed };
  }
  if (c.req.method === 'DELETE' && id) {
    const rec = c.records.get(id);
    if (!rec) return fail(404, 81044, 'Record does not exist.');
    c.records.delete(id);
    return { ...ok({ id }), changed: [[rec.fqdn, rec.type]] };
  }
  return fail(405, 10405, 'Method not allowed');
}

function hetzner(c: Ctx): Answer {
  const err = (status: number, message: string, extra: Record<string, unknown> = {}): Answer => ({
    status,
    data: { ...extra, error: { message, code: status } },
  });
  if (c.req.headers['auth-api-token'] !== c.token)
    return { status: 401, data: { message: 'Invalid authentication credentials' } };
  const rel = (f: string) => (f === c.zone ? '@' : f.slice(0, -(c.zone.length + 1)));
  const shape = (r: FakeRecord) => ({
    id: r.id,
    type: r.type,
    name: rel(r.fqdn),
    value: r.type === 'CNAME' ? `${r.value}.` : r.value,
    ttl: r.ttl,
    zone_id: ZONE_ID,
    created: '2026-01-01 00:00:00 +0000 UTC',
    modified: '2026-01-01 00:00:00 +0000 UTC',
  });
  if (c.req.method === 'GET' && c.url.pathname === '/zones') {
    const found = c.url.searchParams.get('name') === c.zone;
    if (!found) return err(404, 'zone not found', { zones: null });
    const pagination = { page: 1, per_page: 100, last_page: 1, total_entries: 1 };
    return {
      status: 200,
      data: { zones: [{ id: ZONE_ID, name: c.zone, ttl: 86400 }], meta: { pagination } },
    };
  }
  if (c.req.method === 'GET' && c.url.pathname === '/records') {
    if (c.url.searchParams.get('zone_id') !== ZONE_ID) return err(404, 'zone not found', { records: null });
    const list = [...c.records.values()];
    const p = paged(list, c.url, 100);
    const pagination = { page: p.page, per_page: p.per, last_page: p.last, total_entries: list.length };
    return { status: 200, data: { records: p.items.map(shape), meta: { pagination } } };
  }
  const m = /^\/records(?:\/([^/]+))?$/.exec(c.url.pathname);
  if (!m) return err(404, 'not found');
  const id = m[1];
  if ((c.req.method === 'POST' && !id) || (c.req.method === 'PUT' && id)) {
    const b = c.body;
    if (b.zone_id !== ZONE_ID) return err(404, 'zone not found', { record: {} });
    const before = id ? c.records.get(id) : undefined;
    if (id && !before) return err(404, 'record not found', { record: {} });
    const type = String(b.type ?? '');
    const name = String(b.name ?? '').toLowerCase();
    const value = String(b.value ?? '');
    if (!FAKE_TYPES.includes(type) || !name || !validValue(type, value))
      return err(422, `422 Unprocessable Entity: invalid record ${type} ${name}`, { record: {} });
    const fqdn = name === '@' ? c.zone : `${name}.${c.zone}`;
    // Zone-file semantics: a target without the final dot is relative to the zone.
    const target = value.endsWith('.') ? value.slice(0, -1) : `${value}.${c.zone}`;
    const rec: FakeRecord = {
      id: id ?? randomUUID().replace(/-/g, ''),
      fqdn,
      type: type as RecordType,
      value: type === 'CNAME' ? target.toLowerCase() : value,
      ttl: b.ttl === undefined ? 86400 : Number(b.ttl),
    };
    c.records.set(rec.id, rec);
    const changed: [string, RecordType][] = [[fqdn, rec.type]];
    if (before) changed.push([before.fqdn, before.type]);
    return { status: 200, data: { record: shape(rec) }, changed };
  }
  if (c.req.method === 'DELETE' && id) {
    const rec = c.records.get(id);
    if (!rec) return err(404, 'record not found');
    c.records.delete(id);
    return { status: 200, data: undefined, changed: [[rec.fqdn, rec.type]] };
  }
  return err(405, 'method not allowed');
}
