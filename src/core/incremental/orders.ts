import { CostHeap, raisePeerBound } from '../policies.ts';
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
 */
export class LoadAwareInc implements IncOrder {
  readonly heap = new CostHeap();
  readonly version: Int32Array;
  private readonly asked: Uint8Array;
  /** pushed in this round (its key is tracked by the heap, not the "asked already" test) */
  private readonly inRound: Uint8Array;
  private readonly touched = new IntList();
  readonly bound: Float64Array;
  readonly exact: Uint8Array;
  /** per VM outside the heap: asks made in the round when it left the heap (0: since the round began) */
  private readonly since: Int32Array;
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
    this.version = new Int32Array(n);
    this.asked = new Uint8Array(n);
    this.inRound = new Uint8Array(n);
    this.bound = new Float64Array(n).fill(NaN);
    this.exact = new Uint8Array(n);
    this.since = new Int32Array(n);
    this.stIdx = new Int32Array(n + 1);
    this.stCost = new Float64Array(n + 1);
    this.stRank = new Float64Array(n + 1);
  }

  begin(explicit: IntList): void {
    for (let i = 0; i < this.touched.length; i++) {
      const u = this.touched.items[i]!;
      this.asked[u] = 0;
      this.inRound[u] = 0;
      this.bound[u] = NaN;
      this.exact[u] = 0;
      this.since[u] = 0;
      this.version[u]! += 1;
    }
    this.touched.clear();
    this.heap.size = 0;
    this.asks = 0;
    this.stTop = 0;
    for (let i = 0; i < explicit.length; i++) this.pushExact(explicit.items[i]!);
  }

  private touch(u: number): void {
    if (this.inRound[u] === 0 && this.asked[u] === 0) this.touched.push(u);
  }

  /** has the from-scratch round asked clean VM u already? (its key now is its key at the round's start) */
  private askedAlready(u: number): boolean {
    // the first stacked ask at or after `since`: the lowest key asked since u left the heap
    const from = this.since[u]!;
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
    const { heap, version, asked } = this;
    while (heap.size > 0) {
      heap.pop();
      const u = heap.topVm;
      if (asked[u] === 1 || version[u] !== heap.topVersion) continue;
      if (this.exact[u] === 0) {
        this.pushExact(u);
        continue;
      }
      asked[u] = 1;
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
    if (this.inRound[q] === 1 || this.asked[q] === 1) return;
    if (this.askedAlready(q)) {
      this.touch(q);
      this.asked[q] = 1;
    }
  }

  moved(u: number, from: number): void {
    const s = this.s;
    const { rows } = s;
    const end = rows.start[u]! + rows.len[u]!;
    for (let e = rows.start[u]!; e < end; e++) {
      const p = rows.adj[e]!;
      if (this.asked[p] === 1) continue;
      const b = this.bound[p]!;
      if (this.inRound[p] === 0 || Number.isNaN(b)) {
        this.pushExact(p);
        continue;
      }
      // the planner's rows are symmetric (checked at construction, kept by updateTraffic): p's
      // rate towards u is u's towards p, read from u's row without a search of p's
      const r = rows.rate[e]!;
      const hp = s.host[p]!;
      const before = r * s.dist(hp, from);
      const after = r * s.dist(hp, s.host[u]!);
      // u as far from p after as before (the same double; at fat-tree(32) p in a third pod): p's
      // C_A is the same sum to the bit and its home/away answer the same (hp is neither end), so
      // its entry stays as it is; marked inexact, it would be popped, priced again at the same key
      // and pushed back, to be popped at the same place among the others (keys and ranks unique)
      if (before === after && r > 0 && after < Infinity) continue;
      if (!raisePeerBound(this, p, p, r, before, after)) this.pushExact(p);
    }
  }

  opened(w: number, h: number): boolean {
    if (this.asked[w] === 1 || this.inRound[w] === 1) return true;
    // the bound holds whatever is full: a VM it sets aside keeps its key and its `since`, and
    // declines in the next round too unless something of it changes (which marks it then)
    if (this.p.surelyDeclines(w)) {
      this.p.declinedNow(w);
      return false;
    }
    if (this.askedAlready(w)) {
      this.touch(w);
      this.asked[w] = 1;
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
    while (this.heap.size > 0) {
      this.heap.pop();
      const u = this.heap.topVm;
      if (this.asked[u] === 0 && this.version[u] === this.heap.topVersion) f(u);
    }
  }

  private pushExact(u: number): void {
    this.touch(u);
    if (this.p.surelyDeclines(u)) {
      // set aside like a clean VM, its key fixed from now until a peer moves; any heap entry is void
      this.inRound[u] = 0;
      this.exact[u] = 0;
      this.bound[u] = NaN;
      this.version[u]! += 1;
      this.since[u] = this.asks;
      this.p.declinedNow(u);
      return;
    }
    this.inRound[u] = 1;
    const v = ++this.version[u]!;
    const sum = this.p.exactCost(u);
    this.bound[u] = this.p.lastSound ? sum : NaN;
    this.exact[u] = 1;
    if (sum > 0) this.heap.push(sum, u, u, v);
  }
}

