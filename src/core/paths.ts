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
  /**
   * Optional fast access for planners that keep hypervisors by number: `index(name)` is a
   * number for a node the fast path answers (-1 otherwise) and `cost(ia, ib)` gives exactly
   * `cost(a, b)` for two such numbers (same arithmetic, same NO_PATH error), without the
   * string lookups that dominate a decision's time at scale.
   */
  readonly indexed?: IndexedCost;
  /**
   * true when cost is known to obey the triangle inequality between hypervisors,
   * cost(a, c) <= cost(a, b) + cost(b, c): least-weight paths where hypervisors may be transit
   * nodes, or where every hypervisor hangs off one switch by one link (a path a..b..c then
   * passes b's switch, and a..switch..c is a path without b). Planners use it for bounds that
   * are exact only on a metric (incremental.ts); absent means unknown.
   */
  readonly metric?: boolean;
}

export interface IndexedCost {
  index(name: string): number;
  cost(ia: number, ib: number): number;
  /**
   * Optional: the whole table behind `cost`, for planners that sum many costs, or undefined when
   * it would hold more than `maxCells` numbers. For ia != ib (both from `index`), with lo the
   * smaller and hi the larger, cost(ia, ib) is `rows[group[lo] * cols + col[hi]] + up[hi]`, the
   * same arithmetic; Infinity there means no path (`cost` throws NO_PATH). The first call
   * computes every row (one search per group). The arrays are the oracle's: read only.
   */
  table?(maxCells: number): CostTable | undefined;
}

export interface CostTable {
  readonly group: Int32Array;
  readonly col: Int32Array;
  readonly up: Float64Array;
  readonly rows: Float64Array;
  readonly cols: number;
}

export interface PathOptions {
  /** let paths cross hypervisors (for networks where hosts hang off every switch, e.g. a linear chain) */
  readonly hypervisorTransit?: boolean;
  /**
   * `auto` (default) answers pairs of single-homed hypervisors from trees rooted at their
   * attachment switches and everything else with one tree per source node; `general` always uses
   * the latter (the reference the fast answers are tested against, and a benchmark baseline).
   */
  readonly algorithm?: 'auto' | 'general';
  /** bytes of predecessor trees the fast path keeps for path(); evicted trees are recomputed (default 64 MiB) */
  readonly pathCacheBytes?: number;
}

/** Compact adjacency (CSR) so the searches allocate nothing per edge. */
interface Graph {
  readonly start: Int32Array;
  readonly nbr: Int32Array;
  readonly nbrLink: Int32Array;
  readonly nbrW: Float64Array;
}

interface Tree {
  readonly dist: Float64Array;
  readonly predLink: Int32Array;
  readonly pred: Int32Array;
}

export function createPathOracle(topo: Topology, weights: ReadonlyMap<string, number>, options: PathOptions = {}): PathOracle {
  const ids = [...topo.nodes.keys()].sort(cmp);
  const index = new Map<string, number>(ids.map((id, i) => [id, i]));
  const n = ids.length;
  const isHv = new Uint8Array(n);
  for (const h of topo.hypervisors) isHv[index.get(h) as number] = 1;
  const links = topo.links;
  const linkIndex = new Map<string, number>(links.map((l, i) => [l.id, i]));
  const usable = links.filter((l) => weights.has(l.id));
  const start = new Int32Array(n + 1);
  for (const l of usable) {
    start[(index.get(l.a) as number) + 1]! += 1;
    start[(index.get(l.b) as number) + 1]! += 1;
  }
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const nbr = new Int32Array(start[n]!);
  const nbrLink = new Int32Array(start[n]!);
  const nbrW = new Float64Array(start[n]!);
  const fill = start.slice(0, n);
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
  const graph: Graph = { start, nbr, nbrLink, nbrW };
  const transit = options.hypervisorTransit === true;
  let singleHomed = true;
  for (let i = 0; i < n && singleHomed; i++) if (isHv[i] === 1) singleHomed = start[i + 1]! - start[i]! === 1 && isHv[nbr[start[i]!]!] === 0;
  const metric = transit || singleHomed;
  const general = generalOracle(ids, index, links, graph, transit ? new Uint8Array(n) : isHv);
  if (transit || options.algorithm === 'general') return { ...general, metric };
  return { ...attachmentOracle(ids, index, links, graph, isHv, general, options.pathCacheBytes ?? 64 * 2 ** 20), metric };
}

