import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Rfc2136Provider } from '../../src/dns/rfc2136.js';
import type { Bind } from './bind.js';
import { startServer, type TestServer } from './net.js';

interface Rec {
  id: string;
  fqdn: string;
  value: string;
}

/**
 * FAKES of Cloudflare's and Hetzner DNS's HTTP APIs (their real services are on the internet). Each
 * keeps its records in a real BIND (through RFC 2136), so that what the API "publishes" is really
 * resolvable, as with the vendor. They check the token and log every call.
 */
export async function fakeDnsApi(
  vendor: 'cloudflare' | 'hetzner',
  opts: { zone: string; token: string; bind: Bind; bindZone: string },
): Promise<TestServer & { calls: string[] }> {
  const calls: string[] = [];
  const records = new Map<string, Rec>();
  const backing = new Rfc2136Provider({
    zone: opts.bindZone,
    server: opts.bind.server,
    tsigName: opts.bind.tsigName,
    tsigAlgorithm: 'hmac-sha256',
    tsigSecret: opts.bind.tsigSecret,
  });
  const body = (req: IncomingMessage) =>
    new Promise<Record<string, unknown>>((r) => {
      let s = '';
      req.on('data', (d: Buffer) => (s += d.toString()));
      req.on('end', () => r(s ? (JSON.parse(s) as Record<string, unknown>) : {}));
    });
  const send = (res: ServerResponse, status: number, data: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(data));
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    calls.push(`${req.method ?? ''} ${url.pathname}`);
    const authorized =
      vendor === 'cloudflare'
        ? req.headers.authorization === `Bearer ${opts.token}`
        : req.headers['auth-api-token'] === opts.token;
    if (!authorized) return send(res, 401, { error: 'unauthorized' });
    const fqdnOf = (name: string) =>
      vendor === 'cloudflare' ? name : name === '@' ? opts.zone : `${name}.${opts.zone}`;
    if (req.method === 'GET' && url.pathname === '/zones') {
      const found = url.searchParams.get('name') === opts.zone;
      return send(
        res,
        200,
        vendor === 'cloudflare'
          ? { result: found ? [{ id: 'z1' }] : [] }
          : { zones: found ? [{ id: 'z1' }] : [] },
      );
    }
    const create = vendor === 'cloudflare' ? '/zones/z1/dns_records' : '/records';
    if (req.method === 'POST' && url.pathname === create) {
      const b = await body(req);
      const rec = {
        id: randomUUID(),
        fqdn: fqdnOf(String(b.name)),
        value: String(vendor === 'cloudflare' ? b.content : b.value),
      };
      await backing.setTxt(rec.fqdn, rec.value);
      records.set(rec.id, rec);
      return send(
        res,
        200,
        vendor === 'cloudflare' ? { result: { id: rec.id } } : { record: { id: rec.id } },
      );
    }
    if (req.method === 'GET' && url.pathname === create) {
      const list = [...records.values()];
      if (vendor === 'cloudflare') {
        const name = url.searchParams.get('name');
        const content = url.searchParams.get('content');
        return send(res, 200, {
          result: list.filter((r) => r.fqdn === name && r.value === content).map((r) => ({ id: r.id })),
        });
      }
      const rel = (f: string) => (f === opts.zone ? '@' : f.slice(0, -(opts.zone.length + 1)));
      return send(res, 200, {
        records: list.map((r) => ({ id: r.id, type: 'TXT', name: rel(r.fqdn), value: r.value })),
      });
    }
    const del = new RegExp(`^${create}/([0-9a-f-]+)$`).exec(url.pathname);
    if (req.method === 'DELETE' && del) {
      const rec = records.get(del[1] as string);
      if (!rec) return send(res, 404, {});
      await backing.removeTxt(rec.fqdn, rec.value);
      records.delete(rec.id);
      return send(res, 200, {});
    }
    return send(res, 404, {});
  };
  const server = await startServer((req, res) => void handler(req, res).catch(() => send(res, 500, {})));
  return Object.assign(server, { calls });
}
