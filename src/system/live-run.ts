import type { Model } from '../scenario/model.ts';
import type { PolicyName } from '../core/policies.ts';
import * as ctl from '../controller/controller.ts';
import { layerUtilisation, type TimelinePoint } from '../sim/fluid.ts';
import { layerNames, type RunRecord } from '../sim/run.ts';
import type { MigrationRecord, OrchestrationStart } from '../api/contract.ts';
import type { ContinuousState } from '../orchestrator/continuous.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Stack } from './stack.ts';

/**
 * Runs one orchestration policy on a running stack (any data plane) and turns what the system
 * measured into the same run record `simulate` produces: the step table from the audit log, and
 * the cost and per-layer utilisation, read from the switches' counters once the network settled
 * after each migration.
 */
export function measuredPoint(stack: Stack, step: number, time: number): TimelinePoint {
  const c = stack.runtime.controller;
  return { step, time, totalCost: stack.service.cost().cost, layers: layerUtilisation(ctl.linkUtilisation(c), c.view.layers.maxLayer) };
}

/**
 * How long after the last phase begins before continuous mode may be called settled, ms: the
 * controller's rate window (5 s) and a statistics poll, so the new phase's rates are what it plans on.
 */
export const CONTINUOUS_WINDOW_MS = 7000;

interface LiveRunOptions {
  readonly policy: PolicyName;
  readonly model: Model;
  readonly file: string;
  readonly source: RunRecord['source'];
  readonly clock: Clock;
  readonly settleMs: number;
  readonly timeline: TimelinePoint[];
}

async function startOrchestration(stack: Stack, body: OrchestrationStart): Promise<void> {
  const res = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`starting orchestration failed: ${res.status} ${await res.text()}`);
}

export async function orchestrate(stack: Stack, o: LiveRunOptions & { maxRounds?: number; swaps?: boolean; overcommit?: number; lookahead?: boolean }): Promise<RunRecord> {
  const initialPlacement = Object.fromEntries(stack.service.snapshot().placement);
  await startOrchestration(stack, { policy: o.policy, ...(o.maxRounds ? { maxRounds: o.maxRounds } : {}), ...(o.swaps === true ? { swaps: true } : {}), ...(o.overcommit === undefined ? {} : { overcommit: o.overcommit }), ...(o.lookahead === true ? { lookahead: true } : {}) });
  await stack.service.orchestrator.finished();
  return runRecord(stack, o, initialPlacement, o.maxRounds ?? 20);
}

/**
 * When a continuous run has done what it can with the traffic's last phase: `quietPeriods`
 * periods with no migration since `sincePeriod` (the period under way once that phase's rates
 * were measured) and since the no-return bars set before it ran out, no choice the stable rule
 * may still be counting and no hold-off. A bar from before the
 * phase can hold back a move the new traffic calls for (it is taken once the bar ends); a bar
 * from a move made for the new traffic only guards against going back, so it is not waited for.
 * Pure.
 */
export function continuousDone(s: Pick<ContinuousState, 'config' | 'period' | 'holdOff' | 'choices' | 'moves' | 'left'>, sincePeriod: number, quietPeriods: number): boolean {
  if (s.holdOff !== null) return false;
  // a bar set in period p holds through p + noReturnRounds (barredReturn)
  const barsEnd = Math.max(0, ...Object.values(s.left).flatMap((ls) => ls.filter((l) => l.period < sincePeriod).map((l) => l.period + s.config.noReturnRounds + 1)));
  if (s.period - Math.max(s.moves.at(-1)?.period ?? 0, sincePeriod, barsEnd) < quietPeriods) return false;
  // a period's end forgets the choices not renewed in it (endPeriod), so any choice left is one
  // the stable rule may still be counting: the last period's, or this one's
  return Object.keys(s.choices).length === 0;
}

/**
 * Continuous orchestration over traffic that changes in time (issue #12): started once with
 * `start` (its `continuous` options), left to itself, and stopped once `continuousDone` holds
 * after the last phase (times on `o.clock`, ms: `lastPhaseMs` when the last phase begins on that
 * clock, `windowMs` the rate window after it) or at `untilMs` whatever it is doing. The run
 * record's steps are every migration of every phase, each period a round; its `finalCost` is
 * measured when it stopped and `converged` says it settled.
 */
