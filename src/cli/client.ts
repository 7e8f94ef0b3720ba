import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GatehouseError } from '../model/errors.js';
import { CLI_UID_HEADER } from '../api/audit-log.js';

export interface ClientOptions {
  /** Base URL of the management API; when absent the local unix socket is used. */
  api?: string;
  token?: string;
  socketPath: string;
}

/** A small client for the management API, over the local socket or HTTP(S) with the admin token. */
export class ApiClient {
  constructor(private readonly opts: ClientOptions) {}

  /** Where a request for `path` goes, with its credentials added to `headers`. */
  private target(
    path: string,
    headers: Record<string, string>,
  ): { socketPath?: string; host?: string; port?: number; protocol?: string; path: string } {
    if (this.opts.api) {
      const u = new URL(
        path.replace(/^\//, ''),
        this.opts.api.endsWith('/') ? this.opts.api : `${this.opts.api}/`,
      );
      if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
      return {
        // URL keeps IPv6 literals in brackets; sockets want them bare.
        host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(u.port) || undefined,
        protocol: u.protocol,
        path: u.pathname + u.search,
      };
    }
    // Over the socket the audit log names the change's author by the uid it runs as.
    if (typeof process.getuid === 'function') headers[CLI_UID_HEADER] = String(process.getuid());
    return { socketPath: this.opts.socketPath, path };
  }

  /**
   * Reads server-sent events from `path` (GET), calling `onEvent` for each, until the server ends
   * the stream; an error answer (4xx) is thrown as the API said it.
   */
  stream(path: string, onEvent: (event: string, data: unknown) => void): Promise<void> {
    const headers: Record<string, string> = {};
    const target = this.target(path, headers);
    const send = target.protocol === 'https:' ? httpsRequest : request;
    return new Promise<void>((resolve, reject) => {
      const req = send({ ...target, method: 'GET', headers }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        const status = res.statusCode ?? 0;
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (status >= 400) return;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) onEvent(event, JSON.parse(data));
          }
        });
        res.on('end', () => {
          if (status < 400) return resolve();
          let e:
            { code?: string; message?: string; issues?: { field: string; message: string }[] } | undefined;
          try {
            e = (JSON.parse(buf) as { error?: typeof e }).error;
          } catch {
            e = undefined;
          }
          reject(
            new GatehouseError(e?.code ?? 'error', e?.message ?? `HTTP ${status}`, status, e?.issues ?? []),
          );
        });
      });
      req.on('error', (err) =>
        reject(new GatehouseError('unreachable', `cannot reach Gatehouse: ${err.message}`, 503)),
      );
      req.end();
    });
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const target = this.target(path, headers);
    const send = target.protocol === 'https:' ? httpsRequest : request;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send({ ...target, method, headers, timeout: 60_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const where = this.opts.api ?? this.opts.socketPath;
        const hint =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is `gatehouse up` running?)' : '';
        reject(
          new GatehouseError('unreachable', `cannot reach Gatehouse at ${where}: ${err.message}${hint}`, 503),
        );
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new GatehouseError('bad_response', `unexpected answer (${status}): ${text.slice(0, 200)}`, 502);
    }
    if (status >= 400) {
      const e = (
        parsed as {
          error?: { code?: string; message?: string; issues?: { field: string; message: string }[] };
        }
      ).error;
      throw new GatehouseError(e?.code ?? 'error', e?.message ?? `HTTP ${status}`, status, e?.issues ?? []);
    }
    return parsed as T;
  }
}
