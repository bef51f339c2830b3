/**
 * Just enough /proc reading to stop daemons safely: a pidfile left by a crashed run may name a
 * PID that now belongs to someone else, and a killed daemon whose parent does not reap it stays a
 * zombie that `kill(pid, 0)` still reports as alive.
 */
import { readFileSync } from 'node:fs';

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

/** Fields after the parenthesised command name, which may itself contain spaces and parens. */
export function parseProcStat(stat: string): ProcStat | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); start time is field 22.
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function isRunning(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

export function startTimeOf(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return [];
  }
}

export function readPidfile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (or a zombie). */
export async function terminate(pid: number, graceMs = 3000): Promise<void> {
  if (!isRunning(pid)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(pid) && Date.now() < deadline) await sleep(20);
  if (!isRunning(pid)) return;
  signal(pid, 'SIGKILL');
  const hardDeadline = Date.now() + 2000;
  while (isRunning(pid) && Date.now() < hardDeadline) await sleep(20);
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone: exactly what the caller wanted.
  }
}
