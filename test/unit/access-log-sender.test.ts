import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import { createLogger } from '../../src/observe/log.js';
import { AccessLogSender } from '../../src/observe/access-log-sender.js';
import { TrafficCounters, type TrafficCountersWire } from '../../src/observe/traffic-metrics.js';

const record: AccessLogRecord = {
  time: 1,
  node: 'local',
  host: 'a.test',
  service: 'app',
  route: '/',
  method: 'GET',
  path: '/',
  status: 200,
  duration_ms: 1,
  upstream: null,
  upstream_ms: null,
  bytes_in: 1,
  bytes_out: 1,
  client: '127.0.0.1',
  user: null,
  country: null,
};

interface Got {
  auth: string | undefined;
  body: { records: AccessLogRecord[]; counters: TrafficCountersWire };
}

/** A control plane that answers each POST with the next status of `statuses` (then 200). */
async function control(statuses: number[]): Promise<{ server: Server; url: string; got: Got[] }> {
  const got: Got[] = [];
  const read = async (req: IncomingMessage) => {
    let text = '';
    for await (const c of req) text += String(c);
    return JSON.parse(text) as Got['body'];
  };
  const server = createServer((req, res) => {
    void read(req).then((body) => {
      got.push({ auth: req.headers.authorization, body });
      res.writeHead(statuses.shift() ?? 200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

describe("an edge's access log sender", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('sends a batch again while the control plane answers 5xx, then only the counters that changed', async () => {
    const c = await control([503, 502]);
    server = c.server;
    const counters = new TrafficCounters(10, 7);
    const s = new AccessLogSender({
      base: () => c.url,
      token: 'node-token',
      counters,
      log: createLogger('silent'),
      retryMs: [5],
    });
    counters.add({ record, attempts: 1, failures: 0 });
    await s.ingest([record]);
    expect(c.got).toHaveLength(3);
    expect(c.got[2]?.auth).toBe('Bearer node-token');
    expect(c.got[2]?.body.records).toEqual([record]);
    expect(c.got[2]?.body.counters).toMatchObject({ epoch: 7, lines: 1 });
    expect(c.got[2]?.body.counters.series).toHaveLength(1);
    // Nothing changed since the control plane took them: no series sent again.
    await s.ingest([record]);
    expect(c.got[3]?.body.counters.series).toEqual([]);
  });

  it('drops a batch the control plane refuses as invalid (4xx): sending it again would not help', async () => {
    const c = await control([400]);
    server = c.server;
    const s = new AccessLogSender({
      base: () => c.url,
      token: 't',
      counters: new TrafficCounters(),
      log: createLogger('silent'),
      retryMs: [5],
    });
    await expect(s.ingest([record])).rejects.toThrow(/refused/);
    expect(c.got).toHaveLength(1);
  });
});
