import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type TestServer } from './net.js';

/**
 * A FAKE of the Hetzner Cloud API, not the real thing: the real API is on the internet, which tests
 * here cannot reach (DESIGN.md: a fake only for what cannot run here). It answers the two calls
 * Gatehouse's floating-IP hook makes, in the documented shapes:
 *
 *   POST /v1/floating_ips/{id}/actions/assign  {"server": <id>}  → 201 {"action": {…, "status": "running"}}
 *   GET  /v1/floating_ips/{id}/actions/{action_id}               → 200 {"action": {…, "status": "success"}}
 *   GET  /v1/floating_ips/{id}                                    → 200 {"floating_ip": {…, "server": <id>}}
 *
 * It checks the bearer token (401 otherwise), knows a fixed set of floating IPs and servers (404 /
 * 422 for others), records every assignment, and can be told to fail the next requests (for retries).
 */

export interface Assignment {
  floatingIpId: number;
  serverId: number;
  /** performance.timeOrigin + performance.now() when it arrived. */
  at: number;
}

export interface HetznerCloudFake {
  url: string;
  port: number;
  /** Every accepted assignment, oldest first. */
  assignments: Assignment[];
  /** Requests seen, failed ones included: "POST /v1/floating_ips/1/actions/assign 201". */
  requests: string[];
  /** The server each floating IP points at now. */
  serverOf(floatingIpId: number): number | undefined;
  /** The next `count` requests answer `status` (e.g. 503) instead of being served. */
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

export interface FakeOptions {
  token: string;
  floatingIps: number[];
  servers: number[];
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
}

const now = () => performance.timeOrigin + performance.now();

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

const error = (code: string, message: string) => ({ error: { code, message, details: {} } });

async function bodyOf(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

export async function startHetznerCloudFake(o: FakeOptions): Promise<HetznerCloudFake> {
  const pointsAt = new Map<number, number | undefined>(o.floatingIps.map((id) => [id, undefined]));
  const actions = new Map<number, { id: number; floatingIpId: number; serverId: number }>();
  const assignments: Assignment[] = [];
  const requests: string[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  let nextAction = 1000;

  const action = (a: { id: number; floatingIpId: number; serverId: number }, status: string) => ({
    action: {
      id: a.id,
      command: 'assign_floating_ip',
      status,
      progress: status === 'success' ? 100 : 0,
      started: new Date().toISOString(),
      finished: status === 'success' ? new Date().toISOString() : null,
      resources: [
        { id: a.serverId, type: 'server' },
        { id: a.floatingIpId, type: 'floating_ip' },
      ],
      error: null,
    },
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const body = await bodyOf(req);
    if (failures.count > 0) {
      failures.count--;
      send(res, failures.status, error('service_error', 'injected failure'));
      return failures.status;
    }
    if (req.headers.authorization !== `Bearer ${o.token}`) {
      send(res, 401, error('unauthorized', 'unable to authenticate'));
      return 401;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    const assign = /^\/v1\/floating_ips\/([0-9]+)\/actions\/assign$/.exec(path);
    const poll = /^\/v1\/floating_ips\/([0-9]+)\/actions\/([0-9]+)$/.exec(path);
    const get = /^\/v1\/floating_ips\/([0-9]+)$/.exec(path);
    const fip = Number((assign ?? poll ?? get)?.[1]);
    if (!(assign ?? poll ?? get) || !pointsAt.has(fip)) {
      send(res, 404, error('not_found', 'Floating IP not found'));
      return 404;
    }
    if (assign && req.method === 'POST') {
      let server: unknown;
      try {
        server = (JSON.parse(body) as { server?: unknown }).server;
      } catch {
        server = undefined;
      }
      if (typeof server !== 'number' || !o.servers.includes(server)) {
        send(res, 422, error('invalid_input', 'invalid input in field "server"'));
        return 422;
      }
      const a = { id: nextAction++, floatingIpId: fip, serverId: server };
      actions.set(a.id, a);
      pointsAt.set(fip, server);
      assignments.push({ floatingIpId: fip, serverId: server, at: now() });
      send(res, 201, action(a, 'running'));
      return 201;
    }
    if (poll && req.method === 'GET') {
      const a = actions.get(Number(poll[2]));
      if (!a || a.floatingIpId !== fip) {
        send(res, 404, error('not_found', 'Action not found'));
        return 404;
      }
      send(res, 200, action(a, 'success'));
      return 200;
    }
    if (get && req.method === 'GET') {
      send(res, 200, { floating_ip: { id: fip, server: pointsAt.get(fip) ?? null } });
      return 200;
    }
    send(res, 405, error('method_not_allowed', 'method not allowed'));
    return 405;
  };

  const server: TestServer = await startServer(
    (req, res) => {
      void handle(req, res).then(
        (status) => requests.push(`${req.method} ${req.url} ${status}`),
        () => send(res, 500, error('fake_error', 'the fake failed')),
      );
    },
    0,
    o.host ?? '127.0.0.1',
  );
  const host = o.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${server.port}/v1`,
    port: server.port,
    assignments,
    requests,
    serverOf: (id) => pointsAt.get(id),
    failNext: (count, status) => {
      failures = { count, status };
    },
    close: () => server.close(),
  };
}
