/**
 * A guest QEMU's share of the CPU on a shared host.
 *
 * Why a group, not a process: each QEMU is spawned detached (src/vm/qemu.ts startGuest), so it
 * leads its own session, and with the kernel's autogroup scheduling
 * (/proc/sys/kernel/sched_autogroup_enabled = 1, as on the project's machines) every session is
 * one CFS group weighted against the others (sched(7), "The autogroup feature"). A process's own
 * nice then only orders it against the threads of its group: for a QEMU alone in its session it
 * changes nothing against other sessions' work. The group's weight is its autogroup nice,
 * written to /proc/PID/autogroup. Without autogroup, each thread's own nice is what counts.
 *
 * What it buys (docs/vms.md, "Blackout as peers see it"): a migrated TCG guest re-translates
 * ~7,600 blocks before it answers its first packet, and on a loaded machine that is CPU it waits
 * for; at autogroup nice -10 the peers' wait halved in the same run.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { ScoreError } from '../errors/errors.ts';

/** nice values Linux accepts (setpriority(2), /proc/PID/autogroup) */
export const MIN_NICE = -20;
export const MAX_NICE = 19;

/**
 * Checks a nice value for a guest's QEMU. Pure.
 * @throws ScoreError SCENARIO_INVALID unless an integer in MIN_NICE..MAX_NICE
 */
export function checkedNice(nice: number): number {
  if (!Number.isInteger(nice) || nice < MIN_NICE || nice > MAX_NICE) {
    throw new ScoreError('SCENARIO_INVALID', `a guest's CPU nice must be an integer from ${MIN_NICE} to ${MAX_NICE}, got ${nice}`, { nice });
  }
  return nice;
}

/** How a nice value reaches a process: its session's autogroup, or each of its threads. Pure. */
export function niceMechanism(autogroupEnabled: string | undefined): 'autogroup' | 'threads' {
  return autogroupEnabled?.trim() === '1' ? 'autogroup' : 'threads';
}

const readOr = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * Gives process `pid` (a QEMU leading its own session) the CPU weight of nice `nice` against
 * other sessions: its autogroup's nice when autogroup scheduling is on, else every thread's nice.
 * Negative values need root (CAP_SYS_NICE). The autogroup is the session's: call it only for a
 * process spawned detached, or every process of the caller's session is weighted with it.
 * @returns the mechanism used
 * @throws ScoreError SCENARIO_INVALID for a bad value; EMULATION_COMMAND when the kernel refuses
 *   (no such process, no permission)
 */
export function setCpuNice(pid: number, nice: number, procRoot = '/proc'): 'autogroup' | 'threads' {
  checkedNice(nice);
  const how = niceMechanism(readOr(`${procRoot}/sys/kernel/sched_autogroup_enabled`));
  try {
    if (how === 'autogroup') writeFileSync(`${procRoot}/${pid}/autogroup`, String(nice));
    else for (const tid of readdirSync(`${procRoot}/${pid}/task`)) setPriority(Number(tid), nice);
  } catch (e) {
    throw new ScoreError('EMULATION_COMMAND', `could not set the CPU nice of process ${pid} to ${nice} (${how}): ${e instanceof Error ? e.message : String(e)}`, { pid, nice, how }, { cause: e });
  }
  return how;
}

/**
 * The autogroup nice of `pid` as /proc/PID/autogroup reports it ("/autogroup-N nice K"), or
 * undefined when there is none (autogroup off, process gone). Pure over the text.
 */
export function parseAutogroup(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /\bnice\s+(-?\d+)/.exec(text);
  return m === null ? undefined : Number(m[1]);
}
