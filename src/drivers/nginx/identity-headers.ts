/**
 * Request headers that name a user. Apps behind an auth proxy trust them, so a client's own copies
 * must never reach an upstream: every proxied request clears all of them (`proxy_set_header X "";`
 * sends nothing), and only then does a signed-in route set Gatehouse's own from the session.
 * The README ("Identity headers from clients") lists the same names.
 */

/** The headers Gatehouse itself sets for a signed-in user (Authelia's names, and X-User-*). */
export const OWN_IDENTITY_HEADERS = [
  'Remote-User',
  'Remote-Email',
  'Remote-Name',
  'Remote-Groups',
  'X-User-ID',
  'X-Username',
  'X-Email',
  'X-Groups',
  'X-User-First-Name',
  'X-User-Last-Name',
] as const;

/**
 * Other auth proxies' identity headers, which apps configured for those proxies believe. nginx
 * clears headers by exact name only, so a family with a prefix (authentik's X-authentik-meta-*)
 * is covered by the members that product sends.
 */
export const FOREIGN_IDENTITY_HEADERS = [
  // oauth2-proxy (--pass-user-headers, --set-xauthrequest)
  'X-Forwarded-User',
  'X-Forwarded-Email',
  'X-Forwarded-Groups',
  'X-Forwarded-Preferred-Username',
  'X-Forwarded-Access-Token',
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Preferred-Username',
  'X-Auth-Request-Access-Token',
  // authentik's proxy outpost
  'X-authentik-username',
  'X-authentik-groups',
  'X-authentik-entitlements',
  'X-authentik-email',
  'X-authentik-name',
  'X-authentik-uid',
  'X-authentik-jwt',
  'X-authentik-meta-jwks',
  'X-authentik-meta-outpost',
  'X-authentik-meta-provider',
  'X-authentik-meta-app',
  'X-authentik-meta-version',
  // Apache's REMOTE_USER convention and Grafana's auth-proxy default
  'X-Remote-User',
  'X-Remote-Email',
  'X-Remote-Name',
  'X-Remote-Groups',
  'X-WebAuth-User',
  // Cloudflare Access, Pomerium, Vouch
  'Cf-Access-Authenticated-User-Email',
  'Cf-Access-Jwt-Assertion',
  'X-Pomerium-Jwt-Assertion',
  'X-Vouch-User',
] as const;

/** Everything a client may not send upstream, Gatehouse's own names first. */
export const STRIPPED_IDENTITY_HEADERS: readonly string[] = [
  ...OWN_IDENTITY_HEADERS,
  ...FOREIGN_IDENTITY_HEADERS,
];
