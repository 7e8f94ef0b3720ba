import { request } from 'node:http';
import { join } from 'node:path';

/** nginx's client connections now (stub_status): all open, and by what they do. */
export interface NginxConnections {
  active: number;
  reading: number;
  writing: number;
  waiting: number;
}

/** The status socket of nginx in `prefix` (src/drivers/nginx/driver.ts). */
export function statusSocketOf(prefix: string): string {
  return join(prefix, 'run', 'status.sock');
}

/** stub_status's answer → counts; undefined when it is not one. */
export function parseStubStatus(text: string): NginxConnections | undefined {
  const active = /Active connections:\s*(\d+)/.exec(text)?.[1];
  const rw = /Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/.exec(text);
  if (active === undefined || !rw) return undefined;
  return { active: Number(active), reading: Number(rw[1]), writing: Number(rw[2]), waiting: Number(rw[3]) };
}

/** Asks nginx's status socket (GET /stub_status); undefined while nginx does not answer. */
export function readConnections(socket: string): Promise<NginxConnections | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/stub_status', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? parseStubStatus(body) : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Reads nginx's connections into `into` now and every `everyMs`; returns the stop. */
export function followConnections(
  socket: string,
  into: { connections: NginxConnections | undefined },
  everyMs = 5000,
): () => void {
  const read = () =>
    void readConnections(socket).then((c) => {
      if (c) into.connections = c;
    });
  read();
  const timer = setInterval(read, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
