import type { FastifyInstance } from 'fastify';
import { logFilterSchema, logQuerySchema, resolveFilter } from '../observe/access-log-query.js';
import type { AccessLogStore } from '../observe/access-log-store.js';
import { eventStreams } from './event-stream.js';
import { parse } from './http-errors.js';
import type { AccessLogList } from './views/index.js';

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

  const stream = eventStreams(app);
  app.get('/logs/stream', (req, reply) => {
    // Bad filters are a 400 before the stream starts.
    const filter = resolveFilter(parse(logFilterSchema, req.query, 'query'));
    const { res, send, onEnd } = stream(req, reply);
    send('hello', { ok: true });
    onEnd(
      store.subscribe(filter, (records) => {
        // A reader too slow for the stream loses batches rather than holding memory without end.
        if (res.writableLength > 4 * 1024 * 1024) return;
        send('logs', { records });
      }),
    );
  });
}