/** One least-weight tree per source node, kept for the oracle's lifetime. */
function generalOracle(ids: readonly string[], index: ReadonlyMap<string, number>, links: readonly TopoLink[], g: Graph, noTransit: Uint8Array): PathOracle {
  const n = ids.length;
  const trees = new Map<number, Tree>();
  const heap = new MinHeap(g.nbr.length + 1);

  function search(src: number): Tree {
    const dist = new Float64Array(n).fill(Infinity);
    const pred = new Int32Array(n).fill(-1);
    const predLink = new Int32Array(n).fill(-1);
    const done = new Uint8Array(n);
    dist[src] = 0;
    dijkstra(g, src, dist, pred, predLink, done, noTransit, heap);
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

  function resolve(a: string, b: string): number {
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia === undefined || ib === undefined) {
      throw new ScoreError('NO_PATH', `unknown node ${ia === undefined ? a : b}`, { a, b });
    }
    // lower index in the high half, higher in the low half: one number, no tuple per call
    return ia < ib ? ia * n + ib : ib * n + ia;
  }

  return {
    cost(a, b) {
      if (a === b) return 0;
      const pair = resolve(a, b);
      const d = tree(Math.floor(pair / n)).dist[pair % n]!;
      if (d === Infinity) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      return d;
    },
    path(a, b) {
      if (a === b) return [];
      const pair = resolve(a, b);
      const lo = Math.floor(pair / n);
      const hi = pair % n;
      const t = tree(lo);
      if (t.dist[hi] === Infinity) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      const out: TopoLink[] = [];
      for (let v = hi; v !== lo; v = t.pred[v]!) out.push(links[t.predLink[v]!]!);
      // out runs hi -> lo; the caller asked for a -> b
      return ids[lo] === a ? out.reverse() : out;
    },
  };
}

/**
 * Single-homed hypervisors never route, so every path between two of them is
 * a -> up(a) -> (switches only) -> up(b) -> b, and the general tree rooted at a restricted to
 * switches is exactly the tree rooted at up(a) started at distance w(a, up(a)): the same
 * floating-point sums in the same order, hence the same distances, the same ties and the same
 * smallest-id predecessors. So one search per (attachment switch, uplink weight) replaces one per
 * hypervisor, it runs over switches only, and what it leaves behind is small: a distance row over
 * attachment switches (kept) and a predecessor tree over switches (cached, recomputed if evicted).
 * Pairs with anything else (a switch, a multi-homed or unattached hypervisor) go to `general`.
 */
