import type { DirectedFlow, Placement, TrafficMatrix } from '../core/cost.ts';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { rankOf, runPolicy, type PolicyName } from '../core/policies.ts';
import { preCopy, migrationCostUnits, type MigrationCostFn } from '../core/migration-cost.ts';
import type { PathOracle } from '../core/paths.ts';
import { IncrementalPlanner, type PairRate } from '../core/incremental.ts';
import type { Rng } from '../core/random.ts';
import { ScoreError } from '../errors/errors.ts';
import { countOscillations } from '../orchestrator/continuous.ts';
import { DEFAULT_MIGRATION_MODEL, type MigratingVm, type MigrationModel } from './scale.ts';

/**
 * Time in the scale simulator: a workload that evolves over epochs, and strategies that follow it
 * (or not) on the same timeline. Pure and deterministic: the per-epoch flows are an input.
 *
 * Timing model. The traffic changes at epoch boundaries and is constant within an epoch of
 * `epochSeconds` (minutes to hours); continuous mode re-plans every `periodSeconds` (a minute),
 * so it sees a change once it has been measured and, with hysteresis, confirmed by the stable
 * rule: its moves for epoch e take effect `periodSeconds` (× `stableRounds` with hysteresis)
 * into the epoch, and until then the epoch runs on the old placement.
 *  - never: never moves;
 *  - one-shot: plans once on epoch 0's traffic at t0 (today's batch orchestration), then stops;
 *  - continuous: plans on epoch e's traffic after the detection delay (with `measureEpochs`, on
 *    the mean of the last epochs' rates, as a longer measurement window sees them);
 *  - clairvoyant: plans on epoch e's traffic at its very start (the reference: no online
 *    planner can know a change before it happens).
 * Costs are integrated over time: C_A is bytes/s × path weight, so C_A × seconds and a
 * migration's bytes × path weight (its traffic on the network) are in the same unit, and their
 * sum is the total a strategy is judged by.
 *
 * Planning. Continuous mode without hysteresis keeps one incremental planner per strategy
 * (src/core/incremental.ts): each epoch it is told the pairs whose measured rate changed and asks
 * only the VMs whose inputs changed, making the migrations a from-scratch round makes on the
 * same placement and rates (`planner: 'full'` plans from scratch; epochs.test.ts compares both).
 * Exactly, up to rounding: the planner holds each VM's pairs in the order the changes came, a
 * fresh matrix in flow order, so with non-integer rates two equal sums may differ in the last
 * bits and flip an exact tie in Load-Aware's order (never seen in the tests). With hysteresis, clairvoyant and one-shot plan from scratch: the in-plan no-return rail
 * is not one the incremental planner has.
 *
 * Hysteresis (continuous only): each move is priced with the pre-copy model amortised over
 * `amortisationSeconds` (Eq. 3 with a per-move c_m), the stable rule delays moves by N periods,
 * and a VM never returns to a hypervisor it left within `noReturnEpochs`. Without hysteresis,
 * c_m = 0 and nothing else. Clairvoyant prices moves as hysteresis does; one-shot uses c_m = 0
 * as the paper does.
 */
/**
 * The pricing horizon by default: 4 h. It used to be one epoch, which tied the price of a move to
 * the simulation's time step. On fat-tree(16) with 4,096 VMs (docs/scale.md, horizons 1-20 h on
 * churn 5/10/20%, diurnal and ON/OFF) 2-4 h gave the lowest totals everywhere: shorter, the price
 * refuses moves whose value outlives it (one-shot then wins on ON/OFF); longer, moves are made
 * whose pairs change before they pay back.
 */
export const DEFAULT_HORIZON_SECONDS = 4 * 3600;

export type EpochStrategyKind = 'never' | 'one-shot' | 'continuous' | 'clairvoyant';

export interface EpochStrategy {
  readonly name: string;
  readonly kind: EpochStrategyKind;
  readonly policy: PolicyName;
  readonly hysteresis: boolean;
}

