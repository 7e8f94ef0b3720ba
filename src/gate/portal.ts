/**
 * The login portal's pages: server-rendered HTML that works without JavaScript, with labelled
 * fields, autocomplete hints and visible errors (announced to screen readers via role="alert").
 */

export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

export interface Brand {
  name: string;
}

function layout(brand: Brand, title: string, body: string): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    // Not no-referrer: with it Chromium sends `Origin: null` with the forms' posts, which the
    // login-CSRF check must refuse. same-origin sends the origin to ourselves, and nothing (not the
    // URL with its ?rd=) to other sites.
    '<meta name="referrer" content="same-origin">',
    `<title>${esc(title)} · ${esc(brand.name)}</title><style>`,
    'body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1f2933}',
    'main{box-sizing:border-box;width:min(24rem,calc(100vw - 1.5rem));padding:clamp(1.25rem,5vw,2rem);background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}',
    'h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}',
    'input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #9aa5b1;border-radius:6px;font:inherit}',
    'input:focus{outline:3px solid #2680c2;outline-offset:1px}',
    'button{margin-top:1.25rem;width:100%;padding:.7rem;border:0;border-radius:6px;background:#1f5f99;color:#fff;font:inherit;font-weight:600;cursor:pointer}',
    '.error{background:#fde8e8;color:#8a1c1c;padding:.6rem .8rem;border-radius:6px}',
    // A TOTP key or recovery code is one long word: it wraps rather than widening the card.
    '.note{color:#52606d}small{color:#616e7c}code{overflow-wrap:anywhere}',
    // The email-link form: a second way in, set apart from the password form.
    '.alt{margin-top:1.5rem;padding-top:1rem;border-top:1px solid #e4e7eb}.alt h2{font-size:1rem;margin:0}',
    '.alt button{background:#fff;color:#1f5f99;border:1px solid #1f5f99}',
    '.provider{display:block;text-align:center;padding:.6rem;border:1px solid #9aa5b1;border-radius:6px;color:#1f2933;text-decoration:none;font-weight:600}',
    `</style></head><body><main>${body}<p><small>${esc(brand.name)}</small></p></main></body></html>`,
  ].join('');
}

export function loginPage(
  brand: Brand,
  opts: {
    rd: string;
    error?: string;
    username?: string;
    action?: string;
    providers?: { name: string; label: string }[];
    /** Offer a sign-in link by email (setting magic_link_channel). */
    emailLink?: boolean;
  },
): string {
  const error = opts.error ? `<p class="error" role="alert">${esc(opts.error)}</p>` : '';
  const others = (opts.providers ?? [])
    .map(
      (p) =>
        `<p><a class="provider" href="/oidc/${esc(p.name)}/start?rd=${esc(encodeURIComponent(opts.rd))}">Sign in with ${esc(p.label)}</a></p>`,
    )
    .join('');
  return layout(
    brand,
    'Sign in',
    [
      `<h1>Sign in</h1>${error}`,
      `<form method="post" action="${esc(opts.action ?? '/login')}">`,
      `<input type="hidden" name="rd" value="${esc(opts.rd)}">`,
      '<label for="username">Username</label>',
      `<input id="username" name="username" autocomplete="username" autocapitalize="none" required value="${esc(opts.username ?? '')}"${opts.username ? '' : ' autofocus'}>`,
      '<label for="password">Password</label>',
      `<input id="password" name="password" type="password" autocomplete="current-password" required${opts.username ? ' autofocus' : ''}>`,
      '<button type="submit">Sign in</button>',
      '</form>',
      others,
      opts.emailLink ? emailLinkForm(opts.rd) : '',
    ].join(''),
  );
}

/** Below the password form: a sign-in link sent to the user's email address instead. */
function emailLinkForm(rd: string): string {
  return [
    '<form method="post" action="/login/email" class="alt">',
    '<h2>Or get a sign-in link by email</h2>',
    `<input type="hidden" name="rd" value="${esc(rd)}">`,
    '<label for="login">Username or email</label>',
    '<input id="login" name="login" autocomplete="email" autocapitalize="none" required>',
    '<button type="submit">Email me a link</button>',
    '</form>',
  ].join('');
}

