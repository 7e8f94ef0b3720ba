import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { NodeStore } from '../edge/nodes.js';
import { CLIENT_ADDRESS_HEADER, EDGE_REGISTER_PREFIX, REGISTER_BODY_LIMIT } from '../edge/register-relay.js';
import { NODE_TOKEN_HEADER } from '../edge/transit.js';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';

/** The client's headers the registration app sees (the client's own Authorization among them). */
const PASSED = ['authorization', 'content-type', 'accept'] as const;

/**
 * Registrations an edge relays (`gatehouse edge --register-listen`), with its node token: handed to
 * this control plane's registration app as if the client had called it from its own address, so
 * the register token, the source allowlist, the body limit and every answer are the listener's.
 * Raw HTTP (outside the API's Fastify), so that the body reaches the registration app unparsed.
 */
export function edgeRegisterRelay(
  register: FastifyInstance,
  nodes: NodeStore,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const token = req.headers[NODE_TOKEN_HEADER];
    const auth = await nodes.byToken(typeof token === 'string' ? token : undefined);
    if (!auth) {
      req.resume();
      return send(
        res,
        new GatehouseError(
          'unauthorized',
          'the edge relaying this call is not enrolled here (its node token was refused)',
          401,
        ),
      );
    }
    const client = req.headers[CLIENT_ADDRESS_HEADER];
    if (typeof client !== 'string' || isIP(client) === 0) {
      req.resume();
      return send(
        res,
        new GatehouseError('bad_request', `${CLIENT_ADDRESS_HEADER}: the client's IP address`, 400),
      );
    }
    // One byte past the limit is enough for the registration app to refuse it as too large.
    const payload = await readAtMost(req, REGISTER_BODY_LIMIT + 1);
    const headers: Record<string, string> = {};
    for (const h of PASSED) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const path = (req.url ?? '/').slice(EDGE_REGISTER_PREFIX.length) || '/';
    const method = (req.method ?? 'GET') as 'GET';
    const answer = await register.inject({
      method,
      url: path,
      headers,
      remoteAddress: client,
      ...(payload.length > 0 ? { payload } : {}),
    });
    const out: Record<string, string> = { 'content-length': String(answer.rawPayload.length) };
    for (const h of ['content-type', 'www-authenticate']) {
      const v = answer.headers[h];
      if (typeof v === 'string') out[h] = v;
    }
    res.writeHead(answer.statusCode, out).end(answer.rawPayload);
    if (answer.statusCode < 300 && method !== 'GET')
      log.debug({ node: auth.node.name, client, path }, 'registration relayed by an edge');
  };
  return (req, res) => {
    if (req.url !== EDGE_REGISTER_PREFIX && !req.url?.startsWith(`${EDGE_REGISTER_PREFIX}/`)) return false;
    relay(req, res).catch((err: unknown) => {
      // The node lookup needs the database: away, the edge hears 503 and asks the next replica.
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'relayed registration failed');
      if (res.headersSent) return res.destroy();
      send(
        res,
        new GatehouseError(
          'unavailable',
          'this replica cannot take the registration now (its database did not answer); another may',
          503,
        ),
      );
    });
    return true;
  };
}

function send(res: ServerResponse, err: GatehouseError): void {
  const body = JSON.stringify(err.toJSON());
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** Up to `max` bytes of the body (the rest is read and dropped). */
async function readAtMost(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (size < max) chunks.push(chunk.subarray(0, max - size));
    size += chunk.length;
  }
  return Buffer.concat(chunks);
}
