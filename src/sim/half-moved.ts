import type { Placement, TrafficMatrix } from '../core/cost.ts';
import type { PathOracle } from '../core/paths.ts';
import type { Nearby } from '../core/nearby.ts';
import { seededRng } from '../core/random.ts';

/**
 * How much a placement can save when only a budget of VMs may leave their hypervisors: the
 * question behind "cost reduction by the time half the VMs have moved" (scale.ts counts distinct
 * VMs moved, so the cost at that step is the cost of a placement with at most that many VMs away
 * from where they started). Benchmark analysis only (bench/half-moved.bench.ts, docs/scale.md),
 * not a strategy: it computes target placements, it does not plan migrations.
 *
 *  - `budgetStructure`: the share of the initial cost C_A carried by the `budget` costliest pairs,
 *    and what the maximum-weight forest of `budget` pairs (Kruskal on λ × initial path cost) saves
 *    when every tree of it is put on one hypervisor of its best member, capacity ignored. A moved
 *    VM zeroes its flow to the one place it goes to, so trees are what a budget of moves buys.
 *  - `budgetAnneal`: simulated annealing directly on C_A over placements that keep every
 *    hypervisor within its slots and at most `budget` VMs away from their initial hypervisor
 *    (moves to a peer's hypervisor, a rack mate of it or home; exchanges with a VM on a full one),
 *    started from a given placement or from the forest's trees packed under capacity.
 *
 * Shapes: costs in the units of C_A (Eq. 2: bytes/s × path cost); shares as fractions of the
 * initial cost. Path costs come from the oracle once per pair of hypervisors (H² lookups, fine up
 * to a few thousand hypervisors).
 */
export interface BudgetInput {
  readonly vms: readonly string[];
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  readonly capacity: ReadonlyMap<string, number>;
  /** hypervisors in the same rack (rackMates) */
  readonly nearby: Nearby;
}

export interface BudgetStructure {
  readonly initialCost: number;
  /** share of the initial cost in the `budget` costliest pairs */
  readonly topPairsShare: number;
  /** share of the initial cost in the maximum-weight forest with `budget` edges */
  readonly forestShare: number;
  /** 1 − cost/initial when every forest tree sits on one hypervisor of its best member, slots ignored */
  readonly forestUncapacitatedReduction: number;
  readonly forestVmsMoved: number;
  /** that placement (slots ignored) */
  readonly forestPlacement: Map<string, string>;
}

export interface AnnealOptions {
  readonly iterations: number;
  /** start temperature as a share of the mean C_A(u) of the initial placement; falls linearly to 0 */
  readonly temperature: number;
  readonly seed: number;
  /** where to start (default: the forest's trees packed under capacity) */
  readonly start?: Placement;
}

export interface AnnealResult {
  readonly placement: Map<string, string>;
  readonly initialCost: number;
  readonly cost: number;
  readonly reduction: number;
  /** VMs away from their initial hypervisor (≤ budget) */
  readonly moved: number;
  /** the start's reduction and moved VMs */
  readonly start: { readonly reduction: number; readonly moved: number };
}

interface Indexed {
  readonly hosts: string[];
  readonly n: number;
  readonly init: Int32Array;
  readonly cap: Int32Array;
  readonly cost: Float64Array;
  readonly adj: (readonly [number, number])[][];
  readonly edges: { readonly u: number; readonly v: number; readonly w: number }[];
  readonly mates: number[][];
  readonly initialCost: number;
}

function index(input: BudgetInput): Indexed {
  const hosts = [...input.capacity.keys()];
  const hi = new Map(hosts.map((h, i) => [h, i]));
  const vi = new Map(input.vms.map((v, i) => [v, i]));
  const H = hosts.length;
  const cost = new Float64Array(H * H);
  for (let a = 0; a < H; a++) for (let b = a + 1; b < H; b++) cost[a * H + b] = cost[b * H + a] = input.oracle.cost(hosts[a]!, hosts[b]!);
  const init = Int32Array.from(input.vms, (v) => {
    const h = hi.get(input.placement.get(v) ?? '');
    if (h === undefined) throw new Error(`VM ${v} has no placement on a known hypervisor`);
    return h;
  });
  const adj: [number, number][][] = input.vms.map(() => []);
  const edges: { u: number; v: number; w: number }[] = [];
  let initialCost = 0;
  for (const [a, m] of input.traffic.peers) {
    const u = vi.get(a);
    if (u === undefined) continue;
    for (const [b, l] of m) {
      const v = vi.get(b);
      if (v === undefined || v <= u || l === 0) continue;
      adj[u]!.push([v, l]);
      adj[v]!.push([u, l]);
      const w = l * cost[init[u]! * H + init[v]!]!;
      edges.push({ u, v, w });
      initialCost += w;
    }
  }
  const mates = hosts.map((h) => (input.nearby.get(h) ?? []).map((o) => hi.get(o)).filter((o): o is number => o !== undefined));
  return { hosts, n: input.vms.length, init, cap: Int32Array.from(hosts, (h) => input.capacity.get(h) ?? 0), cost, adj, edges, mates, initialCost };
}

