/**
 * Builds bench/cbench/cbench-gen.c (the C load generator) with the system's C compiler into a
 * fresh temporary directory; `remove()` deletes that directory again. Used by bench/cbench.bench.ts
 * (`--generator c`) and bench/cbench/cbench-gen.system.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const C_GENERATOR_SOURCE = fileURLToPath(new URL('./cbench-gen.c', import.meta.url));

export interface CGenerator {
  /** the compiled executable: `PATH PORT SWITCHES MODE SECONDS [WINDOW|RATE] [--warmup S]` */
  readonly path: string;
  remove(): void;
}

/** Throws (with the compiler's output) when `cc` is missing or the source does not compile. */
export function buildCGenerator(prefix = 'score-cbench-gen-'): CGenerator {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'cbench-gen');
  const r = spawnSync('cc', ['-O2', '-std=c99', '-Wall', '-Wextra', '-Werror', '-o', path, C_GENERATOR_SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cc could not build ${C_GENERATOR_SOURCE}: ${r.error?.message ?? ''}${r.stderr}`);
  }
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
