import type { TrafficMatrix } from '../core/cost.ts';
import { rackMates } from '../core/nearby.ts';
import type { PathOracle } from '../core/paths.ts';
import type { Topology } from '../core/topology.ts';
import { cmp } from '../core/topology.ts';

/**
 * A lower bound on the least C_A any placement within slot capacity can have (benchmarks and
 * the simulator: the floor under the reference and every strategy). Pure; linear in the flows
 * plus quadratic in the racks.
 *
 * Why it holds. Let t_1 < t_2 < ... be the distinct path costs between hypervisors (t_0 = 0) and
 * Π_l the parts of the graph joining hypervisors whose path cost is below t_l. Two hypervisors
 * in different parts of Π_l are at least t_l apart, so every pair's cost is at least
 * Σ_l (t_l − t_{l−1}) · [its VMs are in different parts of Π_l], and
 *   C_A ≥ Σ_l (t_l − t_{l−1}) · W_l,   W_l = the traffic that crosses parts of Π_l.
 * A part holds at most K_l VMs (its slots; K_l the largest part's), whatever the placement, so
 * two bounds on W_l hold and the larger is taken:
 *  - per VM: at most K_l − 1 of u's peers share its part; the rest of λ(u, ·) crosses, at least
 *    all but u's K_l − 1 heaviest peers (halved: each pair is seen from both ends);
 *  - per connected component C of the traffic graph with more than K_l VMs: it is split among at
 *    least m = ⌈|C| / K_l⌉ parts, and any split into m parts cuts at least m − 1 edges of every
 *    spanning tree of C; for the maximum spanning tree, at least its m − 1 lightest edges.
 * On fat-tree(k) the levels are host (t = 2: K = slots), rack (6: K = k/2 hosts' slots) and pod
 * (12). The bound ignores everything but slots: it is valid, not tight (a placement reaching it
 * would have to co-locate every VM with its heaviest peers at once).
 */
export interface BoundInput {
  readonly topology: Topology;
  readonly oracle: PathOracle;
  readonly vms: readonly string[];
  readonly traffic: TrafficMatrix;
  readonly capacity: ReadonlyMap<string, number>;
}

export interface BoundLevel {
  /** t_l: VMs in different parts of this level are at least this far apart */
  readonly threshold: number;
  /** parts of the level and the slots of the largest one (K_l) */
  readonly parts: number;
  readonly partSlots: number;
  /** W_l's bound, bytes/s, and which argument gave it */
  readonly crossing: number;
  readonly by: 'per-vm' | 'spanning-tree';
}

export interface LowerBound {
  readonly method: 'slot-capacity';
  /** C_A of any placement within capacity is at least this */
  readonly cost: number;
  readonly levels: readonly BoundLevel[];
}

class UnionFind {
  private readonly p: Int32Array;
  constructor(n: number) {
    this.p = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    let r = i;
    while (this.p[r] !== r) r = this.p[r]!;
    while (this.p[i] !== r) {
      const next = this.p[i]!;
      this.p[i] = r;
      i = next;
    }
    return r;
  }
  union(a: number, b: number): boolean {
    const x = this.find(a);
    const y = this.find(b);
    if (x === y) return false;
    this.p[y] = x;
    return true;
  }
}