/** Kruskal on the pairs by λ × initial path cost: at most `budget` edges, as adjacency lists of the forest. */
function maxForest(x: Indexed, budget: number): { forest: number[][]; weight: number } {
  const sorted = [...x.edges].sort((a, b) => b.w - a.w || a.u - b.u || a.v - b.v);
  const parent = Int32Array.from({ length: x.n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const forest: number[][] = Array.from({ length: x.n }, () => []);
  let k = 0;
  let weight = 0;
  for (const e of sorted) {
    if (k >= budget) break;
    const a = find(e.u);
    const b = find(e.v);
    if (a === b) continue;
    parent[a] = b;
    forest[e.u]!.push(e.v);
    forest[e.v]!.push(e.u);
    weight += e.w;
    k += 1;
  }
  return { forest, weight };
}

function trees(forest: readonly number[][]): number[][] {
  const seen = new Uint8Array(forest.length);
  const out: number[][] = [];
  for (let r = 0; r < forest.length; r++) {
    if (seen[r] || forest[r]!.length === 0) continue;
    const tree = [r];
    seen[r] = 1;
    for (let i = 0; i < tree.length; i++) {
      for (const v of forest[tree[i]!]!) {
        if (!seen[v]) {
          seen[v] = 1;
          tree.push(v);
        }
      }
    }
    out.push(tree);
  }
  return out;
}

function totalOf(x: Indexed, host: Int32Array): number {
  const H = x.hosts.length;
  let t = 0;
  for (let u = 0; u < x.n; u++) for (const [v, l] of x.adj[u]!) if (v > u) t += l * x.cost[host[u]! * H + host[v]!]!;
  return t;
}

export function budgetStructure(input: BudgetInput, budget: number): BudgetStructure {
  const x = index(input);
  const H = x.hosts.length;
  const total = x.initialCost;
  const top = [...x.edges].map((e) => e.w).sort((a, b) => b - a);
  let topSum = 0;
  for (let i = 0; i < Math.min(budget, top.length); i++) topSum += top[i]!;
  const { forest, weight } = maxForest(x, budget);
  const host = Int32Array.from(x.init);
  for (const tree of trees(forest)) {
    const inTree = new Set(tree);
    let best = tree[0]!;
    let bestSaving = -Infinity;
    // the tree's saving when all of it goes to r's hypervisor: its own pairs and its flows out
    for (const r of tree) {
      const h = x.init[r]!;
      let s = 0;
      for (const v of tree) {
        for (const [p, l] of x.adj[v]!) {
          if (inTree.has(p)) {
            if (p > v) s += l * x.cost[x.init[v]! * H + x.init[p]!]!;
          } else s += l * (x.cost[x.init[v]! * H + x.init[p]!]! - x.cost[h * H + x.init[p]!]!);
        }
      }
      if (s > bestSaving) {
        bestSaving = s;
        best = r;
      }
    }
    for (const v of tree) host[v] = x.init[best]!;
  }
  let moved = 0;
  for (let u = 0; u < x.n; u++) if (host[u] !== x.init[u]) moved += 1;
  const share = (c: number): number => (total === 0 ? 0 : c / total);
  return {
    initialCost: total,
    topPairsShare: share(topSum),
    forestShare: share(weight),
    forestUncapacitatedReduction: 1 - share(totalOf(x, host)),
    forestVmsMoved: moved,
    forestPlacement: new Map(input.vms.map((v, i) => [v, x.hosts[host[i]!]!])),
  };
}

export function budgetAnneal(input: BudgetInput, budget: number, o: AnnealOptions): AnnealResult {
  const x = index(input);
  const H = x.hosts.length;
  const { n, init, cap, adj, mates, cost } = x;
  const host = Int32Array.from(init);
  const load = new Int32Array(H);
  for (const h of host) load[h]! += 1;
  const members: number[][] = Array.from({ length: H }, () => []);
  for (let u = 0; u < n; u++) members[host[u]!]!.push(u);
  const c = (a: number, b: number): number => cost[a * H + b]!;
  const costAt = (u: number, h: number): number => {
    let s = 0;
    for (const [p, l] of adj[u]!) s += l * c(h, host[p]!);
    return s;
  };
  const moveTo = (u: number, y: number): void => {
    const from = host[u]!;
    const m = members[from]!;
    m.splice(m.indexOf(u), 1);
    members[y]!.push(u);
    load[from]! -= 1;
    load[y]! += 1;
    host[u] = y;
  };
  let moved = 0;
  if (o.start !== undefined) {
    const hi = new Map(x.hosts.map((h, i) => [h, i]));
    const target = Int32Array.from(input.vms, (v) => hi.get(o.start!.get(v) ?? '') ?? -1);
    for (let u = 0; u < n; u++) {
      if (target[u]! < 0) throw new Error(`start placement: VM ${input.vms[u]} has no hypervisor`);
      if (target[u] !== init[u]) moved += 1;
    }
    if (moved > budget) throw new Error(`start placement moves ${moved} VMs, more than the budget ${budget}`);
    // set directly: a start within capacity is a valid state whatever order it was reached in
    for (let u = 0; u < n; u++) if (target[u] !== host[u]) moveTo(u, target[u]!);
    for (let h = 0; h < H; h++) if (load[h]! > cap[h]!) throw new Error(`start placement: ${x.hosts[h]} over its ${cap[h]} slots`);
  } else {
    // the forest's trees, largest first, each grown from its best-connected member within capacity
    const { forest } = maxForest(x, budget);
    for (const tree of trees(forest).sort((a, b) => b.length - a.length)) {
      const inTree = new Set(tree);
      const placed = new Set([tree[0]!]);
      const queue = [tree[0]!];
      while (queue.length > 0) {
        const v = queue.shift()!;
        for (const w of forest[v]!) {
          if (placed.has(w)) continue;
          placed.add(w);
          queue.push(w);
          if (moved >= budget) continue;
          let by = -1;
          let best = costAt(w, host[w]!);
          for (const [p] of adj[w]!) {
            if (inTree.has(p) && !placed.has(p)) continue;
            for (const h of [host[p]!, ...mates[host[p]!]!]) {
              if (h === host[w] || load[h]! >= cap[h]!) continue;
              const there = costAt(w, h);
              if (there < best) {
                best = there;
                by = h;
              }
            }
          }
          if (by >= 0) {
            moveTo(w, by);
            moved += 1;
          }
        }
      }
    }
  }
  let total = totalOf(x, host);
  const start = { reduction: x.initialCost === 0 ? 0 : 1 - total / x.initialCost, moved };
  const rng = seededRng(o.seed);
  const meanCost = n === 0 ? 0 : (2 * x.initialCost) / n;
  const away = (u: number, h: number): number => (h === init[u] ? 0 : 1);
  for (let it = 0; it < o.iterations && n > 0; it++) {
    const temp = o.temperature * meanCost * (1 - it / o.iterations);
    const accept = (delta: number): boolean => delta <= 0 || (temp > 0 && rng() < Math.exp(-delta / temp));
    const u = Math.floor(rng() * n);
    const here = host[u]!;
    const peers = adj[u]!;
    if (peers.length === 0) continue;
    const r = rng();
    let y: number;
    if (r < 0.1) y = init[u]!;
    else {
      y = host[peers[Math.floor(rng() * peers.length)]![0]]!;
      const rack = mates[y]!;
      if (r > 0.7 && rack.length > 0) y = rack[Math.floor(rng() * rack.length)]!;
    }
    if (y === here) continue;
    const du = away(u, y) - away(u, here);
    if (load[y]! < cap[y]!) {
      if (moved + du > budget) continue;
      const delta = costAt(u, y) - costAt(u, here);
      if (accept(delta)) {
        moveTo(u, y);
        moved += du;
        total += delta;
      }
      continue;
    }
    // y is full: exchange with one of its VMs (swap.ts: A + B − 2λ·c(x, y))
    const on = members[y]!;
    const w = on[Math.floor(rng() * on.length)]!;
    const dw = away(w, here) - away(w, y);
    if (moved + du + dw > budget) continue;
    let lw = 0;
    for (const [p, l] of peers) if (p === w) lw += l;
    const saving = costAt(u, here) - costAt(u, y) + costAt(w, y) - costAt(w, here) - 2 * lw * c(here, y);
    if (accept(-saving)) {
      moveTo(u, y);
      moveTo(w, here);
      moved += du + dw;
      total -= saving;
    }
  }
  // the running total drifts by rounding; the result is recomputed
  const final = totalOf(x, host);
  const placement = new Map(input.vms.map((v, i) => [v, x.hosts[host[i]!]!]));
  return { placement, initialCost: x.initialCost, cost: final, reduction: x.initialCost === 0 ? 0 : 1 - final / x.initialCost, moved, start };
}
