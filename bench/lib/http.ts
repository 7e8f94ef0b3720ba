import { request, type Agent, type IncomingHttpHeaders } from 'node:http';

// One implementation for tests and benchmarks.
export { freePort } from '../../test/helpers/net.js';

export interface Res {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

export interface ReqOptions {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string;
  /** A keep-alive agent to reuse connections; by default every request gets a fresh connection. */
  agent?: Agent;
  timeoutMs?: number;
}

/** One request to 127.0.0.1:port with an explicit Host header (global fetch would not send it). */
export function httpRequest(port: number, opts: ReqOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        headers: { host: opts.host ?? '127.0.0.1', ...opts.headers },
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/** A JSON POST; the parsed body is `unknown` on purpose: callers check what they rely on. */
export async function postJson(
  port: number,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  agent?: Agent,
): Promise<{ status: number; json: unknown }> {
  const res = await httpRequest(port, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    agent,
  });
  return { status: res.status, json: parseJson(res.body) };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; resolves with results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
