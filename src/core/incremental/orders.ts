import { CostHeap } from '../policies.ts';
import type { Rows } from './rows.ts';
import { IntList } from './int-list.ts';

/**
 * What the orders read of the planner's state (numbers: VM and hypervisor indices). A VM's rank
 * (the tie-break) is its number: the planner numbers VMs in rank order, so the orders compare
 * numbers instead of loading a rank per VM (an array of 65k doubles read at random).
 */
export interface PlannerView {
  readonly rows: Rows;
  readonly host: Int32Array;
  dist(a: number, b: number): number;
}

/** The planner's tests the orders use (see IncrementalPlanner for each one's contract). */
export interface OrderPlanner {
  view(): PlannerView;
  keySide(u: number, level: number): number;
  exactCost(u: number): number;
  readonly lastSound: boolean;
  surelyDeclines(u: number): boolean;
  staysOff(u: number, h: number): boolean;
  declinedNow(u: number): void;
}

export interface IncOrder {
  /** a new round over these VMs (and whoever becomes dirty during it) */
  begin(explicit: IntList): void;
  next(): number;
  /** u is about to move (its peers still see it where it was) */
  beforeMove(u: number): void;
  moved(u: number, from: number): void;
  /**
   * w has a new candidate host h (h stopped being full); false when w is sure to decline h on
   * these inputs and so need not be asked in the next round either (nothing of it changed)
   */
  opened(w: number, h: number): boolean;
  /** every VM still waiting in this round */
  drain(f: (u: number) => void): void;
}

/**
 * Round-Robin over the dirty VMs: by rank, and a VM that becomes dirty after its turn waits for
 * the next round (the from-scratch round asked it already).
 */
export class RoundRobinInc implements IncOrder {
  private readonly heap = new CostHeap();
  private readonly queued: Uint8Array;
  private readonly done: Uint8Array;
  private readonly doneList = new IntList();
  private at = -Infinity;
  private readonly rows: Rows;
  constructor(p: OrderPlanner, n: number) {
    const v = p.view();
    this.rows = v.rows;
    this.queued = new Uint8Array(n);
    this.done = new Uint8Array(n);
  }
  begin(explicit: IntList): void {
    for (let i = 0; i < this.doneList.length; i++) this.done[this.doneList.items[i]!] = 0;
    this.doneList.clear();
    this.at = -Infinity;
    for (let i = 0; i < explicit.length; i++) this.push(explicit.items[i]!);
  }
  private push(u: number): void {
    if (this.queued[u] === 1 || this.done[u] === 1 || u <= this.at) return;
    this.queued[u] = 1;
    // the heap pops the highest cost first: key on −rank so the lowest rank comes first
    this.heap.push(-u, u, u, 0);
  }
  next(): number {
    if (this.heap.size === 0) return -1;
    this.heap.pop();
    const u = this.heap.topVm;
    this.queued[u] = 0;
    this.done[u] = 1;
    this.doneList.push(u);
    this.at = u;
    return u;
  }
  beforeMove(): void {}
  moved(u: number): void {
    // peers later in the order are asked with u where it is now
    const { start, len, adj } = this.rows;
    for (let i = start[u]!; i < start[u]! + len[u]!; i++) this.push(adj[i]!);
  }
  opened(w: number): boolean {
    this.push(w);
    return true;
  }
  drain(f: (u: number) => void): void {
    while (this.heap.size > 0) {
      this.heap.pop();
      this.queued[this.heap.topVm] = 0;
      f(this.heap.topVm);
    }
  }
}

