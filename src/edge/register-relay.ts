import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';
import { NODE_TOKEN_HEADER } from './transit.js';

/** Where a control plane takes registrations relayed by edges (its management API, node token). */
export const EDGE_REGISTER_PREFIX = '/edge/v1/registration';
/** The address the client connected to the edge from (believed: only enrolled nodes get through). */
export const CLIENT_ADDRESS_HEADER = 'x-gatehouse-client';
/** The registration listener's body limit, on the edge as on the control plane. */
export const REGISTER_BODY_LIMIT = 64 * 1024;

/** How long one replica may take to answer before the next is asked. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** A replica that did not answer is asked last for this long (a dead machine costs one timeout). */
const DOWN_MS = 5_000;
/** Headers of the client's passed to the control plane; the answer's passed back. */
const REQUEST_HEADERS = ['authorization', 'content-type', 'accept'] as const;
const ANSWER_HEADERS = ['content-type', 'www-authenticate'] as const;

export interface RegisterRelayOptions {
  host: string;
  port: number;
  /** The control URLs, and the one the agent follows now (asked first). */
  controls: () => { urls: readonly string[]; current: string };
  /** This edge's node token (the relay's own credential; the client's Authorization goes as is). */
  token: string;
  log: Logger;
}

/**
 * The registration listener on an edge (`gatehouse edge --register-listen`): each call (register,
 * deregister, agent heartbeats, health) goes to a live control-plane replica, which checks the
 * client's token and source address and stores it; the client gets that replica's answer only once
 * it came. No replica answering: 503, and the client retries (a registration is idempotent).
 */
export class RegisterRelay {
  private server: Server | undefined;
  private readonly downUntil = new Map<string, number>();
  /** The bound address, once started. */
  address = '';

  constructor(private readonly o: RegisterRelayOptions) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.error({ err: err instanceof Error ? err.message : String(err) }, 'register relay failed');
        if (!res.headersSent) answer(res, noReplica(['the relay failed']));
        else res.destroy();
      });
    });
    server.requestTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`register-listen: ${err.message}`)));
      server.listen(this.o.port, this.o.host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) =>
          this.o.log.error({ err: err.message }, 'edge: registration listener error'),
        );
        resolve();
      });
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    this.address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    this.o.log.info(
      { address: this.address },
      'edge: registration listener up (relayed to the control plane)',
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeIdleConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** The current control URL first, then the others in turn; any that failed lately, last. */
  private order(): string[] {
    const { urls, current } = this.o.controls();
    const i = Math.max(0, urls.indexOf(current));
    const turn = [...urls.slice(i), ...urls.slice(0, i)];
    const now = Date.now();
    const up = turn.filter((u) => (this.downUntil.get(u) ?? 0) <= now);
    return [...up, ...turn.filter((u) => !up.includes(u))];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) {
      // As the control plane's own listener answers an overlong body.
      res.setHeader('connection', 'close');
      return answer(res, new GatehouseError('bad_request', 'body: Request body is too large', 413));
    }
    const headers: Record<string, string> = {
      [NODE_TOKEN_HEADER]: this.o.token,
      [CLIENT_ADDRESS_HEADER]: req.socket.remoteAddress ?? '',
    };
    for (const h of REQUEST_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const failures: string[] = [];
    let last503: { status: number; headers: Headers; body: Buffer } | undefined;
    for (const base of this.order()) {
      let r: Response;
      let payload: Buffer;
      try {
        r = await fetch(`${base}${EDGE_REGISTER_PREFIX}${path.startsWith('/') ? path : `/${path}`}`, {
          method,
          headers,
          ...(body.length > 0 && method !== 'GET' && method !== 'HEAD' ? { body: new Uint8Array(body) } : {}),
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        payload = Buffer.from(await r.arrayBuffer());
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
        failures.push(`${base}: ${err instanceof Error ? err.message : String(err)}${cause}`);
        this.downUntil.set(base, Date.now() + DOWN_MS);
        continue;
      }
      if (r.status >= 500) {
        // This replica cannot store it now (its database away, a proxy before a dead one): the next.
        failures.push(`${base}: answered ${r.status}`);
        if (r.status === 503) last503 = { status: r.status, headers: r.headers, body: payload };
        this.downUntil.set(base, Date.now() + DOWN_MS);
        continue;
      }
      this.downUntil.delete(base);
      if (failures.length > 0)
        this.o.log.warn({ failures, to: base }, 'edge: registration relayed to the next replica');
      return pass(res, r.status, r.headers, payload);
    }
    this.o.log.warn(
      { failures, path: path.split('?')[0] },
      'edge: no control-plane replica took the registration call',
    );
    // A replica's own 503 says why (its database is away); otherwise the relay says none answered.
    if (last503) return pass(res, last503.status, last503.headers, last503.body);
    return answer(res, noReplica(failures));
  }
}

function noReplica(failures: string[]): GatehouseError {
  return new GatehouseError(
    'control_plane_unavailable',
    `no control-plane replica answered (${failures.join('; ')}); nothing was stored: retry later or at the other proxy`,
    503,
  );
}

/** The body up to the limit; undefined as soon as it is past it (the connection then closes). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > REGISTER_BODY_LIMIT) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= REGISTER_BODY_LIMIT) chunks.push(chunk);
      else {
        req.removeAllListeners('data');
        resolve(undefined);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function pass(res: ServerResponse, status: number, headers: Headers, body: Buffer): void {
  const out: Record<string, string> = { 'content-length': String(body.length) };
  for (const h of ANSWER_HEADERS) {
    const v = headers.get(h);
    if (v !== null) out[h] = v;
  }
  res.writeHead(status, out).end(body);
}

function answer(res: ServerResponse, err: GatehouseError): void {
  const body = Buffer.from(JSON.stringify(err.toJSON()));
  res
    .writeHead(err.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(body.length),
    })
    .end(body);
}
