import type { Placement, TrafficMatrix } from '../core/cost.ts';
import type { PathOracle } from '../core/paths.ts';
import type { Nearby } from '../core/nearby.ts';
import { seededRng } from '../core/random.ts';
import { ScoreError } from '../errors/errors.ts';

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

/** The instance on indices: hosts, initial hypervisor per VM, slots, path costs (H × H), pairs. */
export interface Indexed {
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

/**
 * The input in arrays (hypervisors in `capacity`'s order, VMs in `vms`' order).
 * @throws ScoreError PLACEMENT_INVALID (a VM not placed on a hypervisor of `capacity`)
 */
export function index(input: BudgetInput): Indexed {
  const hosts = [...input.capacity.keys()];
  const hi = new Map(hosts.map((h, i) => [h, i]));
  const vi = new Map(input.vms.map((v, i) => [v, i]));
  const H = hosts.length;
  const cost = new Float64Array(H * H);
  for (let a = 0; a < H; a++) for (let b = a + 1; b < H; b++) cost[a * H + b] = cost[b * H + a] = input.oracle.cost(hosts[a]!, hosts[b]!);
  const init = Int32Array.from(input.vms, (v) => {
    const h = hi.get(input.placement.get(v) ?? '');
    if (h === undefined) throw new ScoreError('PLACEMENT_INVALID', `VM ${v} has no placement on a hypervisor with a capacity`, { vm: v, hypervisor: input.placement.get(v) ?? null });
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

export function totalOf(x: Indexed, host: Int32Array): number {
  const H = x.hosts.length;
  let t = 0;
  for (let u = 0; u < x.n; u++) for (const [v, l] of x.adj[u]!) if (v > u) t += l * x.cost[host[u]! * H + host[v]!]!;
  return t;
}

/** @throws ScoreError PLACEMENT_INVALID (index) */
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

/**
 * @throws ScoreError PLACEMENT_INVALID (a VM of the input or of `o.start` without a hypervisor of
 *   `capacity`), BUDGET_EXCEEDED (`o.start` moves more than `budget` VMs), CAPACITY_EXCEEDED
 *   (`o.start` puts more VMs on a hypervisor than its slots)
 */
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
      if (target[u]! < 0) throw new ScoreError('PLACEMENT_INVALID', `start placement: VM ${input.vms[u]} has no hypervisor with a capacity`, { vm: input.vms[u], hypervisor: o.start.get(input.vms[u]!) ?? null });
      if (target[u] !== init[u]) moved += 1;
    }
    if (moved > budget) throw new ScoreError('BUDGET_EXCEEDED', `start placement moves ${moved} VMs, more than the budget ${budget}`, { moved, budget });
    // set directly: a start within capacity is a valid state whatever order it was reached in
    for (let u = 0; u < n; u++) if (target[u] !== host[u]) moveTo(u, target[u]!);
    for (let h = 0; h < H; h++) if (load[h]! > cap[h]!) throw new ScoreError('CAPACITY_EXCEEDED', `start placement: ${x.hosts[h]} holds ${load[h]} VMs, over its ${cap[h]} slots`, { hypervisor: x.hosts[h], vms: load[h], capacity: cap[h] });
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

/**
 * Upper bounds on what any placement with at most `budget` VMs away from their start can save
 * (slots ignored, so they hold within the slots too), and how high each bound is at least.
 * C_A is a sum over pairs of λ(u, v) × pathCost(x_u, x_v) with fixed path costs, so a pair's cost
 * changes only if one of its VMs moves: with S the VMs away from their start,
 *
 *  - coverage: saving ≤ Σ of the initial cost of the pairs with a VM in S (budgeted maximum
 *    weighted vertex coverage). Its LP relaxation (max Σ w_e y_e, y_e ≤ x_u + x_v, y_e ≤ 1,
 *    Σ x ≤ budget) is 100% whenever 2·budget ≥ VMs: x = budget/VMs ≥ ½ everywhere covers every
 *    pair. `coverageGreedy` is the greedy set's coverage: the bound is at least that.
 *  - star: saving ≤ F(S) = Σ initial cost of the pairs inside S + Σ_{u ∈ S} σ_u, where σ_u is the
 *    most u can save on its pairs with unmoved VMs from one hypervisor h:
 *    max_h Σ_{v ∉ S} λ(u, v)·(c(x_u, x_v) − c(h, x_v)) (a pair inside S saves at most its initial
 *    cost; each pair is counted once). On an ultrametric oracle (fat-trees, leaf-spine: the cost
 *    depends only on the level the path turns at) the best h is a host of one of those VMs, so
 *    only those are tried; otherwise every hypervisor is. `starSearch` maximises F over sets of
 *    `budget` VMs by annealing: the star bound's value is at least what it finds.
 *
 * Both are valid bounds only if their maximum over S is known; what is computed here are values
 * the maximum is at least, which say how far each bound is from useful. Shares of the initial cost.
 */
export interface SetBounds {
  /** Σ initial cost of pairs with a VM in the set, as a share of the initial cost */
  readonly coverageShare: number;
  /** F(set) as a share of the initial cost */
  readonly starShare: number;
}

/** True when c(a, c) ≤ max(c(a, b), c(b, c)) for all hypervisors: for every cost t, "≤ t" is an equivalence. */
export function isUltrametric(x: Indexed): boolean {
  const H = x.hosts.length;
  const levels = [...new Set(x.cost)].sort((a, b) => a - b);
  for (const t of levels) {
    // classes of "reachable through steps ≤ t"; an ultrametric has every pair of a class within t
    const cls = new Int32Array(H).fill(-1);
    for (let a = 0; a < H; a++) {
      if (cls[a]! >= 0) continue;
      cls[a] = a;
      for (let b = a + 1; b < H; b++) if (x.cost[a * H + b]! <= t) cls[b] = a;
    }
    for (let a = 0; a < H; a++) for (let b = a + 1; b < H; b++) if ((cls[a] === cls[b]) !== (x.cost[a * H + b]! <= t)) return false;
  }
  return true;
}

interface Star {
  readonly x: Indexed;
  readonly ultra: boolean;
  readonly allHosts: readonly number[];
}

function starOf(input: BudgetInput): Star {
  const x = index(input);
  return { x, ultra: isUltrametric(x), allHosts: x.hosts.map((_, i) => i) };
}

/** σ_u for u in S (inS marks S) */
function sigma(st: Star, inS: Uint8Array, u: number): number {
  const { x } = st;
  const H = x.hosts.length;
  const peers = x.adj[u]!;
  const home = x.init[u]!;
  const candidates = st.ultra ? peers.filter(([v]) => !inS[v]).map(([v]) => x.init[v]!) : st.allHosts;
  let best = 0;
  for (const h of candidates) {
    let s = 0;
    for (const [v, l] of peers) if (!inS[v]) s += l * (x.cost[home * H + x.init[v]!]! - x.cost[h * H + x.init[v]!]!);
    if (s > best) best = s;
  }
  return best;
}

function weightOf(x: Indexed, u: number, v: number, l: number): number {
  return l * x.cost[x.init[u]! * x.hosts.length + x.init[v]!]!;
}

function setSums(st: Star, inS: Uint8Array): { coverage: number; star: number } {
  const { x } = st;
  let coverage = 0;
  let star = 0;
  for (const e of x.edges) {
    if (inS[e.u] || inS[e.v]) coverage += e.w;
    if (inS[e.u] && inS[e.v]) star += e.w;
  }
  for (let u = 0; u < x.n; u++) if (inS[u]) star += sigma(st, inS, u);
  return { coverage, star };
}

/** Both bounds' values for one set of moved VMs (e.g. the VMs a strategy had moved at half). @throws ScoreError PLACEMENT_INVALID (index) */
export function setBounds(input: BudgetInput, moved: ReadonlySet<string>): SetBounds {
  const st = starOf(input);
  const inS = Uint8Array.from(input.vms, (v) => (moved.has(v) ? 1 : 0));
  const { coverage, star } = setSums(st, inS);
  const share = (c: number): number => (st.x.initialCost === 0 ? 0 : c / st.x.initialCost);
  return { coverageShare: share(coverage), starShare: share(star) };
}

export interface BoundWitnesses {
  /** the oracle is an ultrametric (σ_u then tries the unmoved peers' hosts only) */
  readonly ultrametric: boolean;
  /** the coverage LP relaxation's value when 2·budget ≥ VMs (x = budget/VMs covers every pair), else null */
  readonly coverageLpShare: number | null;
  /** coverage of the greedy set of `budget` VMs (largest uncovered initial cost first): the coverage bound is at least this */
  readonly coverageGreedyShare: number;
  /** F of the best set of `budget` VMs annealing found (started from the greedy set): the star bound is at least this */
  readonly starSearchShare: number;
  readonly starSearchSet: readonly string[];
}

/** @throws ScoreError PLACEMENT_INVALID (index) */
export function boundWitnesses(input: BudgetInput, budget: number, o: { readonly iterations: number; readonly temperature: number; readonly seed: number }): BoundWitnesses {
  const st = starOf(input);
  const { x } = st;
  const n = x.n;
  const k = Math.min(budget, n);
  const share = (c: number): number => (x.initialCost === 0 ? 0 : c / x.initialCost);
  // greedy coverage: the VM whose uncovered pairs carry most, repeatedly
  const gain = new Float64Array(n);
  for (const e of x.edges) {
    gain[e.u]! += e.w;
    gain[e.v]! += e.w;
  }
  const inS = new Uint8Array(n);
  let covered = 0;
  for (let i = 0; i < k; i++) {
    let b = -1;
    for (let u = 0; u < n; u++) if (!inS[u] && (b < 0 || gain[u]! > gain[b]!)) b = u;
    inS[b] = 1;
    covered += gain[b]!;
    for (const [v, l] of x.adj[b]!) if (!inS[v]) gain[v]! -= weightOf(x, b, v, l);
  }
  const coverageGreedyShare = share(covered);
  // annealing on F over sets of k VMs: exchange one in S for one outside (a peer of S most of the time)
  let F = setSums(st, inS).star;
  const inList: number[] = [];
  const outList: number[] = [];
  const pos = new Int32Array(n);
  for (let u = 0; u < n; u++) {
    const list = inS[u] ? inList : outList;
    pos[u] = list.length;
    list.push(u);
  }
  const mark = new Int32Array(n);
  let stamp = 0;
  // the terms of F that involve a or b: σ of them and of their peers in S, and their pairs inside S
  const local = (a: number, b: number): number => {
    stamp += 1;
    let s = 0;
    for (const w of [a, b]) {
      for (const z of [w, ...x.adj[w]!.map(([p]) => p)]) {
        if (mark[z] === stamp) continue;
        mark[z] = stamp;
        if (inS[z]) s += sigma(st, inS, z);
      }
    }
    for (const [p, l] of x.adj[a]!) if (inS[a] && inS[p]) s += weightOf(x, a, p, l);
    for (const [p, l] of x.adj[b]!) if (p !== a && inS[b] && inS[p]) s += weightOf(x, b, p, l);
    return s;
  };
  const rng = seededRng(o.seed);
  const meanCost = n === 0 ? 0 : (2 * x.initialCost) / n;
  let best = F;
  let bestSet = Uint8Array.from(inS);
  for (let it = 0; it < o.iterations && k > 0 && k < n; it++) {
    const temp = o.temperature * meanCost * (1 - it / o.iterations);
    const b = inList[Math.floor(rng() * inList.length)]!;
    let a: number;
    if (rng() < 0.7) {
      const u = inList[Math.floor(rng() * inList.length)]!;
      const peers = x.adj[u]!;
      if (peers.length === 0) continue;
      a = peers[Math.floor(rng() * peers.length)]![0];
      if (inS[a]) continue;
    } else a = outList[Math.floor(rng() * outList.length)]!;
    const before = local(a, b);
    inS[a] = 1;
    inS[b] = 0;
    const delta = local(a, b) - before;
    if (delta >= 0 || (temp > 0 && rng() < Math.exp(delta / temp))) {
      F += delta;
      const pa = pos[a]!;
      const pb = pos[b]!;
      inList[pb] = a;
      pos[a] = pb;
      outList[pa] = b;
      pos[b] = pa;
      if (F > best) {
        best = F;
        bestSet = Uint8Array.from(inS);
      }
    } else {
      inS[a] = 0;
      inS[b] = 1;
    }
  }
  // the running F drifts by rounding; the best set's F is recomputed
  const starSearchShare = share(setSums(st, bestSet).star);
  return {
    ultrametric: st.ultra,
    coverageLpShare: 2 * budget >= n ? (x.initialCost === 0 ? 0 : 1) : null,
    coverageGreedyShare,
    starSearchShare,
    starSearchSet: input.vms.filter((_, i) => bestSet[i]),
  };
}
