import { chmod, chown, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  EDGE_GATE_PREFIX,
  endToEnd,
  NODE_TOKEN_HEADER,
  ORIGINAL_HOST_HEADER,
  STATE_HEADER,
} from './transit.js';

/** How long an answer may wait for the gate state it rests on before it goes out anyway. */
const STATE_WAIT_MS = 2000;
/** How long the control plane may take to answer. */
const CONTROL_TIMEOUT_MS = 15_000;

/**
 * The gate for an edge's nginx: a unix socket (the same place a local gate listens) that relays
 * each request to the control plane's gate, with the node token. An answer that rests on state the
 * gate just wrote (a sign-out, a temporary link admitting this address) is held until this edge
 * has mirrored that state, so the browser's next request is judged by it.
 */
export class GateRelay {
  private server: Server | undefined;
  private synced = { epoch: '', seq: 0 };
  private readonly waiters = new Set<{ epoch: string; seq: number; resolve: () => void }>();

  constructor(
    /** The control plane's URL (a function: the one an agent with several follows now). */
    private readonly control: string | (() => string),
    private readonly token: string,
  ) {}

  /** The edge mirrored the gate state `seq` of the control plane process `epoch`. */
  stateSynced(epoch: string, seq: number): void {
    this.synced = { epoch, seq };
    for (const w of this.waiters) if (this.has(w.epoch, w.seq)) w.resolve();
  }

  private has(epoch: string, seq: number): boolean {
    return this.synced.epoch === epoch && this.synced.seq >= seq;
  }

  private waitForState(marker: string | undefined): Promise<void> {
    const m = /^([0-9a-f]{1,32}):([0-9]{1,15})$/.exec(marker ?? '');
    if (!m) return Promise.resolve();
    const [epoch, seq] = [m[1] as string, Number(m[2])];
    if (this.has(epoch, seq)) return Promise.resolve();
    return new Promise((resolve) => {
      const w = {
        epoch,
        seq,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(w.resolve, STATE_WAIT_MS);
      this.waiters.add(w);
    });
  }

  async listen(socket: string): Promise<void> {
    await rm(socket, { force: true });
    const control = this.control;
    this.server = createServer((req, res) => {
      const url = typeof control === 'string' ? control : control();
      const base = new URL(url.replace(/\/$/, '') + EDGE_GATE_PREFIX);
      const request = base.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers = endToEnd({ ...req.headers });
      // The control plane is addressed as itself (TLS name, any proxy before it); the client's
      // Host travels beside it.
      if (headers.host) headers[ORIGINAL_HOST_HEADER] = headers.host;
      headers.host = base.host;
      headers[NODE_TOKEN_HEADER] = this.token;
      const upstream = request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          // SNI carries names only (RFC 6066), never an address.
          ...(isIP(base.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: base.hostname }),
          method: req.method,
          path: base.pathname + (req.url ?? '/'),
          headers,
          timeout: CONTROL_TIMEOUT_MS,
        },
        (answer) => {
          const marker = answer.headers[STATE_HEADER];
          void this.waitForState(typeof marker === 'string' ? marker : undefined).then(() => {
            if (res.destroyed) return answer.resume();
            const out = endToEnd({ ...answer.headers });
            delete out[STATE_HEADER];
            res.writeHead(answer.statusCode ?? 502, out);
            answer.pipe(res);
          });
        },
      );
      // Control plane unreachable: the connection is dropped, so nginx answers its own error, which
      // the gate's locations turn into "sign-in unavailable" (503). A 502 sent here would pass as is.
      upstream.on('timeout', () => upstream.destroy());
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
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
    for (const w of this.waiters) w.resolve();
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
