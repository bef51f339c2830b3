import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { ScoreError } from '../errors/errors.ts';

/** Where `npm run build:web` writes the dashboard (git-ignored). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

export const DASHBOARD_PATH = '/dashboard/';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

// One flat folder: a name is a single path segment, so "..", "/" and "\" can never reach the disk.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+$/;

// The page loads only its own script and style and talks only to its own origin: an injected
// name in the topology cannot pull anything in.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * Reads one file of the built dashboard. Throws API_NOT_FOUND for names that are not a plain file
 * of the folder, WEB_NOT_BUILT when the build output is missing altogether.
 */
export async function readWebFile(dir: string, name: string): Promise<StaticFile> {
  const root = resolve(dir);
  if (!existsSync(join(root, 'index.html'))) {
    throw new ScoreError('WEB_NOT_BUILT', `the dashboard is not built (no ${join(root, 'index.html')}): run "npm run build:web" (npm ci does it)`, { dir: root });
  }
  const type = TYPES[extname(name).toLowerCase()];
  const path = resolve(root, name);
  if (!NAME.test(name) || type === undefined || !path.startsWith(root + sep)) {
    throw new ScoreError('API_NOT_FOUND', `no dashboard file "${name}"`, { path: `${DASHBOARD_PATH}${name}` });
  }
  try {
    return { body: await readFile(path), type };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new ScoreError('API_NOT_FOUND', `no dashboard file "${name}"`, { path: `${DASHBOARD_PATH}${name}` });
    }
    throw e;
  }
}

export function sendWebFile(reply: FastifyReply, f: StaticFile): FastifyReply {
  void reply.header('content-type', f.type).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').header('referrer-policy', 'no-referrer');
  if (f.type.startsWith('text/html')) void reply.header('content-security-policy', CSP);
  return reply.send(f.body);
}