function attachmentOracle(
  ids: readonly string[],
  index: ReadonlyMap<string, number>,
  links: readonly TopoLink[],
  g: Graph,
  isHv: Uint8Array,
  general: PathOracle,
  cacheBytes: number,
): PathOracle {
  const n = ids.length;
  // Switch subgraph, renumbered in id order so "smaller index" still means "smaller id", and
  // with each switch's neighbours in the same order as in the full graph (parallel links tie the
  // same way).
  const swOf = new Int32Array(n).fill(-1);
  const swNode: number[] = [];
  for (let i = 0; i < n; i++) {
    if (isHv[i] === 0) {
      swOf[i] = swNode.length;
      swNode.push(i);
    }
  }
  const ns = swNode.length;
  const sStart = new Int32Array(ns + 1);
  for (let s = 0; s < ns; s++) {
    const u = swNode[s]!;
    let deg = 0;
    for (let e = g.start[u]!; e < g.start[u + 1]!; e++) if (isHv[g.nbr[e]!] === 0) deg++;
    sStart[s + 1] = sStart[s]! + deg;
  }
  const sNbr = new Int32Array(sStart[ns]!);
  const sLink = new Int32Array(sStart[ns]!);
  const sW = new Float64Array(sStart[ns]!);
  for (let s = 0, k = 0; s < ns; s++) {
    const u = swNode[s]!;
    for (let e = g.start[u]!; e < g.start[u + 1]!; e++) {
      const v = g.nbr[e]!;
      if (isHv[v] !== 0) continue;
      sNbr[k] = swOf[v]!;
      sLink[k] = g.nbrLink[e]!;
      sW[k++] = g.nbrW[e]!;
    }
  }
  const sg: Graph = { start: sStart, nbr: sNbr, nbrLink: sLink, nbrW: sW };

  // Per single-homed hypervisor (by node index): its group (attachment switch + uplink weight),
  // its attachment switch's column in the distance rows, its uplink weight and link.
  const hvGroup = new Int32Array(n).fill(-1);
  const hvCol = new Int32Array(n).fill(-1);
  const hvUpW = new Float64Array(n);
  const hvUpLink = new Int32Array(n).fill(-1);
  const colOfSw = new Int32Array(ns).fill(-1);
  const groupKey = new Map<string, number>();
  const groupSw: number[] = [];
  const groupW: number[] = [];
  let cols = 0;
  for (let i = 0; i < n; i++) {
    if (isHv[i] === 0 || g.start[i + 1]! - g.start[i]! !== 1) continue;
    const e = g.start[i]!;
    const up = g.nbr[e]!;
    if (isHv[up] !== 0) continue;
    const s = swOf[up]!;
    const w = g.nbrW[e]!;
    if (colOfSw[s] === -1) colOfSw[s] = cols++;
    const key = `${s}:${w}`;
    let grp = groupKey.get(key);
    if (grp === undefined) {
      grp = groupSw.length;
      groupKey.set(key, grp);
      groupSw.push(s);
      groupW.push(w);
    }
    hvGroup[i] = grp;
    hvCol[i] = colOfSw[s]!;
    hvUpW[i] = w;
    hvUpLink[i] = g.nbrLink[e]!;
  }
  const colSw = new Int32Array(cols);
  for (let s = 0; s < ns; s++) if (colOfSw[s]! >= 0) colSw[colOfSw[s]!] = s;

  const rows: (Float64Array | undefined)[] = new Array<Float64Array | undefined>(groupSw.length);
  const trees = new Map<number, { pred: Int32Array; predLink: Int32Array }>();
  const maxTrees = Math.max(1, Math.floor(cacheBytes / Math.max(1, 8 * ns)));
  const heap = new MinHeap(sNbr.length + 1);
  const dist = new Float64Array(ns);
  const done = new Uint8Array(ns);
  const noHv = new Uint8Array(ns);

  function search(grp: number): { pred: Int32Array; predLink: Int32Array } {
    dist.fill(Infinity);
    done.fill(0);
    const pred = new Int32Array(ns).fill(-1);
    const predLink = new Int32Array(ns).fill(-1);
    const src = groupSw[grp]!;
    dist[src] = groupW[grp]!;
    dijkstra(sg, src, dist, pred, predLink, done, noHv, heap);
    if (rows[grp] === undefined) {
      const row = new Float64Array(cols);
      for (let c = 0; c < cols; c++) row[c] = dist[colSw[c]!]!;
      rows[grp] = row;
    }
    if (trees.size >= maxTrees) trees.delete(trees.keys().next().value as number);
    const t = { pred, predLink };
    trees.set(grp, t);
    return t;
  }

  function row(grp: number): Float64Array {
    const r = rows[grp];
    if (r !== undefined) return r;
    search(grp);
    return rows[grp]!;
  }

  // Callers ask for one source against many destinations in a row (C_A(u) sums over u's peers
  // from one host), so the source's lookup is remembered.
  let lastA = '';
  let lastIa: number | undefined = undefined;
  let flat: CostTable | undefined;
  const indexed: IndexedCost = {
    index(name) {
      const i = index.get(name);
      return i === undefined || hvGroup[i]! < 0 ? -1 : i;
    },
    cost(ia, ib) {
      if (ia === ib) return 0;
      const lo = ia < ib ? ia : ib;
      const hi = ia < ib ? ib : ia;
      const d = row(hvGroup[lo]!)[hvCol[hi]!]! + hvUpW[hi]!;
      if (d === Infinity) throw new ScoreError('NO_PATH', `no path between ${ids[ia]!} and ${ids[ib]!}`, { a: ids[ia]!, b: ids[ib]! });
      return d;
    },
    table(maxCells) {
      if (groupSw.length * cols > maxCells) return undefined;
      if (flat === undefined) {
        const all = new Float64Array(groupSw.length * cols);
        for (let grp = 0; grp < groupSw.length; grp++) all.set(row(grp), grp * cols);
        flat = { group: hvGroup, col: hvCol, up: hvUpW, rows: all, cols };
      }
      return flat;
    },
  };
  return {
    indexed,
    cost(a, b) {
      if (a === b) return 0;
      let ia: number | undefined;
      if (a === lastA) ia = lastIa;
      else {
        ia = index.get(a);
        lastA = a;
        lastIa = ia;
      }
      const ib = index.get(b);
      if (ia === undefined || ib === undefined || hvGroup[ia]! < 0 || hvGroup[ib]! < 0) return general.cost(a, b);
      const lo = ia < ib ? ia : ib;
      const hi = ia < ib ? ib : ia;
      const d = row(hvGroup[lo]!)[hvCol[hi]!]! + hvUpW[hi]!;
      if (d === Infinity) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      return d;
    },
    path(a, b) {
      if (a === b) return [];
      const ia = index.get(a);
      const ib = index.get(b);
      if (ia === undefined || ib === undefined || hvGroup[ia]! < 0 || hvGroup[ib]! < 0) return general.path(a, b);
      const lo = ia < ib ? ia : ib;
      const hi = ia < ib ? ib : ia;
      const grp = hvGroup[lo]!;
      if (row(grp)[hvCol[hi]!] === Infinity) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      const t = trees.get(grp) ?? search(grp);
      const out: TopoLink[] = [links[hvUpLink[hi]!]!];
      const root = groupSw[grp]!;
      for (let v = colSw[hvCol[hi]!]!; v !== root; v = t.pred[v]!) out.push(links[t.predLink[v]!]!);
      out.push(links[hvUpLink[lo]!]!);
      // out runs hi -> lo; the caller asked for a -> b
      return lo === ia ? out.reverse() : out;
    },
  };
}