/**
 * Load-Aware over the dirty VMs, with the lazy upper bounds of policies.ts's LoadAwareOrder (so
 * a VM is asked on its exact cost, in the eager rule's order), plus the "asked already" test for
 * VMs outside the heap. Keys compare as (cost desc, rank asc). A VM outside the heap (clean, or
 * set aside by the home/away bound) would decline and keeps its key from the moment it left
 * (`since`: the number of asks then; 0 for a clean VM) until a peer moves; the from-scratch round
 * has asked it iff some ask since then had a key at or below its own. Between two migrations the
 * asks' keys only fall, and every migration is an ask of the heap, so at the points where the test
 * runs (before a move, after a move) the lowest key asked since `since` over the heap's asks is
 * the lowest over all of the from-scratch round's asks. The asks are kept as a suffix-minimum
 * stack (indices and keys rising), answered by binary search.
 *
 * Layout: a VM's order state (bound, version, since, flags) is one record of four int32s in
 * `st` (16 bytes, four VMs to a 64-byte line; the bound is the record's first double, read through
 * `bd`), so the first touch of a VM in a round is one cache line instead of one per array (six
 * parallel arrays before, 19 bytes a VM). The bound is raised by `raise`,
 * policies.ts's `raisePeerBound` on this record (that function stays with runPolicy's order
 * alone, so its call site keeps one receiver shape), and the heap is the order's own `VmHeap`.
 */
export class LoadAwareInc implements IncOrder {
  readonly heap = new VmHeap();
  /**
   * per VM u at 4u: the upper bound on its key (a double over 4u and 4u + 1, read as bd[2u];
   * NaN: none), the version of its live heap entry (4u + 2), and at 4u + 3 `since` (outside the
   * heap: asks made in the round when it left the heap; 0: since the round began) shifted above
   * the flags (ASKED, IN_ROUND: pushed in this round, its key tracked by the heap and not by the
   * "asked already" test; EXACT: its live entry's key is exact)
   */
  private readonly st: Int32Array;
  /** `st`'s memory as doubles: u's bound is bd[2u] (st[4u], st[4u + 1]) */
  private readonly bd: Float64Array;
  private readonly touched = new IntList();
  /** asks made in this round */
  private asks = 0;
  /** suffix minima of the asks' keys: ask index, cost, rank; bottom to top indices and keys rise */
  private readonly stIdx: Int32Array;
  private readonly stCost: Float64Array;
  private readonly stRank: Float64Array;
  private stTop = 0;
  private readonly s: PlannerView;

  constructor(
    private readonly p: OrderPlanner,
    n: number,
  ) {
    this.s = p.view();
    // `since` counts a round's asks (at most one per VM) in the 29 bits above the flags
    if (n >= 2 ** 28) throw new RangeError(`LoadAwareInc: ${n} VMs, at most 2^28 - 1`);
    this.bd = new Float64Array(2 * n);
    this.st = new Int32Array(this.bd.buffer);
    for (let u = 0; u < n; u++) this.bd[2 * u] = NaN;
    this.stIdx = new Int32Array(n + 1);
    this.stCost = new Float64Array(n + 1);
    this.stRank = new Float64Array(n + 1);
  }

  begin(explicit: IntList): void {
    const st = this.st;
    for (let i = 0; i < this.touched.length; i++) {
      const o = 4 * this.touched.items[i]!;
      this.bd[o >> 1] = NaN;
      st[o + VERSION]! += 1;
      st[o + FLAGS] = 0;
    }
    this.touched.clear();
    this.heap.size = 0;
    this.asks = 0;
    this.stTop = 0;
    for (let i = 0; i < explicit.length; i++) this.pushExact(explicit.items[i]!);
  }

  /** has the from-scratch round asked clean VM u already? (its key now is its key at the round's start) */
  private askedAlready(u: number): boolean {
    // the first stacked ask at or after `since`: the lowest key asked since u left the heap
    const from = this.st[4 * u + FLAGS]! >>> SINCE_SHIFT;
    let lo = 0;
    let hi = this.stTop;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.stIdx[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.stTop) return false;
    // most VMs outside the round are far above or below the lowest key asked: no path cost needed
    const side = this.p.keySide(u, this.stCost[lo]!);
    if (side !== 0) return side > 0;
    const c = this.p.exactCost(u);
    if (!(c > 0)) return false;
    const minCost = this.stCost[lo]!;
    return c > minCost || (c === minCost && u < this.stRank[lo]!);
  }

