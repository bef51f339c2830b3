import { ScoreError } from '../errors/errors.ts';
import type { Topology, TopoLink } from './topology.ts';
import { cmp } from './topology.ts';

/**
 * Least-weight paths between hypervisors. Among equal-weight paths the choice is deterministic:
 * each node keeps the predecessor with the smallest id. Paths are canonical per unordered pair
 * (computed from the lower id and reversed for the other direction), so both directions of a
 * conversation use the same links and cost(a, b) === cost(b, a).
 * Hypervisors other than the endpoints are never transit nodes: a server does not route.
 */
export interface PathOracle {
  /** sum of link weights on the chosen path; 0 for a == b */
  cost(a: string, b: string): number;
  /** the links from a to b in order; [] for a == b */
  path(a: string, b: string): readonly TopoLink[];
}

interface Tree {
  readonly dist: Float64Array;
  readonly predLink: Int32Array;
  readonly pred: Int32Array;
}

export interface PathOptions {
  /** let paths cross hypervisors (for networks where hosts hang off every switch, e.g. a linear chain) */
  readonly hypervisorTransit?: boolean;
}

export function createPathOracle(topo: Topology, weights: ReadonlyMap<string, number>, options: PathOptions = {}): PathOracle {
  const ids = [...topo.nodes.keys()].sort(cmp);
  const index = new Map<string, number>(ids.map((id, i) => [id, i]));
  const isHv = new Uint8Array(ids.length);
  if (options.hypervisorTransit !== true) for (const h of topo.hypervisors) isHv[index.get(h) as number] = 1;
  const links = topo.links;
  const linkIndex = new Map<string, number>(links.map((l, i) => [l.id, i]));
  // Compact adjacency (CSR) so the search allocates nothing per edge.
  const start = new Int32Array(ids.length + 1);
  const usable = links.filter((l) => weights.has(l.id));
  for (const l of usable) {
    start[(index.get(l.a) as number) + 1]! += 1;
    start[(index.get(l.b) as number) + 1]! += 1;
  }
  for (let i = 0; i < ids.length; i++) start[i + 1]! += start[i]!;
  const nbr = new Int32Array(start[ids.length]!);
  const nbrLink = new Int32Array(start[ids.length]!);
  const nbrW = new Float64Array(start[ids.length]!);
  const fill = start.slice(0, ids.length);
  for (const l of usable) {
    const w = weights.get(l.id) as number;
    if (!(w > 0) || !Number.isFinite(w)) {
      throw new ScoreError('TOPOLOGY_INVALID', `link ${l.id} has weight ${w}; weights must be positive`, { link: l.id });
    }
    const a = index.get(l.a) as number;
    const b = index.get(l.b) as number;
    const li = linkIndex.get(l.id) as number;
    nbr[fill[a]!] = b;
    nbrLink[fill[a]!] = li;
    nbrW[fill[a]!++] = w;
    nbr[fill[b]!] = a;
    nbrLink[fill[b]!] = li;
    nbrW[fill[b]!++] = w;
  }

  const trees = new Map<number, Tree>();

  function search(src: number): Tree {
    const n = ids.length;
    const dist = new Float64Array(n).fill(Infinity);
    const pred = new Int32Array(n).fill(-1);
    const predLink = new Int32Array(n).fill(-1);
    const done = new Uint8Array(n);
    dist[src] = 0;
    const heap = new MinHeap();
    heap.push(0, src);
    while (heap.size > 0) {
      const u = heap.pop();
      if (done[u]) continue;
      done[u] = 1;
      if (u !== src && isHv[u]) continue;
      const du = dist[u]!;
      for (let e = start[u]!; e < start[u + 1]!; e++) {
        const v = nbr[e]!;
        const nd = du + nbrW[e]!;
        const dv = dist[v]!;
        if (nd < dv) {
          dist[v] = nd;
          pred[v] = u;
          predLink[v] = nbrLink[e]!;
          heap.push(nd, v);
        } else if (nd === dv && u < pred[v]!) {
          pred[v] = u;
          predLink[v] = nbrLink[e]!;
        }
      }
    }
    return { dist, pred, predLink };
  }

  function tree(src: number): Tree {
    let t = trees.get(src);
    if (t === undefined) {
      t = search(src);
      trees.set(src, t);
    }
    return t;
  }

  function resolve(a: string, b: string): [number, number] {
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia === undefined || ib === undefined) {
      throw new ScoreError('NO_PATH', `unknown node ${ia === undefined ? a : b}`, { a, b });
    }
    return ia < ib ? [ia, ib] : [ib, ia];
  }

  return {
    cost(a, b) {
      if (a === b) return 0;
      const [lo, hi] = resolve(a, b);
      const d = tree(lo).dist[hi]!;
      if (d === Infinity) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      return d;
    },
    path(a, b) {
      if (a === b) return [];
      const [lo, hi] = resolve(a, b);
      const t = tree(lo);
      if (t.dist[hi] === Infinity) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      const out: TopoLink[] = [];
      for (let v = hi; v !== lo; v = t.pred[v]!) out.push(links[t.predLink[v]!]!);
      // out runs hi -> lo; the caller asked for a -> b
      return ids[lo] === a ? out.reverse() : out;
    },
  };
}

/** Binary min-heap of (key, value) on parallel arrays, for the search above. */
class MinHeap {
  private keys: number[] = [];
  private vals: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  push(key: number, val: number): void {
    const k = this.keys;
    const v = this.vals;
    let i = k.length;
    k.push(key);
    v.push(val);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (k[p]! < key || (k[p] === key && v[p]! <= val)) break;
      k[i] = k[p]!;
      v[i] = v[p]!;
      i = p;
    }
    k[i] = key;
    v[i] = val;
  }
  pop(): number {
    const k = this.keys;
    const v = this.vals;
    const top = v[0]!;
    const lastK = k.pop()!;
    const lastV = v.pop()!;
    const n = k.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (k[r]! < k[l]! || (k[r] === k[l] && v[r]! < v[l]!))) c = r;
        if (k[c]! > lastK || (k[c] === lastK && v[c]! >= lastV)) break;
        k[i] = k[c]!;
        v[i] = v[c]!;
        i = c;
      }
      k[i] = lastK;
      v[i] = lastV;
    }
    return top;
  }
}
