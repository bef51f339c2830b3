import type { PolicyName } from '../core/policies.ts';
import { runPolicy } from '../core/policies.ts';
import { trafficMatrix, type DirectedFlow } from '../core/cost.ts';
import type { DecisionMode } from '../core/decision.ts';
import type { Model } from '../scenario/model.ts';
import type { TimelinePoint } from './fluid.ts';
import { linkLoads, replay } from './fluid.ts';
import type { Connectivity, MigrationFigures } from '../agent/drivers/driver.ts';

/**
 * One policy on one scenario, planned by the core and replayed on the fluid data plane: the
 * record every output (tables, CSV, charts, reports) is drawn from. Plain JSON, so any run can
 * be saved and read back.
 */
export interface RunRecord {
  readonly kind: 'score-run';
  readonly version: 1;
  readonly source: 'simulate' | 'demo' | 'emulate';
  readonly scenario: { readonly name: string; readonly file: string };
  readonly policy: PolicyName;
  readonly params: {
    readonly migrationCost: number;
    readonly decisionMode: DecisionMode;
    readonly stepSeconds: number;
    readonly maxRounds: number;
  };
  readonly initialPlacement: Readonly<Record<string, string>>;
  readonly finalPlacement: Readonly<Record<string, string>>;
  readonly initialCost: number;
  readonly finalCost: number;
  readonly migrations: number;
  readonly rounds: number;
  readonly converged: boolean;
  readonly layerNames: readonly string[];
  readonly steps: readonly StepRecord[];
  readonly timeline: readonly TimelinePoint[];
  /** every VM asked, including those that declined */
  readonly decisions: readonly RecordedDecision[];
  /**
   * A scenario whose traffic changes in time (phases, trace): one entry per timeline segment, in
   * order; the run's steps, timeline and decisions go on across them (see simulateTimeline).
   * Absent for a scenario with constant traffic.
   */
  readonly phases?: readonly PhaseRecord[];
}

/**
 * One traffic phase of a run: `score simulate` plans it (src/sim/run.ts simulateTimeline), a
 * continuous live run (`score demo --every`, `score emulate --every`) measures it
 * (src/system/live-run.ts withPhases).
 */
export interface PhaseRecord {
  /** 0-based index of the timeline segment */
  readonly phase: number;
  /**
   * when the phase's traffic starts, s on the run's time axis (its steps' and timeline's `time`):
   * the scenario's phase start for simulate and demo; for emulate, that plus when the traffic began
   */
  readonly startSec: number;
  readonly flows: number;
  /**
   * C_A when the phase starts (previous phase's placement, this phase's traffic), and after its
   * plan. A live run measures costAtStart once a rate window of the new traffic has passed (the
   * timeline's point at the change), costAfter after the phase's last migration settled (the last
   * phase: when the run stopped).
   */
  readonly costAtStart: number;
  readonly costAfter: number;
  readonly migrations: number;
  /** the phase's rounds (a continuous run: its periods) */
  readonly rounds: number;
  /** its plan converged; a continuous run: it had settled (continuousDone) by the next phase's start, the last phase by the run's end */
  readonly converged: boolean;
  /** `step` of the phase's first migration (the run's numbering); steps firstStep .. firstStep + migrations - 1 */
  readonly firstStep: number;
  /**
   * the fewest migrations that make every flow of the phase local from where the VMs were at its
   * reading, a rate window after it began (src/sim/phased.ts minimumMigrationsToColocate: exact when hypervisors have room, a lower
   * bound otherwise); continuous live runs only
   */
  readonly fewestMigrations?: number;
}

/** A decision as recorded: the core's, or one an agent returned over the API. */
export interface RecordedDecision {
  readonly vm: string;
  readonly from: string;
  readonly to: string | null;
  readonly costBefore: number;
  readonly costAfter: number;
  readonly reason: string;
  readonly round: number;
  readonly candidates: readonly { readonly hypervisor: string; readonly costThere: number | null; readonly verdict: string }[];
}

export interface StepRecord {
  readonly step: number;
  readonly round: number;
  readonly time: number;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly vmCostBefore: number;
  readonly vmCostAfter: number;
  readonly totalBefore: number;
  readonly totalAfter: number;
  readonly reason: string;
  /**
   * `score emulate --policy` only: the migration's own figures as its driver measured them (QEMU's
   * query-migrate with --vms qemu, the wall clock for namespaces); absent for simulated runs.
   */
  readonly migration?: MigrationFigures;
  /** `score emulate --policy` only: the peers' 10 ms probes to the VM while it moved; absent for simulated runs */
  readonly probes?: Connectivity;
  /**
   * a scenario with traffic phases: the phase (0-based) whose plan made this migration; a
   * continuous live run: the phase whose measured traffic it was made on (settled after that
   * phase's point at the change)
   */
  readonly phase?: number;
}

