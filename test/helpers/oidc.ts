import Provider from 'oidc-provider';
import type { Server } from 'node:http';
import { freePort } from './net.js';

/** Accounts of the test provider: any password signs in (its development interactions). */
const GROUPS: Record<string, string[]> = { carol: ['eng', 'staff'], dan: ['staff'] };

/**
 * A real OpenID Connect provider (the `oidc-provider` package) on loopback, with one client whose
 * redirect URI is the portal's callback.
 */
export async function startOidcProvider(
  redirectUri: string,
): Promise<{ issuer: string; close(): Promise<void> }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'gatehouse', client_secret: 'test-client-secret', redirect_uris: [redirectUri] }],
    findAccount: (_ctx, id) =>
      Promise.resolve({
        accountId: id,
        claims: () =>
          Promise.resolve({
            sub: `sub-${id}`,
            preferred_username: id,
            email: `${id}@corp.test`,
            email_verified: id !== 'eve',
            name: `${id[0]?.toUpperCase() ?? ''}${id.slice(1)} Example`,
            groups: GROUPS[id] ?? [],
          }),
      }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
  });
  const server: Server = provider.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    issuer,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Drives the provider's own pages like a browser: from the authorization URL, through its sign-in
 * and consent forms, to the redirect back to the client. Returns that callback URL.
 */
export async function signInAtProvider(authorizationUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  const go = async (url: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      redirect: 'manual',
      ...init,
      headers: { ...(init.headers as Record<string, string>), cookie },
    });
    for (const c of res.headers.getSetCookie()) {
      const kv = c.split(';')[0] ?? '';
      const i = kv.indexOf('=');
      jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return res;
  };
  let res = await go(authorizationUrl);
  for (let step = 0; step < 12; step++) {
    const loc = res.headers.get('location');
    if (loc) {
      const next = new URL(loc, res.url || authorizationUrl);
      if (!next.href.startsWith(new URL(authorizationUrl).origin)) return next;
      res = await go(next.href);
      continue;
    }
    const body = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(body)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(body)?.[1];
    if (!action || !prompt) throw new Error(`provider page without a form (status ${res.status})`);
    const form = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt });
    res = await go(action, {
      method: 'POST',
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
  throw new Error('the provider did not redirect back');
}
