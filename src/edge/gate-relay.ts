import { chmod, chown, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EDGE_GATE_PREFIX, NODE_TOKEN_HEADER, STATE_SEQ_HEADER } from './transit.js';

/** How long an answer may wait for the gate state it rests on before it goes out anyway. */
const STATE_WAIT_MS = 2000;

/**
 * The gate for an edge's nginx: a unix socket (the same place a local gate listens) that relays
 * each request to the control plane's gate, with the node token. An answer that rests on state the
 * gate just wrote (a sign-out, a temporary link admitting this address) is held until this edge
 * has mirrored that state, so the browser's next request is judged by it.
 */
export class GateRelay {
  private server: Server | undefined;
  private seq = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];

  constructor(
    private readonly control: string,
    private readonly token: string,
  ) {}

  /** The edge mirrored the gate state of this sequence number. */
  stateSynced(seq: number): void {
    this.seq = seq;
    const ready = this.waiters.filter((w) => w.seq <= seq);
    this.waiters = this.waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve();
  }

  private waitForState(seq: number): Promise<void> {
    if (seq <= this.seq) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { seq, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve();
      }, STATE_WAIT_MS).unref();
    });
  }

  async listen(socket: string): Promise<void> {
    await rm(socket, { force: true });
    const base = new URL(this.control.replace(/\/$/, '') + EDGE_GATE_PREFIX);
    const request = base.protocol === 'https:' ? httpsRequest : httpRequest;
    this.server = createServer((req, res) => {
      const upstream = request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: req.method,
          path: base.pathname + (req.url ?? '/'),
          headers: { ...req.headers, [NODE_TOKEN_HEADER]: this.token },
          timeout: 15_000,
        },
        (answer) => {
          const seq = Number(answer.headers[STATE_SEQ_HEADER] ?? 0);
          const headers = { ...answer.headers };
          delete headers[STATE_SEQ_HEADER];
          void this.waitForState(seq).then(() => {
            res.writeHead(answer.statusCode ?? 502, headers);
            answer.pipe(res);
          });
        },
      );
      // Control plane unreachable: the connection is dropped, so nginx answers its own error, which
      // the gate's locations turn into "sign-in unavailable" (503). A 502 sent here would pass as is.
      upstream.on('timeout', () => upstream.destroy());
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(socket, resolve);
    });
    try {
      // nginx's workers run as nobody:nogroup when started as root.
      await chown(socket, 0, 65534);
      await chmod(socket, 0o660);
    } catch {
      await chmod(socket, 0o600);
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
