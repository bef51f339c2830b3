import type { PathOracle } from './paths.ts';
import type { Placement, TrafficMatrix } from './cost.ts';
import { totalCost, vmCost } from './cost.ts';
import type { Decision, DecisionMode } from './decision.ts';
import { decide, holdBack } from './decision.ts';
import type { MigrationCostFn } from './migration-cost.ts';
import type { RailCheck, RailConfig, ResourceSpec } from './rails.ts';
import { beginRound, createRailState, moveUse, noteChoice, railsActive, railsAllow, recordMigration, resources } from './rails.ts';

/**
 * The orchestration policies of section III.B.8 as pure planners. A round is a generator: it
 * yields the next VM to ask and is told whether that VM moved (and where). The simulator answers
 * from `decide` directly; the controller's orchestrator answers after asking the VM's hypervisor
 * agent and running the migration, so both share the exact ordering logic.
 *
 *  - Round-Robin: every VM once, by MAC ascending (the paper's Mininet MACs follow VM numbers).
 *  - Load-Aware: repeatedly the VM with the highest C_A(u) among those not yet asked this round;
 *    costs are re-read after every migration; a VM that declines is skipped for the rest of the
 *    round; VMs with cost 0 have nothing to gain and are not asked.
 * Ties go to the lower rank (lower VM number).
 */
export type PolicyName = 'round-robin' | 'load-aware';

export interface Ask {
  readonly vm: string;
  /** C_A(u) as the policy saw it when choosing (Load-Aware's key) */
  readonly cost: number;
}

export interface Outcome {
  /** where the VM now is: its new host after a migration, or null if it stayed */
  readonly movedTo: string | null;
}

export interface RoundContext {
  readonly vms: readonly string[];
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  readonly rank: ReadonlyMap<string, number>;
}

export type Round = Generator<Ask, number, Outcome>;

export function rankOf(vmsInOrder: readonly string[]): Map<string, number> {
  return new Map(vmsInOrder.map((vm, i) => [vm, i]));
}

export function* roundRobinRound(ctx: RoundContext, initial: Placement): Round {
  const placement = new Map(initial);
  const order = [...ctx.vms].sort((a, b) => (ctx.rank.get(a) ?? 0) - (ctx.rank.get(b) ?? 0));
  let moves = 0;
  for (const vm of order) {
    const outcome = yield { vm, cost: vmCost(vm, placement, ctx.traffic, ctx.oracle) };
    if (outcome.movedTo !== null) {
      placement.set(vm, outcome.movedTo);
      moves += 1;
    }
  }
  return moves;
}

export function* loadAwareRound(ctx: RoundContext, initial: Placement): Round {
  const placement = new Map(initial);
  const { traffic, oracle, rank } = ctx;
  const version = new Map<string, number>();
  const asked = new Set<string>();
  const heap = new MaxCostHeap();
  const push = (vm: string): void => {
    const v = (version.get(vm) ?? 0) + 1;
    version.set(vm, v);
    const cost = vmCost(vm, placement, traffic, oracle);
    if (cost > 0) heap.push({ vm, cost, rank: rank.get(vm) ?? 0, version: v });
  };
  for (const vm of ctx.vms) push(vm);
  let moves = 0;
  for (;;) {
    const top = heap.pop();
    if (top === undefined) return moves;
    if (asked.has(top.vm) || version.get(top.vm) !== top.version) continue;
    asked.add(top.vm);
    const outcome = yield { vm: top.vm, cost: top.cost };
    if (outcome.movedTo !== null) {
      placement.set(top.vm, outcome.movedTo);
      moves += 1;
      // Only u's own pairs changed: u's peers are the only other VMs whose cost moved.
      for (const peer of traffic.peers.get(top.vm)?.keys() ?? []) if (!asked.has(peer)) push(peer);
    }
  }
}

export function startRound(policy: PolicyName, ctx: RoundContext, placement: Placement): Round {
  return policy === 'round-robin' ? roundRobinRound(ctx, placement) : loadAwareRound(ctx, placement);
}

export interface Step {
  /** 1-based migration number */
  readonly step: number;
  readonly round: number;
  readonly decision: Decision & { readonly to: string };
  readonly totalBefore: number;
  readonly totalAfter: number;
}

/** `P` is the strategy's name; the paper's two policies by default (baselines.ts widens it). */
export interface PolicyRun<P extends string = PolicyName> {
  readonly policy: P;
  readonly initialCost: number;
  readonly finalCost: number;
  readonly steps: readonly Step[];
  /** every decision, including the VMs that declined, in the order asked */
  readonly decisions: readonly (Decision & { readonly round: number })[];
  readonly rounds: number;
  readonly converged: boolean;
  readonly finalPlacement: ReadonlyMap<string, string>;
}

