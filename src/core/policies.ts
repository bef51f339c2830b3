import type { PathOracle } from './paths.ts';
import type { Placement, TrafficMatrix } from './cost.ts';
import { vmCost } from './cost.ts';
import type { Decision, DecisionMode } from './decision.ts';
import { decideAmong, holdBack, type DecisionOptions, type DecisionView, type Flow } from './decision.ts';
import type { MigrationCostFn } from './migration-cost.ts';
import type { RailCheck, RailConfig, ResourceSpec } from './rails.ts';
import { GainOrder, gainOrderRound } from './gain-round.ts';
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
 *  - gain-order: the VM whose best move saves most first (gain-round.ts).
 * Ties go to the lower rank (lower VM number).
 */
export type PolicyName = 'round-robin' | 'load-aware' | 'gain-order';

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
  /** VMs each hypervisor may host (the gain-ordered policy prices only moves with room) */
  readonly capacity?: ReadonlyMap<string, number>;
  /** c_m, for the gain-ordered policy's key (default 0) */
  readonly migrationCost?: number | MigrationCostFn;
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
  const state = new IndexedState(ctx.traffic, ctx.oracle, initial, ctx.vms, ctx.rank);
  const order = new LoadAwareOrder(state, state.indicesOf(ctx.vms));
  let moves = 0;
  for (;;) {
    const u = order.next();
    if (u < 0) return moves;
    const outcome = yield { vm: state.names[u]!, cost: order.cost };
    if (outcome.movedTo !== null) {
      const from = state.host[u]!;
      state.host[u] = state.hypervisor(outcome.movedTo);
      moves += 1;
      order.moved(u, from);
    }
  }
}

export function startRound(policy: PolicyName, ctx: RoundContext, placement: Placement): Round {
  if (policy === 'gain-order') return gainOrderRound(ctx, placement, new IndexedState(ctx.traffic, ctx.oracle, placement, ctx.vms, ctx.rank), new CostHeap());
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
  /** told after every round, with the migrations made so far (progress for long runs; no effect on the run) */
  readonly onRound?: (round: number, migrations: number) => void;
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
  // The rounds and decisions run on indices: at 65k VMs a string-keyed Map lookup per peer per
  // cost evaluation was most of a round's time.
  const state = new IndexedState(traffic, oracle, placement, vms, rank);
  const hvCount = state.hvNames.length;
  const load = new Float64Array(hvCount);
  const cap = new Float64Array(hvCount);
  for (let u = 0; u < state.names.length; u++) if (state.host[u]! >= 0) load[state.host[u]!]! += 1;
  for (let h = 0; h < hvCount; h++) cap[h] = capacity.get(state.hvNames[h]!) ?? 0;
  const vmIds = state.indicesOf(vms);
  const initialCost = state.totalCost();
  const railState = railsActive(input.rails) ? createRailState(input.rails) : null;
  const res = input.resources === undefined ? undefined : resources(input.resources, placement);
  let round = 0;
  const rail = railState === null ? undefined : (vm: string, from: string, to: string): RailCheck => railsAllow(railState, vm, from, to, round);
  const options = { migrationCost, mode, resources: res, rail };
  let total = initialCost;
  const steps: Step[] = [];
  const decisions: (Decision & { round: number })[] = [];
  let converged = false;
  while (round < maxRounds && steps.length < maxMigrations) {
    round += 1;
    if (railState !== null) beginRound(railState, round);
    let held = 0;
    let moves = 0;
    const order: Order =
      policy === 'round-robin' ? new RoundRobinOrder(state, vmIds) : policy === 'gain-order' ? new GainOrder(state, vmIds, load, cap, migrationCost, new CostHeap()) : new LoadAwareOrder(state, vmIds);
    for (let u = order.next(); u >= 0; u = order.next()) {
      let d = state.decide(u, load, cap, options, round);
      if (railState !== null) {
        const stable = noteChoice(railState, d.vm, d.to, round);
        if (!stable.ok) d = { ...holdBack(d, stable.code, stable.reason), round };
        if (d.to === null && d.candidates.some((c) => c.verdict === 'rail')) held += 1;
      }
      decisions.push(d);
      if (d.to !== null && steps.length < maxMigrations) {
        const from = state.host[u]!;
        const to = state.hypervisor(d.to);
        state.host[u] = to;
        placement.set(d.vm, d.to);
        load[from]! -= 1;
        load[to]! += 1;
        if (res !== undefined) moveUse(res, d.vm, d.from, d.to);
        if (railState !== null) recordMigration(railState, d.vm, d.from, d.to, round);
        const totalAfter = total - (d.costBefore - d.costAfter);
        const { vm, costBefore, costAfter, candidates, reason } = d;
        steps.push({ step: steps.length + 1, round, decision: { vm, from: d.from, to: d.to, costBefore, costAfter, migrationCost: d.migrationCost, mode: d.mode, candidates, reason }, totalBefore: total, totalAfter });
        total = totalAfter;
        moves += 1;
        order.moved(u, from);
      }
    }
    input.onRound?.(round, steps.length);
    if (moves === 0 && held === 0) {
      converged = true;
      break;
    }
  }
  return {
    policy,
    initialCost,
    finalCost: state.totalCost(),
    steps,
    decisions,
    rounds: round,
    converged,
    finalPlacement: placement,
  };
}