export interface SimulateOptions {
  readonly policy: PolicyName;
  readonly file: string;
  readonly source?: RunRecord['source'];
  readonly migrationCost?: number;
  readonly decisionMode?: DecisionMode;
  readonly maxRounds?: number;
  readonly stepSeconds?: number;
}

/** Link layer names, lowest first. Three layers read as the paper's tree, two as leaf-spine. */
export function layerNames(maxLayer: number): string[] {
  if (maxLayer === 3) return ['hypervisor-ToR', 'ToR-aggregation', 'aggregation-core'];
  if (maxLayer === 2) return ['hypervisor-leaf', 'leaf-spine'];
  return Array.from({ length: maxLayer }, (_, i) => `layer ${i + 1}`);
}

export function simulate(model: Model, opts: SimulateOptions): RunRecord {
  const sim = model.scenario.simulation ?? {};
  const migrationCost = opts.migrationCost ?? model.migrationCost;
  const decisionMode = opts.decisionMode ?? sim.decisionMode ?? 'first';
  const maxRounds = opts.maxRounds ?? sim.maxRounds ?? 20;
  const stepSeconds = opts.stepSeconds ?? sim.stepSeconds ?? 10;
  const run = runPolicy({
    policy: opts.policy,
    vms: model.vms,
    placement: model.placement,
    traffic: model.traffic,
    oracle: model.oracle,
    capacity: model.capacity,
    rank: model.rank,
    migrationCost,
    mode: decisionMode,
    maxRounds,
  });
  const timeline = replay({
    topology: model.topology,
    layers: model.layers,
    oracle: model.oracle,
    initial: model.placement,
    flows: model.flows,
    traffic: model.traffic,
    run,
    stepSeconds,
  });
  return {
    kind: 'score-run',
    version: 1,
    source: opts.source ?? 'simulate',
    scenario: { name: model.scenario.name, file: opts.file },
    policy: opts.policy,
    params: { migrationCost, decisionMode, stepSeconds, maxRounds },
    initialPlacement: Object.fromEntries(model.placement),
    finalPlacement: Object.fromEntries(run.finalPlacement),
    initialCost: run.initialCost,
    finalCost: run.finalCost,
    migrations: run.steps.length,
    rounds: run.rounds,
    converged: run.converged,
    layerNames: layerNames(model.layers.maxLayer),
    steps: run.steps.map((s) => ({
      step: s.step,
      round: s.round,
      time: s.step * stepSeconds,
      vm: s.decision.vm,
      from: s.decision.from,
      to: s.decision.to,
      vmCostBefore: s.decision.costBefore,
      vmCostAfter: s.decision.costAfter,
      totalBefore: s.totalBefore,
      totalAfter: s.totalAfter,
      reason: s.decision.reason,
    })),
    timeline,
    decisions: run.decisions,
  };
}

