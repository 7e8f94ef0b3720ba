/** Gatehouse's own answers: unknown host, upstream down, sign-in required, auth provider down. */

function page(status: number, title: string, text: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${status} ${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1f2933}
main{max-width:32rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}h1{font-size:1.4rem;margin:0 0 .5rem}small{color:#616e7c}</style>
</head><body><main><h1>${title}</h1><p>${text}</p><small>${status} · Gatehouse</small></main></body></html>
`;
}

export const PAGES: Record<string, string> = {
  '404.html': page(404, 'Nothing is served here', 'No service is published under this address.'),
  'e/502.html': page(
    502,
    'Service unavailable',
    'The service behind this address is not answering. Please try again shortly.',
  ),
  'e/503.html': page(
    503,
    'Service unavailable',
    'The service behind this address is not available right now. Please try again shortly.',
  ),
  'e/504.html': page(
    504,
    'Service timed out',
    'The service behind this address took too long to answer. Please try again shortly.',
  ),
};

// Inline bodies (nginx `return`) must be one line.
export const UNAUTHORIZED_BODY = page(
  401,
  'Sign-in required',
  'You need to sign in to reach this service.',
).replace(/\n/g, ' ');
export const AUTH_DOWN_BODY = page(
  503,
  'Sign-in unavailable',
  'The service that checks access to this address is not answering, so access is closed. Please try again shortly.',
).replace(/\n/g, ' ');

/** Seconds a client is told to wait before retrying an unavailable service. */
export const RETRY_AFTER_S = 10;
