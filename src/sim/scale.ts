import type { DirectedFlow, Placement, TrafficMatrix } from '../core/cost.ts';
import { trafficMatrix, vmCost } from '../core/cost.ts';
import type { Layers } from '../core/layers.ts';
import type { PathOracle } from '../core/paths.ts';
import type { StrategyRun as PolicyRun } from '../core/baselines.ts';
import { rankOf, type RunInput } from '../core/policies.ts';
import type { Topology } from '../core/topology.ts';
import { build } from '../core/build.ts';
import type { GeneratedTopology } from '../topologies/generate.ts';
import type { LayerUtilisation, LinkLoad } from './fluid.ts';
import { preCopy, qemuStopCopyBytes } from '../core/migration-cost.ts';
import { layerUtilisation, linkLoads } from './fluid.ts';
import { layerNames } from './run.ts';
import type { Workload } from '../workloads/workload.ts';

/**
 * The scale simulator: one generated topology and workload, several strategies, each from the
 * same initial placement. The result is plain JSON and deterministic (no wall-clock time in it:
 * the caller times the strategies if it wants), so two runs with the same seed are byte-identical.
 *
 * Per round it records the overall cost C_A, the migrations made and the per-layer utilisation
 * at the end of the round; per VM it records the distribution of C_A(u) before and after.
 */
/** A generated workload (src/workloads): its VMs, traffic, placement, capacity and, optionally, per-VM resources. */
export type ScaleWorkload = Workload;

/** What the pre-copy model needs to know about a VM. */
export interface MigratingVm {
  readonly memoryBytes: number;
  readonly dirtyRateBytesPerSec: number;
}

/** How migrations are priced and charged to the network (Clark et al.'s pre-copy model). */
export interface MigrationModel {
  /** used for VMs without drawn resources */
  readonly defaults: MigratingVm;
  readonly bandwidthBytesPerSec: number;
  readonly maxRounds: number;
  readonly stopCopyBytes: number;
  /** a round's migrations are spread over this many seconds when charged to the links */
  readonly roundSeconds: number;
}

/**
 * 4 GiB VMs dirtying 10 MB/s; 1 Gb/s (125 MB/s) reserved for migration; Xen's 30-round limit; the
 * stop-copy threshold fitted to QEMU 7.2 (`qemuStopCopyBytes`: bandwidth × 6 ms = 0.75 MB; from
 * bench/precopy-model.bench.ts, docs/vms.md "The fit"). It replaced a fixed 50 MB: on the default
 * VM that adds two short rounds, +0.05% bytes, and cuts the downtime from 0.22 s to 1.4 ms.
 * A model with another bandwidth should set `stopCopyBytes: qemuStopCopyBytes(itsBandwidth)`.
 */
export const DEFAULT_MIGRATION_MODEL: MigrationModel = {
  defaults: { memoryBytes: 4 * 2 ** 30, dirtyRateBytesPerSec: 10e6 },
  bandwidthBytesPerSec: 125e6,
  maxRounds: 30,
  stopCopyBytes: qemuStopCopyBytes(125e6),
  roundSeconds: 60,
};

/** What every strategy gets: the planners' own inputs, plus what baselines may borrow. */
export interface StrategyContext extends Pick<RunInput, 'vms' | 'placement' | 'traffic' | 'oracle' | 'capacity' | 'rank'> {
  readonly topology: Topology;
  readonly seed: number;
  readonly resources?: ReadonlyMap<string, MigratingVm>;
  /** runs so far in this comparison, for baselines that borrow another's budget */
  readonly previous: ReadonlyMap<string, PolicyRun>;
}

/** A strategy is a pure planner over the whole run; the simulator only replays its steps. */
export type StrategyRunner = (ctx: StrategyContext) => PolicyRun;

export interface RoundPoint {
  /** 0 = the initial placement */
  readonly round: number;
  readonly cost: number;
  readonly migrations: number;
  /** bytes the round's migrations sent (pre-copy model) */
  readonly migrationBytes: number;
  /** at the end of the round, with the round's migration traffic spread over roundSeconds on the links it crossed */
  readonly layers: readonly LayerUtilisation[];
}

export interface StrategyResult {
  readonly strategy: string;
  readonly initialCost: number;
  readonly finalCost: number;
  /** 1 − final/initial */
  readonly costReduction: number;
  readonly migrations: number;
  /** distinct VMs that moved at least once */
  readonly vmsMigrated: number;
  readonly fractionMigrated: number;
  /** 1 − cost/initial at the step where half the VMs had moved (the final reduction if fewer ever moved) */
  readonly reductionAtHalfMigrated: number;
  readonly migrationBytes: number;
  readonly rounds: number;
  readonly converged: boolean;
  readonly perRound: readonly RoundPoint[];
  /** C_A(u) quantiles (0, 1, ..., 100th percentile) before and after */
  readonly vmCostQuantiles: { readonly initial: readonly number[]; readonly final: readonly number[] };
}