/** The same flows (src, dst, rate), in any order. */
function sameFlows(a: readonly DirectedFlow[], b: readonly DirectedFlow[]): boolean {
  const key = (f: DirectedFlow): string => `${f.src}\u0000${f.dst}\u0000${f.rate}`;
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/**
 * `simulate` over the scenario's whole timeline. With constant traffic it is `simulate`. With
 * phases (or a trace) the policy plans phase 0 as `simulate` does, then at each later phase's
 * start re-plans from where the previous plan left the VMs, on that phase's traffic, as a
 * continuous S-CORE with perfect measurements would; one record carries it all, so every output
 * (runs.json, steps.csv, timeline.csv, the figures, `score report`) has every phase:
 *  - steps are numbered on across phases and each carries its `phase`; a phase's migrations are
 *    `stepSeconds` apart from its start, or from the previous phase's last migration if that
 *    came later (the times never go back);
 *  - the timeline gets, at each phase's start, a point with the old placement on the new traffic
 *    (the same step number as the point before it: the cost's jump at the change), then one
 *    point per migration; link byte counters go on from the previous phase, its last placement
 *    counted until the change;
 *  - decisions' and steps' rounds are numbered on across phases;
 *  - initialCost is phase 0's, finalCost the last phase's, migrations and rounds the sums,
 *    converged when every phase converged; `phases` has one PhaseRecord each.
 * Pure, like `simulate`.
 */
export function simulateTimeline(model: Model, opts: SimulateOptions): RunRecord {
  const segments = model.timeline.segments;
  // phase 0 is what the data planes play from t = 0: the top-level traffic with any change at
  // t = 0 (a phase or trace line at 0) folded in; the model itself when there is none
  const seg0 = segments[0]?.flows ?? model.flows;
  const first = simulate(sameFlows(seg0, model.flows) ? model : { ...model, flows: seg0, traffic: trafficMatrix(seg0) }, opts);
  if (segments.length <= 1) return first;
  const { migrationCost, decisionMode, maxRounds, stepSeconds } = first.params;
  const steps: StepRecord[] = first.steps.map((st) => ({ ...st, phase: 0 }));
  const timeline: TimelinePoint[] = first.timeline.map((p) => ({ ...p, phase: 0 }));
  const decisions: RecordedDecision[] = [...first.decisions];
  const phases: PhaseRecord[] = [
    { phase: 0, startSec: segments[0]!.startSec, flows: segments[0]!.flows.length, costAtStart: first.initialCost, costAfter: first.finalCost, migrations: first.migrations, rounds: first.rounds, converged: first.converged, firstStep: 1 },
  ];
  let placement: ReadonlyMap<string, string> = new Map(Object.entries(first.finalPlacement));
  let rounds = first.rounds;
  let converged = first.converged;
  let lastCost = first.finalCost;
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const traffic = trafficMatrix(seg.flows);
    const run = runPolicy({ policy: opts.policy, vms: model.vms, placement, traffic, oracle: model.oracle, capacity: model.capacity, rank: model.rank, migrationCost, mode: decisionMode, maxRounds });
    const stepBase = steps.length;
    const timeBase = Math.max(seg.startSec, steps.at(-1)?.time ?? 0);
    // counters go on: each point counted one stepSeconds of its state; until this phase starts the
    // previous phase's last placement carried the previous phase's flows
    const last = timeline.at(-1);
    const counters: Record<string, number> = { ...(last?.linkBytes ?? {}) };
    const idle = seg.startSec - ((last?.time ?? 0) + stepSeconds);
    if (last?.linkBytes !== undefined && idle > 0) {
      for (const l of linkLoads(model, placement, segments[i - 1]!.flows)) counters[l.link] = (counters[l.link] ?? 0) + ((l.abBps + l.baBps) / 8) * idle;
    }
    const points = replay({ topology: model.topology, layers: model.layers, oracle: model.oracle, initial: placement, flows: seg.flows, traffic, run, stepSeconds });
    for (const [k, p] of points.entries()) {
      timeline.push({
        ...p,
        step: stepBase + p.step,
        // the change's point at timeBase: the previous plan, which finishes first, may end after seg.startSec
        time: k === 0 ? timeBase : timeBase + p.step * stepSeconds,
        ...(p.linkBytes === undefined ? {} : { linkBytes: Object.fromEntries(Object.entries(p.linkBytes).map(([l, b]) => [l, b + (counters[l] ?? 0)])) }),
        phase: i,
      });
    }
    for (const st of run.steps) {
      steps.push({
        step: stepBase + st.step,
        round: rounds + st.round,
        time: timeBase + st.step * stepSeconds,
        vm: st.decision.vm,
        from: st.decision.from,
        to: st.decision.to,
        vmCostBefore: st.decision.costBefore,
        vmCostAfter: st.decision.costAfter,
        totalBefore: st.totalBefore,
        totalAfter: st.totalAfter,
        reason: st.decision.reason,
        phase: i,
      });
    }
    for (const d of run.decisions) decisions.push({ ...d, round: rounds + d.round });
    phases.push({ phase: i, startSec: seg.startSec, flows: seg.flows.length, costAtStart: run.initialCost, costAfter: run.finalCost, migrations: run.steps.length, rounds: run.rounds, converged: run.converged, firstStep: stepBase + 1 });
    rounds += run.rounds;
    converged &&= run.converged;
    lastCost = run.finalCost;
    placement = run.finalPlacement;
  }
  return { ...first, finalPlacement: Object.fromEntries(placement), finalCost: lastCost, migrations: steps.length, rounds, converged, steps, timeline, decisions, phases };
}
