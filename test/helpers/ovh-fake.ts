import type { IncomingMessage, ServerResponse } from 'node:http';
import { ovhSignature } from '../../src/dns/ovh.js';
import type { RecordType } from '../../src/dns/records.js';
import type { Bind } from './bind.js';
import { BindPublisher, FAKE_TYPES, readBody, sendJson, type FakeRecord } from './dns-fakes.js';
import { startServer, type TestServer } from './net.js';

export interface OvhFakeOptions {
  zone: string;
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
  bind: Bind;
  bindZone: string;
  /** OVH's clock minus the real one, seconds: a client must sign with /auth/time's clock. */
  skewS?: number;
}

export type OvhFake = TestServer & {
  /** The API base to configure (…/1.0). */
  endpoint: string;
  calls: string[];
  records: Map<string, FakeRecord & { subDomain: string; target: string }>;
  /** Requests refused for their signature, key or time. */
  refused: string[];
};

/**
 * A FAKE of OVH's API v1 (the real one is on the internet) for one zone: /auth/time, and
 * /domain/zone/<zone>/record (list by fieldType/subDomain → ids, read, create, update, delete) and
 * /refresh. It CHECKS every request as OVH does: application key, consumer key, a timestamp close to
 * its clock, and the signature ("$1$" + SHA-1 of secret+consumer+method+URL+body+timestamp).
 * As at OVH, changes are staged: only /refresh publishes the zone, into a real BIND.
 */
export async function fakeOvhApi(o: OvhFakeOptions): Promise<OvhFake> {
  const calls: string[] = [];
  const refused: string[] = [];
  const records: OvhFake['records'] = new Map();
  const published = new Set<string>();
  const pub = new BindPublisher(o.bind, o.bindZone);
  let nextId = 1_000_001;
  let base = '';
  const now = () => Math.floor(Date.now() / 1000) + (o.skewS ?? 0);
  const refuse = (res: ServerResponse, status: number, errorCode: string, message: string) => {
    refused.push(errorCode);
    sendJson(res, status, { errorCode, httpCode: `${status}`, message });
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    calls.push(`${method} ${url.pathname}`);
    const body = await readBody(req);
    if (!url.pathname.startsWith('/1.0/')) return sendJson(res, 404, { message: 'Not found' });
    const path = url.pathname.slice(4);
    if (method === 'GET' && path === '/auth/time') return sendJson(res, 200, now());
    const h = (k: string) => String(req.headers[k] ?? '');
    if (h('x-ovh-application') !== o.applicationKey)
      return refuse(res, 403, 'INVALID_KEY', 'Invalid application key');
    if (h('x-ovh-consumer') !== o.consumerKey)
      return refuse(res, 403, 'INVALID_CREDENTIAL', 'This credential does not exist');
    const ts = Number(h('x-ovh-timestamp'));
    if (!Number.isInteger(ts) || Math.abs(ts - now()) > 10)
      return refuse(res, 400, 'QUERY_TIME_OUT', 'Query out of time');
    const expected = ovhSignature(
      o.applicationSecret,
      o.consumerKey,
      method,
      `${base}${req.url ?? ''}`,
      body,
      ts,
    );
    if (h('x-ovh-signature') !== expected) return refuse(res, 400, 'INVALID_SIGNATURE', 'Invalid signature');

    const m = /^\/domain\/zone\/([^/]+)\/(record|refresh)(?:\/(\d+))?$/.exec(path);
    if (!m) return sendJson(res, 404, { message: `Got an invalid (or empty) URL: ${path}` });
    if (decodeURIComponent(m[1] as string) !== o.zone)
      return sendJson(res, 404, { class: 'Client::NotFound', message: 'This service does not exist' });
    const fqdnOf = (sub: string) => (sub ? `${sub}.${o.zone}` : o.zone);
    const view = (r: FakeRecord & { subDomain: string; target: string }) => ({
      id: Number(r.id),
      zone: o.zone,
      subDomain: r.subDomain,
      fieldType: r.type,
      target: r.target,
      ttl: r.ttl,
    });
    let data: Record<string, unknown> = {};
    try {
      data = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      return sendJson(res, 400, { message: 'Invalid JSON received' });
    }
    if (m[2] === 'refresh') {
      if (method !== 'POST') return sendJson(res, 405, { message: 'method not allowed' });
      const keys = new Set([...published, ...[...records.values()].map((r) => `${r.fqdn} ${r.type}`)]);
      await pub.publish(
        records.values(),
        [...keys].map((k) => k.split(' ') as [string, RecordType]),
      );
      published.clear();
      for (const r of records.values()) published.add(`${r.fqdn} ${r.type}`);
      return sendJson(res, 200, null);
    }
    const id = m[3];
    if (!id && method === 'GET') {
      const type = url.searchParams.get('fieldType');
      const sub = url.searchParams.get('subDomain');
      const ids = [...records.values()]
        .filter((r) => (!type || r.type === type) && (sub === null || r.subDomain === sub))
        .map((r) => Number(r.id));
      return sendJson(res, 200, ids);
    }
    const rec = id ? records.get(id) : undefined;
    if (id && !rec)
      return sendJson(res, 404, { message: `The requested object (id = ${id}) does not exist` });
    if (method === 'GET' && rec) return sendJson(res, 200, view(rec));
    if (method === 'DELETE' && rec) {
      records.delete(rec.id);
      return sendJson(res, 200, null);
    }
    if (method === 'POST' || method === 'PUT') {
      const type = String(data.fieldType ?? rec?.type ?? '');
      const subDomain = String(data.subDomain ?? rec?.subDomain ?? '').toLowerCase();
      const target = String(data.target ?? rec?.target ?? '');
      const ttl = Number(data.ttl ?? rec?.ttl ?? 0);
      if (!FAKE_TYPES.includes(type)) return sendJson(res, 400, { message: `Invalid fieldType: ${type}` });
      if (!target) return sendJson(res, 400, { message: 'Missing parameter: target' });
      // Zone-file semantics: a CNAME target without the final dot is relative to the zone.
      const value =
        type === 'CNAME'
          ? (target.endsWith('.') ? target.slice(0, -1) : `${target}.${o.zone}`).toLowerCase()
          : type === 'TXT'
            ? target.replace(/^"(.*)"$/, '$1')
            : target;
      const r = {
        id: rec?.id ?? String(nextId++),
        fqdn: fqdnOf(subDomain),
        type: type as RecordType,
        value,
        ttl: ttl || 3600,
        subDomain,
        target,
      };
      records.set(r.id, r);
      return sendJson(res, 200, method === 'POST' ? view(r) : null);
    }
    return sendJson(res, 405, { message: 'method not allowed' });
  };
  const server = await startServer(
    (req, res) => void handler(req, res).catch((e: Error) => sendJson(res, 500, { message: e.message })),
  );
  base = `http://127.0.0.1:${server.port}`;
  return Object.assign(server, { endpoint: `${base}/1.0`, calls, records, refused });
}