/** The comparison the issue asks for: never, one-shot LA, continuous RR/LA with and without hysteresis, clairvoyant LA. */
export const EPOCH_STRATEGIES: readonly EpochStrategy[] = [
  { name: 'never', kind: 'never', policy: 'load-aware', hysteresis: false },
  { name: 'one-shot', kind: 'one-shot', policy: 'load-aware', hysteresis: false },
  { name: 'continuous-rr', kind: 'continuous', policy: 'round-robin', hysteresis: false },
  { name: 'continuous-rr-hyst', kind: 'continuous', policy: 'round-robin', hysteresis: true },
  { name: 'continuous-la', kind: 'continuous', policy: 'load-aware', hysteresis: false },
  { name: 'continuous-la-hyst', kind: 'continuous', policy: 'load-aware', hysteresis: true },
  { name: 'clairvoyant', kind: 'clairvoyant', policy: 'load-aware', hysteresis: true },
];

/**
 * Strategies run only when named (`--strategies one-shot-rr`), not in the default table: one-shot
 * with Round-Robin, the baseline continuous RR is to be compared with on a stationary workload.
 * On one snapshot RR's plan makes more migrations than LA's (docs/scale.md, "Over time"), so
 * continuous RR can make more than the (LA) one-shot row and still no more than one-shot RR.
 */
export const EXTRA_EPOCH_STRATEGIES: readonly EpochStrategy[] = [{ name: 'one-shot-rr', kind: 'one-shot', policy: 'round-robin', hysteresis: false }];

export interface EpochInput {
  readonly vms: readonly string[];
  readonly placement: Placement;
  readonly capacity: ReadonlyMap<string, number>;
  readonly oracle: PathOracle;
  /** flows of each epoch, bytes/s */
  readonly epochs: readonly (readonly DirectedFlow[])[];
  readonly epochSeconds: number;
  readonly strategies?: readonly EpochStrategy[];
  readonly migration?: MigrationModel;
  readonly resources?: ReadonlyMap<string, MigratingVm>;
  /** horizon over which a move's saving is counted when pricing, seconds (default DEFAULT_HORIZON_SECONDS) */
  readonly amortisationSeconds?: number;
  /** no-return window with hysteresis, and the K of the oscillation count (default 4) */
  readonly noReturnEpochs?: number;
  readonly maxRounds?: number;
  /** continuous mode's planning period (default 60 s): its moves take effect this long into an epoch */
  readonly periodSeconds?: number;
  /** with hysteresis, N periods of the stable rule before a move (default 3) */
  readonly stableRounds?: number;
  /**
   * continuous mode plans on rates averaged over this many epochs, the current one and those
   * before it (default 1: the current epoch only). An operator measuring rates over a window
   * longer than the traffic's fluctuations (Benson's ON/OFF) sees their mean, not one draw.
   */
  readonly measureEpochs?: number;
  /**
   * how continuous mode without hysteresis plans each epoch: 'incremental' (default; only what
   * the change touches) or 'full' (a from-scratch round, as before). The same migrations up to
   * the rounding of sums over rows held in another order (see the module comment).
   */
  readonly planner?: 'incremental' | 'full';
}

export interface EpochPoint {
  readonly epoch: number;
  /** C_A during the epoch (bytes/s × weight) */
  readonly cost: number;
  readonly migrations: number;
  readonly migrationBytes: number;
  /** Σ bytes × path weight of the epoch's migrations */
  readonly migrationWeighted: number;
  /** Σ over epochs so far of cost × epochSeconds + migrationWeighted */
  readonly cumulative: number;
}

export interface EpochStrategyResult {
  readonly strategy: string;
  readonly kind: EpochStrategyKind;
  readonly policy: PolicyName;
  readonly hysteresis: boolean;
  /** Σ C_A × epochSeconds */
  readonly costIntegral: number;
  readonly migrationBytes: number;
  readonly migrationWeighted: number;
  /** costIntegral + migrationWeighted */
  readonly total: number;
  readonly migrations: number;
  readonly vmsMoved: number;
  readonly vmsMovedMoreThanOnce: number;
  /** a VM arriving at a hypervisor it left within K epochs */
  readonly oscillations: number;
  readonly perEpoch: readonly EpochPoint[];
}

export interface EpochResult {
  readonly kind: 'score-epochs';
  readonly version: 1;
  readonly epochs: number;
  readonly epochSeconds: number;
  readonly oscillationWindow: number;
  readonly strategies: readonly EpochStrategyResult[];
}

