import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** Paths that belong to the API, the edge agents or the operator's tools, never to the UI. */
const NOT_UI = [/^\/api(\/|$)/, /^\/edge(\/|$)/, /^\/agent(\/|$)/, /^\/metrics$/, /^\/healthz$/];

/**
 * Whether a request path is the web UI's (static files, public): the API's token check lets these
 * through, as the UI signs in with its own cookie on /api/v1/session.
 */
export function isUiPath(path: string): boolean {
  return !NOT_UI.some((re) => re.test(path));
}

/** web/dist of this checkout, found from this module both as source (src/…) and built (dist/src/…). */
export function defaultUiDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'web', 'dist');
    dir = dirname(dir);
  }
  return resolve('web', 'dist');
}

const NO_BUILD =
  'Gatehouse: the web UI is not built. Run `npm run build:ui` in the Gatehouse checkout (it writes web/dist), then reload.\n' +
  'The management API itself is under /api/v1 (see /api/v1/openapi.json).\n';

/**
 * Serves the built web UI (web/dist) at `/`: files by path, index.html for `/` and any other
 * non-API path (the UI routes itself). A few lines of node:fs rather than @fastify/static: the
 * build is a handful of files, and the path check below is all the safety it needs.
 */
export async function uiRoutes(app: FastifyInstance, dir: string = defaultUiDir()): Promise<void> {
  const root = resolve(dir);

  const sendFile = async (reply: FastifyReply, file: string, cache: string): Promise<boolean> => {
    try {
      const st = await stat(file);
      if (!st.isFile()) return false;
      const body = await readFile(file);
      await reply
        .header('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
        .header('cache-control', cache)
        .header('x-content-type-options', 'nosniff')
        .send(body);
      return true;
    } catch {
      return false;
    }
  };

  const index = async (reply: FastifyReply) => {
    // index.html names the hashed assets of the current build: always revalidate it.
    const sent = await sendFile(reply, join(root, 'index.html'), 'no-cache');
    if (!sent) await reply.code(503).header('cache-control', 'no-store').type('text/plain').send(NO_BUILD);
    return reply;
  };

  app.get('/', async (_req, reply) => index(reply));
  app.get('/*', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (!isUiPath(path)) return reply.callNotFound();
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      return reply.callNotFound();
    }
    const file = resolve(root, '.' + rel);
    // No way out of the build folder (`..`, encoded or not, or an absolute path).
    if (rel.includes('\0') || (file !== root && !file.startsWith(root + sep))) return reply.callNotFound();
    // Vite names assets by content hash: they never change under one name.
    const immutable = rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    if (await sendFile(reply, file, immutable)) return reply;
    // A missing asset is a 404; any other path is a page of the UI.
    if (rel.startsWith('/assets/') || extname(rel) !== '') return reply.callNotFound();
    return index(reply);
  });
}
