import type { PolicyName } from '../core/policies.ts';
import { runPolicy } from '../core/policies.ts';
import type { DecisionMode } from '../core/decision.ts';
import type { Model } from '../scenario/model.ts';
import type { TimelinePoint } from './fluid.ts';
import { replay } from './fluid.ts';
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
