import type { Candidate, Decision, DecisionMode } from '../decision.ts';
import { decideAmong, type DecisionView, type Flow } from '../decision.ts';
import type { MigrationCostFn } from '../migration-cost.ts';
import type { Step } from '../policies.ts';

/** int32s per move in `mi` (u, from, to, peer count, flows' start and count, candidates' start and count, round) */
const MI = 9;
/** doubles per move in `mf` (C_A before, after, c_m, the placement's C_A after the move: NaN until applied) */
const MF = 4;

/**
 * What each move's decision saw, kept in flat arrays so its record is built by `decideAmong` (the
 * code every other planner uses) when first read and not per move, and a move costs no objects
 * (its step and record shell are made from the log when a caller first reads the plan's steps:
 * made per move, they and their boxed doubles were about 10% of a warm epoch's CPU at
 * fat-tree(32), in the collector's copying as much as in the making): per move, u, its host, the
 * target, the peer count, C_A before and after, c_m, its round and the total after it; its flows with cost > 0 in `decideAmong`'s order (peer, host, cost); and per
 * distinct candidate host in that order, C_A there (NaN: full, or not evaluated in `first` mode
 * after the choice) and its c_m. `decideAmong` asks `full` and `costAt` only of the hosts
 * `choose` looked at, in the same order, so the record is the one a decision on the spot would
 * have made. A copy, not a view: later plans and traffic changes do not alter it.
 */
export class MoveLog {
  /** per move (MI apart): u, from, to, peer count, start of its flows and of its candidates in the arrays below, flows, candidates, round */
  private mi: Int32Array;
  /** per move (MF apart): C_A before, after, c_m, the total after it */
  private mf: Float64Array;
  private fi: Int32Array;
  private ff: Float64Array;
  private ci: Int32Array;
  private cf: Float64Array;
  private nMoves = 0;
  private nFlows = 0;
  private nCands = 0;
  private made: (Decision | undefined)[] = [];

  constructor(
    readonly names: readonly string[],
    private readonly hvNames: readonly string[],
    private readonly rank: Float64Array,
    /** c_m when it is a number; null when it was a function of the move */
    private readonly cmFixed: number | null,
    readonly mode: DecisionMode,
    /** moves to make room for at first (the arrays grow by doubling past it; growing copies them) */
    expectMoves = 1024,
    /**
     * flows and candidates to make room for at first (default 4 a move; a move at fat-tree(32)
     * logs about 6 flows, so the flow arrays grew twice a plan: about 1.5% of an epoch's CPU)
     */
    expectFlows = 4 * expectMoves,
    expectCands = 4 * expectMoves,
  ) {
    const m = Math.max(16, expectMoves);
    const f = Math.max(16, expectFlows);
    const c = Math.max(16, expectCands);
    this.mi = new Int32Array(MI * m);
    this.mf = new Float64Array(MF * m);
    this.fi = new Int32Array(2 * f);
    this.ff = new Float64Array(f);
    this.ci = new Int32Array(c);
    this.cf = new Float64Array(2 * c);
  }

  /** moves logged so far */
  get moveCount(): number {
    return this.nMoves;
  }

  /** flows logged so far (all moves) */
  get flowCount(): number {
    return this.nFlows;
  }

  /** candidates logged so far (all moves) */
  get candidateCount(): number {
    return this.nCands;
  }

  add(round: number, u: number, from: number, to: number, peerCount: number, costBefore: number, costAfter: number, cm: number, fPeer: Int32Array, fHost: Int32Array, fCost: Float64Array, fOrder: Int32Array, nf: number, cHost: Int32Array, cCost: Float64Array, cCm: Float64Array, nc: number): number {
    const k = this.nMoves++;
    if (MI * this.nMoves > this.mi.length) {
      this.mi = grownI(this.mi, MI * this.nMoves);
      this.mf = grownF(this.mf, MF * this.nMoves);
    }
    if (2 * (this.nFlows + nf) > this.fi.length) {
      this.fi = grownI(this.fi, 2 * (this.nFlows + nf));
      this.ff = grownF(this.ff, this.nFlows + nf);
    }
    if (this.nCands + nc > this.ci.length) {
      this.ci = grownI(this.ci, this.nCands + nc);
      this.cf = grownF(this.cf, 2 * (this.nCands + nc));
    }
    const { mi, mf, fi, ff, ci, cf } = this;
    const m = MI * k;
    mi[m] = u;
    mi[m + 1] = from;
    mi[m + 2] = to;
    mi[m + 3] = peerCount;
    mi[m + 4] = this.nFlows;
    mi[m + 5] = nf;
    mi[m + 6] = this.nCands;
    mi[m + 7] = nc;
    mi[m + 8] = round;
    mf[MF * k] = costBefore;
    mf[MF * k + 1] = costAfter;
    mf[MF * k + 2] = cm;
    mf[MF * k + 3] = NaN;
    for (let f = 0; f < nf; f++) {
      const o = fOrder[f]!;
      fi[2 * this.nFlows] = fPeer[o]!;
      fi[2 * this.nFlows + 1] = fHost[o]!;
      ff[this.nFlows] = fCost[o]!;
      this.nFlows += 1;
    }
    for (let c = 0; c < nc; c++) {
      ci[this.nCands] = cHost[c]!;
      cf[2 * this.nCands] = cCost[c]!;
      cf[2 * this.nCands + 1] = cCm[c]!;
      this.nCands += 1;
    }
    return k;
  }