export interface RunInput {
  readonly policy: PolicyName;
  readonly vms: readonly string[];
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  readonly capacity: ReadonlyMap<string, number>;
  readonly rank: ReadonlyMap<string, number>;
  /** c_m: a number, or a function of the move (see migration-cost.ts) */
  readonly migrationCost: number | MigrationCostFn;
  readonly mode?: DecisionMode;
  readonly maxRounds?: number;
  /** stop after this many migrations (e.g. a budget); default unlimited */
  readonly maxMigrations?: number;
  /** safety rails (rails.ts); none by default */
  readonly rails?: RailConfig;
  /** CPU and memory capacity besides the slots in `capacity` */
  readonly resources?: ResourceSpec;
}

/**
 * Runs rounds until one migrates nothing (converged) or a limit is reached. With rails, a round in
 * which a rail held back some move is not a fixed point (the rail may let it through later), so
 * the run goes on until a round neither moves nor holds back anything, or maxRounds.
 */
export function runPolicy(input: RunInput): PolicyRun {
  const { policy, vms, traffic, oracle, capacity, rank, migrationCost } = input;
  const mode = input.mode ?? 'first';
  const maxRounds = input.maxRounds ?? 20;
  const maxMigrations = input.maxMigrations ?? Infinity;
  const placement = new Map(input.placement);
  const load = new Map<string, number>();
  for (const h of placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
  const ctx: RoundContext = { vms, traffic, oracle, rank };
  const initialCost = totalCost(placement, traffic, oracle);
  const railState = railsActive(input.rails) ? createRailState(input.rails) : null;
  const res = input.resources === undefined ? undefined : resources(input.resources, placement);
  let round = 0;
  const rail = railState === null ? undefined : (vm: string, from: string, to: string): RailCheck => railsAllow(railState, vm, from, to, round);
  let total = initialCost;
  const steps: Step[] = [];
  const decisions: (Decision & { round: number })[] = [];
  let converged = false;
  while (round < maxRounds && steps.length < maxMigrations) {
    round += 1;
    if (railState !== null) beginRound(railState, round);
    let held = 0;
    const gen = startRound(policy, ctx, placement);
    let next = gen.next({ movedTo: null });
    while (!next.done) {
      let d = decide({ vm: next.value.vm, placement, traffic, oracle, capacity, load, migrationCost, mode, rank, resources: res, rail });
      if (railState !== null) {
        const stable = noteChoice(railState, d.vm, d.to, round);
        if (!stable.ok) d = holdBack(d, stable.code, stable.reason);
        if (d.to === null && d.candidates.some((c) => c.verdict === 'rail')) held += 1;
      }
      decisions.push({ ...d, round });
      let movedTo: string | null = null;
      if (d.to !== null && steps.length < maxMigrations) {
        placement.set(d.vm, d.to);
        load.set(d.from, (load.get(d.from) ?? 1) - 1);
        load.set(d.to, (load.get(d.to) ?? 0) + 1);
        if (res !== undefined) moveUse(res, d.vm, d.from, d.to);
        if (railState !== null) recordMigration(railState, d.vm, d.from, d.to, round);
        const totalAfter = total - (d.costBefore - d.costAfter);
        steps.push({ step: steps.length + 1, round, decision: { ...d, to: d.to }, totalBefore: total, totalAfter });
        total = totalAfter;
        movedTo = d.to;
      }
      next = gen.next({ movedTo });
    }
    if (next.value === 0 && held === 0) {
      converged = true;
      break;
    }
  }
  return {
    policy,
    initialCost,
    finalCost: totalCost(placement, traffic, oracle),
    steps,
    decisions,
    rounds: round,
    converged,
    finalPlacement: placement,
  };
}

interface HeapEntry {
  readonly vm: string;
  readonly cost: number;
  readonly rank: number;
  readonly version: number;
}

/** Highest cost first, lower rank first among equals. */
class MaxCostHeap {
  private a: HeapEntry[] = [];
  private static before(x: HeapEntry, y: HeapEntry): boolean {
    return x.cost > y.cost || (x.cost === y.cost && x.rank < y.rank);
  }
  push(e: HeapEntry): void {
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!MaxCostHeap.before(e, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = e;
  }
  pop(): HeapEntry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && MaxCostHeap.before(a[r]!, a[l]!) ? r : l;
      if (!MaxCostHeap.before(a[c]!, last)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}
