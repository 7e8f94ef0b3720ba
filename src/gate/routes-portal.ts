import type { FastifyInstance } from 'fastify';
import { currentSession, providerButtons, sendBack, signIn } from './browser-session.js';
import {
  clientIp,
  hostOf,
  html,
  originFor,
  place,
  query,
  refuseCrossSiteForm,
  sameOrigin,
  setSessionCookie,
} from './http.js';
import { enrolPage, loginPage, messagePage, recoveryPage, signedInPage, totpPage } from './portal.js';
import type { GateRouteContext } from './routes-context.js';
import { checkTotp, newTotp, openStep, qrSvg, signStep, totpUrl } from './totp.js';
import type { SessionClaims } from '../model/session.js';

/** The login portal: sign-in (password, then TOTP), self-service TOTP, session hand-over. */
export function portalRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  signInFormRoutes(app, ctx);
  totpStepRoute(app, ctx);
  totpEnrolRoutes(app, ctx);
  handoverRoute(app, ctx);
}

/** The portal's front page and the sign-in form: password first, the TOTP step if the user has one. */
function signInFormRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, byIp, byUser } = ctx;
  app.get('/', async (req, reply) => {
    const s = await currentSession(gate, req);
    if (s) return html(reply, 200, signedInPage(brand, s.claims.n));
    return html(reply, 200, loginPage(brand, { rd: '', emailLink: !!gate.magic }));
  });

  app.get('/login', async (req, reply) => {
    const rd = query(req, 'rd');
    const provider = query(req, 'provider');
    const s = await currentSession(gate, req);
    // A route that wants a provider's sign-in is not served by a password session.
    if (s && (!provider || s.claims.v === provider)) {
      setSessionCookie(gate, req, reply, s.token, s.claims.d, (s.claims.x - Date.now()) / 1000);
      return sendBack(ctx, req, reply, s, rd);
    }
    if (provider && /^[a-z0-9-]{1,63}$/.test(provider)) {
      return reply.redirect(`/oidc/${provider}/start?rd=${encodeURIComponent(rd ?? '')}`, 303);
    }
    return html(
      reply,
      200,
      loginPage(brand, { rd: rd ?? '', providers: await providerButtons(gate), emailLink: !!gate.magic }),
    );
  });

  app.post('/login', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, string>;
    const username = String(body.username ?? '')
      .trim()
      .toLowerCase()
      .slice(0, 64);
    const password = String(body.password ?? '').slice(0, 256);
    const rd = String(body.rd ?? '');
    const ip = clientIp(req);
    if (!sameOrigin(gate, req)) return refuseCrossSiteForm(reply, brand);
    const wait = Math.max(await byIp.blockedFor(ip), await byUser.blockedFor(username));
    if (wait > 0) {
      await gate.event('login_throttled', ip, username, '', place(req));
      reply.header('retry-after', String(wait));
      return html(
        reply,
        429,
        loginPage(brand, { rd, username, error: `Too many failed attempts. Try again in ${wait} seconds.` }),
      );
    }
    const row = username && password ? await gate.users.authenticate(username, password) : undefined;
    if (!row) {
      await byIp.fail(ip);
      await byUser.fail(username);
      await gate.event('login_failed', ip, username, '', place(req));
      return html(reply, 401, loginPage(brand, { rd, username, error: 'Wrong username or password.' }));
    }
    await byUser.reset(username);
    if (row.totp_secret) {
      // Password accepted; the second step carries that fact, signed, for five minutes.
      const step = signStep(gate.sessionKey, 'login-totp', { uid: row.id, rd }, 5 * 60_000);
      return html(reply, 200, totpPage(brand, { step }));
    }
    return signIn(ctx, req, reply, row, rd);
  });
}

