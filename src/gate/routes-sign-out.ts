import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  clientIp,
  cookies,
  html,
  originFor,
  place,
  refuseCrossSiteForm,
  sameOrigin,
  secure,
  setSessionCookie,
} from './http.js';
import { logoutPage, messagePage } from './portal.js';
import type { GateRouteContext } from './routes-context.js';

/** Sign-out, on the portal and on every guarded host: GET asks, POST revokes. */
export function signOutRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand } = ctx;
  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!sameOrigin(gate, req)) return refuseCrossSiteForm(reply, brand);
    for (const raw of cookies(req, gate.cookieName)) {
      const claims = gate.sessions.codec.verify(raw);
      if (!claims) continue;
      if (await gate.sessions.revoke(claims.s))
        await gate.event('logout', clientIp(req), claims.n, '', place(req));
      setSessionCookie(gate, req, reply, '', claims.d, 0);
    }
    const portal = gate.opts.portalHost;
    // The portal on this request's port; over HTTPS, where the portal is actually served.
    const origin = portal && (secure(req) ? await gate.originOf(portal) : originFor(gate, req, portal));
    const link = origin ? { href: `${origin}/login`, label: 'Sign in again' } : undefined;
    return html(reply, 200, messagePage(brand, 'Signed out', 'You have been signed out.', link));
  };
  // GET only asks: another site must not be able to sign people out with a link or an image.
  const confirmLogout = async (req: FastifyRequest, reply: FastifyReply) =>
    html(
      reply,
      200,
      logoutPage(brand, req.url.startsWith('/.gatehouse/') ? '/.gatehouse/logout' : '/logout'),
    );
  app.get('/logout', confirmLogout);
  app.post('/logout', logout);
  app.get('/.gatehouse/logout', confirmLogout);
  app.post('/.gatehouse/logout', logout);
}
