/**
 * The upstream every benchmark proxies to, run as its own process (forked by backend.ts): a minimal
 * keep-alive HTTP server answering a 3-byte body, so that the proxy, not the backend, is what the
 * numbers describe as far as possible.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = 'ok\n';

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(BODY.length) });
  res.end(BODY);
});
// Longer than nginx's upstream keepalive_timeout (60 s): the backend must never be the side that
// closes an idle pooled connection, or nginx could race it and answer 502.
server.keepAliveTimeout = 75_000;
server.headersTimeout = 76_000;

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
// The parent going away (crash, Ctrl-C) closes the IPC channel: do not outlive it.
process.on('disconnect', () => process.exit(0));
