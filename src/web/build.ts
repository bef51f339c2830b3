import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_WEB_DIR } from './static.ts';

/**
 * Builds the dashboard: the browser TypeScript bundled into one ES module by esbuild, the HTML
 * and CSS copied beside it. `npm ci` runs it (the `prepare` script), so the controller always has
 * something to serve; the output folder is git-ignored.
 */
const HERE = fileURLToPath(new URL('.', import.meta.url));

export async function buildWeb(outDir: string = DEFAULT_WEB_DIR): Promise<string[]> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(HERE, 'client', 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const staticDir = join(HERE, 'static');
  for (const f of readdirSync(staticDir)) copyFileSync(join(staticDir, f), join(outDir, f));
  return readdirSync(outDir).sort();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  const files = await buildWeb(process.argv[2] ?? DEFAULT_WEB_DIR);
  console.log(`dashboard built in ${Math.round(performance.now() - t0)} ms: ${files.join(', ')} in ${process.argv[2] ?? DEFAULT_WEB_DIR}`);
}
