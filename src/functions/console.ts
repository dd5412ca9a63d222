import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HttpResponseInit } from '@azure/functions';
import { problem } from '../api/http';
import type { HttpFunction } from '../runtime/function-table';

/**
 * GET /api/console/{*path}: the admin console's built assets (DESIGN §14). Anonymous, because
 * the page holds no data: it calls the API with the admin's function key or Entra session.
 */

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/** dist/console under the app root (the folder with host.json), both from src/ under tsx and from dist/src once built. */
export function defaultConsoleAssetDir(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'host.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(from, '../../dist/console');
    dir = parent;
  }
  return path.join(dir, 'dist', 'console');
}

export function consoleFunction(assetDir: string = defaultConsoleAssetDir()): HttpFunction {
  return {
    kind: 'http',
    name: 'console',
    methods: ['GET'],
    route: 'console/{*path}',
    authLevel: 'anonymous',
    async handler(request): Promise<HttpResponseInit> {
      const requested = request.params.path ?? '';
      const file = path.resolve(assetDir, requested === '' ? 'index.html' : requested);
      if (file !== assetDir && !file.startsWith(assetDir + path.sep)) return problem(404, 'Not found', 'no such console asset');
      // The page's own URL must end in "/" so that its relative asset URLs resolve under /console/.
      if (requested === '' && !new URL(request.url).pathname.endsWith('/')) {
        return { status: 308, headers: { location: new URL(request.url).pathname + '/' } };
      }
      let body: Buffer;
      try {
        body = await readFile(file);
      } catch {
        if (requested === '') return problem(503, 'Console not built', 'run `npm run build` to build the admin console');
        return problem(404, 'Not found', `no console asset ${requested}`);
      }
      const hashed = requested.startsWith('assets/');
      return {
        status: 200,
        body,
        headers: {
          'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
          // Vite names bundles by content hash; the page itself must always be fresh.
          'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
          'x-content-type-options': 'nosniff',
        },
      };
    },
  };
}