  next(): number {
    const { heap, st } = this;
    while (heap.size > 0) {
      heap.pop();
      const u = heap.topVm;
      const o = 4 * u;
      const f = st[o + FLAGS]!;
      if ((f & ASKED) !== 0 || st[o + VERSION] !== heap.topVersion) continue;
      if ((f & EXACT) === 0) {
        this.pushExact(u);
        continue;
      }
      st[o + FLAGS] = f | ASKED;
      const c = heap.topCost;
      const r = u;
      // drop stacked asks whose key is not below this one: this ask is lower and later
      while (this.stTop > 0 && (this.stCost[this.stTop - 1]! > c || (this.stCost[this.stTop - 1] === c && this.stRank[this.stTop - 1]! <= r))) this.stTop -= 1;
      this.stIdx[this.stTop] = this.asks;
      this.stCost[this.stTop] = c;
      this.stRank[this.stTop] = r;
      this.stTop += 1;
      this.asks += 1;
      return u;
    }
    return -1;
  }

  beforeMove(u: number): void {
    // peers outside the round are judged on their key before u moves (their key at the round's start)
    const { start, len, adj } = this.s.rows;
    for (let i = start[u]!; i < start[u]! + len[u]!; i++) this.settle(adj[i]!);
  }

  /** a clean VM the round has not reached: mark it asked if the from-scratch round has asked it */
  private settle(q: number): void {
    const o = 4 * q;
    if ((this.st[o + FLAGS]! & (IN_ROUND | ASKED)) !== 0) return;
    if (this.askedAlready(q)) {
      // neither in the round nor asked: not listed in `touched` yet
      this.touched.push(q);
      this.st[o + FLAGS]! |= ASKED;
    }
  }

  moved(u: number, from: number): void {
    const s = this.s;
    const { rows } = s;
    const st = this.st;
    const end = rows.start[u]! + rows.len[u]!;
    for (let e = rows.start[u]!; e < end; e++) {
      const p = rows.adj[e]!;
      const f = st[4 * p + FLAGS]!;
      if ((f & ASKED) !== 0) continue;
      const b = this.bd[2 * p]!;
      if ((f & IN_ROUND) === 0 || b !== b) {
        this.pushExact(p);
        continue;
      }
      // the planner's rows are symmetric (checked at construction, kept by updateTraffic): p's
      // rate towards u is u's towards p, read from u's row without a search of p's
      const r = rows.rate[e]!;
      const hp = s.host[p]!;
      if (!this.raise(p, r, r * s.dist(hp, from), r * s.dist(hp, s.host[u]!))) this.pushExact(p);
    }
  }

  /**
   * policies.ts's `raisePeerBound` on this order's record (the same arithmetic, so the same
   * bounds and heap keys): p's term went from `before` to `after` (rate r); false when the terms
   * give no usable bound and p's key must be recomputed exactly
   */
  private raise(p: number, r: number, before: number, after: number): boolean {
    if (!(r > 0 && before >= 0 && after >= 0 && after < Infinity)) return false;
    const st = this.st;
    const o = 4 * p;
    const b = this.bd[o >> 1]!;
    if (after <= before) {
      if (b > 0) st[o + FLAGS] = st[o + FLAGS]! & ~EXACT;
      return true;
    }
    const nb = (b + (after - before)) * (1 + 1e-9);
    this.bd[o >> 1] = nb;
    st[o + FLAGS] = st[o + FLAGS]! & ~EXACT;
    const v = (st[o + VERSION]! + 1) | 0;
    st[o + VERSION] = v;
    this.heap.push(nb, p, v);
    return true;
  }

  opened(w: number, h: number): boolean {
    const o = 4 * w;
    if ((this.st[o + FLAGS]! & (ASKED | IN_ROUND)) !== 0) return true;
    // the bound holds whatever is full: a VM it sets aside keeps its key and its `since`, and
    // declines in the next round too unless something of it changes (which marks it then)
    if (this.p.surelyDeclines(w)) {
      this.p.declinedNow(w);
      return false;
    }
    if (this.askedAlready(w)) {
      this.touched.push(w);
      this.st[o + FLAGS]! |= ASKED;
      return true;
    }
    if (!this.p.staysOff(w, h)) {
      this.pushExact(w);
      return true;
    }
    // w is clean (outside the round, not asked) but for h's slot, so it declined every other
    // candidate on these same inputs; declining h too, it stays clean: its key and `since` unchanged,
    // it would decline when the round reaches it, and in the next round too unless something of it
    // changes, which marks it then (a peer's move, a change to its row, another host opening)
    return false;
  }

