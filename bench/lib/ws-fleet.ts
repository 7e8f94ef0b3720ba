import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/** A backend answering `ok` to HTTP and echoing every WebSocket message, in this process. */
export interface EchoBackend {
  port: number;
  close(): Promise<void>;
}

export async function startEchoBackend(): Promise<EchoBackend> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
    res.end('ok\n');
  });
  // Longer than nginx's upstream keepalive_timeout: nginx, not the backend, closes idle pooled ones.
  server.keepAliveTimeout = 75_000;
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** What the fleet saw: every socket opened, every exchange, every close before the end. */
export interface FleetTally {
  opened: number;
  /** Sockets that failed to open (`host: error`). */
  openFailures: string[];
  /** Sockets closed before the end of the run (`host: code reason`). */
  dropped: string[];
  exchanges: number;
  /** Messages with no (or a wrong) echo within the timeout. */
  failedExchanges: string[];
}

interface Member {
  ws: WebSocket;
  host: string;
  timer?: NodeJS.Timeout;
  /** The echo each send waits for, in order (the backend answers in order). */
  waiting: Waiter[];
}

interface Waiter {
  expect: string;
  timer: NodeJS.Timeout;
  resolve: (ok: boolean) => void;
}

const ECHO_TIMEOUT_MS = 5_000;

/**
 * WebSocket clients through nginx, each sending a message every `everyMs` (at its own phase) and
 * checking the echo; a socket that closes before `finish()` counts as dropped.
 */
export class WsFleet {
  private readonly members: Member[] = [];
  private ending = false;
  readonly tally: FleetTally = {
    opened: 0,
    openFailures: [],
    dropped: [],
    exchanges: 0,
    failedExchanges: [],
  };

  constructor(
    private readonly proxyPort: number,
    private readonly everyMs: number,
  ) {}

  /** Opens one socket to `host` through nginx and starts its exchanges; never rejects. */
  async open(host: string): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${this.proxyPort}/socket`, { headers: { host } });
    const ok = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('error', (err) => {
        this.tally.openFailures.push(`${host}: ${err.message}`);
        resolve(false);
      });
    });
    if (!ok) return;
    this.tally.opened++;
    const m: Member = { ws, host, waiting: [] };
    this.members.push(m);
    ws.on('error', () => undefined);
    ws.on('message', (data) => this.received(m, String(data)));
    ws.on('close', (code, reason) => {
      if (!this.ending) this.tally.dropped.push(`${host}: ${code} ${String(reason)}`.trim());
      if (m.timer) clearInterval(m.timer);
    });
    const first = Math.random() * this.everyMs;
    setTimeout(() => {
      if (this.ending || ws.readyState !== WebSocket.OPEN) return;
      this.send(m);
      m.timer = setInterval(() => this.send(m), this.everyMs);
    }, first).unref();
  }

  private send(m: Member, text = `${m.host}#${this.tally.exchanges}`): Promise<boolean> {
    if (m.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    this.tally.exchanges++;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        expect: `echo:${text}`,
        resolve,
        timer: setTimeout(() => {
          this.tally.failedExchanges.push(`${m.host}: no echo of ${text} within ${ECHO_TIMEOUT_MS} ms`);
          m.waiting = m.waiting.filter((w) => w !== waiter);
          resolve(false);
        }, ECHO_TIMEOUT_MS),
      };
      m.waiting.push(waiter);
      m.ws.send(text);
    });
  }

  private received(m: Member, text: string): void {
    const w = m.waiting.shift();
    if (!w) return;
    clearTimeout(w.timer);
    const ok = text === w.expect;
    if (!ok) this.tally.failedExchanges.push(`${m.host}: got ${text}, expected ${w.expect}`);
    w.resolve(ok);
  }

  /** Stops the periodic sends, does one last exchange on every socket, closes them all. */
  async finish(): Promise<{ open: number; lastExchangeOk: number }> {
    for (const m of this.members) if (m.timer) clearInterval(m.timer);
    const open = this.members.filter((m) => m.ws.readyState === WebSocket.OPEN);
    const results = await Promise.all(open.map((m) => this.send(m, `${m.host}#last`)));
    // Wait for any periodic exchange still in flight (each settles within ECHO_TIMEOUT_MS).
    const deadline = Date.now() + ECHO_TIMEOUT_MS + 500;
    while (this.members.some((m) => m.waiting.length > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.ending = true;
    for (const m of this.members) m.ws.terminate();
    return { open: open.length, lastExchangeOk: results.filter(Boolean).length };
  }
}