/**
 * Dijkstra from `src` (dist[src] already set), keeping for each node the smallest-index
 * predecessor among those giving its least distance. Nodes flagged in `noTransit` are reached
 * but not expanded (except the source).
 */
function dijkstra(
  g: Graph,
  src: number,
  dist: Float64Array,
  pred: Int32Array,
  predLink: Int32Array,
  done: Uint8Array,
  noTransit: Uint8Array,
  heap: MinHeap,
): void {
  const { start, nbr, nbrW, nbrLink } = g;
  heap.clear();
  heap.push(dist[src]!, src);
  while (heap.size > 0) {
    const u = heap.pop();
    if (done[u]) continue;
    done[u] = 1;
    if (u !== src && noTransit[u]) continue;
    const du = dist[u]!;
    for (let e = start[u]!, end = start[u + 1]!; e < end; e++) {
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
}

/**
 * Binary min-heap of (key, value) on parallel typed arrays. Lazy deletion pushes at most once per
 * relaxation, so the number of half-edges plus one bounds its size.
 */
class MinHeap {
  private readonly keys: Float64Array;
  private readonly vals: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.vals = new Int32Array(capacity);
  }
  clear(): void {
    this.size = 0;
  }
  push(key: number, val: number): void {
    const k = this.keys;
    const v = this.vals;
    let i = this.size++;
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
    const n = --this.size;
    const lastK = k[n]!;
    const lastV = v[n]!;
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
