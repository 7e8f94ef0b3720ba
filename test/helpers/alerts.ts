import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { freePort } from './net.js';

/** Receivers for alert channels' tests (test/e2e/alert-channels.test.ts): HTTP, SMTP, and the CLI. */

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A local HTTP receiver: records every request; `answer` decides the reply (status and body), or
 * never replies (`hang`). The chat services' receivers are FAKES of their APIs: they answer what the
 * real one does to a good request, and refuse a request the real API would refuse.
 */
export async function receiver(
  answer: (r: Received) => { status: number; body?: string } | 'hang' = () => ({ status: 200 }),
): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      got.push(r);
      const a = answer(r);
      if (a === 'hang') return;
      res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.body ?? '');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, got, server };
}

const root = resolve(import.meta.dirname, '..', '..');

/** The built CLI (bin/gatehouse.js, from dist/) over the running Gatehouse's local unix socket. */
export function cli(
  dataDir: string,
  args: string[],
  input = '',
): Promise<{ code: number | null; out: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), '--data-dir', dataDir, ...args], {
      env,
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => done({ code, out }));
    p.stdin.end(input);
  });
}

export const json = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

/** Debian's aiosmtpd as a real SMTP server: each message it accepts, as a JSON line on stdout. */
const SMTPD = `
import json, ssl, sys, signal
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
class H:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos, "data": envelope.content.decode("utf8", "replace"), "tls": session.ssl is not None, "login": session.authenticated}), flush=True)
        return "250 OK"
def auth(server, session, envelope, mechanism, data):
    return AuthResult(success=(data.login == b"alerts" and data.password == b"smtp-pass-1"), handled=False)
port = int(sys.argv[1])
kw = {}
if len(sys.argv) > 2:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    kw = dict(tls_context=ctx, require_starttls=True, authenticator=auth, auth_required=True, auth_require_tls=True)
c = Controller(H(), hostname="127.0.0.1", port=port, **kw)
c.start()
print("READY", flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
c.stop()
`;

export async function smtpd(
  args: string[],
): Promise<{ port: number; proc: ChildProcess; mail: (n?: number) => Promise<Record<string, unknown>[]> }> {
  const port = await freePort();
  const proc = spawn('/usr/bin/python3', ['-c', SMTPD, String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((ok, fail) => {
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('READY')) ok();
    });
    proc.once('exit', (code) => fail(new Error(`aiosmtpd exited ${code}: ${err}`)));
  });
  const received = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(json);
  /** The messages received once there are `n` (the server's output may trail its 250 by a moment). */
  const mail = async (n = 1) => {
    for (let i = 0; i < 50 && received().length < n; i++) await new Promise((r) => setTimeout(r, 50));
    return received();
  };
  return { port, proc, mail };
}

/** A message's base64 text body, decoded. */
export const mailText = (data: string) =>
  Buffer.from(data.split(/\r?\n\r?\n/)[1] ?? '', 'base64').toString('utf8');
