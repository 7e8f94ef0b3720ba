import { request } from 'node:http';

export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Reads the management API's server-sent events (/api/v1/stream) into an array until closed. */
export function openStream(
  port: number,
  headers: Record<string, string>,
  path = '/api/v1/stream',
): { events: StreamEvent[]; close: () => void } {
  const events: StreamEvent[] = [];
  const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { events, close: () => req.destroy() };
}
