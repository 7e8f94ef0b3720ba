import type { FastifyInstance } from 'fastify';
import { logFilterSchema, logQuerySchema, resolveFilter } from '../observe/access-log-query.js';
import type { AccessLogStore } from '../observe/access-log-store.js';
import { parse } from './http-errors.js';
import type { AccessLogList } from './views/index.js';

/** Keeps proxies and browsers from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * The access log (docs/logs.md): GET /logs (filtered, newest first, paged with `before`) and GET
 * /logs/stream (server-sent events: the records stored from now on that pass the same filters).
 */
export async function logRoutes(app: FastifyInstance, store: AccessLogStore): Promise<void> {
  app.get('/logs', async (req) => {
    const q = parse(logQuerySchema, req.query, 'query');
    const records = await store.list(resolveFilter(q), q.limit, q.before);
    const last = records[records.length - 1];
    return { records, next: records.length === q.limit && last ? last.id : null } satisfies AccessLogList;
  });

  const open = new Set<() => void>();
  // Streams never end by themselves: closing the API ends them, or the close would wait forever.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  app.get('/logs/stream', (req, reply) => {
    // Bad filters are a 400 before the stream starts.
    const filter = resolveFilter(parse(logFilterSchema, req.query, 'query'));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('hello', { ok: true });
    const off = store.subscribe(filter, (records) => {
      // A reader too slow for the stream loses batches rather than holding memory without end.
      if (res.writableLength > 4 * 1024 * 1024) return;
      send('logs', { records });
    });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = () => {
      clearInterval(keepalive);
      off();
      open.delete(end);
      res.end();
    };
    open.add(end);
    req.raw.on('close', end);
  });
}