export function runEpochs(input: EpochInput): EpochResult {
  if (input.epochs.length === 0) throw new ScoreError('WORKLOAD_INVALID', 'at least one epoch is needed', {});
  if (!(input.epochSeconds > 0)) throw new ScoreError('WORKLOAD_INVALID', `epochSeconds must be > 0, got ${input.epochSeconds}`, {});
  const model = input.migration ?? DEFAULT_MIGRATION_MODEL;
  const k = input.noReturnEpochs ?? 4;
  const horizon = input.amortisationSeconds ?? DEFAULT_HORIZON_SECONDS;
  const period = input.periodSeconds ?? 60;
  const stable = input.stableRounds ?? 3;
  const bytesCache = new Map<string, number>();
  const bytesOf = (vm: string): number => {
    let b = bytesCache.get(vm);
    if (b === undefined) {
      const v = input.resources?.get(vm) ?? model.defaults;
      b = preCopy({ ...v, bandwidthBytesPerSec: model.bandwidthBytesPerSec, maxRounds: model.maxRounds, stopCopyBytes: model.stopCopyBytes }).bytesMoved;
      bytesCache.set(vm, b);
    }
    return b;
  };
  const price: MigrationCostFn = (vm, from, to) => migrationCostUnits(bytesOf(vm), input.oracle.cost(from, to), horizon);
  const traffics = input.epochs.map((f) => trafficMatrix(f));
  const window = input.measureEpochs ?? 1;
  if (!(Number.isInteger(window) && window >= 1)) throw new ScoreError('WORKLOAD_INVALID', `measureEpochs must be an integer >= 1, got ${window}`, { measureEpochs: window });
  // what continuous mode measures at epoch e: the mean over the window (fewer epochs at the start)
  const measured = window === 1 ? traffics : input.epochs.map((_, e) => {
    const from = Math.max(0, e - window + 1);
    const span = e - from + 1;
    return trafficMatrix(merge(input.epochs.slice(from, e + 1).flatMap((fl) => fl.map((f) => ({ ...f, rate: f.rate / span })))));
  });
  const rank = rankOf(input.vms);
  const results = (input.strategies ?? EPOCH_STRATEGIES).map((s) => runOne(s));
  return { kind: 'score-epochs', version: 1, epochs: input.epochs.length, epochSeconds: input.epochSeconds, oscillationWindow: k, strategies: results };

  function plan(placement: Placement, e: number, cm: number | MigrationCostFn, policy: PolicyName, noReturnWithin = false, traffic = traffics[e]!) {
    const maxRounds = input.maxRounds ?? 20;
    // no-return inside one epoch's planning too: a VM never goes back where it left in an earlier round of it
    return runPolicy({ policy, vms: input.vms, placement, traffic, oracle: input.oracle, capacity: input.capacity, rank, migrationCost: cm, maxRounds, ...(noReturnWithin ? { rails: { noReturnRounds: maxRounds } } : {}) });
  }

  function runOne(s: EpochStrategy): EpochStrategyResult {
    let placement: Placement = input.placement;
    const incremental = s.kind === 'continuous' && !s.hysteresis && input.planner !== 'full' && (s.policy === 'load-aware' || s.policy === 'round-robin') ? s.policy : undefined;
    let planner: IncrementalPlanner | undefined;
    let plannerTraffic: TrafficMatrix | undefined;
    const moves: { vm: string; from: string; to: string; period: number }[] = [];
    const perEpoch: EpochPoint[] = [];
    const left = new Map<string, { host: string; epoch: number }[]>();
    let cumulative = 0;
    for (let e = 0; e < input.epochs.length; e++) {
      const replan = s.kind === 'clairvoyant' || s.kind === 'continuous' || (s.kind === 'one-shot' && e === 0);
      // seconds into the epoch before the moves take effect: the detection delay of continuous mode
      const delay = s.kind === 'continuous' ? Math.min(input.epochSeconds, (s.hysteresis ? stable : 1) * period) : 0;
      const before = placement;
      let steps: { vm: string; from: string; to: string }[] = [];
      if (replan) {
        const barred = (vm: string, to: string): boolean => (left.get(vm) ?? []).some((l) => l.host === to && e - l.epoch <= k);
        const cm: number | MigrationCostFn = s.kind === 'one-shot' || (s.kind === 'continuous' && !s.hysteresis) ? 0 : s.kind === 'continuous' ? (vm, from, to) => (barred(vm, to) ? Infinity : price(vm, from, to)) : price;
        let run: { readonly steps: readonly { readonly decision: { vm: string; from: string; to: string } }[]; readonly finalPlacement: Placement };
        if (incremental !== undefined) {
          const traffic = measured[e]!;
          if (planner === undefined) planner = new IncrementalPlanner({ vms: input.vms, placement, traffic, oracle: input.oracle, capacity: input.capacity });
          else planner.updateTraffic(pairChanges(plannerTraffic!, traffic));
          plannerTraffic = traffic;
          run = planner.plan({ policy: incremental, migrationCost: 0, maxRounds: input.maxRounds ?? 20 });
        } else run = plan(placement, e, cm, s.policy, s.kind === 'continuous' && s.hysteresis, s.kind === 'continuous' ? measured[e]! : traffics[e]!);
        steps = run.steps.map((st) => st.decision);
        placement = run.finalPlacement;
      }
      let bytes = 0;
      let weighted = 0;
      for (const m of steps) {
        const b = bytesOf(m.vm);
        bytes += b;
        weighted += b * input.oracle.cost(m.from, m.to);
        moves.push({ vm: m.vm, from: m.from, to: m.to, period: e });
        left.set(m.vm, [...(left.get(m.vm) ?? []).filter((l) => e - l.epoch <= k), { host: m.from, epoch: e }]);
      }
      const after = totalCost(placement, traffics[e]!, input.oracle);
      const cost = delay > 0 && steps.length > 0 ? (totalCost(before, traffics[e]!, input.oracle) * delay + after * (input.epochSeconds - delay)) / input.epochSeconds : after;
      cumulative += cost * input.epochSeconds + weighted;
      perEpoch.push({ epoch: e, cost, migrations: steps.length, migrationBytes: bytes, migrationWeighted: weighted, cumulative });
    }
    const perVm = new Map<string, number>();
    for (const m of moves) perVm.set(m.vm, (perVm.get(m.vm) ?? 0) + 1);
    const costIntegral = perEpoch.reduce((a, p) => a + p.cost * input.epochSeconds, 0);
    const migrationWeighted = perEpoch.reduce((a, p) => a + p.migrationWeighted, 0);
    return {
      strategy: s.name,
      kind: s.kind,
      policy: s.policy,
      hysteresis: s.hysteresis,
      costIntegral,
      migrationBytes: perEpoch.reduce((a, p) => a + p.migrationBytes, 0),
      migrationWeighted,
      total: costIntegral + migrationWeighted,
      migrations: moves.length,
      vmsMoved: perVm.size,
      vmsMovedMoreThanOnce: [...perVm.values()].filter((n) => n > 1).length,
      oscillations: countOscillations(moves, k),
      perEpoch,
    };
  }
}

