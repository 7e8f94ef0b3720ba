import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { signIn } from './browser-session.js';
import {
  clientIp,
  cookies,
  html,
  originFor,
  place,
  query,
  refuseCrossSiteForm,
  sameOrigin,
  secure,
} from './http.js';
import { MagicLinks } from './magic-links.js';
import { messagePage, totpPage } from './portal.js';
import type { GateRouteContext } from './routes-context.js';
import { signStep } from './totp.js';

/** The cookie that binds a link to the browser that asked for it (only sent to /login/email). */
const NONCE_COOKIE = 'gh_magic';
const PATH = '/login/email';

/**
 * Sign-in by a link sent to the user's email (setting magic_link_channel). Asking never tells
 * whether the account exists: the answer is the same either way, and only a user with an email
 * address who is not disabled gets a message. Sends are throttled per address and per user.
 */
export function magicLinkRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, byIp, byMail, log } = ctx;
  const off = (reply: FastifyReply) =>
    html(reply, 404, messagePage(brand, 'Not available', 'Sign-in by email is not set up here.'));

  app.post(PATH, async (req, reply) => {
    const magic = gate.magic;
    if (!magic || !gate.opts.sendMail) return off(reply);
    if (!sameOrigin(gate, req)) return refuseCrossSiteForm(reply, brand);
    const body = (req.body ?? {}) as Record<string, string>;
    const login = String(body.login ?? '')
      .trim()
      .toLowerCase()
      .slice(0, 254);
    const rd = String(body.rd ?? '').slice(0, 2048);
    const ip = clientIp(req);
    const wait = Math.max(await byIp.blockedFor(ip), await byMail.blockedFor(login));
    if (wait > 0) {
      await gate.event('login_throttled', ip, login, 'email link', place(req));
      reply.header('retry-after', String(wait));
      return html(
        reply,
        429,
        messagePage(
          brand,
          'Too many requests',
          `Too many sign-in links asked for. Try again in ${wait} seconds.`,
        ),
      );
    }
    // Each ask counts, found or not: asking cannot be used to send a flood of mail.
    await byMail.fail(login);
    const nonce = cookies(req, NONCE_COOKIE)[0] ?? MagicLinks.nonce();
    const user = login ? await gate.users.rowByLogin(login) : undefined;
    if (user && !user.disabled && user.email) {
      const token = await magic.issue(user.id, nonce, rd);
      const url = `${originFor(gate, req)}${PATH}?t=${token}`;
      const minutes = Math.round(magic.ttlMs / 60_000);
      try {
        await gate.opts.sendMail(
          user.email,
          `Sign in to ${brand.name}`,
          [
            `Open this link to sign in to ${brand.name} as ${user.username}:`,
            '',
            url,
            '',
            `It works once, for ${minutes} minutes, in the browser where you asked for it.`,
            'If you did not ask for it, ignore this message.',
          ].join('\n'),
        );
        await gate.event('magic_link_sent', ip, user.username, '', place(req));
      } catch (err) {
        log.error({ err: String(err), user: user.username }, 'could not send a sign-in link');
        await gate.event('magic_link_failed', ip, user.username, String(err).slice(0, 200), place(req));
      }
    }
    setNonce(req, reply, nonce, magic.ttlMs);
    return html(
      reply,
      200,
      messagePage(
        brand,
        'Check your email',
        'If that account has an email address, a sign-in link is on its way. Open it in this browser.',
      ),
    );
  });

  app.get(PATH, async (req, reply) => {
    const magic = gate.magic;
    if (!magic) return off(reply);
    const token = query(req, 't') ?? '';
    const ip = clientIp(req);
    const r = /^[A-Za-z0-9_-]{43}$/.test(token)
      ? await magic.redeem(token, cookies(req, NONCE_COOKIE)[0])
      : ({ kind: 'unknown' } as const);
    if (r.kind !== 'ok') {
      await gate.event('magic_link_refused', ip, '', r.kind, place(req));
      const [title, text] = REFUSED[r.kind];
      return html(reply, 400, messagePage(brand, title, text, { href: '/login', label: 'Sign in' }));
    }
    setNonce(req, reply, '', 0);
    if (r.user.totp_secret) {
      // The link stands for the password: the second factor is still asked for.
      const step = signStep(
        gate.sessionKey,
        'login-totp',
        { uid: r.user.id, rd: r.rd, via: 'email' },
        5 * 60_000,
      );
      return html(reply, 200, totpPage(brand, { step }));
    }
    return signIn(ctx, req, reply, r.user, r.rd, 'email');
  });
}

const REFUSED: Record<'unknown' | 'used' | 'expired' | 'other_browser', [string, string]> = {
  unknown: ['Link not valid', 'This sign-in link is not valid. Ask for a new one.'],
  used: ['Link already used', 'This sign-in link has been used already. Ask for a new one.'],
  expired: ['Link expired', 'This sign-in link has expired. Ask for a new one.'],
  other_browser: [
    'Open it where you asked',
    'This sign-in link works only in the browser where you asked for it. Open it there, or ask for a new one here.',
  ],
};

function setNonce(req: FastifyRequest, reply: FastifyReply, nonce: string, maxAgeMs: number): void {
  reply.header(
    'set-cookie',
    `${NONCE_COOKIE}=${nonce}; Path=${PATH}; Max-Age=${Math.floor(maxAgeMs / 1000)}; HttpOnly; SameSite=Lax${secure(req) ? '; Secure' : ''}`,
  );
}
