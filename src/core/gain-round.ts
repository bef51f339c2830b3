import type { Placement } from './cost.ts';
import { worthMigrating } from './cost.ts';
import type { MigrationCostFn } from './migration-cost.ts';
import type { CostHeap, IndexedState, Round, RoundContext } from './policies.ts';

/**
 * The gain-ordered policy: ask next the VM whose best move would save most, not the one whose
 * cost is highest (Load-Aware). A VM's key is the largest C_A(u) − C_{A,u→y}(u) − c_m over
 * Algorithm 1's candidates y (its peers' hypervisors) that have room, and only VMs with a
 * positive key are asked, each at most once a round; the asked VM then runs Algorithm 1 as with
 * every policy (so it may still decline, e.g. when its agent sees other rates).
 *
 * Kept up to date as VMs move: when u moves x → y, the keys that can grow are those of u's peers
 * (their flow to u changed) and of the peers of x's VMs (x has a free slot now); they are
 * recomputed at once. Every other key can only have dropped (y has one slot less), so its heap
 * entry is an upper bound that is recomputed when it reaches the top and pushed back if it fell:
 * the VM asked is always one with the largest exact key.
 */
export class GainOrder {
  /** the key of the VM `next` returned */
  cost = 0;
  private readonly version: Int32Array;
  private readonly asked: Uint8Array;
  private readonly on: number[][];

  constructor(
    private readonly s: IndexedState,
    vms: Int32Array,
    private readonly load: Float64Array,
    private readonly cap: Float64Array,
    private readonly migrationCost: number | MigrationCostFn,
    private readonly heap: CostHeap,
  ) {
    const n = s.names.length;
    this.version = new Int32Array(n);
    this.asked = new Uint8Array(n);
    this.on = s.hvNames.map(() => []);
    for (let u = 0; u < n; u++) if (s.host[u]! >= 0) this.on[s.host[u]!]!.push(u);
    for (const u of vms) this.push(u);
  }

  /** u's key now: the saving of its best move to a peer's hypervisor with room, net of c_m (0: none) */
  key(u: number): number {
    const s = this.s;
    const x = s.host[u]!;
    if (x < 0) return 0;
    const cu = s.cost(u);
    if (cu === 0) return 0;
    let best = 0;
    const seen = new Set<number>([x]);
    for (let e = s.start[u]!; e < s.start[u + 1]!; e++) {
      const y = s.host[s.peer[e]!]!;
      if (y < 0 || seen.has(y)) continue;
      seen.add(y);
      if (this.load[y]! >= this.cap[y]!) continue;
      const there = s.cost(u, y);
      const cm = typeof this.migrationCost === 'number' ? this.migrationCost : this.migrationCost(s.names[u]!, s.hvNames[x]!, s.hvNames[y]!);
      if (worthMigrating(cu, there, cm) && cu - there - cm > best) best = cu - there - cm;
    }
    return best;
  }

  next(): number {
    const { heap, version, asked } = this;
    while (heap.size > 0) {
      heap.pop();
      const u = heap.topVm;
      if (asked[u] === 1 || version[u] !== heap.topVersion) continue;
      const k = this.key(u);
      if (k <= 0) continue;
      if (k < heap.topCost - 1e-9 * Math.max(1, heap.topCost)) {
        heap.push(k, this.s.rank[u]!, u, ++version[u]);
        continue;
      }
      asked[u] = 1;
      this.cost = k;
      return u;
    }
    return -1;
  }

  moved(u: number, from: number): void {
    const s = this.s;
    const list = this.on[from]!;
    list.splice(list.indexOf(u), 1);
    this.on[s.host[u]!]!.push(u);
    const again = new Set<number>();
    for (let e = s.start[u]!; e < s.start[u + 1]!; e++) again.add(s.peer[e]!);
    for (const x of list) for (let e = s.start[x]!; e < s.start[x + 1]!; e++) again.add(s.peer[e]!);
    again.delete(u);
    for (const p of again) if (this.asked[p] === 0) this.push(p);
  }

  private push(u: number): void {
    const v = ++this.version[u]!;
    const k = this.key(u);
    if (k > 0) this.heap.push(k, this.s.rank[u]!, u, v);
  }
}

/** The gain-ordered round as a generator (the live orchestrator's form); needs `ctx.capacity`. */
export function* gainOrderRound(ctx: RoundContext, initial: Placement, state: IndexedState, heap: CostHeap): Round {
  const capacity = ctx.capacity;
  if (capacity === undefined) throw new RangeError('the gain-ordered policy needs the hypervisors\' capacity');
  // every hypervisor with a capacity gets an index before the arrays are sized
  for (const h of capacity.keys()) state.hypervisor(h);
  const load2 = new Float64Array(state.hvNames.length);
  const cap2 = new Float64Array(state.hvNames.length);
  for (const h of initial.values()) load2[state.hypervisor(h)]! += 1;
  for (let h = 0; h < state.hvNames.length; h++) cap2[h] = capacity.get(state.hvNames[h]!) ?? 0;
  const order = new GainOrder(state, state.indicesOf(ctx.vms), load2, cap2, ctx.migrationCost ?? 0, heap);
  let moves = 0;
  for (;;) {
    const u = order.next();
    if (u < 0) return moves;
    const outcome = yield { vm: state.names[u]!, cost: order.cost };
    if (outcome.movedTo !== null) {
      const from = state.host[u]!;
      const to = state.hypervisor(outcome.movedTo);
      state.host[u] = to;
      load2[from]! -= 1;
      load2[to]! += 1;
      moves += 1;
      order.moved(u, from);
    }
  }
}