/**
 * How many VM pairs a timeline's traffic has (epochs.json's `workload`): `flows`, the distinct
 * unordered pairs with a positive rate in at least one epoch (a pair counts once whatever its
 * directions); `flowsAtStart`, those with a positive rate in epoch 0 (t = 0: 0 for a trace whose
 * traffic starts later). Epochs are the traffic as the timeline sees it (a trace sampled at each
 * epoch's start).
 */
export function epochFlowCounts(epochs: readonly (readonly DirectedFlow[])[]): { flows: number; flowsAtStart: number } {
  const pairs = (flows: readonly DirectedFlow[], into: Set<string>): Set<string> => {
    for (const f of flows) if (f.rate > 0) into.add(f.src < f.dst ? `${f.src}\n${f.dst}` : `${f.dst}\n${f.src}`);
    return into;
  };
  const all = new Set<string>();
  for (const e of epochs) pairs(e, all);
  return { flows: all.size, flowsAtStart: epochs.length === 0 ? 0 : pairs(epochs[0]!, new Set()).size };
}

/**
 * Partner churn: each epoch a share `rate` of the communicating pairs (unordered) is picked and
 * their endpoints are shuffled and re-paired, so those VMs talk to new partners (anywhere in the
 * data centre) at the old pairs' rates; every VM keeps its number of partners. Epoch 0 is `flows`.
 */