  drain(f: (u: number) => void): void {
    const st = this.st;
    while (this.heap.size > 0) {
      this.heap.pop();
      const u = this.heap.topVm;
      if ((st[4 * u + FLAGS]! & ASKED) === 0 && st[4 * u + VERSION] === this.heap.topVersion) f(u);
    }
  }

  private pushExact(u: number): void {
    const st = this.st;
    const o = 4 * u;
    const f = st[o + FLAGS]!;
    // first touch in this round (neither pushed nor asked): listed for `begin` to reset
    if ((f & (IN_ROUND | ASKED)) === 0) this.touched.push(u);
    const v = (st[o + VERSION]! + 1) | 0;
    st[o + VERSION] = v;
    if (this.p.surelyDeclines(u)) {
      // set aside like a clean VM, its key fixed from now until a peer moves; any heap entry is void
      st[o + FLAGS] = (this.asks << SINCE_SHIFT) | (f & ASKED);
      this.bd[o >> 1] = NaN;
      this.p.declinedNow(u);
      return;
    }
    const sum = this.p.exactCost(u);
    this.bd[o >> 1] = this.p.lastSound ? sum : NaN;
    st[o + FLAGS] = f | IN_ROUND | EXACT;
    if (sum > 0) this.heap.push(sum, u, v);
  }
}

/** offsets in LoadAwareInc's per-VM record of four int32s (0 and 1: the bound, as `bd`'s double) */
const VERSION = 2;
/** `since` above the flags: since << SINCE_SHIFT | flags */
const FLAGS = 3;
const SINCE_SHIFT = 3;
/** LoadAwareInc's flags */
const ASKED = 1;
const IN_ROUND = 2;
const EXACT = 4;

/**
 * LoadAwareInc's heap: entries (cost, VM, version), the highest cost first and among equal costs
 * the lowest VM number (its rank: the planner numbers VMs in rank order), so no rank array.
 * 4-ary: half the levels of a binary heap, and a node's four children are adjacent in memory, so
 * a pop's sift-down touches fewer cache lines. Entries with equal (cost, VM) are one VM's stale and
 * live entries, which the order tells apart by version whatever order they pop in.
 */
export class VmHeap {
  size = 0;
  topCost = 0;
  topVm = 0;
  topVersion = 0;
  private cost = new Float64Array(1024);
  private vm = new Int32Array(1024);
  private ver = new Float64Array(1024);

  push(cost: number, vm: number, version: number): void {
    if (this.size === this.cost.length) this.grow();
    const c = this.cost;
    const r = this.vm;
    const w = this.ver;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pc = c[p]!;
      if (!(cost > pc || (cost === pc && vm < r[p]!))) break;
      c[i] = pc;
      r[i] = r[p]!;
      w[i] = w[p]!;
      i = p;
    }
    c[i] = cost;
    r[i] = vm;
    w[i] = version;
  }

  /** removes the top entry into topCost, topVm, topVersion; size must be > 0 */
  pop(): void {
    const c = this.cost;
    const r = this.vm;
    const w = this.ver;
    this.topCost = c[0]!;
    this.topVm = r[0]!;
    this.topVersion = w[0]!;
    const n = --this.size;
    if (n === 0) return;
    const lc = c[n]!;
    const lr = r[n]!;
    const lw = w[n]!;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      // the best of up to four children
      let ch = first;
      let cc = c[first]!;
      let cr = r[first]!;
      const last = first + 3 < n ? first + 3 : n - 1;
      for (let j = first + 1; j <= last; j++) {
        const jc = c[j]!;
        if (jc > cc || (jc === cc && r[j]! < cr)) {
          ch = j;
          cc = jc;
          cr = r[j]!;
        }
      }
      if (!(cc > lc || (cc === lc && cr < lr))) break;
      c[i] = cc;
      r[i] = cr;
      w[i] = w[ch]!;
      i = ch;
    }
    c[i] = lc;
    r[i] = lr;
    w[i] = lw;
  }

  private grow(): void {
    const m = this.cost.length * 2;
    const cost = new Float64Array(m);
    cost.set(this.cost);
    this.cost = cost;
    const vm = new Int32Array(m);
    vm.set(this.vm);
    this.vm = vm;
    const ver = new Float64Array(m);
    ver.set(this.ver);
    this.ver = ver;
  }
}
