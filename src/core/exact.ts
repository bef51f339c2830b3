import type { PathOracle } from './paths.ts';
import type { Placement, TrafficMatrix } from './cost.ts';
import { totalCost } from './cost.ts';
import type { ResourceSpec } from './rails.ts';
import { withinResources } from './rails.ts';

/**
 * The exact minimum of C_A (Eq. 2) over every placement that respects capacity, by branch and
 * bound, for small instances (about a dozen VMs on up to sixteen hypervisors). Migration cost is
 * ignored: this is the floor no policy can go below, whatever it pays to get there.
 *
 * VMs are placed one by one, heaviest talker first. A node's lower bound is the cost of the pairs
 * already both placed, plus, for every VM not yet placed, the cheapest it could be to its placed
 * peers on any hypervisor that still has room (pairs of unplaced VMs count 0). Both parts only grow
 * as the search goes deeper, so pruning at bound ≥ best is safe, and exhausting the tree proves
 * the optimum. Hypervisors that are twins (same path cost to every other hypervisor, same limits)
 * and hold no placed VM yet are interchangeable, so only the first of them is tried.
 */
export interface OptimalInput {
  readonly vms: readonly string[];
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  /** slots per hypervisor; the hypervisors listed are the ones VMs may use */
  readonly capacity: ReadonlyMap<string, number>;
  readonly resources?: ResourceSpec;
  /** a placement to beat (typically the initial one); used only if it respects capacity */
  readonly incumbent?: Placement;
  /** give up after this many search nodes (the result is then not proven); default 20 million */
  readonly maxNodes?: number;
}

export interface OptimalResult {
  /** C_A of `placement` (as totalCost computes it) */
  readonly cost: number;
  readonly placement: ReadonlyMap<string, string>;
  /** search nodes (partial placements) visited */
  readonly explored: number;
  /** true when the search ran to the end: `cost` is the optimum */
  readonly proven: boolean;
}