export function capacityLowerBound(input: BoundInput): LowerBound {
  const { topology, oracle, traffic, capacity } = input;
  // racks (hypervisors on the same switches) are interchangeable towards every other hypervisor,
  // so path costs between racks are read from one hypervisor each
  const mates = rackMates(topology);
  const racks: string[][] = [];
  const seen = new Set<string>();
  for (const h of [...topology.hypervisors].sort(cmp)) {
    if (seen.has(h)) continue;
    const hs = [h, ...(mates.get(h) ?? [])];
    for (const x of hs) seen.add(x);
    racks.push(hs);
  }
  const rackSlots = racks.map((hs) => hs.reduce((s, h) => s + (capacity.get(h) ?? 0), 0));
  const intra = racks.map((hs) => (hs.length > 1 ? oracle.cost(hs[0]!, hs[1]!) : Infinity));
  const between: { i: number; j: number; c: number }[] = [];
  for (let i = 0; i < racks.length; i++) for (let j = i + 1; j < racks.length; j++) between.push({ i, j, c: oracle.cost(racks[i]![0]!, racks[j]![0]!) });
  between.sort((a, b) => a.c - b.c);
  const thresholds = [...new Set([...between.map((b) => b.c), ...intra.filter((c) => Number.isFinite(c))])].filter((c) => c > 0).sort((a, b) => a - b);

  // the traffic graph once: per VM its peers' rates (heaviest first), and per component its size
  // and its maximum spanning tree's edge weights (lightest first)
  const index = new Map(input.vms.map((v, i) => [v, i]));
  const rates: number[][] = input.vms.map(() => []);
  const edges: { a: number; b: number; r: number }[] = [];
  for (const [u, peers] of traffic.peers) {
    const a = index.get(u);
    if (a === undefined) continue;
    for (const [v, r] of peers) {
      const b = index.get(v);
      if (b === undefined || b === a || !(r > 0)) continue;
      rates[a]!.push(r);
      if (a < b) edges.push({ a, b, r });
    }
  }
  for (const list of rates) list.sort((x, y) => y - x);
  edges.sort((x, y) => y.r - x.r);
  const uf = new UnionFind(input.vms.length);
  const treeEdges: number[] = [];
  const treeOf: number[] = [];
  for (const e of edges) {
    if (uf.union(e.a, e.b)) {
      treeEdges.push(e.r);
      treeOf.push(e.a);
    }
  }
  const size = new Map<number, number>();
  for (let i = 0; i < input.vms.length; i++) size.set(uf.find(i), (size.get(uf.find(i)) ?? 0) + 1);
  const trees = new Map<number, number[]>();
  treeEdges.forEach((r, k) => {
    const root = uf.find(treeOf[k]!);
    const list = trees.get(root) ?? [];
    list.push(r);
    trees.set(root, list);
  });
  const treePrefix = new Map<number, Float64Array>();
  for (const [root, list] of trees) {
    list.sort((x, y) => x - y);
    const p = new Float64Array(list.length + 1);
    list.forEach((r, k) => (p[k + 1] = p[k]! + r));
    treePrefix.set(root, p);
  }

  const levels: BoundLevel[] = [];
  let cost = 0;
  let previous = 0;
  for (const t of thresholds) {
    // parts: racks joined when below t; a rack's own hypervisors are one part when their cost
    // is below t or the rack is joined to another (then all of them are, through it)
    const parts = new UnionFind(racks.length);
    const joined = new Uint8Array(racks.length);
    for (const b of between) {
      if (b.c >= t) break;
      parts.union(b.i, b.j);
      joined[b.i] = 1;
      joined[b.j] = 1;
    }
    const slots: number[] = [];
    const partSlots = new Map<number, number>();
    racks.forEach((hs, i) => {
      if (intra[i]! < t || joined[i] === 1) {
        const r = parts.find(i);
        partSlots.set(r, (partSlots.get(r) ?? 0) + rackSlots[i]!);
      } else {
        for (const h of hs) slots.push(capacity.get(h) ?? 0);
      }
    });
    slots.push(...partSlots.values());
    const count = slots.length;
    const k = slots.reduce((m, x) => Math.max(m, x), 0);
    let perVm = 0;
    for (const list of rates) for (let j = Math.max(0, k - 1); j < list.length; j++) perVm += list[j]!;
    perVm /= 2;
    let tree = 0;
    for (const [root, p] of treePrefix) {
      const m = k === 0 ? Infinity : Math.ceil((size.get(root) ?? 0) / k);
      tree += p[Math.min(p.length - 1, Math.max(0, m - 1))]!;
    }
    const crossing = Math.max(perVm, tree);
    levels.push({ threshold: t, parts: count, partSlots: k, crossing, by: tree > perVm ? 'spanning-tree' : 'per-vm' });
    cost += (t - previous) * crossing;
    previous = t;
  }
  return { method: 'slot-capacity', cost, levels };
}
