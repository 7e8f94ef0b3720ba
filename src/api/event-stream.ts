import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Keeps proxies and browsers from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export interface EventStream {
  res: ServerResponse;
  send(event: string, data: unknown): void;
  /** Runs when the stream ends (the client went, or the API closes). */
  onEnd(fn: () => void): void;
}

/**
 * Server-sent events for the routes of `app` (GET /stream, GET /logs/stream): the answer taken
 * over from Fastify, a keep-alive comment every 15 s, and every stream ended when the API closes
 * (streams never end by themselves: the close would wait forever).
 */
export function eventStreams(
  app: FastifyInstance,
): (req: FastifyRequest, reply: FastifyReply) => EventStream {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  return (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const cleanups: (() => void)[] = [];
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = () => {
      if (!open.delete(end)) return;
      clearInterval(keepalive);
      for (const fn of cleanups) fn();
      res.end();
    };
    open.add(end);
    req.raw.on('close', end);
    return {
      res,
      send: (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
      onEnd: (fn) => cleanups.push(fn),
    };
  };
}
