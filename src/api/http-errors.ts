import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, ZodError, type ZodType } from 'zod';
import { fromZod, GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';

/**
 * One error shape for every HTTP listener: `{"error":{"code","message","issues"?}}`. Bad input is a
 * 4xx naming the field; anything unexpected is logged and answered 500 without internals.
 */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler(
    (err: FastifyError | GatehouseError | ZodError | Error, req: FastifyRequest, reply: FastifyReply) => {
      if (err instanceof GatehouseError) return reply.code(err.status).send(err.toJSON());
      if (err instanceof ZodError) return reply.code(400).send(fromZod(err).toJSON());
      const fe = err as FastifyError;
      if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
        const code = fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type' : 'bad_request';
        const message =
          fe.code?.startsWith('FST_ERR_CTP') || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
            ? `body: ${fe.message}`
            : fe.message;
        return reply.code(fe.statusCode).send(new GatehouseError(code, message, fe.statusCode).toJSON());
      }
      log.error({ err: err.message, stack: err.stack, url: req.url }, 'unexpected error');
      return reply
        .code(500)
        .send(new GatehouseError('internal', 'internal error; see the Gatehouse log', 500).toJSON());
    },
  );
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(
        new GatehouseError(
          'not_found',
          `no such endpoint: ${req.method} ${req.url.split('?')[0]}`,
          404,
        ).toJSON(),
      ),
  );
}

/**
 * Fastify's own refusals before routing (a malformed or overlong URL), in the one error shape: pass
 * as the `frameworkErrors` option (they never reach the error handler).
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'path: a part of the URL path is too long'
      : `path: ${err.message || 'not a valid URL'}`;
  void reply
    .code(status)
    .send(new GatehouseError('bad_request', message, status, [{ field: 'path', message }]).toJSON());
}

/** Parses `value` with `schema`, naming fields under `where` (body, query, params) on failure. */
export function parse<T extends ZodType>(schema: T, value: unknown, where: string): ReturnType<T['parse']> {
  const r = schema.safeParse(value);
  if (!r.success) throw fromZod(r.error, where);
  return r.data as ReturnType<T['parse']>;
}

/** A yes/no query parameter (`?wait=true`, `?force=1`). */
export const queryFlag = z.enum(['true', 'false', '1', '0']).optional();

/** Whether a yes/no query parameter says yes. */
export function isSet(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}
