import type { Command } from 'commander';
import type { OrchestrationStart } from '../api/contract.ts';
import type { PolicyName } from '../core/policies.ts';
import type { Model } from '../scenario/model.ts';
import type { RunRecord } from '../sim/run.ts';
import { CONTINUOUS_KEYS, continuousStart, refuseStray, type ContinuousCliOptions } from './continuous-options.ts';

/**
 * `score demo --every` and `score emulate --policy ... --every`: continuous orchestration over the
 * scenario's phases, with the options `score controller --orchestrate` takes.
 */
export function addContinuousOptions(cmd: Command, prefix: string): Command {
  return cmd
    .option('--every <duration>', `${prefix}continuous orchestration: re-plan every DURATION (e.g. 5s) from measured rates, over the scenario's phases, until it has settled after the last one`)
    .option('--stable-rounds <n>', 'with --every: a VM moves after choosing the same target in N consecutive periods (default 3)')
    .option('--max-per-period <n>', 'with --every: migration budget per period (default 4)')
    .option('--quiet <duration>', 'with --every: hold off this long after a link or switch changed (default 10s)')
    .option('--cm <cost>', 'with --every: fixed migration cost c_m instead of the pre-copy price')
    .option('--vm-memory <size>', 'with --every: VM memory for the pre-copy price (default 64KiB, clean: a namespace or simulated VM has no memory to copy; 4GiB prices every move of the paper\'s kB/s flows out)');
}

export type ContinuousRunOptions = Omit<ContinuousCliOptions, 'orchestrate'>;

/** A continuous start body: `continuous` is there. */
export type ContinuousStart = OrchestrationStart & { continuous: NonNullable<OrchestrationStart['continuous']> };

/**
 * The start body of a continuous run of `policy`, or null without --every. Unlike `score
 * controller`, whose default prices a 4 GiB VM, the VMs here are namespaces or simulated: 64 KiB
 * that dirties nothing (Mininet-host size, as the system tests price them) unless --vm-memory or
 * --cm says otherwise. Errors: CLI_USAGE (as `continuousStart`).
 */
export function continuousRunStart(policy: PolicyName, o: ContinuousRunOptions): ContinuousStart | null {
  if (o.every === undefined) {
    refuseStray(o, CONTINUOUS_KEYS, '--every DURATION');
    return null;
  }
  const clean = o.cm === undefined && o.vmMemory === undefined;
  const start = continuousStart({ ...o, orchestrate: policy, ...(o.cm === undefined ? { vmMemory: o.vmMemory ?? '64KiB' } : {}) });
  if (start?.continuous === undefined) return null;
  return { ...start, continuous: { ...start.continuous, ...(clean ? { dirtyRateBytesPerSec: 0 } : {}) } };
}

/**
 * The line a demo or emulate run prints before orchestrating, when it has one: what continuous
 * mode will do (`until`: how long it may run), or that a one-shot run of a phased scenario plans
 * on the first phase only. Pure.
 */
export function phasesIntro(model: Model, start: ContinuousStart | null, until: string): string | null {
  const segments = model.timeline.segments;
  if (start !== null) return `  continuous orchestration every ${start.continuous.everyMs / 1000} s over ${segments.length} traffic phase(s)${until}`;
  if (segments.length > 1) return `  the scenario's traffic changes at ${segments.slice(1).map((g) => `${g.startSec} s`).join(', ')}: a one-shot run plans on the first phase only; --every 5s follows every phase`;
  return null;
}

/** Periods with no move after the last phase before a continuous run counts as settled: the stable rule's and two more. */
export function quietPeriodsOf(start: { continuous: { stableRounds?: number } }): number {
  return (start.continuous.stableRounds ?? 3) + 2;
}

/**
 * One line per phase of a continuous run, from its record's `phases` (src/system/live-run.ts
 * withPhases; none without them): the phase's start on the scenario's clock, its migrations and,
 * after the first, the fewest that make every flow of the new phase local from where the VMs were
 * at its reading (`fewestMigrations`); constant traffic: one line for the run. runs.json, the CSVs and `score report` carry the same. Pure.
 */
export function phaseSummary(model: Model, run: RunRecord): string[] {
  const segments = model.timeline.segments;
  // constant traffic: one phase, which withPhases leaves without a `phases` list
  if (run.phases === undefined || run.phases.length === 0) return [`phase 1 from ${segments[0]?.startSec ?? 0} s: ${run.steps.length} migration(s)`];
  return run.phases.map((ph) => {
    const min = ph.phase === 0 ? undefined : ph.fewestMigrations;
    return `phase ${ph.phase + 1} from ${segments[ph.phase]?.startSec ?? ph.startSec} s: ${ph.migrations} migration(s)${min === undefined ? '' : `; the fewest that make its flows local: ${min}`}`;
  });
}