/**
 * A run's VMs, hypervisors, traffic and placement by index. VMs [0, rows) are the traffic
 * matrix's keys in its order and each one's peers (CSR) keep the matrix's order, so every sum is
 * taken in the same order as vmCost and totalCost take it and gives the same number.
 */
/** The index of `name`, numbering names in first-seen order. */
function intern(ids: Map<string, number>, names: string[], name: string): number {
  let i = ids.get(name);
  if (i === undefined) {
    i = names.length;
    ids.set(name, i);
    names.push(name);
  }
  return i;
}

export class IndexedState {
  readonly names: string[] = [];
  readonly hvNames: string[] = [];
  /** hypervisor of each VM, -1 if it has none */
  host: Int32Array;
  readonly start: Int32Array;
  readonly peer: Int32Array;
  readonly rate: Float64Array;
  /** per peer entry: is the VM's name below the peer's (totalCost counts a pair once, from there) */
  readonly lower: Uint8Array;
  readonly rank: Float64Array;
  readonly rows: number;
  readonly maxDegree: number;
  private readonly id = new Map<string, number>();
  private readonly hvId = new Map<string, number>();

  constructor(
    readonly traffic: TrafficMatrix,
    readonly oracle: PathOracle,
    placement: Placement,
    vms: readonly string[],
    rank: ReadonlyMap<string, number>,
  ) {
    let entries = 0;
    let maxDegree = 0;
    for (const [u, peers] of traffic.peers) {
      this.vm(u);
      entries += peers.size;
      if (peers.size > maxDegree) maxDegree = peers.size;
    }
    this.rows = this.names.length;
    this.maxDegree = maxDegree;
    const rowStart = new Int32Array(this.rows + 1);
    this.peer = new Int32Array(entries);
    this.rate = new Float64Array(entries);
    this.lower = new Uint8Array(entries);
    let k = 0;
    let i = 0;
    for (const [u, peers] of traffic.peers) {
      rowStart[i] = k;
      for (const [v, r] of peers) {
        this.peer[k] = this.vm(v);
        this.rate[k] = r;
        this.lower[k] = u < v ? 1 : 0;
        k += 1;
      }
      i += 1;
    }
    rowStart[this.rows] = k;
    for (const vm of placement.keys()) this.vm(vm);
    for (const vm of vms) this.vm(vm);
    const n = this.names.length;
    this.start = new Int32Array(n + 1).fill(entries);
    this.start.set(rowStart);
    this.host = new Int32Array(n).fill(-1);
    for (const [vm, h] of placement) this.host[this.id.get(vm)!] = this.hypervisor(h);
    this.rank = new Float64Array(n);
    for (let u = 0; u < n; u++) this.rank[u] = rank.get(this.names[u]!) ?? 0;
  }

  private vm(name: string): number {
    return intern(this.id, this.names, name);
  }

  hypervisor(name: string): number {
    return intern(this.hvId, this.hvNames, name);
  }

  indicesOf(vms: readonly string[]): Int32Array {
    return Int32Array.from(vms, (vm) => this.id.get(vm)!);
  }

  hostName(u: number): string {
    const h = this.host[u]!;
    if (h < 0) throw new Error(`VM ${this.names[u]!} has no placement`);
    return this.hvNames[h]!;
  }

  /** vmCost: C_A(u) with u on hypervisor `at` (its own by default) */
  cost(u: number, at = -1): number {
    const x = at >= 0 ? this.hvNames[at]! : this.hostName(u);
    let sum = 0;
    for (let e = this.start[u]!; e < this.start[u + 1]!; e++) sum += this.rate[e]! * this.oracle.cost(x, this.hostName(this.peer[e]!));
    return sum;
  }

  totalCost(): number {
    let sum = 0;
    for (let u = 0; u < this.rows; u++) {
      const x = this.hostName(u);
      for (let e = this.start[u]!; e < this.start[u + 1]!; e++) {
        if (this.lower[e] === 1) sum += this.rate[e]! * this.oracle.cost(x, this.hostName(this.peer[e]!));
      }
    }
    return sum;
  }