/** Sign-in's second step: the signed step from the password form, and a TOTP or recovery code. */
function totpStepRoute(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, byIp, byTotp } = ctx;
  app.post('/login/totp', async (req, reply) => {
    if (!sameOrigin(gate, req)) return refuseCrossSiteForm(reply, brand);
    const body = (req.body ?? {}) as Record<string, string>;
    const token = String(body.step ?? '');
    const step = openStep(gate.sessionKey, 'login-totp', token);
    const row = typeof step?.uid === 'string' ? await gate.users.rowById(step.uid) : undefined;
    if (!step || !row || row.disabled) {
      return html(
        reply,
        400,
        loginPage(brand, { rd: '', error: 'That took too long. Please sign in again.' }),
      );
    }
    const ip = clientIp(req);
    const wait = Math.max(await byIp.blockedFor(ip), await byTotp.blockedFor(row.id));
    if (wait > 0) {
      await gate.event('login_throttled', ip, row.username, '', place(req));
      reply.header('retry-after', String(wait));
      return html(
        reply,
        429,
        totpPage(brand, { step: token, error: `Too many failed attempts. Try again in ${wait} seconds.` }),
      );
    }
    if (!(await gate.secondFactor(row, String(body.code ?? '').slice(0, 32), ip, place(req)))) {
      await byIp.fail(ip);
      await byTotp.fail(row.id);
      return html(
        reply,
        401,
        totpPage(brand, { step: token, error: 'That code is not right. Try the next one.' }),
      );
    }
    await byTotp.reset(row.id);
    return signIn(
      ctx,
      req,
      reply,
      row,
      typeof step.rd === 'string' ? step.rd : '',
      step.via === 'email' ? 'email' : 'password',
    );
  });
}

/** Self-service two-step sign-in: the secret travels in a signed step until a code confirms it. */
function totpEnrolRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, byIp, byUser } = ctx;
  app.get('/totp', async (req, reply) => {
    const s = await currentSession(gate, req);
    if (!s) return reply.redirect(`/login?rd=${encodeURIComponent(`${originFor(gate, req)}/totp`)}`, 303);
    const { secret, url } = newTotp(gate.opts.brand, s.claims.n);
    const step = signStep(gate.sessionKey, 'totp-enrol', { uid: s.claims.u, secret }, 10 * 60_000);
    return html(reply, 200, enrolPage(brand, { qrSvg: await qrSvg(url), secret, step }));
  });

  app.post('/totp', async (req, reply) => {
    if (!sameOrigin(gate, req)) return refuseCrossSiteForm(reply, brand);
    const s = await currentSession(gate, req);
    const body = (req.body ?? {}) as Record<string, string>;
    const step = openStep(gate.sessionKey, 'totp-enrol', String(body.step ?? ''));
    if (!s || !step || step.uid !== s.claims.u || typeof step.secret !== 'string') {
      return html(
        reply,
        400,
        messagePage(brand, 'Please start again', 'This set-up page expired. Open it again.'),
      );
    }
    const secret = step.secret;
    // Whoever holds a session must still know the password to change the second factor.
    const ip = clientIp(req);
    const wait = Math.max(await byIp.blockedFor(ip), await byUser.blockedFor(s.claims.n));
    const passwordOk =
      wait === 0 && (await gate.users.authenticate(s.claims.n, String(body.password ?? '').slice(0, 256)));
    if (!passwordOk) {
      await byIp.fail(ip);
      await byUser.fail(s.claims.n);
      await gate.event('login_failed', ip, s.claims.n, 'totp set-up', place(req));
    }
    if (!passwordOk || checkTotp(secret, String(body.code ?? '').trim()) === undefined) {
      const url = totpUrl(gate.opts.brand, s.claims.n, secret);
      return html(
        reply,
        400,
        enrolPage(brand, {
          qrSvg: await qrSvg(url),
          secret,
          step: String(body.step),
          error: passwordOk ? 'That code is not right.' : 'Wrong password.',
        }),
      );
    }
    const codes = await gate.saveTotp(s.claims.u, secret);
    await gate.event('totp_enrolled', clientIp(req), s.claims.n, '', place(req));
    return html(reply, 200, recoveryPage(brand, codes));
  });
}

/** The receiving end of a hand-over: a host outside the cookie's scope takes its session by code. */
function handoverRoute(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, handovers } = ctx;
  app.get('/.gatehouse/session', async (req, reply) => {
    const code = query(req, 'code') ?? '';
    const entry = await handovers.take(code);
    const host = hostOf(req);
    if (!entry || entry.expires < Date.now() || entry.host !== host) {
      return html(
        reply,
        400,
        messagePage(brand, 'Link expired', 'This sign-in link is no longer valid. Please try again.'),
      );
    }
    const claims = gate.sessions.codec.verify(entry.token) as SessionClaims;
    setSessionCookie(gate, req, reply, entry.token, host, (claims.x - Date.now()) / 1000);
    const rd = query(req, 'rd') ?? '/';
    // Only a path on this same host: never somewhere else.
    const path = rd.startsWith('/') && !rd.startsWith('//') && !rd.startsWith('/\\') ? rd : '/';
    return reply.redirect(path, 303);
  });
}
