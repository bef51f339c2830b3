import type { Placement } from './cost.ts';
import { totalCost, vmCost, worthMigrating } from './cost.ts';
import type { Candidate, Decision, DecisionMode } from './decision.ts';
import { decide, fmt, holdBack } from './decision.ts';
import { solveOptimal } from './exact.ts';
import type { PolicyName, PolicyRun, RunInput, Step } from './policies.ts';
import { runPolicy } from './policies.ts';
import type { RailCheck, RailState, Resources } from './rails.ts';
import { beginRound, createRailState, exceeds, moveUse, noteChoice, railsActive, railsAllow, recordMigration, resources } from './rails.ts';
import type { Rng } from './random.ts';
import { randomInt } from './random.ts';
import { cmp } from './topology.ts';
import { runGainOrder, runStaged } from './gain-order.ts';
import type { Nearby } from './nearby.ts';

/**
 * Every strategy the simulator compares, each returning the same run shape as `runPolicy`, so
 * the simulator replays and reports them alike:
 *  - round-robin, load-aware: the paper's policies (policies.ts).
 *  - none: no migration.
 *  - distributed: the fully distributed per-VM rule. Each round every VM runs Algorithm 1 on the
 *    same snapshot; the chosen moves are then applied together, admitted in VM rank order; a move
 *    whose target no longer has room (or that a per-round limit now blocks) is rejected and
 *    recorded as such. Steps carry the decision as the VM made it (snapshot costs) and the exact
 *    total before and after. Because VMs act on stale positions it can oscillate; the run stops at
 *    a round without moves or at maxRounds (converged says which).
 *  - random: each round the VMs in a seeded random order each move to a hypervisor drawn uniformly
 *    among those with room (rails permitting), until the migration budget (`maxMigrations`,
 *    default one per VM) is spent. It ignores Eq. 3: it is the control for "as many migrations,
 *    no intelligence", so pass Load-Aware's migration count as the budget.
 *  - greedy: centralised; at each step the move with the largest gain C_A(u) − C_A(u→x̂) over
 *    all VMs and all their peers' hosts with room that satisfies Eq. 3, until none qualifies (or
 *    maxMigrations). A heap keeps each VM's best move; a move re-evaluates only the moved VM, its
 *    peers, and the peers of the VMs on the hypervisor it left (whose room grew).
 *  - gain-order: Algorithm 1 asked in order of each VM's best saving (gain-round.ts, a policy).
 *  - gain-swap, lookahead: largest gain first with swaps, and with look-ahead (gain-order.ts).
 *  - lookahead-staged: the look-ahead twice (gain-order.ts, runStaged): first with a price on
 *    each VM's first move, then unpriced from where the first stage ended.
 *  - optimal: the exact optimum of C_A (exact.ts), ignoring c_m; steps are synthetic.
 * Rails (rails.ts) apply to every strategy that migrates; the stability rule needs a per-round
 * re-evaluation, so only the paper's policies and distributed honour it.
 */
export type StrategyName = PolicyName | 'distributed' | 'none' | 'random' | 'greedy' | 'gain-swap' | 'lookahead' | 'lookahead-staged' | 'optimal';

export const STRATEGY_NAMES: readonly StrategyName[] = ['none', 'round-robin', 'load-aware', 'distributed', 'random', 'greedy', 'gain-order', 'gain-swap', 'lookahead', 'lookahead-staged', 'optimal'];

export type StrategyRun = PolicyRun<StrategyName>;

export interface StrategyInput extends Omit<RunInput, 'policy'> {
  /** random's only source of randomness; required for 'random' */
  readonly rng?: Rng;
  /** optimal: give up after this many search nodes (then the run is the best found, not proven) */
  readonly maxNodes?: number;
  /** gain-swap, lookahead: temporary extra VMs per hypervisor while a swap is carried out (default 0) */
  readonly overcommit?: number;
  /** gain-swap, lookahead: each hypervisor's rack mates (nearby.ts; computed from the path costs when absent and small) */
  readonly nearby?: Nearby;
}

export function runStrategy(name: StrategyName, input: StrategyInput): StrategyRun {
  switch (name) {
    case 'round-robin':
    case 'load-aware':
    case 'gain-order':
      return runPolicy({ ...input, policy: name });
    case 'none':
      return runNone(input);
    case 'distributed':
      return runDistributed(input);
    case 'random':
      return runRandom(input);
    case 'greedy':
      return runGreedy(input);
    // gain-order.ts: moves and swaps by largest gain; lookahead adds ejections and pair moves
    case 'gain-swap':
      return runGainOrder(input, { overcommit: input.overcommit });
    case 'lookahead':
      return runGainOrder(input, { lookahead: true, overcommit: input.overcommit }, 'lookahead');
    case 'lookahead-staged':
      return runStaged(input, { overcommit: input.overcommit });
    case 'optimal':
      return runOptimal(input).run;
  }
}

