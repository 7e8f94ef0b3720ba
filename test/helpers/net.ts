import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';

/**
 * Ports for tests come from below the kernel's ephemeral range (32768-60999 here): a port the
 * kernel hands out itself (listen(0)) can be taken, between our check and the real listen, as the
 * local port of any outgoing connection on the machine (seen as EADDRINUSE in CI). Each vitest worker
 * (VITEST_POOL_ID) gets its own slice, so parallel files never pick the same one either; within it,
 * a port is taken only if nothing listens on it now.
 */
const PORT_BASE = 20_000;
const SLICES = 8;
const SLICE = Math.floor((32_768 - PORT_BASE) / SLICES);
const slice = (Number(process.env.VITEST_POOL_ID ?? process.pid) || 0) % SLICES;
let nextInSlice = Math.floor(Math.random() * SLICE);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createTcpServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < SLICE; tries++) {
    const port = PORT_BASE + slice * SLICE + (nextInSlice++ % SLICE);
    if (await canListen(port)) return port;
  }
  throw new Error(`freePort: no free port in ${PORT_BASE + slice * SLICE}+${SLICE}`);
}

export interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ReqOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  socketPath?: string;
  timeoutMs?: number;
  /** Where to connect (default 127.0.0.1). */
  address?: string;
  /** The client's own address (any 127.x.y.z works on loopback). */
  localAddress?: string;
}

/** An HTTP request with an explicit Host header (global fetch would drop it). */
export function http(port: number, host: string, path = '/', opts: ReqOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: opts.address ?? '127.0.0.1',
        localAddress: opts.localAddress,
        port,
        socketPath: opts.socketPath,
        path,
        method: opts.method ?? 'GET',
        headers: { host, ...opts.headers },
        agent: false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export async function json(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await http(port, '127.0.0.1', path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    parsed = undefined;
  }
  return { ...res, json: parsed as Record<string, unknown> & { error?: { code: string; message: string } } };
}

export interface TestServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startServer(
  handler: RequestListener,
  port = 0,
  host = '127.0.0.1',
): Promise<TestServer> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A backend that answers JSON describing the request, and its own name. */
export function echoBackend(name: string, port = 0, host = '127.0.0.1'): Promise<TestServer> {
  return startServer(
    (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-backend', name);
      res.end(JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers }));
    },
    port,
    host,
  );
}

export async function until<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
