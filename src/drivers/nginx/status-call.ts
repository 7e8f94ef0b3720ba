import { request } from 'node:http';

/**
 * One request to an endpoint of nginx's status server (its root-only unix socket: the fast lane's
 * table, certificates, revocations, CrowdSec's decisions). Resolves with nginx's status and text;
 * rejects when nginx does not answer (`what` names the endpoint in the timeout's message).
 */
export function callStatus(
  socketPath: string,
  path: string,
  method: 'GET' | 'PUT' | 'PATCH' | 'POST',
  opts: { body?: string; what: string; timeoutMs?: number },
): Promise<{ status: number; body: string }> {
  const timeout = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const headers = opts.body !== undefined ? { 'content-length': Buffer.byteLength(opts.body) } : {};
    const req = request({ socketPath, path, method, headers, timeout }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () =>
      req.destroy(new Error(`the ${opts.what} endpoint did not answer within ${timeout / 1000} s`)),
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