export function runNone(input: StrategyInput): StrategyRun {
  const cost = totalCost(input.placement, input.traffic, input.oracle);
  return { policy: 'none', initialCost: cost, finalCost: cost, steps: [], decisions: [], rounds: 0, converged: true, finalPlacement: new Map(input.placement) };
}

/** Mutable placement, slot counts, resources and rails shared by the planners below. */
class World {
  readonly placement: Map<string, string>;
  readonly load = new Map<string, number>();
  readonly res: Resources | undefined;
  readonly rails: RailState | null;
  readonly steps: Step[] = [];
  readonly decisions: (Decision & { round: number })[] = [];
  readonly initialCost: number;
  total: number;
  round = 0;

  constructor(readonly input: StrategyInput) {
    this.placement = new Map(input.placement);
    for (const h of this.placement.values()) this.load.set(h, (this.load.get(h) ?? 0) + 1);
    this.res = input.resources === undefined ? undefined : resources(input.resources, this.placement);
    this.rails = railsActive(input.rails) ? createRailState(input.rails) : null;
    this.initialCost = totalCost(this.placement, input.traffic, input.oracle);
    this.total = this.initialCost;
  }

  cm(vm: string, from: string, to: string): number {
    const c = this.input.migrationCost;
    return typeof c === 'number' ? c : c(vm, from, to);
  }

  /** null if `vm` may go to `to` now, else why not (room first, then rails) */
  blocked(vm: string, from: string, to: string): { verdict: 'full' | 'rail'; check?: RailCheck; why: string } | null {
    if ((this.load.get(to) ?? 0) >= (this.input.capacity.get(to) ?? 0)) return { verdict: 'full', why: `${to} has no free slot` };
    const dim = this.res === undefined ? null : exceeds(this.res, vm, to);
    if (dim !== null) return { verdict: 'full', why: `${to} has not enough ${dim}` };
    if (this.rails !== null) {
      const check = railsAllow(this.rails, vm, from, to, this.round);
      if (!check.ok) return { verdict: 'rail', check, why: check.reason };
    }
    return null;
  }

  beginRound(round: number): void {
    this.round = round;
    if (this.rails !== null) beginRound(this.rails, round);
  }

  /** moves the VM, books it, and returns the exact change of C_A */
  apply(d: Decision & { to: string }): void {
    const { traffic, oracle } = this.input;
    const before = vmCost(d.vm, this.placement, traffic, oracle);
    const after = vmCost(d.vm, this.placement, traffic, oracle, d.to);
    this.placement.set(d.vm, d.to);
    this.load.set(d.from, (this.load.get(d.from) ?? 1) - 1);
    this.load.set(d.to, (this.load.get(d.to) ?? 0) + 1);
    if (this.res !== undefined) moveUse(this.res, d.vm, d.from, d.to);
    if (this.rails !== null) recordMigration(this.rails, d.vm, d.from, d.to, this.round);
    const totalAfter = this.total - (before - after);
    this.steps.push({ step: this.steps.length + 1, round: this.round, decision: d, totalBefore: this.total, totalAfter });
    this.decisions.push({ ...d, round: this.round });
    this.total = totalAfter;
  }

  finish(policy: StrategyName, converged: boolean): StrategyRun {
    return {
      policy,
      initialCost: this.initialCost,
      finalCost: totalCost(this.placement, this.input.traffic, this.input.oracle),
      steps: this.steps,
      decisions: this.decisions,
      rounds: this.round,
      converged,
      finalPlacement: this.placement,
    };
  }
}

function synthetic(vm: string, from: string, to: string, costBefore: number, costAfter: number, migrationCost: number, mode: DecisionMode, reason: string, candidates: readonly Candidate[] = []): Decision & { to: string } {
  return { vm, from, to, costBefore, costAfter, migrationCost, mode, candidates, reason };
}

