import { str } from './escape.js';
import { pageLogs } from './access-logs.js';
import type { RenderEnv } from './env.js';

/**
 * Gatehouse's own answers: unknown host, upstream down or slow, sign-in required, auth provider
 * down. Each page is defined once per config as a variable (`$gh_page_<status>`) and answered with
 * `return`, so nginx's workers never read a file (the data dir may sit below a directory they cannot
 * enter) and a server block costs a few lines, not a copy of each page.
 */

function page(status: number, title: string, text: string): string {
  return pageHtml(String(status), title, text);
}

function pageHtml(status: string, title: string, text: string): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${status} ${title}</title><style>`,
    'body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1f2933}',
    'main{max-width:32rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}',
    'h1{font-size:1.4rem;margin:0 0 .5rem}small{color:#616e7c}',
    `</style></head><body><main><h1>${title}</h1><p>${text}</p><small>${status} · Gatehouse</small></main></body></html>`,
  ].join('');
}

const AGAIN = 'Please try again shortly.';

export interface PageDef {
  /** The status and the variable suffix. */
  key: string;
  status: number;
  body: string;
  /** Whether clients are told to come back later. */
  retry: boolean;
}

export const PAGES: PageDef[] = [
  {
    key: '404',
    status: 404,
    retry: false,
    body: page(404, 'Nothing is served here', 'No service is published under this address.'),
  },
  {
    key: '403',
    status: 403,
    retry: false,
    body: page(403, 'Access denied', 'You may not reach this service from here.'),
  },
  {
    key: '429',
    status: 429,
    retry: true,
    body: page(429, 'Too many requests', `This address has had too many requests from you. ${AGAIN}`),
  },
  {
    key: '503',
    status: 503,
    retry: true,
    body: page(
      503,
      'Service unavailable',
      `The service behind this address is not available right now. ${AGAIN}`,
    ),
  },
  {
    key: '401',
    status: 401,
    retry: false,
    body: page(401, 'Sign-in required', 'You need to sign in to reach this service.'),
  },
  {
    key: 'auth503',
    status: 503,
    retry: true,
    body: page(
      503,
      'Sign-in unavailable',
      `The service that checks access to this address is not answering, so access is closed. ${AGAIN}`,
    ),
  },
  {
    key: 'login503',
    status: 503,
    retry: true,
    body: page(
      503,
      'Sign-in unavailable',
      'This address needs you to sign in, but no way to sign in is set up for it yet. Ask whoever runs it.',
    ),
  },
];

/** Seconds a client is told to wait before retrying an unavailable service. */
export const RETRY_AFTER_S = 10;

/** Error pages every server block includes: named locations answering with the page variables. */
/** The statuses Gatehouse answers with its own page, as error_page lines (repeated where a location
 * sets error pages of its own, since that drops the inherited ones). */
export const ERROR_PAGES = ['403', '404', '429', '502', '503', '504'].map((k) =>
  // Without "=503" nginx would keep the original status whatever the page's own `return` says.
  k === '502' || k === '504' ? `error_page ${k} =503 @gh_${k};` : `error_page ${k} @gh_${k};`,
);

export function pagesConf(env: RenderEnv): string[] {
  const lines = [...ERROR_PAGES];
  // 401 is answered by the route's own sign-in location (portal redirect or provider's answer).
  for (const p of PAGES.filter((x) => x.key !== '401'))
    lines.push(...pageLocation(p.key, p.status, p.retry, pageLogs(env, p.status)));
  // No upstream answered (all down, refused, unreachable, timed out): the service's offline page,
  // its title and text from the route's pool line in the Lua table (pools-lua.ts), so that a new
  // text needs no reload; a location without a pool (the portal's) says "This service".
  const fromPool = [
    'set $gh_offline_title "This service";',
    `set $gh_offline_text ${str(OFFLINE_TEXT)};`,
    'set_by_lua_block $gh_offline_title { return gh_pools.page(1) or ngx.var.gh_offline_title }',
    'set_by_lua_block $gh_offline_text { return gh_pools.page(2) or ngx.var.gh_offline_text }',
  ];
  const logs = pageLogs(env, 503);
  for (const key of ['502', '504'])
    lines.push(...offlineLocation(key, undefined, undefined, [...fromPool, ...logs]));
  return lines;
}

export const OFFLINE_TEXT = `It is not answering right now; this page will give way to it by itself when it is back. ${AGAIN}`;

/** Text for an HTML page: markup and nginx's "$" become entities. */
export function html(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/\$/g, '&#36;');
}

/**
 * A service's offline page: 503 with Retry-After, naming the service (or its `offline_page` title)
 * and its own text when it has one, from `vars`, which `setVars` (run first) may set; `setVars`
 * also holds the location's access logs (access-logs.ts).
 */
export function offlineLocation(
  key: string,
  name = `@gh_${key}`,
  vars: Record<'T' | 'M', string> = { T: '${gh_offline_title}', M: '${gh_offline_text}' },
  setVars: string[] = [],
): string[] {
  // The page with markers where the title and the text go, then each static piece escaped.
  const template = pageHtml('503', '\u0000T is offline', '\u0000M');
  const body = template
    .split('\u0000')
    .map((piece, i) =>
      i === 0 ? str(piece).slice(1, -1) : vars[piece[0] as 'T' | 'M'] + str(piece.slice(1)).slice(1, -1),
    )
    .join('');
  return [
    `location ${name} {`,
    '    default_type text/html;',
    '    add_header Cache-Control "no-store" always;',
    `    add_header Retry-After ${RETRY_AFTER_S} always;`,
    ...setVars.map((l) => `    ${l}`),
    `    return 503 "${body}";`,
    // The last attempt at a pool's peer failed: it counts for passive health (pools-lua.ts).
    '    log_by_lua_block { gh_pools.offline() }',
    '}',
  ];
}

/** `logs`: the location's access logs (access-logs.ts), if it is one whose requests some log takes. */
export function pageLocation(key: string, status: number, retry: boolean, logs: string[] = []): string[] {
  return [
    `location @gh_${key} {`,
    ...logs.map((l) => `    ${l}`),
    '    default_type text/html;',
    '    add_header Cache-Control "no-store" always;',
    // A rate-limited route says how long its bucket takes to refill one request.
    ...(retry
      ? [`    add_header Retry-After ${key === '429' ? '$gh_retry_after' : RETRY_AFTER_S} always;`]
      : []),
    `    return ${status} $gh_page_${key};`,
    '}',
  ];
}

/** Each page's HTML, once per config, as a variable (geo values are taken literally). */
export function pageVariables(): string[] {
  return PAGES.flatMap((p) => [`geo $gh_page_${p.key} {`, `    default ${str(p.body)};`, '}']);
}
