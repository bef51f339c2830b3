import type { Model } from '../scenario/model.ts';
import type { PolicyName } from '../core/policies.ts';
import * as ctl from '../controller/controller.ts';
import { layerUtilisation, type TimelinePoint } from '../sim/fluid.ts';
import { layerNames, type PhaseRecord, type RunRecord, type StepRecord } from '../sim/run.ts';
import { minimumMigrationsToColocate } from '../sim/phased.ts';
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
 * What a continuous run notes when a phase of the scenario's traffic has begun: the reading of
 * the cost on the new traffic, and where the run stood then. Phase 0's is the run's start.
 */
export interface PhaseMark {
  /** when the phase's traffic began, s on the run's time axis */
  readonly startSec: number;
  /** the reading a rate window after the change (the old placement on the new traffic); null for phase 0, whose reading is the run's first point */
  readonly point: TimelinePoint | null;
  /** settled points (orchestrator `onSettled`) taken before this reading: it goes after them in the timeline */
  readonly pointsBefore: number;
  /** the highest settled step then: the phase's migrations are the steps after it */
  readonly stepsBefore: number;
  /** continuous-mode period under way then */
  readonly period: number;
  /** where the VMs were then */
  readonly placement: Readonly<Record<string, string>>;
  /** whether the run had settled (`continuousDone`) when the next phase's traffic began; unset while that has not happened */
  settled?: boolean;
}

/**
 * A continuous live run's record with its phases, in the shape `simulateTimeline` gives a
 * simulated one: each mark's reading goes into the timeline after the settled points before it
 * (the same step number as the point before it, as `simulateTimeline`'s point at a change), every
 * point and step gets its `phase`, the first step of a phase its `totalBefore` from that reading,
 * and `phases` one PhaseRecord per mark (the phases the run reached). A scenario with constant
 * traffic (one segment) is left as it is. Pure.
 */
export function withPhases(model: Model, record: RunRecord, marks: readonly PhaseMark[]): RunRecord {
  const segments = model.timeline.segments;
  if (segments.length <= 1 || marks.length === 0) return record;
  const timeline: TimelinePoint[] = [];
  const firstPoint: number[] = [0];
  let phase = 0;
  // the readings of the changes due before settled point i (all that are left, at the end)
  const readingsBefore = (i: number): void => {
    for (; phase + 1 < marks.length && marks[phase + 1]!.pointsBefore <= i; phase++) {
      firstPoint.push(timeline.length);
      timeline.push({ ...marks[phase + 1]!.point!, phase: phase + 1 });
    }
  };
  record.timeline.forEach((p, i) => {
    readingsBefore(i);
    timeline.push({ ...p, phase });
  });
  readingsBefore(Infinity);
  const phaseOfStep = (step: number): number => marks.reduce((k, m, i) => (step > m.stepsBefore ? i : k), 0);
  const steps: StepRecord[] = record.steps.map((s) => {
    const k = phaseOfStep(s.step);
    const start = marks[k]!.point;
    return { ...s, ...(k > 0 && s.step === marks[k]!.stepsBefore + 1 && start !== null ? { totalBefore: start.totalCost } : {}), phase: k };
  });
  const phases: PhaseRecord[] = marks.map((m, k) => {
    const last = k === marks.length - 1;
    const seg = segments[k]!;
    return {
      phase: k,
      startSec: m.startSec,
      flows: seg.flows.length,
      costAtStart: m.point?.totalCost ?? record.initialCost,
      costAfter: last ? record.finalCost : (timeline[firstPoint[k + 1]! - 1]?.totalCost ?? m.point?.totalCost ?? record.initialCost),
      migrations: steps.filter((s) => s.phase === k).length,
      rounds: (last ? record.rounds : marks[k + 1]!.period) - m.period,
      converged: last ? record.converged : m.settled === true,
      firstStep: m.stepsBefore + 1,
      fewestMigrations: minimumMigrationsToColocate(new Map(Object.entries(m.placement)), seg.flows),
    };
  });
  return { ...record, steps, timeline, phases };
}