export function runDistributed(input: StrategyInput): StrategyRun {
  const w = new World(input);
  const { traffic, oracle, capacity, rank, migrationCost } = input;
  const mode = input.mode ?? 'first';
  const maxRounds = input.maxRounds ?? 20;
  const maxMigrations = input.maxMigrations ?? Infinity;
  const order = [...input.vms].sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
  const rails = w.rails;
  const rail = rails === null ? undefined : (vm: string, from: string, to: string): RailCheck => railsAllow(rails, vm, from, to, w.round);
  let converged = false;
  while (w.round < maxRounds && w.steps.length < maxMigrations) {
    w.beginRound(w.round + 1);
    const snapshot = new Map(w.placement);
    const snapLoad = new Map(w.load);
    const snapRes: Resources | undefined =
      w.res === undefined ? undefined : { spec: w.res.spec, use: { slots: new Map(w.res.use.slots), cpu: new Map(w.res.use.cpu), memoryBytes: new Map(w.res.use.memoryBytes) } };
    const wanted: (Decision & { to: string })[] = [];
    let held = 0;
    for (const vm of order) {
      let d = decide({ vm, placement: snapshot, traffic, oracle, capacity, load: snapLoad, migrationCost, mode, rank, resources: snapRes, rail });
      if (rails !== null) {
        const stable = noteChoice(rails, vm, d.to, w.round);
        if (!stable.ok) d = holdBack(d, stable.code, stable.reason);
      }
      if (d.to !== null) {
        wanted.push({ ...d, to: d.to });
        continue;
      }
      const railHeld = d.candidates.some((c) => c.verdict === 'rail');
      if (railHeld) held += 1;
      // VMs with nothing to gain are not recorded, as Load-Aware does not ask them
      if (d.costBefore > 0 || railHeld) w.decisions.push({ ...d, round: w.round });
    }
    let moved = 0;
    for (const d of wanted) {
      const no = w.steps.length >= maxMigrations ? { verdict: 'rail' as const, why: 'the migration budget is spent' } : w.blocked(d.vm, d.from, d.to);
      if (no === null) {
        w.apply(d);
        moved += 1;
        continue;
      }
      const why = `rejected when the round's moves were applied: ${no.why}`;
      const rejected: Decision =
        no.verdict === 'rail' && no.check !== undefined && !no.check.ok
          ? holdBack(d, no.check.code, why)
          : { ...d, to: null, costAfter: d.costBefore, reason: why, candidates: d.candidates.map((c) => (c.verdict === 'chosen' ? { ...c, verdict: 'full' as const } : c)) };
      w.decisions.push({ ...rejected, round: w.round });
    }
    if (moved === 0 && held === 0) {
      converged = true;
      break;
    }
  }
  return w.finish('distributed', converged);
}

