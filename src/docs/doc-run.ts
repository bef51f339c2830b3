/**
 * The imperative half of the documented-commands tests: find the docs, copy the repository into
 * a fresh temporary directory with nothing beside it, and run one documented command there.
 * Shared by doc-commands.test.ts (no root) and doc-commands.system.test.ts (root).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DocBlock, type DocCommand, missingKeyLines, parseDocCommands } from './doc-commands.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** README.md and docs/*.md, as repository-relative paths. */
export function docFiles(root = REPO): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

export function readDocs(root = REPO): { blocks: DocBlock[]; errors: string[] } {
  const blocks: DocBlock[] = [];
  const errors: string[] = [];
  for (const f of docFiles(root)) {
    const p = parseDocCommands(f, readFileSync(join(root, f), 'utf8'));
    blocks.push(...p.blocks);
    errors.push(...p.errors);
  }
  return { blocks, errors };
}

export interface RepoCopy {
  /** the copy's root: `<tmp>/s-core`, alone in its temporary directory */
  readonly root: string;
  remove(): void;
}

/**
 * Copies what a clone would hold (git's tracked files plus untracked, not ignored ones, so docs
 * being edited are tested as they are) into `<tmp>/s-core`, links node_modules (installing it
 * again would only test npm) and builds the dashboard as `npm ci`'s prepare step does.
 */
export function copyRepository(root = REPO): RepoCopy {
  const dir = mkdtempSync(join(tmpdir(), 'score-doc-test-'));
  const dest = join(dir, 's-core');
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed in ${root}: ${listed.stderr}`);
  for (const f of listed.stdout.split('\0')) {
    if (f === '' || f.startsWith('node_modules/') || !existsSync(join(root, f))) continue;
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(join(root, f), join(dest, f));
  }
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'), 'dir');
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'src/web/build.ts'], { cwd: dest, encoding: 'utf8', env: commandEnv() });
  if (built.status !== 0) throw new Error(`building the dashboard in the copy failed: ${built.stderr}`);
  return { root: dest, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The environment documented commands see: the user's, without the test runner's own variables. */
export function commandEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // The docs show what a terminal shows: readable log lines, not the JSON a pipe gets (src/logging).
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', SCORE_LOG_FORMAT: 'text', ...extra };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: string | null;
  /** stdout and stderr as they arrived */
  readonly output: string;
  readonly ms: number;
}

/**
 * Runs one command with bash in `cwd`. With `until`, the command is a server: once `until(output)`
 * holds (or `timeoutMs` passed) it gets SIGINT, as Ctrl-C would send; otherwise it must end by
 * itself within `timeoutMs` (then SIGKILL, and the result says so).
 */
export function runShell(
  command: string,
  o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; until?: (output: string) => boolean },
): Promise<CommandResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Its own process group, so SIGINT/SIGKILL reach npx's and node's children too.
    const child = spawn('bash', ['-c', command], { cwd: o.cwd, env: o.env ?? commandEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let interrupted = false;
    const signal = (s: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, s);
      } catch {
        // already gone
      }
    };
    let grace: NodeJS.Timeout | undefined;
    // Ctrl-C, then 20 s to shut down before SIGKILL.
    const interrupt = (): void => {
      if (interrupted) return;
      interrupted = true;
      signal('SIGINT');
      grace = setTimeout(() => signal('SIGKILL'), 20_000);
    };
    const onData = (b: Buffer): void => {
      output += b.toString('utf8');
      if (o.until?.(output) === true) interrupt();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // At the deadline a server gets Ctrl-C (its key lines will be reported missing); anything else is killed.
    const deadline = setTimeout(() => (o.until !== undefined ? interrupt() : signal('SIGKILL')), o.timeoutMs);
    child.on('close', (code, sig) => {
      clearTimeout(deadline);
      clearTimeout(grace);
      resolve({ code, signal: sig, output, ms: Date.now() - t0 });
    });
  });
}

/** Why a command's result does not match its doc, or [] when it does. Messages name the doc line. */
export function checkResult(file: string, cmd: DocCommand, exit: number, r: CommandResult, root: string, server = false): string[] {
  const problems: string[] = [];
  const where = `${file}:${cmd.line}`;
  // Ctrl-C reaches the whole process group, as in a terminal: npx and bash then report the
  // interrupt (SIGINT, 130) even when the server shut down cleanly.
  const interrupted = server && (r.signal === 'SIGINT' || r.code === 130);
  if (r.code !== exit && !interrupted) problems.push(`${where}: \`${cmd.text}\` exited ${r.code ?? `by ${r.signal ?? '?'}`} after ${r.ms} ms, the doc expects ${exit}`);
  for (const missing of missingKeyLines(cmd.expect, r.output, root)) {
    const line = cmd.expect.find((e) => e.text === missing)?.line ?? cmd.line;
    problems.push(`${file}:${line}: \`${cmd.text}\` did not print this line the doc shows:\n    ${missing.trim()}`);
  }
  if (problems.length > 0) problems.push(`output of \`${cmd.text}\` (last 40 lines):\n${r.output.split('\n').slice(-40).join('\n')}`);
  return problems;
}
