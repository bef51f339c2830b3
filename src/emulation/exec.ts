/**
 * The one way the emulation runs a system command: `execFile` with an argument vector (never a
 * shell string, so names cannot inject anything), a timeout, and failures turned into ScoreErrors
 * that carry the command, exit code and stderr, which is what one needs to debug a failed
 * `ip`/`ovs-vsctl` call from a CI log.
 */
import { execFile } from 'node:child_process';
import { ScoreError } from '../errors/errors.ts';
import { findTool, isRoot } from './system-gate.ts';

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

// A tool missing from PATH but present in sbin is still usable: resolve it once per name.
const resolved = new Map<string, string>();

export function resolveTool(tool: string): string {
  const cached = resolved.get(tool);
  if (cached !== undefined) return cached;
  const path = findTool(tool);
  if (path === undefined) {
    throw new ScoreError('EMULATION_MISSING_TOOL', `${tool} is not installed`, { tool });
  }
  resolved.set(tool, path);
  return path;
}

export async function run(tool: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const file = resolveTool(tool);
  const command = [tool, ...args];
  return new Promise<RunResult>((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        reject(commandError(command, err, stderr));
      },
    );
  });
}

function commandError(command: readonly string[], err: Error & { code?: unknown; signal?: unknown; killed?: boolean }, stderr: string): ScoreError {
  const details = {
    command,
    exitCode: typeof err.code === 'number' ? err.code : null,
    signal: typeof err.signal === 'string' ? err.signal : null,
    stderr: stderr.trim(),
  };
  if (err.code === 'ENOENT') {
    return new ScoreError('EMULATION_MISSING_TOOL', `${command[0]} is not installed`, details, { cause: err });
  }
  // Without root most of these tools fail with EPERM; name the real cause instead of the symptom.
  if (!isRoot() && /Operation not permitted|Permission denied|must be run as root/i.test(stderr)) {
    return new ScoreError('EMULATION_NOT_ROOT', `${command.join(' ')} needs root`, details, { cause: err });
  }
  const why = details.signal !== null ? `was killed by ${String(details.signal)}` : `exited with ${String(details.exitCode)}`;
  const first = details.stderr.split('\n')[0] ?? '';
  return new ScoreError('EMULATION_COMMAND', `${command.join(' ')} ${why}${first === '' ? '' : `: ${first}`}`, details, {
    cause: err,
  });
}

export function requireRoot(what: string): void {
  if (!isRoot()) throw new ScoreError('EMULATION_NOT_ROOT', `${what} needs root`, { uid: process.getuid?.() ?? null });
}