  /** `decide` for VM u, on this state */
  decide(u: number, load: Float64Array, cap: Float64Array, options: DecisionOptions, round: number): Decision & { readonly round: number } {
    const from = this.hostName(u);
    const flows: Flow<number>[] = [];
    let costBefore = 0;
    for (let e = this.start[u]!; e < this.start[u + 1]!; e++) {
      const v = this.peer[e]!;
      const hostName = this.hostName(v);
      const cost = this.rate[e]! * this.oracle.cost(from, hostName);
      costBefore += cost;
      if (cost > 0) flows.push({ peer: this.names[v]!, host: this.host[v]!, cost, rank: this.rank[v]! });
    }
    const view: DecisionView<number> = {
      name: (h) => this.hvNames[h]!,
      full: (h) => load[h]! >= cap[h]!,
      costAt: (h) => this.cost(u, h),
    };
    return decideAmong(this.names[u]!, from, costBefore, flows, this.start[u + 1]! - this.start[u]!, view, options, round);
  }
}

interface Order {
  /** the next VM to ask, or -1 when the round is over */
  next(): number;
  /** u (already asked) has moved from hypervisor `from` to its host in the state */
  moved(u: number, from: number): void;
}

class RoundRobinOrder implements Order {
  private readonly order: number[];
  private i = 0;
  constructor(state: IndexedState, vms: Int32Array) {
    const rank = state.rank;
    this.order = Array.from(vms).sort((a, b) => rank[a]! - rank[b]!);
  }
  next(): number {
    return this.i < this.order.length ? this.order[this.i++]! : -1;
  }
  moved(): void {}
}

/**
 * Load-Aware's order: the unasked VM with the highest C_A(u), lower rank first among equals.
 *
 * When u moves x → y only the term λ(p, u)·cost(x_p, ·) of each peer p changes. If it does not
 * grow, p's cost cannot have grown either (a sum of non-negative terms, added in a fixed order, is
 * monotone in each term even in floating point), so p's heap entry stays, now an upper bound.
 * If it grows, p gets an upper bound: old bound + growth, with a relative margin far above the
 * rounding error of a sum of fewer than a million terms. A bound that reaches the top is
 * recomputed exactly and pushed back, so a VM is asked only on its exact cost, and it is the
 * one the eager rule (recompute every peer after every move) would pick: every other entry is at
 * or above its VM's exact cost. That argument needs a strict order on (cost, rank), so with
 * duplicate ranks (or terms that are not non-negative and finite) the eager rule is used.
 */
class LoadAwareOrder implements Order {
  /** the cost of the VM `next` returned */
  cost = 0;
  readonly version: Int32Array;
  private readonly asked: Uint8Array;
  /** per VM: an upper bound on C_A(u) (0 = known zero), or NaN when it must be recomputed on every change */
  readonly bound: Float64Array;
  /** per VM: its latest heap entry is its exact cost */
  readonly exact: Uint8Array;
  private readonly lazy: boolean;
  readonly heap = new CostHeap();

  constructor(
    private readonly s: IndexedState,
    vms: Int32Array,
  ) {
    const n = s.names.length;
    this.version = new Int32Array(n);
    this.asked = new Uint8Array(n);
    this.bound = new Float64Array(n).fill(NaN);
    this.exact = new Uint8Array(n);
    this.lazy = s.maxDegree < 1_000_000 && strictRanks(s.rank);
    for (const u of vms) this.pushExact(u);
  }

  next(): number {
    const { heap, version, asked } = this;
    while (heap.size > 0) {
      heap.pop();
      const u = heap.topVm;
      if (asked[u] === 1 || version[u] !== heap.topVersion) continue;
      if (this.lazy && this.exact[u] === 0) {
        this.pushExact(u);
        continue;
      }
      asked[u] = 1;
      this.cost = heap.topCost;
      return u;
    }
    return -1;
  }

  moved(u: number, from: number): void {
    const s = this.s;
    const xName = s.hvNames[from]!;
    const yName = s.hostName(u);
    for (let e = s.start[u]!; e < s.start[u + 1]!; e++) {
      const p = s.peer[e]!;
      if (this.asked[p] === 1) continue;
      const b = this.bound[p]!;
      if (!this.lazy || Number.isNaN(b) || s.host[p]! < 0) {
        this.pushExact(p);
        continue;
      }
      // λ(p, u) from p's own row: the matrix is meant to be symmetric, but the term must be p's
      let r = NaN;
      for (let f = s.start[p]!; f < s.start[p + 1]!; f++) {
        if (s.peer[f] === u) {
          r = s.rate[f]!;
          break;
        }
      }
      if (Number.isNaN(r)) continue; // u is not in p's sum: p's cost did not change
      const hp = s.hvNames[s.host[p]!]!;
      if (!raisePeerBound(this, p, s.rank[p]!, r, r * s.oracle.cost(hp, xName), r * s.oracle.cost(hp, yName))) this.pushExact(p);
    }
  }

