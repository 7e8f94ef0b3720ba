import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_ADDRESS_HEADER, EDGE_REGISTER_PREFIX, RegisterRelay } from '../../src/edge/register-relay.js';
import { NODE_TOKEN_HEADER } from '../../src/edge/transit.js';
import { createLogger } from '../../src/observe/log.js';

type Seen = { url: string; headers: IncomingMessage['headers']; body: string };

/** A fake control plane: records what it got, answers with `answer`. */
async function control(
  answer: (res: ServerResponse) => void,
): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const servers: Server[] = [];
const relays: RegisterRelay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function relayTo(urls: string[]): Promise<string> {
  const relay = new RegisterRelay({
    host: '127.0.0.1',
    port: 0,
    controls: () => ({ urls, current: urls[0] as string }),
    token: 'node-token-0123456789',
    log: createLogger('silent'),
  });
  await relay.start();
  relays.push(relay);
  return `http://${relay.address}`;
}

/** A loopback URL nothing listens on (fetch refuses some low ports outright, so not :1). */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

const json = (status: number, body: unknown) => (res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('edge registration relay', () => {
  it("passes the call to the control plane with the node token, the client's token and address, and its answer back", async () => {
    const cp = await control(json(201, { ok: true, version: 7 }));
    servers.push(cp.server);
    const at = await relayTo([cp.url]);
    const r = await fetch(`${at}/register?x=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer client-token', 'content-type': 'application/json', cookie: 'no' },
      body: '{"subdomain":"a"}',
    });
    expect(r.status).toBe(201);
    expect(await r.json()).toEqual({ ok: true, version: 7 });
    expect(cp.seen[0]?.url).toBe(`${EDGE_REGISTER_PREFIX}/register?x=1`);
    expect(cp.seen[0]?.body).toBe('{"subdomain":"a"}');
    expect(cp.seen[0]?.headers).toMatchObject({
      authorization: 'Bearer client-token',
      [NODE_TOKEN_HEADER]: 'node-token-0123456789',
      [CLIENT_ADDRESS_HEADER]: '127.0.0.1',
    });
    expect(cp.seen[0]?.headers.cookie).toBeUndefined();
  });

  it('a 4xx is the answer (no other replica is asked); a 5xx or no answer moves to the next', async () => {
    const refusing = await control(
      json(400, { error: { code: 'invalid', message: 'body.backend_ip: bad' } }),
    );
    const sick = await control(json(502, {}));
    const good = await control(json(200, { ok: true }));
    servers.push(refusing.server, sick.server, good.server);
    const bad = await relayTo([refusing.url, good.url]);
    const r = await fetch(`${bad}/register`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe('body.backend_ip: bad');
    expect(good.seen).toHaveLength(0);

    const dead = await deadUrl();
    const at = await relayTo([dead, sick.url, good.url]);
    const ok = await fetch(`${at}/deregister`, { method: 'POST', body: '{}' });
    expect(ok.status).toBe(200);
    expect(sick.seen).toHaveLength(1);
    expect(good.seen).toHaveLength(1);
  });

  it("none answering: 503 naming each replica's failure; a replica's own 503 is passed on", async () => {
    const dead = await deadUrl();
    const at = await relayTo([dead]);
    const r = await fetch(`${at}/register`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(503);
    const e = ((await r.json()) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe('control_plane_unavailable');
    expect(e.message).toContain(
      `no control-plane replica answered (${dead}: fetch failed: connect ECONNREFUSED`,
    );
    expect(e.message).toContain('nothing was stored');

    const dbDown = await control(
      json(503, { error: { code: 'store_unavailable', message: 'the database is away' } }),
    );
    servers.push(dbDown.server);
    const at2 = await relayTo([dbDown.url, dead]);
    const r2 = await fetch(`${at2}/register`, { method: 'POST', body: '{}' });
    expect(r2.status).toBe(503);
    expect(((await r2.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
  });

  it('a body over 64 KiB is refused at the edge (413), never relayed', async () => {
    const cp = await control(json(200, {}));
    servers.push(cp.server);
    const at = await relayTo([cp.url]);
    const r = await fetch(`${at}/register`, { method: 'POST', body: 'x'.repeat(64 * 1024 + 1) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe(
      'body: Request body is too large',
    );
    expect(cp.seen).toHaveLength(0);
  });
});