export function runRandom(input: StrategyInput): StrategyRun {
  const rng = input.rng;
  if (rng === undefined) throw new RangeError('the random strategy needs a seeded rng');
  const w = new World(input);
  const maxRounds = input.maxRounds ?? 20;
  const budget = input.maxMigrations ?? input.vms.length;
  const hosts = [...input.capacity.keys()];
  const { traffic, oracle } = input;
  let converged = false;
  while (w.round < maxRounds && w.steps.length < budget) {
    w.beginRound(w.round + 1);
    const order = [...input.vms];
    for (let i = order.length - 1; i > 0; i--) {
      const j = randomInt(rng, i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let moved = 0;
    for (const vm of order) {
      if (w.steps.length >= budget) break;
      const from = w.placement.get(vm)!;
      const to = pickRandomHost(rng, hosts, (h) => h !== from && w.blocked(vm, from, h) === null);
      if (to === null) continue;
      const before = vmCost(vm, w.placement, traffic, oracle);
      const after = vmCost(vm, w.placement, traffic, oracle, to);
      w.apply(synthetic(vm, from, to, before, after, w.cm(vm, from, to), input.mode ?? 'first', `random migration to ${to}`));
      moved += 1;
    }
    // no VM could move anywhere: nothing more a random walk can do
    if (moved === 0) {
      converged = true;
      break;
    }
  }
  return w.finish('random', converged);
}

/**
 * A uniform draw among the hosts that pass `ok`: rejection sampling (uniform over the accepted
 * set) for a few tries, then a full scan so a nearly full data centre still finds its free slots.
 */
function pickRandomHost(rng: Rng, hosts: readonly string[], ok: (h: string) => boolean): string | null {
  if (hosts.length === 0) return null;
  for (let t = 0; t < 32; t++) {
    const h = hosts[randomInt(rng, hosts.length)]!;
    if (ok(h)) return h;
  }
  const all = hosts.filter(ok);
  return all.length === 0 ? null : all[randomInt(rng, all.length)]!;
}

interface Move {
  readonly vm: string;
  readonly to: string;
  readonly gain: number;
  readonly rank: number;
  readonly version: number;
}

export function runGreedy(input: StrategyInput): StrategyRun {
  const w = new World(input);
  const { traffic, oracle, rank } = input;
  const maxRounds = input.maxRounds ?? 20;
  const maxMigrations = input.maxMigrations ?? Infinity;
  const version = new Map<string, number>();
  const held = new Set<string>();
  const heap = new Heap<Move>((x, y) => x.gain > y.gain || (x.gain === y.gain && (x.rank < y.rank || (x.rank === y.rank && cmp(x.to, y.to) < 0))));
  const onHost = new Map<string, Set<string>>();
  for (const [vm, h] of w.placement) {
    let s = onHost.get(h);
    if (s === undefined) onHost.set(h, (s = new Set()));
    s.add(vm);
  }

  /** u's best qualifying move now, or null; with `explain`, every candidate's verdict too */
  function evaluate(u: string, explain: boolean): { best: { to: string; cost: number; cm: number } | null; candidates: Candidate[]; costBefore: number; railHeld: boolean } {
    const from = w.placement.get(u)!;
    const costBefore = vmCost(u, w.placement, traffic, oracle);
    const candidates: Candidate[] = [];
    let best: { to: string; cost: number; cm: number } | null = null;
    let railHeld = false;
    const seen = new Set<string>();
    for (const [peer, rate] of traffic.peers.get(u) ?? []) {
      const h = w.placement.get(peer);
      if (h === undefined || h === from || seen.has(h)) continue;
      seen.add(h);
      const flowCost = rate * oracle.cost(from, h);
      const no = w.blocked(u, from, h);
      if (no !== null && no.verdict === 'full') {
        if (explain) candidates.push({ hypervisor: h, viaPeer: peer, flowCost, costThere: null, verdict: 'full' });
        continue;
      }
      const cost = vmCost(u, w.placement, traffic, oracle, h);
      const cm = w.cm(u, from, h);
      const improves = worthMigrating(costBefore, cost, cm);
      if (improves && no !== null) {
        railHeld = true;
        if (explain) {
          const code = no.check !== undefined && !no.check.ok ? no.check.code : undefined;
          candidates.push({ hypervisor: h, viaPeer: peer, flowCost, costThere: cost, verdict: 'rail', ...(code === undefined ? {} : { rail: code }), railReason: no.why });
        }
        continue;
      }
      if (explain) candidates.push({ hypervisor: h, viaPeer: peer, flowCost, costThere: cost, verdict: improves ? 'improves' : 'no-gain', migrationCost: cm });
      if (improves && (best === null || cost < best.cost || (cost === best.cost && cmp(h, best.to) < 0))) best = { to: h, cost, cm };
    }
    return { best, candidates, costBefore, railHeld };
  }

  function refresh(u: string): void {
    const v = (version.get(u) ?? 0) + 1;
    version.set(u, v);
    const { best, costBefore, railHeld } = evaluate(u, false);
    if (railHeld && best === null) held.add(u);
    else held.delete(u);
    if (best !== null) heap.push({ vm: u, to: best.to, gain: costBefore - best.cost, rank: rank.get(u) ?? 0, version: v });
  }

  let converged = false;
  while (w.round < maxRounds && w.steps.length < maxMigrations) {
    w.beginRound(w.round + 1);
    heap.clear();
    held.clear();
    for (const u of input.vms) refresh(u);
    for (;;) {
      if (w.steps.length >= maxMigrations) break;
      const top = heap.pop();
      if (top === undefined) break;
      if (version.get(top.vm) !== top.version) continue;
      const from = w.placement.get(top.vm)!;
      // room and rails only tighten within a round: a stale entry is re-evaluated, not trusted
      if (w.blocked(top.vm, from, top.to) !== null) {
        refresh(top.vm);
        continue;
      }
      const ev = evaluate(top.vm, true);
      if (ev.best === null || ev.best.to !== top.to) {
        refresh(top.vm);
        continue;
      }
      const candidates = ev.candidates.map((c) => (c.hypervisor === top.to ? { ...c, verdict: 'chosen' as const } : c));
      const reason = `largest gain of all VMs: moving to ${top.to} cuts C_A(${top.vm}) from ${fmt(ev.costBefore)} to ${fmt(ev.best.cost)} (saving ${fmt(ev.costBefore - ev.best.cost)} > c_m ${fmt(ev.best.cm)})`;
      w.apply(synthetic(top.vm, from, top.to, ev.costBefore, ev.best.cost, ev.best.cm, 'best', reason, candidates));
      onHost.get(from)?.delete(top.vm);
      let s = onHost.get(top.to);
      if (s === undefined) onHost.set(top.to, (s = new Set()));
      s.add(top.vm);
      const again = new Set<string>([top.vm, ...(traffic.peers.get(top.vm)?.keys() ?? [])]);
      // the source has room now: whoever wanted it (a peer of a VM on it) may now go there
      for (const x of onHost.get(from) ?? []) for (const p of traffic.peers.get(x)?.keys() ?? []) again.add(p);
      for (const u of again) if (w.placement.has(u)) refresh(u);
    }
    if (w.steps.length >= maxMigrations) break;
    // nothing qualifies and no rail holds anything back: a fixed point
    if (held.size === 0) {
      converged = true;
      break;
    }
  }
  return w.finish('greedy', converged);
}

/**
 * The optimum as a run. Steps are synthetic: one per VM whose host differs, ordered so that each
 * target has room when its move is applied (lowest rank first among those that can go). If the
 * remaining moves form a cycle of full hypervisors, the first pending VM (by rank) that fits
 * anywhere else takes a detour through the hypervisor with room that is cheapest for it (an extra
 * step); if none fits anywhere, the lowest-ranked move is applied anyway and the capacity is exceeded until the cycle
 * closes (a real data centre could not do that swap either). The run's rounds count is 1.
 */
export function runOptimal(input: StrategyInput): { run: StrategyRun; explored: number; proven: boolean } {
  const { traffic, oracle, rank } = input;
  const opt = solveOptimal({ vms: input.vms, traffic, oracle, capacity: input.capacity, resources: input.resources, incumbent: input.placement, maxNodes: input.maxNodes });
  const w = new World({ ...input, rails: undefined });
  w.beginRound(1);
  const pending = input.vms.filter((vm) => opt.placement.get(vm) !== w.placement.get(vm)).sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
  const why = `optimal placement (C_A ${fmt(opt.cost)}, ${opt.proven ? 'proven by branch and bound' : 'best found, not proven'}, ${opt.explored} nodes)`;
  const move = (vm: string, to: string, reason: string): void => {
    const from = w.placement.get(vm)!;
    const before = vmCost(vm, w.placement, traffic, oracle);
    const after = vmCost(vm, w.placement, traffic, oracle, to);
    w.apply(synthetic(vm, from, to, before, after, w.cm(vm, from, to), 'best', reason));
  };
  let detours = 0;
  while (pending.length > 0) {
    const i = pending.findIndex((vm) => w.blocked(vm, w.placement.get(vm)!, opt.placement.get(vm)!) === null);
    if (i >= 0) {
      const vm = pending.splice(i, 1)[0]!;
      move(vm, opt.placement.get(vm)!, why);
      continue;
    }
    // a cycle: the first VM (by rank) that can step aside somewhere takes the detour cheapest for it
    let detour: { vm: string; to: string; cost: number } | null = null;
    for (const vm of pending) {
      const from = w.placement.get(vm)!;
      for (const h of input.capacity.keys()) {
        if (h === from || w.blocked(vm, from, h) !== null) continue;
        const c = vmCost(vm, w.placement, traffic, oracle, h);
        if (detour === null || c < detour.cost) detour = { vm, to: h, cost: c };
      }
      if (detour !== null) break;
    }
    if (detour !== null && detours++ < input.vms.length) {
      move(detour.vm, detour.to, `detour to ${detour.to}: the optimal moves form a cycle of full hypervisors`);
    } else {
      const vm = pending.shift()!;
      move(vm, opt.placement.get(vm)!, `${why}; no hypervisor has room, so the cycle overfills ${opt.placement.get(vm)!} until it closes`);
    }
  }
  return { run: w.finish('optimal', opt.proven), explored: opt.explored, proven: opt.proven };
}

/** Binary heap ordered by `before` (the first to pop is the one before all others). */
class Heap<T> {
  private a: T[] = [];
  constructor(private readonly before: (x: T, y: T) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  clear(): void {
    this.a = [];
  }
  push(e: T): void {
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(e, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = e;
  }
  pop(): T | undefined {
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
      const c = r < n && this.before(a[r]!, a[l]!) ? r : l;
      if (!this.before(a[c]!, last)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/** True when the placement puts at most `capacity` VMs on each hypervisor. */
export function withinSlots(placement: Placement, capacity: ReadonlyMap<string, number>): boolean {
  const n = new Map<string, number>();
  for (const h of placement.values()) n.set(h, (n.get(h) ?? 0) + 1);
  for (const [h, k] of n) if (k > (capacity.get(h) ?? 0)) return false;
  return true;
}
