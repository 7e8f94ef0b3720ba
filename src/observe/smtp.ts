import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { headerText } from './alert-http.js';

/**
 * A minimal SMTP client for alert email (RFC 5321): EHLO, STARTTLS (RFC 3207), AUTH PLAIN or LOGIN
 * (RFC 4954), one message to its recipients. Gatehouse has no mail library among its dependencies
 * and sends a few short text messages, so this is written here rather than a dependency added.
 */

export interface SmtpOptions {
  host: string;
  port: number;
  starttls: boolean;
  username?: string;
  password?: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  /** Aborts the conversation (the caller's time limit). */
  signal: AbortSignal;
  /** Extra trusted CAs (PEM), for tests; the system's are used otherwise. */
  ca?: string;
}

interface Reply {
  code: number;
  lines: string[];
}

/** Reads SMTP replies (a multi-line one is `250-…` lines then `250 …`) from a socket. */
class Conversation {
  private buffer = '';
  private waiting: ((r: Reply | Error) => void) | undefined;
  private pending: Reply[] = [];
  private lines: string[] = [];
  private failure: Error | undefined;

  constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.take(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  /** Stops reading from the current socket (before it is wrapped in TLS). */
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.lines.push(line.slice(4));
      if (line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), lines: this.lines };
      this.lines = [];
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w(reply);
      else this.pending.push(reply);
    }
  }

  fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.(err);
  }

  reply(): Promise<Reply> {
    const next = this.pending.shift();
    if (next) return Promise.resolve(next);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = (r) => (r instanceof Error ? reject(r) : resolve(r));
    });
  }

  /** Sends a command (or nothing) and expects a reply with one of `codes`. */
  async expect(what: string, line: string | undefined, codes: number[]): Promise<Reply> {
    if (line !== undefined) this.socket.write(`${line}\r\n`);
    const r = await this.reply();
    if (!codes.includes(r.code))
      throw new Error(`${what}: the server answered ${r.code} ${r.lines.join(' ')}`.trim());
    return r;
  }
}

/** Sends one message; throws an Error saying which step failed and what the server said. */
export async function sendMail(o: SmtpOptions): Promise<void> {
  const socket = await open(() => netConnect({ host: o.host, port: o.port }), 'connect', o.signal);
  const c = new Conversation(socket);
  let current: Socket | TLSSocket = socket;
  const abort = () => c.fail(new Error('no answer in time'));
  o.signal.addEventListener('abort', abort, { once: true });
  try {
    await c.expect('greeting', undefined, [220]);
    const me = heloName();
    let ehlo = await c.expect('EHLO', `EHLO ${me}`, [250]);
    if (o.starttls) {
      if (!ehlo.lines.some((l) => /^STARTTLS\b/i.test(l)))
        throw new Error('the server does not offer STARTTLS');
      await c.expect('STARTTLS', 'STARTTLS', [220]);
      c.detach();
      current = await open(
        () =>
          tlsConnect({
            socket,
            // SNI takes names only; an address is still checked against the certificate.
            ...(isIP(o.host) ? { host: o.host } : { servername: o.host, host: o.host }),
            ...(o.ca ? { ca: o.ca } : {}),
          }),
        'TLS',
        o.signal,
        'secureConnect',
      );
      c.attach(current);
      ehlo = await c.expect('EHLO after STARTTLS', `EHLO ${me}`, [250]);
    }
    if (o.username !== undefined && o.password !== undefined) await auth(c, ehlo, o.username, o.password);
    await c.expect('MAIL FROM', `MAIL FROM:<${o.from}>`, [250]);
    for (const to of o.to) await c.expect(`RCPT TO ${to}`, `RCPT TO:<${to}>`, [250, 251]);
    await c.expect('DATA', 'DATA', [354]);
    await c.expect('the message', `${message(o)}\r\n.`, [250]);
    // Delivered: say goodbye and let the connection close on its own.
    current.end('QUIT\r\n');
    current.on('error', () => undefined);
    current.setTimeout(2_000, () => current.destroy());
  } catch (err) {
    current.destroy();
    socket.destroy();
    throw err;
  } finally {
    o.signal.removeEventListener('abort', abort);
  }
}

async function auth(c: Conversation, ehlo: Reply, user: string, pass: string): Promise<void> {
  const mechs = ehlo.lines
    .filter((l) => /^AUTH[ =]/i.test(l))
    .flatMap((l) => l.slice(5).toUpperCase().split(/\s+/));
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  if (mechs.includes('PLAIN')) {
    await c.expect('AUTH PLAIN', `AUTH PLAIN ${b64(`\0${user}\0${pass}`)}`, [235]);
  } else if (mechs.includes('LOGIN')) {
    await c.expect('AUTH LOGIN', 'AUTH LOGIN', [334]);
    await c.expect('AUTH LOGIN user name', b64(user), [334]);
    await c.expect('AUTH LOGIN password', b64(pass), [235]);
  } else {
    throw new Error('the server offers neither AUTH PLAIN nor AUTH LOGIN');
  }
}

/** The message: headers, a blank line, the text (UTF-8, base64: no line-length or dot trouble). */
function message(o: SmtpOptions): string {
  const domain = o.from.split('@')[1] ?? 'gatehouse';
  const headers = [
    `From: <${o.from}>`,
    `To: ${o.to.map((t) => `<${t}>`).join(', ')}`,
    `Subject: ${headerText(o.subject)}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
  ];
  const body = (
    Buffer.from(o.text, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? []
  ).join('\r\n');
  return `${headers.join('\r\n')}\r\n\r\n${body}`;
}

function heloName(): string {
  const h = hostname();
  return /^[A-Za-z0-9.-]+$/.test(h) ? h : 'gatehouse';
}

/** Resolves once the socket is connected (`event`), or rejects with the step that failed. */
function open<S extends Socket | TLSSocket>(
  make: () => S,
  step: string,
  signal: AbortSignal,
  event = 'connect',
): Promise<S> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('no answer in time'));
    const s = make();
    const onAbort = () => {
      s.destroy();
      reject(new Error('no answer in time'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    s.once(event, () => {
      signal.removeEventListener('abort', onAbort);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err: Error & { code?: string }) => {
      signal.removeEventListener('abort', onAbort);
      reject(new Error(`${step}: ${err.code ?? err.message}`, { cause: err }));
    });
  });
}