export interface ScaleResult {
  readonly kind: 'score-scale';
  readonly version: 1;
  readonly topology: { readonly name: string; readonly hypervisors: number; readonly switches: number; readonly links: number };
  readonly layerNames: readonly string[];
  readonly workload: { readonly name: string; readonly seed: number; readonly params: Readonly<Record<string, unknown>>; readonly vms: number; readonly flows: number };
  readonly strategies: readonly StrategyResult[];
  /** a reference placement (e.g. METIS partitioning, reference.ts) and each strategy's distance to the best known cost (gap.ts) */
  readonly reference?: ReferenceResult;
}

export interface ReferenceResult {
  readonly method: string;
  readonly cost: number;
  /** 1 − cost/initial */
  readonly reduction: number;
  /** the least cost of the reference and every strategy's final placement, and who reached it */
  readonly bestKnown: { readonly cost: number; readonly by: string };
  /** per strategy: (final − best known) / initial */
  readonly gapToBest: Readonly<Record<string, number>>;
  /** a cost no placement within capacity can go below (bound.ts), and the reduction it caps */
  readonly lowerBound?: { readonly method: string; readonly cost: number; readonly maxReduction: number };
}

export interface ScaleInput {
  readonly topology: GeneratedTopology;
  readonly workload: (topology: Topology) => ScaleWorkload;
  readonly strategies: readonly (readonly [string, StrategyRunner])[];
  /** per-layer utilisation per round costs one pass over every flow's path; off for the largest runs */
  readonly utilisation?: boolean;
  readonly migration?: MigrationModel;
  /** computes a reference placement's cost on the same instance (none by default) */
  readonly reference?: (ctx: Omit<StrategyContext, 'previous'>) => { readonly method: string; readonly cost: number; readonly lowerBound?: { readonly method: string; readonly cost: number } };
}

export function quantiles(xs: readonly number[], points = 101): number[] {
  if (xs.length === 0) return [];
  const s = Float64Array.from(xs).sort();
  return Array.from({ length: points }, (_, i) => s[Math.min(s.length - 1, Math.round((i / (points - 1)) * (s.length - 1)))]!);
}

export function runScale(input: ScaleInput): ScaleResult {
  const built = build(input.topology);
  const w = input.workload(built.topology);
  const traffic = trafficMatrix(w.flows);
  const rank = rankOf(w.vms);
  const previous = new Map<string, PolicyRun>();
  const results: StrategyResult[] = [];
  const view = { topology: built.topology, layers: built.layers, oracle: built.oracle };
  const initialVmCosts = w.vms.map((vm) => vmCost(vm, w.placement, traffic, built.oracle));
  for (const [name, runner] of input.strategies) {
    const run = runner({
      vms: w.vms,
      placement: w.placement,
      traffic,
      oracle: built.oracle,
      capacity: w.capacity,
      rank,
      topology: built.topology,
      seed: w.seed,
      previous,
      ...(w.resources === undefined ? {} : { resources: w.resources }),
    });
    previous.set(name, run);
    results.push(summarise(name, run, { ...view, flows: w.flows, traffic, initial: w.placement, vms: w.vms, initialVmCosts, utilisation: input.utilisation ?? true, migration: input.migration ?? DEFAULT_MIGRATION_MODEL, resources: w.resources }));
  }
  const ctx = { vms: w.vms, placement: w.placement, traffic, oracle: built.oracle, capacity: w.capacity, rank, topology: built.topology, seed: w.seed };
  const reference = input.reference === undefined ? undefined : referenceResult(input.reference(ctx), results);
  return {
    kind: 'score-scale',
    version: 1,
    topology: {
      name: input.topology.name,
      hypervisors: built.topology.hypervisors.length,
      switches: built.topology.nodes.size - built.topology.hypervisors.length,
      links: built.topology.links.length,
    },
    layerNames: layerNames(built.layers.maxLayer),
    workload: { name: w.name, seed: w.seed, params: w.params, vms: w.vms.length, flows: w.flows.length },
    strategies: results,
    ...(reference === undefined ? {} : { reference }),
  };
}

function referenceResult(ref: { readonly method: string; readonly cost: number; readonly lowerBound?: { readonly method: string; readonly cost: number } }, results: readonly StrategyResult[]): ReferenceResult {
  const initial = results[0]?.initialCost ?? 0;
  let best = { cost: ref.cost, by: ref.method };
  for (const r of results) if (r.finalCost < best.cost) best = { cost: r.finalCost, by: r.strategy };
  const rel = (c: number): number => (initial === 0 ? 0 : c / initial);
  return {
    method: ref.method,
    cost: ref.cost,
    reduction: 1 - rel(ref.cost),
    bestKnown: best,
    gapToBest: Object.fromEntries(results.map((r) => [r.strategy, rel(r.finalCost - best.cost)])),
    ...(ref.lowerBound === undefined ? {} : { lowerBound: { method: ref.lowerBound.method, cost: ref.lowerBound.cost, maxReduction: 1 - rel(ref.lowerBound.cost) } }),
  };
}