export function messagePage(
  brand: Brand,
  title: string,
  text: string,
  link?: { href: string; label: string },
): string {
  const a = link ? `<p><a href="${esc(link.href)}">${esc(link.label)}</a></p>` : '';
  return layout(brand, title, `<h1>${esc(title)}</h1><p class="note">${esc(text)}</p>${a}`);
}

export function signedInPage(brand: Brand, username: string): string {
  return layout(
    brand,
    'Signed in',
    [
      '<h1>Signed in</h1>',
      `<p class="note">You are signed in as <strong>${esc(username)}</strong>.</p>`,
      '<form method="post" action="/logout"><button type="submit">Sign out</button></form>',
    ].join(''),
  );
}

export function totpPage(brand: Brand, opts: { step: string; error?: string }): string {
  const error = opts.error ? `<p class="error" role="alert">${esc(opts.error)}</p>` : '';
  return layout(
    brand,
    'Verification code',
    [
      `<h1>Verification code</h1>${error}`,
      '<p class="note">Enter the 6-digit code from your authenticator app, or a recovery code.</p>',
      '<form method="post" action="/login/totp">',
      `<input type="hidden" name="step" value="${esc(opts.step)}">`,
      '<label for="code">Code</label>',
      '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autocapitalize="none" required autofocus>',
      '<button type="submit">Verify</button>',
      '</form>',
    ].join(''),
  );
}

export function enrolPage(
  brand: Brand,
  opts: { qrSvg: string; secret: string; step: string; error?: string },
): string {
  const error = opts.error ? `<p class="error" role="alert">${esc(opts.error)}</p>` : '';
  return layout(
    brand,
    'Set up two-step sign-in',
    [
      `<h1>Set up two-step sign-in</h1>${error}`,
      '<p class="note">Scan this code with an authenticator app, then enter the code it shows.</p>',
      // The SVG comes from the qrcode library for our own otpauth URL: no user input in it.
      `<div role="img" aria-label="QR code for your authenticator app" style="max-width:14rem">${opts.qrSvg}</div>`,
      `<p class="note">Or enter this key by hand: <code>${esc(opts.secret)}</code></p>`,
      '<form method="post" action="/totp">',
      `<input type="hidden" name="step" value="${esc(opts.step)}">`,
      '<label for="code">Code from the app</label>',
      '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>',
      '<label for="password">Your password</label>',
      '<input id="password" name="password" type="password" autocomplete="current-password" required>',
      '<button type="submit">Turn on</button>',
      '</form>',
    ].join(''),
  );
}

export function recoveryPage(brand: Brand, codes: string[]): string {
  return layout(
    brand,
    'Recovery codes',
    [
      '<h1>Two-step sign-in is on</h1>',
      '<p class="note">Keep these recovery codes somewhere safe. Each one works once, in place of a code from the app. They are shown only now.</p>',
      `<ul>${codes.map((c) => `<li><code>${esc(c)}</code></li>`).join('')}</ul>`,
    ].join(''),
  );
}

export function linkPasswordPage(brand: Brand, opts: { action: string; error?: string }): string {
  const error = opts.error ? `<p class="error" role="alert">${esc(opts.error)}</p>` : '';
  return layout(
    brand,
    'Password needed',
    [
      `<h1>This link needs a password</h1>${error}`,
      `<form method="post" action="${esc(opts.action)}">`,
      '<label for="password">Password</label>',
      '<input id="password" name="password" type="password" autocomplete="off" required autofocus>',
      '<button type="submit">Continue</button>',
      '</form>',
    ].join(''),
  );
}

export function logoutPage(brand: Brand, action: string): string {
  return layout(
    brand,
    'Sign out',
    `<h1>Sign out?</h1><form method="post" action="${esc(action)}"><button type="submit">Sign out</button></form>`,
  );
}
