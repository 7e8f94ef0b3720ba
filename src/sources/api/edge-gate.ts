import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { EdgeFeed } from '../../edge/feed.js';
import type { NodeStore } from '../../edge/nodes.js';
import { GatehouseError } from '../../model/errors.js';
import { EDGE_GATE_PREFIX, NODE_TOKEN_HEADER, STATE_SEQ_HEADER } from '../../edge/transit.js';

/**
 * The gate's pages and checks for edges' nginx, relayed as they are (bodies unparsed, so outside
 * Fastify) to the gate's socket. The client address an edge's nginx saw (X-Real-IP) is believed
 * because only enrolled nodes get through.
 */
export function edgeGateRelay(
  gateSocket: string,
  nodes: NodeStore,
  feed: EdgeFeed,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const header = req.headers[NODE_TOKEN_HEADER];
    const auth = await nodes.byToken(typeof header === 'string' ? header : undefined);
    if (!auth) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(new GatehouseError('unauthorized', 'missing or wrong node token', 401).toJSON()),
      );
      req.resume();
      return;
    }
    const headers = { ...req.headers };
    delete headers[NODE_TOKEN_HEADER];
    const upstream = request(
      {
        socketPath: gateSocket,
        method: req.method,
        path: (req.url ?? '/').slice(EDGE_GATE_PREFIX.length) || '/',
        headers,
      },
      (answer) => {
        // The answer may rest on state files the gate just wrote (a sign-out, a link admission).
        void feed.freshStateSeq().then(
          (seq) => {
            res.writeHead(answer.statusCode ?? 502, { ...answer.headers, [STATE_SEQ_HEADER]: String(seq) });
            answer.pipe(res);
          },
          () => {
            res.writeHead(502).end();
            answer.resume();
          },
        );
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  return (req, res) => {
    if (!req.url?.startsWith(`${EDGE_GATE_PREFIX}/`)) return false;
    relay(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    return true;
  };
}