  private pushExact(u: number): void {
    const s = this.s;
    const v = ++this.version[u]!;
    const x = s.hostName(u);
    let sum = 0;
    let sound = true;
    for (let e = s.start[u]!; e < s.start[u + 1]!; e++) {
      const t = s.rate[e]! * s.oracle.cost(x, s.hostName(s.peer[e]!));
      if (!(t >= 0 && t < Infinity)) sound = false;
      sum += t;
    }
    this.bound[u] = sound ? sum : NaN;
    this.exact[u] = 1;
    if (sum > 0) this.heap.push(sum, s.rank[u]!, u, v);
  }
}

/** true when no two VMs share a rank (and none is NaN), so (cost, rank) orders entries strictly */
function strictRanks(rank: Float64Array): boolean {
  const sorted = Float64Array.from(rank).sort();
  for (let i = 0; i < sorted.length; i++) {
    if (Number.isNaN(sorted[i]!) || (i > 0 && sorted[i] === sorted[i - 1])) return false;
  }
  return true;
}

/**
 * Highest cost first, lower rank first among equals, over parallel typed arrays. The sift steps
 * are those of the object heap it replaced, so even ties between equal ranks pop in the same order.
 */
/** Load-Aware's lazy keys: per VM an upper bound on C_A, whether it is exact, and its heap entry's version */
export interface LazyBounds {
  readonly heap: CostHeap;
  readonly bound: Float64Array;
  readonly exact: Uint8Array;
  readonly version: Int32Array;
}

/**
 * After a VM that p talks to at rate r moved, p's term of C_A went from `before` to `after`: a
 * drop leaves p's bound valid (no longer exact); a rise raises it by the difference (with a
 * relative margin against rounding) and re-queues p. runPolicy's Load-Aware order and the
 * incremental planner's share this arithmetic, so their keys are the same to the bit.
 * @returns false when the terms give no usable bound (a zero rate, no path): p's key must be
 *   recomputed exactly
 */
export function raisePeerBound(k: LazyBounds, p: number, rank: number, r: number, before: number, after: number): boolean {
  if (!(r > 0 && before >= 0 && after >= 0 && after < Infinity)) return false;
  const b = k.bound[p]!;
  if (after <= before) {
    if (b > 0) k.exact[p] = 0;
    return true;
  }
  const nb = (b + (after - before)) * (1 + 1e-9);
  k.bound[p] = nb;
  k.exact[p] = 0;
  k.heap.push(nb, rank, p, ++k.version[p]!);
  return true;
}

export class CostHeap {
  size = 0;
  topCost = 0;
  topVm = 0;
  topVersion = 0;
  private cost = new Float64Array(1024);
  private rank = new Float64Array(1024);
  private vm = new Int32Array(1024);
  private ver = new Int32Array(1024);

  push(cost: number, rank: number, vm: number, version: number): void {
    if (this.size === this.cost.length) this.grow();
    const c = this.cost;
    const r = this.rank;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(cost > c[p]! || (cost === c[p]! && rank < r[p]!))) break;
      this.move(p, i);
      i = p;
    }
    c[i] = cost;
    r[i] = rank;
    this.vm[i] = vm;
    this.ver[i] = version;
  }

  /** removes the top entry into topCost, topVm, topVersion; size must be > 0 */
  pop(): void {
    const c = this.cost;
    const r = this.rank;
    this.topCost = c[0]!;
    this.topVm = this.vm[0]!;
    this.topVersion = this.ver[0]!;
    const n = --this.size;
    if (n === 0) return;
    const lc = c[n]!;
    const lr = r[n]!;
    const lv = this.vm[n]!;
    const lver = this.ver[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const rr = l + 1;
      const ch = rr < n && (c[rr]! > c[l]! || (c[rr] === c[l] && r[rr]! < r[l]!)) ? rr : l;
      if (!(c[ch]! > lc || (c[ch] === lc && r[ch]! < lr))) break;
      this.move(ch, i);
      i = ch;
    }
    c[i] = lc;
    r[i] = lr;
    this.vm[i] = lv;
    this.ver[i] = lver;
  }

  private move(from: number, to: number): void {
    this.cost[to] = this.cost[from]!;
    this.rank[to] = this.rank[from]!;
    this.vm[to] = this.vm[from]!;
    this.ver[to] = this.ver[from]!;
  }

  private grow(): void {
    const m = this.cost.length * 2;
    const cost = new Float64Array(m);
    cost.set(this.cost);
    this.cost = cost;
    const rank = new Float64Array(m);
    rank.set(this.rank);
    this.rank = rank;
    const vm = new Int32Array(m);
    vm.set(this.vm);
    this.vm = vm;
    const ver = new Int32Array(m);
    ver.set(this.ver);
    this.ver = ver;
  }
}
