import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { EdgeFeed } from '../edge/feed.js';
import type { NodeStore } from '../edge/nodes.js';
import { GatehouseError } from '../model/errors.js';
import {
  EDGE_GATE_PREFIX,
  endToEnd,
  NODE_TOKEN_HEADER,
  ORIGINAL_HOST_HEADER,
  STATE_HEADER,
} from '../edge/transit.js';

/** How long the gate may take to answer a relayed request. */
const GATE_TIMEOUT_MS = 15_000;

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
    const headers = endToEnd({ ...req.headers });
    delete headers[NODE_TOKEN_HEADER];
    // The Host the client asked the edge for (the request's own Host names the control plane).
    const host = headers[ORIGINAL_HOST_HEADER];
    delete headers[ORIGINAL_HOST_HEADER];
    if (typeof host === 'string') headers.host = host;
    const path = (req.url ?? '/').slice(EDGE_GATE_PREFIX.length) || '/';
    // Answers that may rest on state files the gate writes: a sign-out (POST), a link admission.
    const writes = (req.method !== 'GET' && req.method !== 'HEAD') || path.startsWith('/.gatehouse/link/');
    const upstream = request(
      { socketPath: gateSocket, method: req.method, path, headers, timeout: GATE_TIMEOUT_MS },
      (answer) => {
        void (writes ? feed.freshState() : feed.gateState()).then(
          (state) => {
            if (res.destroyed) return answer.resume();
            res.writeHead(answer.statusCode ?? 502, {
              ...endToEnd(answer.headers),
              [STATE_HEADER]: `${state.epoch}:${state.seq}`,
            });
            answer.pipe(res);
          },
          () => {
            answer.resume();
            res.destroy();
          },
        );
      },
    );
    upstream.on('timeout', () => upstream.destroy());
    // The edge's relay turns a dropped connection into nginx's own error (sign-in unavailable).
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };
  return (req, res) => {
    if (!req.url?.startsWith(`${EDGE_GATE_PREFIX}/`)) return false;
    relay(req, res).catch(() => res.destroy());
    return true;
  };
}