export function solveOptimal(input: OptimalInput): OptimalResult {
  const { traffic, oracle, capacity } = input;
  const maxNodes = input.maxNodes ?? 20_000_000;
  const hosts = [...capacity.keys()].filter((h) => (capacity.get(h) ?? 0) > 0);
  const nh = hosts.length;
  const volume = (vm: string): number => {
    let s = 0;
    for (const r of traffic.peers.get(vm)?.values() ?? []) s += r;
    return s;
  };
  const index0 = new Map(input.vms.map((vm, i) => [vm, i]));
  const order = [...input.vms].sort((a, b) => volume(b) - volume(a) || index0.get(a)! - index0.get(b)!);
  const nv = order.length;
  const pos = new Map(order.map((vm, i) => [vm, i]));

  const dist = new Float64Array(nh * nh);
  for (let a = 0; a < nh; a++) for (let b = 0; b < nh; b++) dist[a * nh + b] = a === b ? 0 : oracle.cost(hosts[a]!, hosts[b]!);
  const nbr: { j: number; rate: number }[][] = order.map((vm) => {
    const out: { j: number; rate: number }[] = [];
    for (const [peer, rate] of traffic.peers.get(vm) ?? []) {
      const j = pos.get(peer);
      if (j !== undefined && rate > 0) out.push({ j, rate });
    }
    return out;
  });

  // limits per host and demands per VM in search order
  const slots = Int32Array.from(hosts, (h) => capacity.get(h) ?? 0);
  const spec = input.resources;
  const cpuCap = Float64Array.from(hosts, (h) => spec?.hosts.get(h)?.cpu ?? Infinity);
  const memCap = Float64Array.from(hosts, (h) => spec?.hosts.get(h)?.memoryBytes ?? Infinity);
  const slotCap2 = Float64Array.from(hosts, (h) => spec?.hosts.get(h)?.slots ?? Infinity);
  for (let h = 0; h < nh; h++) slots[h] = Math.min(slots[h]!, slotCap2[h]!);
  const cpuNeed = Float64Array.from(order, (vm) => spec?.demand.get(vm)?.cpu ?? 0);
  const memNeed = Float64Array.from(order, (vm) => spec?.demand.get(vm)?.memoryBytes ?? 0);

  // twin classes: a host's class is the first host it is interchangeable with
  const twinOf = new Int32Array(nh);
  for (let a = 0; a < nh; a++) {
    twinOf[a] = a;
    for (let b = 0; b < a; b++) {
      if (twinOf[b] !== b || slots[a] !== slots[b] || cpuCap[a] !== cpuCap[b] || memCap[a] !== memCap[b]) continue;
      let same = true;
      for (let g = 0; g < nh && same; g++) if (g !== a && g !== b && dist[a * nh + g] !== dist[b * nh + g]) same = false;
      if (same) {
        twinOf[a] = b;
        break;
      }
    }
  }

  const used = new Int32Array(nh);
  const cpuUsed = new Float64Array(nh);
  const memUsed = new Float64Array(nh);
  const at = new Int32Array(nv).fill(-1);
  // partial[k * nh + h]: C_A between VM k on h and its placed peers
  const partial = new Float64Array(nv * nh);
  const fits = (k: number, h: number): boolean => used[h]! < slots[h]! && cpuUsed[h]! + cpuNeed[k]! <= cpuCap[h]! + 1e-9 && memUsed[h]! + memNeed[k]! <= memCap[h]!;

  let best = Infinity;
  let bestAt: Int32Array | null = null;
  const inc = input.incumbent;
  if (inc !== undefined && order.every((vm) => hosts.includes(inc.get(vm) ?? '')) && feasible(inc)) {
    best = totalCost(restrict(inc, order), traffic, oracle);
    bestAt = Int32Array.from(order, (vm) => hosts.indexOf(inc.get(vm)!));
  }

  function feasible(p: Placement): boolean {
    const count = new Map<string, number>();
    for (const vm of order) count.set(p.get(vm)!, (count.get(p.get(vm)!) ?? 0) + 1);
    for (const [h, n] of count) if (n > (capacity.get(h) ?? 0)) return false;
    return spec === undefined || withinResources(spec, restrict(p, order));
  }

  let explored = 0;
  let aborted = false;
  // a placement must beat the best by more than rounding noise to replace it
  const tol = (x: number): number => (x === Infinity ? x : x - 1e-9 * Math.max(1, Math.abs(x)));
  const candBuf: Int32Array[] = order.map(() => new Int32Array(nh));
  const keyBuf: Float64Array[] = order.map(() => new Float64Array(nh));

  function bound(depth: number, cost: number): number {
    let lb = cost;
    for (let k = depth; k < nv; k++) {
      let m = Infinity;
      for (let h = 0; h < nh; h++) if (partial[k * nh + h]! < m && fits(k, h)) m = partial[k * nh + h]!;
      if (m === Infinity) return Infinity; // k has nowhere to go
      lb += m;
    }
    return lb;
  }

  function place(k: number, h: number, sign: 1 | -1): void {
    used[h]! += sign;
    cpuUsed[h]! += sign * cpuNeed[k]!;
    memUsed[h]! += sign * memNeed[k]!;
    for (const { j, rate } of nbr[k]!) {
      if (j <= k) continue; // only VMs placed later read partial
      const row = j * nh;
      for (let g = 0; g < nh; g++) partial[row + g]! += sign * rate * dist[g * nh + h]!;
    }
  }

  function search(depth: number, cost: number): void {
    if (aborted) return;
    if (depth === nv) {
      if (cost < tol(best)) {
        best = cost;
        bestAt = at.slice();
      }
      return;
    }
    // candidate hosts for VM `depth`, cheapest first; one per twin class among empty hosts
    const cands = candBuf[depth]!;
    const keys = keyBuf[depth]!;
    let n = 0;
    for (let h = 0; h < nh; h++) {
      if (!fits(depth, h)) continue;
      if (used[h] === 0 && twinOf[h] !== h) {
        // a twin earlier in the class that is also empty stands for this one
        let covered = false;
        for (let g = twinOf[h]!; g < h; g++) if (twinOf[g] === twinOf[h] && used[g] === 0 && fits(depth, g)) covered = true;
        if (covered) continue;
      }
      keys[h] = partial[depth * nh + h]!;
      let i = n++;
      while (i > 0 && keys[cands[i - 1]!]! > keys[h]!) {
        cands[i] = cands[i - 1]!;
        i--;
      }
      cands[i] = h;
    }
    for (let i = 0; i < n; i++) {
      const h = cands[i]!;
      const c = cost + keys[h]!;
      if (c >= tol(best)) break; // sorted: the rest cost at least as much
      explored += 1;
      if (explored > maxNodes) {
        aborted = true;
        return;
      }
      at[depth] = h;
      place(depth, h, 1);
      if (bound(depth + 1, c) < tol(best)) search(depth + 1, c);
      place(depth, h, -1);
      at[depth] = -1;
      if (aborted) return;
    }
  }

  search(0, 0);
  const final = bestAt;
  if (final === null) throw new RangeError('no placement of these VMs respects capacity');
  const placement = new Map<string, string>();
  for (const vm of input.vms) placement.set(vm, hosts[final[pos.get(vm)!]!]!);
  return { cost: totalCost(placement, traffic, oracle), placement, explored, proven: !aborted };
}

function restrict(p: Placement, vms: readonly string[]): Map<string, string> {
  return new Map(vms.map((vm) => [vm, p.get(vm)!]));
}