  vm(k: number): string {
    return this.names[this.mi[MI * k]!]!;
  }
  from(k: number): string {
    return this.hvNames[this.mi[MI * k + 1]!]!;
  }
  target(k: number): number {
    return this.mi[MI * k + 2]!;
  }
  costBefore(k: number): number {
    return this.mf[MF * k]!;
  }
  costAfter(k: number): number {
    return this.mf[MF * k + 1]!;
  }
  migrationCost(k: number): number {
    return this.mf[MF * k + 2]!;
  }
  to(k: number): string {
    return this.hvNames[this.mi[MI * k + 2]!]!;
  }
  /** the round decision k was made in */
  round(k: number): number {
    return this.mi[MI * k + 8]!;
  }

  /** move k was applied and left the placement's C_A at `total` (the step's `totalAfter`) */
  applied(k: number, total: number): void {
    this.mf[MF * k + 3] = total;
  }

  /**
   * The records of the first `count` moves, all applied (`applied`), as `runPolicy`'s steps: the
   * step number, round, decision (a `LazyDecision`) and the totals, `totalBefore` the previous
   * step's `totalAfter` (the same double: the plan kept one running total) and `initialTotal` for
   * the first. Built when a caller first reads a plan's steps: a plan builds no object per move.
   */
  steps(count: number, initialTotal: number): Step[] {
    const out: Step[] = [];
    let before = initialTotal;
    for (let k = 0; k < count; k++) {
      const after = this.mf[MF * k + 3]!;
      out.push({ step: k + 1, round: this.mi[MI * k + 8]!, decision: new LazyDecision(this, k, undefined), totalBefore: before, totalAfter: after });
      before = after;
    }
    return out;
  }

  decision(k: number): Decision {
    const done = this.made[k];
    if (done !== undefined) return done;
    const { mi, fi, ff, ci, cf, hvNames } = this;
    const peerCount = mi[MI * k + 3]!;
    const f0 = mi[MI * k + 4]!;
    const nf = mi[MI * k + 5]!;
    const c0 = mi[MI * k + 6]!;
    const nc = mi[MI * k + 7]!;
    const flows: Flow<number>[] = [];
    for (let f = f0; f < f0 + nf; f++) flows.push({ peer: this.names[fi[2 * f]!]!, host: fi[2 * f + 1]!, cost: ff[f]!, rank: this.rank[fi[2 * f]!]! });
    const at = (h: number): number => {
      for (let c = c0; c < c0 + nc; c++) if (ci[c] === h) return c;
      throw new Error(`move log: host ${h} was not a candidate`);
    };
    const view: DecisionView<number> = { name: (h) => hvNames[h]!, full: (h) => Number.isNaN(cf[2 * at(h)]!), costAt: (h) => cf[2 * at(h)]! };
    const migrationCost: number | MigrationCostFn =
      this.cmFixed ??
      ((_vm, _from, to) => {
        for (let c = c0; c < c0 + nc; c++) if (hvNames[ci[c]!] === to) return cf[2 * c + 1]!;
        throw new Error(`move log: ${to} was not a candidate`);
      });
    const d = decideAmong(this.vm(k), this.from(k), this.costBefore(k), flows, peerCount, view, { migrationCost, mode: this.mode });
    this.made[k] = d;
    return d;
  }
}

function grownI(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

function grownF(a: Float64Array, need: number): Float64Array {
  const b = new Float64Array(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/**
 * Own enumerable getters for a move's record, the same two descriptors for every `LazyDecision`
 * (a literal's getters cost two closures and a slow-path object each; one `defineProperty` per
 * getter is about twice as fast as `defineProperties`).
 */
const CANDIDATES_GETTER: PropertyDescriptor = {
  get(this: LazyDecision): readonly Candidate[] {
    return this.built().candidates;
  },
  enumerable: true,
};
const REASON_GETTER: PropertyDescriptor = {
  get(this: LazyDecision): string {
    return this.built().reason;
  },
  enumerable: true,
};

/**
 * A move's decision: the numbers now, `candidates` and `reason` built from the move log when first
 * read. They are own enumerable properties, as on a plain record (spread, JSON and deep equality
 * see the same keys in the same order as runPolicy's records); `round` only when given (the steps'
 * records have none).
 */
export class LazyDecision implements Decision {
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly costBefore: number;
  readonly costAfter: number;
  readonly migrationCost: number;
  readonly mode: DecisionMode;
  declare readonly candidates: readonly Candidate[];
  declare readonly reason: string;
  declare readonly round?: number;
  readonly #log: MoveLog;
  readonly #k: number;
  constructor(log: MoveLog, k: number, round: number | undefined) {
    this.vm = log.vm(k);
    this.from = log.from(k);
    this.to = log.to(k);
    this.costBefore = log.costBefore(k);
    this.costAfter = log.costAfter(k);
    this.migrationCost = log.migrationCost(k);
    this.mode = log.mode;
    this.#log = log;
    this.#k = k;
    Object.defineProperty(this, 'candidates', CANDIDATES_GETTER);
    Object.defineProperty(this, 'reason', REASON_GETTER);
    if (round !== undefined) (this as { round?: number }).round = round;
  }
  built(): Decision {
    return this.#log.decision(this.#k);
  }
}