interface SummaryInput {
  readonly topology: Topology;
  readonly layers: Layers;
  readonly oracle: PathOracle;
  readonly flows: readonly DirectedFlow[];
  readonly traffic: TrafficMatrix;
  readonly initial: Placement;
  readonly vms: readonly string[];
  readonly initialVmCosts: readonly number[];
  readonly utilisation: boolean;
  readonly migration: MigrationModel;
  readonly resources: ReadonlyMap<string, MigratingVm> | undefined;
}

function bytesMoved(s: SummaryInput, vm: string): number {
  const v = s.resources?.get(vm) ?? s.migration.defaults;
  return preCopy({ ...v, bandwidthBytesPerSec: s.migration.bandwidthBytesPerSec, maxRounds: s.migration.maxRounds, stopCopyBytes: s.migration.stopCopyBytes }).bytesMoved;
}

/** Adds migration traffic (bytes over from→to's path, spread over `seconds`) to link loads, by direction. */
function chargeMigrations(s: SummaryInput, loads: LinkLoad[], moves: readonly { from: string; to: string; bytes: number }[], seconds: number): LinkLoad[] {
  if (moves.length === 0) return loads;
  const byId = new Map(loads.map((l, i) => [l.link, i]));
  const out = [...loads];
  for (const m of moves) {
    let at = m.from;
    for (const link of s.oracle.path(m.from, m.to)) {
      const i = byId.get(link.id);
      const bits = (m.bytes * 8) / seconds;
      const forward = link.a === at;
      at = forward ? link.b : link.a;
      if (i === undefined) continue;
      const l = out[i]!;
      const abBps = l.abBps + (forward ? bits : 0);
      const baBps = l.baBps + (forward ? 0 : bits);
      out[i] = { ...l, abBps, baBps, active: true, utilisation: Math.max(abBps, baBps) / l.capacityBps };
    }
  }
  return out;
}

function summarise(name: string, run: PolicyRun, s: SummaryInput): StrategyResult {
  const placement = new Map(s.initial);
  const layersAt = (moves: readonly { from: string; to: string; bytes: number }[]): LayerUtilisation[] =>
    s.utilisation ? layerUtilisation(chargeMigrations(s, linkLoads(s, placement, s.flows), moves, s.migration.roundSeconds), s.layers.maxLayer) : [];
  const perRound: RoundPoint[] = [{ round: 0, cost: run.initialCost, migrations: 0, migrationBytes: 0, layers: layersAt([]) }];
  const moved = new Set<string>();
  const half = Math.floor(s.vms.length / 2);
  let atHalf: number | null = null;
  let totalBytes = 0;
  let i = 0;
  for (let round = 1; round <= run.rounds; round++) {
    let cost = perRound.at(-1)!.cost;
    const moves: { from: string; to: string; bytes: number }[] = [];
    while (i < run.steps.length && run.steps[i]!.round === round) {
      const st = run.steps[i]!;
      const bytes = bytesMoved(s, st.decision.vm);
      moves.push({ from: st.decision.from, to: st.decision.to, bytes });
      placement.set(st.decision.vm, st.decision.to);
      moved.add(st.decision.vm);
      cost = st.totalAfter;
      if (atHalf === null && half > 0 && moved.size >= half) atHalf = cost;
      i += 1;
    }
    const migrationBytes = moves.reduce((n, m) => n + m.bytes, 0);
    totalBytes += migrationBytes;
    perRound.push({ round, cost, migrations: moves.length, migrationBytes, layers: layersAt(moves) });
  }
  const finalVmCosts = s.vms.map((vm) => vmCost(vm, run.finalPlacement, s.traffic, s.oracle));
  const reduction = (c: number): number => (run.initialCost === 0 ? 0 : 1 - c / run.initialCost);
  return {
    strategy: name,
    initialCost: run.initialCost,
    finalCost: run.finalCost,
    costReduction: reduction(run.finalCost),
    migrations: run.steps.length,
    vmsMigrated: moved.size,
    fractionMigrated: s.vms.length === 0 ? 0 : moved.size / s.vms.length,
    reductionAtHalfMigrated: reduction(atHalf ?? run.finalCost),
    migrationBytes: totalBytes,
    rounds: run.rounds,
    converged: run.converged,
    perRound,
    vmCostQuantiles: { initial: quantiles(s.initialVmCosts), final: quantiles(finalVmCosts) },
  };
}