export async function orchestrateContinuously(
  stack: Stack,
  o: LiveRunOptions & { start: OrchestrationStart & { continuous: object }; lastPhaseMs: number; windowMs: number; untilMs: number; quietPeriods: number; signal?: AbortSignal },
): Promise<RunRecord & { stoppedBy: 'settled' | 'time' }> {
  const initialPlacement = Object.fromEntries(stack.service.snapshot().placement);
  await startOrchestration(stack, o.start);
  const orchestrator = stack.service.orchestrator;
  let stoppedBy: 'settled' | 'time' = 'time';
  let sincePeriod: number | undefined;
  while (o.clock.now() < o.untilMs && orchestrator.status().state !== 'idle') {
    const s = orchestrator.continuousState();
    if (s !== null && sincePeriod === undefined && o.clock.now() >= o.lastPhaseMs + o.windowMs) sincePeriod = s.period;
    if (s !== null && sincePeriod !== undefined && continuousDone(s, sincePeriod, o.quietPeriods)) {
      stoppedBy = 'settled';
      break;
    }
    await o.clock.sleep(250, o.signal);
  }
  // the cost at the end is read now, periods after the last move, when no migration's probes are
  // left in the rate window (the last step's reading is taken a settle after its migration)
  const finalCost = stack.service.cost().cost;
  if (orchestrator.status().state !== 'idle') await orchestrator.stop();
  await orchestrator.finished();
  // "converged" for a run that cannot end by itself: it settled after the last phase
  return { ...runRecord(stack, o, initialPlacement, o.start.maxRounds ?? 20), finalCost, converged: stoppedBy === 'settled', stoppedBy };
}

/** What the system measured, as the run record `simulate` produces. */
function runRecord(stack: Stack, o: LiveRunOptions, initialPlacement: Record<string, string>, maxRounds: number): RunRecord {
  const status = stack.service.orchestrator.status();
  if (status.lastError !== null) throw new Error(`orchestration failed: ${status.lastError}`);
  const records = stack.service.orchestrator.records;
  const done = records.filter((r) => r.status === 'succeeded' && r.to !== null && r.step !== null);
  const byStep = new Map(o.timeline.map((p) => [p.step, p]));
  const steps = done.map((r) => ({
    step: r.step!,
    round: r.round,
    time: (byStep.get(r.step!)?.time ?? 0),
    vm: r.vm,
    from: r.from,
    to: r.to!,
    vmCostBefore: r.decision?.costBefore ?? 0,
    vmCostAfter: r.decision?.costAfter ?? 0,
    totalBefore: byStep.get(r.step! - 1)?.totalCost ?? r.totalCostBefore,
    totalAfter: byStep.get(r.step!)?.totalCost ?? r.totalCostAfter ?? 0,
    reason: r.decision?.reason ?? '',
  }));
  const first = o.timeline[0];
  const last = o.timeline.at(-1);
  return {
    kind: 'score-run',
    version: 1,
    source: o.source,
    scenario: { name: o.model.scenario.name, file: o.file },
    policy: o.policy,
    params: { migrationCost: o.model.migrationCost, decisionMode: 'first', stepSeconds: o.settleMs / 1000, maxRounds },
    initialPlacement,
    finalPlacement: Object.fromEntries(stack.service.snapshot().placement),
    initialCost: first?.totalCost ?? 0,
    finalCost: last?.totalCost ?? 0,
    migrations: done.length,
    rounds: status.round,
    converged: status.converged,
    layerNames: layerNames(stack.runtime.controller.view.layers.maxLayer),
    steps,
    timeline: o.timeline,
    decisions: records
      .filter((r) => r.decision !== null)
      .map((r) => ({ ...r.decision!, round: r.round })),
  };
}

/**
 * The run record with each step's measured migration: the driver's figures and the peers' probes
 * from the audit record of the same step and VM (a succeeded one). Steps without such a record,
 * or whose record measured nothing, stay as they were. Pure.
 */
export function withMeasuredMigrations(record: RunRecord, migrations: readonly Pick<MigrationRecord, 'vm' | 'step' | 'status' | 'figures' | 'connectivity'>[]): RunRecord {
  const steps = record.steps.map((s) => {
    const m = migrations.find((r) => r.status === 'succeeded' && r.step === s.step && r.vm === s.vm);
    if (m === undefined) return s;
    return { ...s, ...(m.figures ? { migration: m.figures } : {}), ...(m.connectivity ? { probes: m.connectivity } : {}) };
  });
  return { ...record, steps };
}