export function churnEpochs(flows: readonly DirectedFlow[], epochs: number, rate: number, rng: Rng): DirectedFlow[][] {
  if (!(rate >= 0 && rate <= 1)) throw new ScoreError('WORKLOAD_INVALID', `churn rate must be between 0 and 1, got ${rate}`, { rate });
  // unordered pairs with their two directed rates
  const pairs: { a: string; b: string; ab: number; ba: number }[] = [];
  const index = new Map<string, number>();
  for (const f of flows) {
    const [a, b] = f.src < f.dst ? [f.src, f.dst] : [f.dst, f.src];
    const key = `${a}\u0000${b}`;
    let i = index.get(key);
    if (i === undefined) {
      i = pairs.length;
      index.set(key, i);
      pairs.push({ a, b, ab: 0, ba: 0 });
    }
    if (f.src === a) pairs[i]!.ab += f.rate;
    else pairs[i]!.ba += f.rate;
  }
  const out: DirectedFlow[][] = [];
  const toFlows = (): DirectedFlow[] =>
    pairs.flatMap((p) => [...(p.ab > 0 ? [{ src: p.a, dst: p.b, rate: p.ab }] : []), ...(p.ba > 0 ? [{ src: p.b, dst: p.a, rate: p.ba }] : [])]);
  out.push([...flows]);
  const n = Math.round(rate * pairs.length);
  for (let e = 1; e < epochs; e++) {
    // partial Fisher-Yates: n distinct pairs
    const ids = pairs.map((_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(rng() * (ids.length - i));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    const chosen = ids.slice(0, n);
    const ends = chosen.flatMap((i) => [pairs[i]!.a, pairs[i]!.b]);
    for (let i = ends.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [ends[i], ends[j]] = [ends[j]!, ends[i]!];
    }
    chosen.forEach((pi, c) => {
      const x = ends[2 * c]!;
      const y = ends[2 * c + 1]!;
      // a VM paired with itself keeps its old partner this epoch
      if (x === y) return;
      pairs[pi] = { a: x, b: y, ab: pairs[pi]!.ab, ba: pairs[pi]!.ba };
    });
    out.push(merge(toFlows()));
  }
  return out;
}

/** Sums duplicate directed flows (re-pairing can create a pair twice). */
function merge(flows: readonly DirectedFlow[]): DirectedFlow[] {
  const m = new Map<string, DirectedFlow>();
  for (const f of flows) {
    const key = `${f.src}\u0000${f.dst}`;
    const cur = m.get(key);
    m.set(key, { src: f.src, dst: f.dst, rate: (cur?.rate ?? 0) + f.rate });
  }
  return [...m.values()];
}

/**
 * A diurnal shift between two traffic patterns on the same VMs (e.g. rack-local by day,
 * cross-pod batch jobs by night): epoch e carries `local` × w(e) and `remote` × (1 − w(e)), with
 * w(e) = (1 + cos(2π e / period)) / 2, so epoch 0 is all `local`.
 */
export function diurnalEpochs(local: readonly DirectedFlow[], remote: readonly DirectedFlow[], epochs: number, periodEpochs: number): DirectedFlow[][] {
  if (!(periodEpochs >= 2)) throw new ScoreError('WORKLOAD_INVALID', `the diurnal period must be at least 2 epochs, got ${periodEpochs}`, { periodEpochs });
  const out: DirectedFlow[][] = [];
  for (let e = 0; e < epochs; e++) {
    const w = (1 + Math.cos((2 * Math.PI * e) / periodEpochs)) / 2;
    out.push(merge([...local.map((f) => ({ ...f, rate: f.rate * w })), ...remote.map((f) => ({ ...f, rate: f.rate * (1 - w) }))].filter((f) => f.rate > 0)));
  }
  return out;
}

/**
 * The pairs whose rate differs between two symmetric traffic matrices, as the incremental
 * planner takes them (rate 0: the pair stopped talking). Each unordered pair once. Pure;
 * O(entries of both).
 */
export function pairChanges(before: TrafficMatrix, after: TrafficMatrix): PairRate[] {
  const out: PairRate[] = [];
  for (const [a, row] of after.peers) for (const [b, r] of row) if (a < b && before.peers.get(a)?.get(b) !== r) out.push({ a, b, rate: r });
  for (const [a, row] of before.peers) for (const b of row.keys()) if (a < b && after.peers.get(a)?.get(b) === undefined) out.push({ a, b, rate: 0 });
  return out;
}
