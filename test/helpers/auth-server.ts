import { startServer, type TestServer } from './net.js';

/**
 * A forward-auth server for tests. It decides by the request's `x-test-auth` header (clients send
 * it; nginx passes request headers on to the auth subrequest):
 * ok → 200 with X-Gateway-Token and Remote-User (the user, as Authelia names it); deny → 403; login → 401 with Location; basic → 401 with
 * WWW-Authenticate; weird → 302 (not a valid auth answer); descope → 307 to a sign-in page, as
 * Descope answers; bare-redirect → 307 without a Location; anything else → 401.
 */
export function authServer(
  port = 0,
  host = '127.0.0.1',
): Promise<TestServer & { calls: { url: string; headers: Record<string, unknown> }[] }> {
  const calls: { url: string; headers: Record<string, unknown> }[] = [];
  return startServer(
    (req, res) => {
      calls.push({ url: req.url ?? '', headers: { ...req.headers } });
      switch (req.headers['x-test-auth']) {
        case 'ok':
          res.writeHead(200, {
            'X-Gateway-Token': 'gw-token-42',
            'X-Unlisted': 'not-copied',
            'Remote-User': 'fa-user',
          });
          return res.end();
        case 'deny':
          res.writeHead(403);
          return res.end('no');
        case 'login':
          res.writeHead(401, {
            Location: `https://login.test/?rd=${encodeURIComponent(String(req.headers['x-original-url']))}`,
          });
          return res.end();
        case 'basic':
          res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="gatehouse-test"' });
          return res.end();
        case 'descope':
          res.writeHead(307, { Location: 'https://auth.descope.test/sign-in?app=guarded' });
          return res.end();
        case 'bare-redirect':
          res.writeHead(307);
          return res.end();
        case 'weird':
          res.writeHead(302, { Location: '/elsewhere' });
          return res.end();
        default:
          res.writeHead(401);
          return res.end();
      }
    },
    port,
    host,
  ).then((s) => Object.assign(s, { calls }));
}