/**
 * Continuous orchestration over traffic that changes in time (issue #12): started once with
 * `start` (its `continuous` options), left to itself, and stopped once `continuousDone` holds
 * after the last phase or at `untilMs` whatever it is doing. Times on `o.clock`, ms:
 * `trafficStartMs` when the traffic's first phase began (each later phase begins its scenario
 * `startSec` after it), `originMs` the run's time 0 (its points' and steps' `time`), `windowMs`
 * the rate window after a change. The run record's steps are every migration of every phase, each
 * period a round, and it carries the phases as `withPhases` puts them (a reading of the cost a
 * rate window after each change, the placement and period then, and whether the run had settled
 * before it); its `finalCost` is measured when it stopped and `converged` says it settled.
 */
/** How long a phase's reading waits, after its rate window, for migrations in flight or not yet settled, ms. */
export const READING_WAIT_MS = 60_000;

/**
 * Whether a phase's reading is due at `nowMs`: its rate window has passed (`windowEndMs`) and no
 * migration is in flight (`started`) or succeeded but not yet settled (its step above
 * `settledStep`, the highest step with a timeline point, which comes a settle after the move), so
 * the reading's cost, placement and steps before agree; or READING_WAIT_MS after the window
 * whatever is under way, so a point that never comes does not lose the phase. Pure.
 */
export function phaseReadingDue(nowMs: number, windowEndMs: number, settledStep: number, records: readonly Pick<MigrationRecord, 'status' | 'step'>[]): boolean {
  if (nowMs < windowEndMs) return false;
  if (nowMs >= windowEndMs + READING_WAIT_MS) return true;
  return !records.some((r) => r.status === 'started' || (r.status === 'succeeded' && r.step !== null && r.step > settledStep));
}

export async function orchestrateContinuously(
  stack: Stack,
  o: LiveRunOptions & { start: OrchestrationStart & { continuous: object }; trafficStartMs: number; originMs: number; windowMs: number; untilMs: number; quietPeriods: number; signal?: AbortSignal },
): Promise<RunRecord & { stoppedBy: 'settled' | 'time' }> {
  const initialPlacement = Object.fromEntries(stack.service.snapshot().placement);
  const segments = o.model.timeline.segments;
  const changeMs = (k: number): number => o.trafficStartMs + (segments[k]?.startSec ?? 0) * 1000;
  const lastPhaseMs = changeMs(segments.length - 1);
  const marks: PhaseMark[] = [{ startSec: (changeMs(0) - o.originMs) / 1000, point: null, pointsBefore: 0, stepsBefore: 0, period: 0, placement: initialPlacement }];
  await startOrchestration(stack, o.start);
  const orchestrator = stack.service.orchestrator;
  let stoppedBy: 'settled' | 'time' = 'time';
  let sincePeriod: number | undefined;
  while (o.clock.now() < o.untilMs && orchestrator.status().state !== 'idle') {
    const s = orchestrator.continuousState();
    const k = marks.length;
    if (k < segments.length) {
      // the previous phase is judged as the run is at the change, its reading taken once the
      // new traffic fills the rate window
      const prev = marks[k - 1]!;
      if (prev.settled === undefined && o.clock.now() >= changeMs(k)) prev.settled = s !== null && continuousDone(s, prev.period, o.quietPeriods);
      const settledStep = Math.max(0, ...o.timeline.map((p) => p.step));
      if (phaseReadingDue(o.clock.now(), changeMs(k) + o.windowMs, settledStep, orchestrator.records)) {
        const stepsBefore = settledStep;
        marks.push({
          startSec: (changeMs(k) - o.originMs) / 1000,
          point: measuredPoint(stack, stepsBefore, (o.clock.now() - o.originMs) / 1000),
          pointsBefore: o.timeline.length,
          stepsBefore,
          period: s?.period ?? 0,
          placement: Object.fromEntries(stack.service.snapshot().placement),
        });
      }
    }
    if (s !== null && sincePeriod === undefined && o.clock.now() >= lastPhaseMs + o.windowMs) sincePeriod = s.period;
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
  const record = { ...runRecord(stack, o, initialPlacement, o.start.maxRounds ?? 20), finalCost, converged: stoppedBy === 'settled' };
  return { ...withPhases(o.model, record, marks), stoppedBy };
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
