import type { Placement, TrafficMatrix } from '../cost.ts';
import { worthMigrating } from '../cost.ts';
import type { Decision, DecisionMode } from '../decision.ts';
import type { MigrationCostFn } from '../migration-cost.ts';
import type { IndexedCost, PathOracle } from '../paths.ts';
import type { PolicyRun, Step } from '../policies.ts';
import { ScoreError } from '../../errors/errors.ts';
import { Rows } from './rows.ts';
import { IntList } from './int-list.ts';
import { LazyDecision, MoveLog } from './move-log.ts';
import { PlacementView } from './placement-view.ts';
import { classCosts } from './class-costs.ts';
import { LoadAwareInc, RoundRobinInc, type PlannerView } from './orders.ts';

/**
 * Incremental re-planning for continuous orchestration (issue #12): a planner whose state (VMs'
 * traffic rows, hosts, loads) persists between planning periods and is updated by what changed,
 * so a period costs work in proportion to the change, not to the data centre.
 *
 * Exactness. After a run that converged, every VM would decline if asked again (a round with no
 * move). A VM's decision (Algorithm 1) depends only on its own traffic row, its peers' hosts,
 * whether those hosts are full, and c_m of the moves; so until one of those changes it declines
 * again, and a round need not ask it. `plan` asks, in each round, exactly the VMs whose inputs may
 * have changed ("dirty": endpoints of changed pairs, movers, peers of movers, VMs with a peer on
 * a hypervisor that stopped being full), and places them in the order the from-scratch round
 * would ask them:
 *  - Load-Aware asks in decreasing (C_A(u), rank) order; a VM that is not dirty has a fixed key
 *    during the round, so the from-scratch round has already asked it (and it declined) exactly
 *    when its key is above the lowest key asked so far. A VM that becomes dirty mid-round is
 *    therefore pushed only when its key is below that; otherwise, like one asked already, it
 *    waits for the next round.
 *  - Round-Robin asks by rank, so a VM that becomes dirty mid-round is asked later in the round
 *    when its rank is above the current one, else next round.
 * A dirty VM whose peers on its own host carry at least as much traffic as all its other peers
 * surely declines (`surelyDeclines`: on a metric, a move to h brings each other peer at most
 * cost(x, h) closer and takes each home peer exactly cost(x, h) away, so it saves at most
 * cost(x, h)·(R_away − R_home) ≤ 0 ≤ c_m). Such a VM is treated like a clean one: not asked, its
 * key fixed until a peer moves, and "asked already" judged on the lowest key asked since it was
 * set aside (a suffix minimum over the round's asks; see LoadAwareInc). The bound needs no path
 * cost, so a VM set aside costs O(degree) instead of a key, a heap entry and an ask.
 * So `plan` makes exactly the migrations `runPolicy` makes over every VM on the same traffic and
 * placement (same VMs, hosts, rounds, C_A before/after); `incremental.test.ts` checks that on
 * random instances, with integer and non-integer rates. "Same traffic" is the same rows in the
 * same order (the planner's rows keep a Map's order: a changed pair stays in place, a new one is
 * appended): each C_A is summed in row order as runPolicy sums it, so the sums agree to the bit;
 * a matrix holding the same pairs in another order gives runPolicy itself sums that differ in
 * the last bits when the rates are not integers. What differs: `decisions` holds only the moves
 * (and the one decision the migration limit refused), not every VM's decision as
 * `PolicyRun.decisions` does for runPolicy, and the totals are kept up to date by differences
 * (equal to a from-scratch sum up to rounding).
 * Between plans, a VM stays marked only if something of it may have changed after it last
 * declined (asked, or set aside by the bound): movers, peers of a mover that the round had asked
 * before the move (`declinedNow`), VMs a freed slot was offered to after the round asked them,
 * the VMs still waiting when the migration limit stopped the plan (and the one it refused), and
 * Load-Aware's VMs with C_A = 0 marked in a round without the bound (never asked: one extra
 * round at most). All of these are safe over-marking.
 *
 * Limits: the Load-Aware and Round-Robin policies, VMs with distinct ranks, slots only (no
 * CPU/memory resources, no rails: the continuous orchestrator applies its own), a fixed set of VMs
 * and hypervisors (checked), and c_m: a plan whose c_m differs from the last plan's (another
 * number, or another function object) asks every VM; a caller whose pricing function changes its
 * answers for some VMs while staying the same object names them with `markDirty`.
 */
export interface PairRate {
  readonly a: string;
  readonly b: string;
  /** λ(a, b), both directions added, bytes/s; 0 removes the pair */
  readonly rate: number;
}

export interface IncrementalInput {
  /** every VM, in rank order (the tie-break: lower first) */
  readonly vms: readonly string[];
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  readonly capacity: ReadonlyMap<string, number>;
}

export interface PlanOptions {
  readonly policy: 'load-aware' | 'round-robin';
  readonly migrationCost: number | MigrationCostFn;
  readonly mode?: DecisionMode;
  readonly maxRounds?: number;
  readonly maxMigrations?: number;
  /**
   * c_m as a function is >= 0 for every move (the pre-copy model's prices are). Lets a function
   * c_m use the home/away bound; a fixed c_m uses it when >= 0. Default false.
   */
  readonly migrationCostNonNegative?: boolean;
}

export class IncrementalPlanner {
  readonly names: readonly string[];
  private readonly id = new Map<string, number>();
  private readonly hvNames: string[] = [];
  private readonly hvId = new Map<string, number>();
  /** per VM: peers and rates in the order a Map-based traffic matrix would hold them */
  readonly rows: Rows;
  private readonly host: Int32Array;
  /** per VM: its rank, which is its number (VMs are numbered in rank order); the move log reads it for the records */
  private readonly rank: Float64Array;
  private load: Float64Array;
  private cap: Float64Array;
  /**
   * per hypervisor h: the VMs on it (unordered), onHv[hvStart[h] ..+ hvLen[h]), room for hvRoom[h]
   * (one flat array: a list per hypervisor was an object and a backing store apart, two misses
   * for a move's bookkeeping). A list that outgrows its room moves to the end with twice the room,
   * as a row of `Rows` does, so the space given out (`hvUsed`) stays under twice the lists' room
   * however skewed (the array itself, grown by doubling, up to about three times: review, 7 December).
   */
  private onHv: Int32Array;
  private readonly hvStart: Int32Array;
  private readonly hvLen: Int32Array;
  private readonly hvRoom: Int32Array;
  private hvUsed = 0;
  private readonly oracle: PathOracle;
  private readonly fast: IndexedCost | undefined;
  /** per hypervisor: its number in `fast`, or -1 */
  private oi: Int32Array;
  /**
   * `fast`'s whole cost table when it has one (see IndexedCost.table), and per hypervisor with
   * oi >= 0 its row offset, column and uplink weight there: a cost is then two loads from small
   * per-planner arrays and one from the table, the same arithmetic as `fast.cost`
   */
  private readonly tab: Float64Array | undefined;
  private readonly tRow: Int32Array;
  private readonly tCol: Int32Array;
  private readonly tUp: Float64Array;
  /**
   * the same costs by attachment class (classCosts' arrays, as fields of their own: `distIn`'s sum
   * over a row reads the one end's class row once) when every hypervisor is in the table and they
   * allow it; all empty otherwise
   */
  private readonly ccRow: Int32Array = new Int32Array(0);
  private readonly ccCol: Int32Array = new Int32Array(0);
  private readonly ccCode: Uint8Array = new Uint8Array(0);
  private readonly ccPalette: Float64Array = new Float64Array(0);
  /**
   * VMs to ask in the next plan's first round: `dirty[u]` is 1 for each; `dirtyList` holds each of
   * them at least once, and may hold VMs unmarked since (see `declinedNow`), skipped when taken
   */
  private dirty: Uint8Array;
  private readonly dirtyList = new IntList();
  /** the VMs a round starts from (the marked ones, taken from `dirtyList`) */
  private readonly explicit = new IntList();
  private nDirty = 0;
  /**
   * set at the end of the constructor; a double from the start (NaN, not 0): a field first
   * stored as a small integer and then as a double changes representation, which deprecated the
   * object's map and every map after it (35) once per process, and the constructor's optimised
   * code compiled on the old maps then deoptimised ("wrong map") in the next construction
   */
  private total = NaN;
  /**
   * per VM: C_A(u) as `exactCost` last summed it, NaN when u's row, u's host or a peer's host has
   * changed since (so a hit is bit-identical to summing again)
   */
  private readonly keyMemo: Float64Array;
  /**
   * per VM: whether R_home >= R_away (1), not (0), or unknown (-1); forgotten when u's row or
   * u's host changes, or a peer moves from or to u's host (a peer moving between two other
   * hypervisors was away and stays away: the same terms in the same order on each side)
   */
  private readonly homeMemo: Int8Array;
  /** per VM: R_away (rates of peers on other hypervisors) when `homeMemo` >= 0 and the rates are finite, else NaN */
  private readonly awayMemo: Float64Array;
  /**
   * the least and the largest cost between two different hypervisors when every hypervisor is in
   * the cost table and every pair has a path (else NaN): dLo·R_away <= C_A(u) <= dHi·R_away
   */
  readonly dLo: number = NaN;
  readonly dHi: number = NaN;
  /**
   * every term of every C_A sum is >= 0 (dLo > 0 bounds every path cost, and every rate is finite
   * and >= 0: the constructor checks the rows, `updateTraffic` admits no other rate), so a partial
   * sum never exceeds the whole (see `costAtUnlessWorse`)
   */
  private readonly termsNonNegative: boolean = false;
  /** whether the home/away bound holds in the current plan (metric oracle, c_m >= 0) */
  private boundOk = false;
  /**
   * distinct VMs the home/away bound found to surely decline in the current plan (set aside, or
   * declined unpriced when asked), each counted once however often the bound answered for it
   */
  private readonly boundSeen: Uint8Array;
  private readonly boundList = new IntList();
  /** the running plan's c_m (for `staysOff`) */
  private cmFnNow: MigrationCostFn | null = null;
  private cmFixedNow = 0;
  private rrOrder: RoundRobinInc | undefined;
  private laOrder: LoadAwareInc | undefined;

  constructor(input: IncrementalInput) {
    this.oracle = input.oracle;
    this.fast = input.oracle.indexed;
    const names: string[] = [];
    const add = (vm: string): number => {
      let i = this.id.get(vm);
      if (i === undefined) {
        i = names.length;
        this.id.set(vm, i);
        names.push(vm);
      }
      return i;
    };
    for (const vm of input.vms) add(vm);
    const n = names.length;
    for (const [vm, h] of input.placement) if (this.id.has(vm)) this.hv(h);
    for (const h of input.capacity.keys()) this.hv(h);
    this.names = names;
    this.rank = new Float64Array(n);
    for (let u = 0; u < n; u++) this.rank[u] = u;
    this.host = new Int32Array(n).fill(-1);
    for (let u = 0; u < n; u++) {
      const h = input.placement.get(names[u]!);
      if (h === undefined) throw new ScoreError('WORKLOAD_INVALID', `VM ${names[u]!} has no placement`, { vm: names[u]! });
      this.host[u] = this.hvId.get(h)!;
    }
    const hn = this.hvNames.length;
    this.load = new Float64Array(hn);
    this.cap = new Float64Array(hn);
    // room for the VMs each hypervisor holds, at least 16 (fat-tree(32)'s slots: with 16 slots or
    // fewer, a host filled to its slots by moves never moves its list)
    this.hvStart = new Int32Array(hn);
    this.hvLen = new Int32Array(hn);
    this.hvRoom = new Int32Array(hn);
    for (let u = 0; u < n; u++) this.hvRoom[this.host[u]!]! += 1;
    for (let h = 0; h < hn; h++) {
      this.hvRoom[h] = Math.max(16, this.hvRoom[h]!);
      this.hvStart[h] = this.hvUsed;
      this.hvUsed += this.hvRoom[h]!;
    }
    this.onHv = new Int32Array(this.hvUsed + (this.hvUsed >> 2) + 16);
    this.oi = new Int32Array(hn);
    this.pricedIn = new Float64Array(hn);
    for (let h = 0; h < hn; h++) {
      this.cap[h] = input.capacity.get(this.hvNames[h]!) ?? 0;
      this.oi[h] = this.fast?.index(this.hvNames[h]!) ?? -1;
    }
    // at most 2^22 cells (32 MiB): fat-tree(32)'s is 512 x 512
    const table = this.fast?.table?.(1 << 22);
    this.tab = table?.rows;
    this.tRow = new Int32Array(hn);
    this.tCol = new Int32Array(hn);
    this.tUp = new Float64Array(hn);
    if (table !== undefined) {
      let all = true;
      let upLo = Infinity;
      let upHi = -Infinity;
      for (let h = 0; h < hn; h++) {
        const f = this.oi[h]!;
        if (f < 0) {
          all = false;
          continue;
        }
        this.tRow[h] = table.group[f]! * table.cols;
        this.tCol[h] = table.col[f]!;
        this.tUp[h] = table.up[f]!;
        upLo = Math.min(upLo, table.up[f]!);
        upHi = Math.max(upHi, table.up[f]!);
      }
      // every cost is a cell plus an uplink weight, so the extremes of both bound it
      let cLo = Infinity;
      let cHi = -Infinity;
      for (const c of table.rows) {
        cLo = Math.min(cLo, c);
        cHi = Math.max(cHi, c);
      }
      if (all && hn > 1 && cHi < Infinity && cLo + upLo > 0) {
        this.dLo = cLo + upLo;
        this.dHi = cHi + upHi;
      }
      const cc = all ? classCosts(this.tRow, this.tCol, this.tUp, table.rows) : undefined;
      if (cc !== undefined) {
        this.ccRow = cc.rowOf;
        this.ccCol = cc.colOf;
        this.ccCode = cc.code;
        this.ccPalette = cc.palette;
      }
    }
    for (let u = 0; u < n; u++) {
      this.load[this.host[u]!]! += 1;
      this.hvPush(this.host[u]!, u);
    }
    const degree = new Int32Array(n);
    for (const [u, row] of input.traffic.peers) degree[this.vmId(u)] = row.size;
    this.rows = new Rows(degree);
    let ratesSound = true;
    for (const [u, row] of input.traffic.peers) {
      const ui = this.vmId(u);
      for (const [v, r] of row) {
        if (!(r >= 0 && r < Infinity)) ratesSound = false;
        this.rows.append(ui, this.vmId(v), r);
      }
    }
    this.termsNonNegative = ratesSound && this.dLo > 0;
    // λ(a, b) is one rate for both directions in a traffic matrix; `updateTraffic` keeps it so
    let symmetric = true;
    for (let u = 0; u < n && symmetric; u++) {
      const end = this.rows.start[u]! + this.rows.len[u]!;
      for (let i = this.rows.start[u]!; i < end && symmetric; i++) {
        const j = this.rows.indexOf(this.rows.adj[i]!, u);
        symmetric = j >= 0 && Object.is(this.rows.rate[j], this.rows.rate[i]);
      }
    }
    // a traffic matrix is symmetric (cost.ts): one-sided rows would leave VMs whose rows name a
    // mover unasked, and the plan would differ from runPolicy's without a word
    if (!symmetric) throw new ScoreError('WORKLOAD_INVALID', 'the traffic matrix is not symmetric: each pair needs one rate in both rows (trafficMatrix builds such)');
    this.dirty = new Uint8Array(n);
    this.boundSeen = new Uint8Array(n);
    this.keyMemo = new Float64Array(n).fill(NaN);
    this.homeMemo = new Int8Array(n).fill(-1);
    this.awayMemo = new Float64Array(n).fill(NaN);
    for (let u = 0; u < n; u++) this.markDirtyIndex(u);
    this.total = this.totalCost();
  }

  private hv(name: string): number {
    let i = this.hvId.get(name);
    if (i === undefined) {
      i = this.hvNames.length;
      this.hvId.set(name, i);
      this.hvNames.push(name);
    }
    return i;
  }

  private vmId(name: string): number {
    const i = this.id.get(name);
    if (i === undefined) throw new ScoreError('WORKLOAD_INVALID', `traffic names VM ${name}, which the planner does not know`, { vm: name });
    return i;
  }

  private markDirtyIndex(u: number): void {
    if (this.dirty[u] === 0) {
      this.dirty[u] = 1;
      this.nDirty += 1;
      this.dirtyList.push(u);
    }
  }

  /**
   * u declines on its inputs as they are now (asked and declined, or the home/away bound holds):
   * whatever marked it for the next plan happened before, so on the same inputs it declines there
   * too and need not be asked; anything of it that changes later (its row, its host, a peer's host,
   * a peer's hypervisor that stops being full) marks it again. A host that becomes full only
   * removes a candidate, and c_m is the same function from plan to plan (see the module comment).
   * A mover and a VM asked before a peer's move are never unmarked here.
   */
  declinedNow(u: number): void {
    if (this.dirty[u] === 1) {
      this.dirty[u] = 0;
      this.nDirty -= 1;
    }
  }

  /** Have these VMs asked in the next plan (e.g. their c_m changed). */
  markDirty(vms: Iterable<string>): void {
    for (const vm of vms) this.markDirtyIndex(this.vmId(vm));
  }

  /** VMs the next plan starts from */
  get dirtyCount(): number {
    return this.nDirty;
  }

  /** scratch for `updateTraffic`: each change's two VM numbers (-1: unknown name) */
  private chA = new Int32Array(0);
  private chB = new Int32Array(0);

  /** C_A of the current placement and traffic, kept by differences */
  get totalNow(): number {
    return this.total;
  }

  placement(): Map<string, string> {
    return new Map(this.names.map((vm, u) => [vm, this.hvNames[this.host[u]!]!]));
  }

  /** the traffic matrix the planner holds now (for checks and from-scratch comparisons) */
  traffic(): TrafficMatrix {
    const peers = new Map<string, Map<string, number>>();
    const { start, len, adj, rate } = this.rows;
    for (let u = 0; u < this.names.length; u++) {
      if (len[u] === 0) continue;
      const row = new Map<string, number>();
      for (let i = start[u]!; i < start[u]! + len[u]!; i++) row.set(this.names[adj[i]!]!, rate[i]!);
      peers.set(this.names[u]!, row);
    }
    return { peers };
  }

  /**
   * Applies new pair rates (both rows, as a symmetric matrix holds them: an existing entry is
   * updated in place, a new one appended, a removed one deleted, so each row keeps the order a
   * Map would) and marks both endpoints dirty. O(changes × row length).
   */
  updateTraffic(changes: readonly PairRate[]): void {
    const { id, rows, host, keyMemo, homeMemo } = this;
    // the names first, in a loop of their own: the two map lookups of one change do not wait for
    // the last change's row updates, so the processor overlaps more of their cache misses
    if (this.chA.length < changes.length) {
      this.chA = new Int32Array(changes.length + (changes.length >> 2));
      this.chB = new Int32Array(this.chA.length);
    }
    const { chA, chB } = this;
    // every change is checked before any is applied: a bad list leaves the planner as it was
    // a list made row by row (as pairChanges makes it) names one VM in a run of changes: its
    // number is looked up once per run
    let lastName: string | undefined;
    let lastA = -1;
    for (let k = 0; k < changes.length; k++) {
      const c = changes[k]!;
      if (!(c.rate >= 0 && Number.isFinite(c.rate))) throw new ScoreError('WORKLOAD_INVALID', `rate of ${c.a}-${c.b} must be a finite number >= 0, got ${c.rate}`, { a: c.a, b: c.b });
      const a = c.a === lastName ? lastA : (id.get(c.a) ?? -1);
      lastName = c.a;
      lastA = a;
      const b = id.get(c.b) ?? -1;
      // a pair of one VM with itself is skipped, also when the planner does not know the name;
      // otherwise an unknown name is the error (vmId throws it, a's before b's)
      if ((a < 0 || b < 0) && c.a !== c.b) {
        this.vmId(c.a);
        this.vmId(c.b);
      }
      chA[k] = a;
      chB[k] = b;
    }
    for (let k = 0; k < changes.length; k++) {
      const c = changes[k]!;
      const rate = c.rate;
      const a = chA[k]!;
      const b = chB[k]!;
      if (a < 0 || a === b) continue;
      const ia = rows.indexOf(a, b);
      const old = ia < 0 ? 0 : rows.rate[ia]!;
      if (old === rate) continue;
      this.total += (rate - old) * this.dist(host[a]!, host[b]!);
      rows.set(a, ia, b, rate);
      // the rows are symmetric (checked at construction, kept here): a pair new in a's row is new in b's
      rows.set(b, ia < 0 ? -1 : rows.indexOf(b, a), a, rate);
      keyMemo[a] = NaN;
      keyMemo[b] = NaN;
      homeMemo[a] = -1;
      homeMemo[b] = -1;
      this.markDirtyIndex(a);
      this.markDirtyIndex(b);
    }
  }

  private dist(ha: number, hb: number): number {
    if (ha === hb) return 0;
    if (this.ccPalette.length > 0) return this.ccPalette[this.ccCode[this.ccRow[ha]! + this.ccCol[hb]!]!]!;
    const fa = this.oi[ha]!;
    const fb = this.oi[hb]!;
    if (this.tab !== undefined && fa >= 0 && fb >= 0) {
      const d = fa < fb ? this.tab[this.tRow[ha]! + this.tCol[hb]!]! + this.tUp[hb]! : this.tab[this.tRow[hb]! + this.tCol[ha]!]! + this.tUp[ha]!;
      // no path: `fast.cost` throws the oracle's error
      if (d !== Infinity) return d;
    }
    if (this.fast !== undefined && fa >= 0 && fb >= 0) return this.fast.cost(fa, fb);
    return this.oracle.cost(this.hvNames[ha]!, this.hvNames[hb]!);
  }

  /**
   * `dist(ha, hb)` where `rowA` is `ccRow[ha]` when there are class costs (read once by a caller
   * summing over a row from one end): the same double, one table row load fewer per term
   */
  private distIn(ha: number, rowA: number, hb: number): number {
    if (ha === hb) return 0;
    if (this.ccPalette.length > 0) return this.ccPalette[this.ccCode[rowA + this.ccCol[hb]!]!]!;
    return this.dist(ha, hb);
  }

  /** `ccRow[h]`, or 0 without class costs (for `distIn`) */
  private rowIn(h: number): number {
    return this.ccPalette.length > 0 ? this.ccRow[h]! : 0;
  }

  /** C_A(u) with u on hypervisor h, terms in row order (vmCost's order) */
  private costAt(u: number, h: number): number {
    const { adj, rate } = this.rows;
    const end = this.rows.start[u]! + this.rows.len[u]!;
    const rowH = this.rowIn(h);
    let sum = 0;
    for (let i = this.rows.start[u]!; i < end; i++) sum += rate[i]! * this.distIn(h, rowH, this.host[adj[i]!]!);
    return sum;
  }

  /**
   * `costAt(u, h)`, or a partial sum of it once that partial sum already makes the move not worth
   * c_m (`cut` set): with every term >= 0 (`termsNonNegative`) the rest of the sum can only add,
   * and Eq. 3's test (`worthMigrating`) only gets further from passing as C_A there grows, so the
   * answer is the full sum's. The terms are the same in the same order as `costAt`'s, so a sum not
   * cut is bit-identical to it. A declining ask prices about 4 candidates (10% churn); cutting
   * them saves about a tenth of an epoch's path-cost lookups.
   */
  private costAtUnlessWorse(u: number, h: number, before: number, cm: number): number {
    this.cut = false;
    if (!this.termsNonNegative) return this.costAt(u, h);
    const { adj, rate } = this.rows;
    const end = this.rows.start[u]! + this.rows.len[u]!;
    // not worth once before - sum <= cm + noise (worthMigrating's test, monotone in sum)
    const limit = cm + 1e-9 * Math.max(1, Math.abs(before));
    const rowH = this.rowIn(h);
    let sum = 0;
    for (let i = this.rows.start[u]!; i < end; i++) {
      sum += rate[i]! * this.distIn(h, rowH, this.host[adj[i]!]!);
      if (!(before - sum > limit)) {
        this.cut = i + 1 < end;
        return sum;
      }
    }
    return sum;
  }

  /** set by `costAtUnlessWorse`: the sum it returned stopped before the row's end */
  private cut = false;

  /** C_A recomputed from every row (each unordered pair once, from its lower-named end) */
  totalCost(): number {
    let sum = 0;
    for (let u = 0; u < this.names.length; u++) {
      const { adj, rate } = this.rows;
      const nu = this.names[u]!;
      const end = this.rows.start[u]! + this.rows.len[u]!;
      for (let i = this.rows.start[u]!; i < end; i++) {
        const v = adj[i]!;
        if (nu < this.names[v]!) sum += rate[i]! * this.dist(this.host[u]!, this.host[v]!);
      }
    }
    return sum;
  }

  /**
   * u surely declines, from its peers' hosts alone: R_home (rates of peers on u's host) >= R_away
   * (the others). Sound when `boundOk` (see the module comment); rounding of the two sums
   * (relative 1e-15) is far below Eq. 3's 1e-9 noise allowance. O(degree), no path cost.
   */
  surelyDeclines(u: number): boolean {
    if (!this.boundOk) return false;
    let m = this.homeMemo[u]!;
    if (m < 0) {
      m = this.homeAtLeastAway(u) ? 1 : 0;
      this.homeMemo[u] = m;
    }
    if (m === 0) return false;
    if (this.boundSeen[u] === 0) {
      this.boundSeen[u] = 1;
      this.boundList.push(u);
    }
    return true;
  }

  private homeAtLeastAway(u: number): boolean {
    const x = this.host[u]!;
    const { adj, rate } = this.rows;
    const end = this.rows.start[u]! + this.rows.len[u]!;
    let home = 0;
    let away = 0;
    this.awayMemo[u] = NaN;
    for (let i = this.rows.start[u]!; i < end; i++) {
      const r = rate[i]!;
      if (!(r >= 0 && r < Infinity)) return false;
      if (this.host[adj[i]!] === x) home += r;
      else away += r;
    }
    this.awayMemo[u] = away;
    return away <= home;
  }

  /**
   * Would u decline? The numeric part of Algorithm 1 without building the decision: true when
   * no non-full candidate saves more than its c_m, which is exactly when `decideAmong` stays
   * (slots only, no rails). Candidates are the hosts of peers with a positive flow cost.
   */
  private declines(u: number, cmFn: MigrationCostFn | null, cmFixed: number): boolean {
    const x = this.host[u]!;
    const { adj, rate } = this.rows;
    const s = this.rows.start[u]!;
    const end = s + this.rows.len[u]!;
    // the same sum as exactCost's (same terms, same order), usually remembered from the key
    const before = this.exactCost(u);
    this.triedVm = u;
    this.nTried = 0;
    if (before === 0) return true;
    // a new stamp for `pricedIn` (2^53 tests before it could repeat)
    this.declineTest += 1;
    const rowX = this.rowIn(x);
    for (let i = s; i < end; i++) {
      const h = this.host[adj[i]!]!;
      if (h === x || this.load[h]! >= this.cap[h]!) continue;
      if (!(rate[i]! * this.distIn(x, rowX, h) > 0)) continue;
      // a host seen through an earlier peer with a positive rate was priced then (it passed the
      // tests above there too), so "priced in this test" is that scan over the earlier peers
      if (this.pricedIn[h] === this.declineTest) continue;
      this.pricedIn[h] = this.declineTest;
      const cm = cmFn === null ? cmFixed : cmFn(this.names[u]!, this.hvNames[x]!, this.hvNames[h]!);
      const there = this.costAtUnlessWorse(u, h, before, cm);
      // a partial sum is no price for `choose` to reuse (it prices h again if u moves)
      if (this.cut) continue;
      if (this.nTried === this.tHost.length) this.growTried();
      this.tHost[this.nTried] = h;
      this.tCost[this.nTried] = there;
      this.tCm[this.nTried] = cm;
      this.nTried += 1;
      if (worthMigrating(before, there, cm)) return false;
    }
    return true;
  }

  /**
   * what `declines` priced for `triedVm` (host, C_A there, c_m), for `choose` right after it on the
   * same state: a mover's decision then prices only the hosts `declines` did not reach
   */
  private triedVm = -1;
  /** per hypervisor: the `declineTest` that last priced it */
  private pricedIn: Float64Array;
  private declineTest = 0;
  /** moves the last plan made (the next move log's first size) */
  private lastMoves = 0;
  /** flows and candidates the last plan's move log held (its successor's first size, scaled to the moves expected) */
  private lastFlows = 0;
  private lastCands = 0;
  private nTried = 0;
  private tHost = new Int32Array(16);
  private tCost = new Float64Array(16);
  private tCm = new Float64Array(16);

  private growTried(): void {
    const m = 2 * this.tHost.length;
    const h = new Int32Array(m);
    h.set(this.tHost);
    const c = new Float64Array(m);
    c.set(this.tCost);
    const cm = new Float64Array(m);
    cm.set(this.tCm);
    this.tHost = h;
    this.tCost = c;
    this.tCm = cm;
  }

  /** scratch for `choose`: u's flows with cost > 0 (peer, host, cost), then their order */
  private fPeer = new Int32Array(64);
  private fHost = new Int32Array(64);
  private fCost = new Float64Array(64);
  private fOrder = new Int32Array(64);
  /** scratch for `choose`: distinct candidate hosts in order, C_A there (NaN: full or not evaluated), c_m */
  private cHost = new Int32Array(64);
  private cCost = new Float64Array(64);
  private cCm = new Float64Array(64);

  /**
   * Algorithm 1 for u, numbers only: the flows sorted as `decideAmong` sorts them, each distinct
   * candidate host tried in that order (the first worth it in `first` mode, the cheapest worth it
   * in `best`). On a move, what the candidates looked like is appended to `log` so the full
   * record (candidates, reason) is built by `decideAmong` itself only when read, identically
   * (see `MoveLog`); returns the move's number in the log, or -1 to stay (never after `declines`
   * said no, with slots only and no rails). Allocates nothing but the log's growth.
   */
  private choose(round: number, u: number, mode: DecisionMode, cmFn: MigrationCostFn | null, cmFixed: number, log: MoveLog): number {
    const x = this.host[u]!;
    const { adj, rate } = this.rows;
    const s = this.rows.start[u]!;
    const deg = this.rows.len[u]!;
    if (deg > this.fPeer.length) this.growScratch(deg);
    const { fPeer, fHost, fCost, fOrder, cHost, cCost, cCm } = this;
    let nf = 0;
    let costBefore = 0;
    const rowX = this.rowIn(x);
    for (let i = s; i < s + deg; i++) {
      const v = adj[i]!;
      const hv = this.host[v]!;
      const cost = rate[i]! * this.distIn(x, rowX, hv);
      costBefore += cost;
      if (cost > 0) {
        fPeer[nf] = v;
        fHost[nf] = hv;
        fCost[nf] = cost;
        // insertion by (cost desc, rank asc), `decideAmong`'s order (unique: ranks are distinct)
        let j = nf;
        while (j > 0) {
          const o = fOrder[j - 1]!;
          // (a VM's rank is its number). The tie-break's load is made on every comparison, not
          // only on an exact tie: ties are rare (the first came in the bench sequence's third
          // epoch), and a load the optimised code had never seen run deoptimised `choose` there,
          // which then ran unoptimised until recompiled (about 20 ms of the epoch, and 40 ms of
          // compiler threads' CPU, once per process)
          const tie = fPeer[o]! - v;
          if (!((cost - fCost[o]! || tie) > 0)) break;
          fOrder[j] = o;
          j -= 1;
        }
        fOrder[j] = nf;
        nf += 1;
      }
    }
    // hosts `declines` priced on this same state (the same sums, the same c_m)
    const tried = this.triedVm === u ? this.nTried : 0;
    this.triedVm = -1;
    let nc = 0;
    let best = -1;
    let bestCost = Infinity;
    let bestCm = 0;
    for (let f = 0; f < nf; f++) {
      const h = fHost[fOrder[f]!]!;
      let dup = false;
      for (let c = 0; c < nc && !dup; c++) dup = cHost[c] === h;
      if (dup) continue;
      cHost[nc] = h;
      if ((mode === 'first' && best >= 0) || this.load[h]! >= this.cap[h]!) {
        cCost[nc] = NaN;
        cCm[nc] = NaN;
        nc += 1;
        continue;
      }
      let t = tried;
      while (t > 0 && this.tHost[t - 1] !== h) t -= 1;
      const there = t > 0 ? this.tCost[t - 1]! : this.costAt(u, h);
      const cm = t > 0 ? this.tCm[t - 1]! : cmFn === null ? cmFixed : cmFn(this.names[u]!, this.hvNames[x]!, this.hvNames[h]!);
      cCost[nc] = there;
      cCm[nc] = cm;
      nc += 1;
      if (worthMigrating(costBefore, there, cm) && (best < 0 || there < bestCost)) {
        best = h;
        bestCost = there;
        bestCm = cm;
      }
    }
    if (best < 0) return -1;
    return log.add(round, u, x, best, deg, costBefore, bestCost, bestCm, fPeer, fHost, fCost, fOrder, nf, cHost, cCost, cCm, nc);
  }

  private growScratch(n: number): void {
    const m = Math.max(n, 2 * this.fPeer.length);
    this.fPeer = new Int32Array(m);
    this.fHost = new Int32Array(m);
    this.fCost = new Float64Array(m);
    this.fOrder = new Int32Array(m);
    this.cHost = new Int32Array(m);
    this.cCost = new Float64Array(m);
    this.cCm = new Float64Array(m);
  }

  /**
   * Rounds from the current placement until one moves nothing, `maxRounds` or the budget, asking
   * only dirty VMs (see the module comment). Applies its moves to the planner's placement.
   * Declines found by the numeric check are counted, not built. `steps` is made from the move log
   * when first read (then kept: every read gives the same list), so a plan allocates no object per
   * move; `decisions` holds the moves' decisions (the same data as `steps`' with the round; also
   * made when first read, as a period that only applies the steps never needs it), whose `candidates` and `reason` are built
   * when first read (see `MoveLog`; equal to `runPolicy`'s records). `asked`: asks made (a VM asked in
   * several rounds counts once per round); `bounded`: distinct VMs the home/away bound found to
   * surely decline in this plan (each once, however many times the bound answered for it).
   */
  plan(o: PlanOptions): PolicyRun & { readonly asked: number; readonly bounded: number } {
    const mode = o.mode ?? 'first';
    const maxRounds = o.maxRounds ?? 20;
    const maxMigrations = o.maxMigrations ?? Infinity;
    const cmFn = typeof o.migrationCost === 'number' ? null : o.migrationCost;
    const cmFixed = typeof o.migrationCost === 'number' ? o.migrationCost : 0;
    const n = this.names.length;
    // a VM left unmarked declined under the last plan's c_m: under another c_m it may not
    // (a function is compared by identity: pass the same one to keep the plans incremental)
    if (cmFn !== this.cmFnNow || cmFixed !== this.cmFixedNow) for (let u = 0; u < n; u++) this.markDirtyIndex(u);
    this.cmFnNow = cmFn;
    this.cmFixedNow = cmFixed;
    this.boundOk = this.oracle.metric === true && (cmFn === null ? cmFixed >= 0 : o.migrationCostNonNegative === true);
    for (let i = 0; i < this.boundList.length; i++) this.boundSeen[this.boundList.items[i]!] = 0;
    this.boundList.clear();
    const initialCost = this.total;
    // moves applied: the first `nSteps` entries of the move log (a decision the budget refused is
    // logged after them); their step records are built from the log when first read
    let nSteps = 0;
    // room for the moves the last plan made with a tenth to spare (a plan after a quiet one grows
    // it by doubling: sized on the VMs marked, a settling plan that moves nothing took megabytes it
    // never used). Without the spare, every plan that moved a few more than the last (about half
    // of them) doubled the per-move arrays and copied them: a megabyte more of buffers at fat-tree(32)
    const expectMoves = Math.min(maxMigrations, Math.max(1024, Math.ceil(1.1 * this.lastMoves)));
    // the last plan's flows and candidates per move, for those moves (at fat-tree(32) about 6 and 3 a move)
    const perMove = (n: number): number => (this.lastMoves > 0 ? Math.ceil((n * expectMoves) / this.lastMoves) : 4 * expectMoves);
    const log = new MoveLog(this.names, this.hvNames, this.rank, cmFn === null ? cmFixed : null, mode, expectMoves, perMove(this.lastFlows), perMove(this.lastCands));
    let asked = 0;
    let round = 0;
    let converged = false;
    // kept from plan to plan (each round's `begin` clears what the last one touched): a new
    // order's per-VM arrays were megabytes of fresh memory each period
    const order = o.policy === 'round-robin' ? (this.rrOrder ??= new RoundRobinInc(this, n)) : (this.laOrder ??= new LoadAwareInc(this, n));
    let stopped = false;
    while (round < maxRounds && nSteps < maxMigrations) {
      round += 1;
      // each VM still marked, once (a VM unmarked and marked again is listed twice), in VM order:
      // the round's start reads each one's row, memos and key, and in VM order those reads walk
      // the arrays forwards (the rows are laid out by VM) instead of jumping at random; the heap
      // orders the asks by key and rank whatever the push order
      const explicit = this.explicit;
      explicit.clear();
      const dirty = this.dirty;
      if (this.dirtyList.length * 8 >= n) {
        for (let u = 0; u < n; u++) {
          if (dirty[u] === 1) {
            dirty[u] = 0;
            explicit.push(u);
          }
        }
      } else {
        for (let i = 0; i < this.dirtyList.length; i++) {
          const u = this.dirtyList.items[i]!;
          if (dirty[u] === 1) {
            dirty[u] = 0;
            explicit.push(u);
          }
        }
        explicit.items.subarray(0, explicit.length).sort();
      }
      this.dirtyList.clear();
      this.nDirty = 0;
      order.begin(explicit);
      let moves = 0;
      for (let u = order.next(); u >= 0; u = order.next()) {
        asked += 1;
        if (this.surelyDeclines(u) || this.declines(u, cmFn, cmFixed)) {
          this.declinedNow(u);
          continue;
        }
        const k = this.choose(round, u, mode, cmFn, cmFixed, log);
        if (k < 0) {
          this.declinedNow(u);
          continue;
        }
        if (nSteps >= maxMigrations) {
          // the budget is spent: what is left of the round waits for the next plan
          this.markDirtyIndex(u);
          order.drain((v) => this.markDirtyIndex(v));
          stopped = true;
          break;
        }
        const from = this.host[u]!;
        const to = log.target(k);
        order.beforeMove(u);
        this.moveVm(u, from, to);
        const totalAfter = this.total - (log.costBefore(k) - log.costAfter(k));
        log.applied(k, totalAfter);
        nSteps += 1;
        this.total = totalAfter;
        moves += 1;
        this.markDirtyIndex(u);
        const { start, len, adj } = this.rows;
        for (let i = start[u]!; i < start[u]! + len[u]!; i++) this.markDirtyIndex(adj[i]!);
        order.moved(u, from);
        if (this.load[from]! < this.cap[from]! && this.load[from]! + 1 >= this.cap[from]!) {
          // `from` just stopped being full: it is a new candidate for every VM with a peer on it,
          // except those on `from` itself (a VM's own host is no candidate)
          const host = this.host;
          const onFrom = this.hvStart[from]!;
          const onEnd = onFrom + this.hvLen[from]!;
          for (let j = onFrom; j < onEnd; j++) {
            const q = this.onHv[j]!;
            for (let i = start[q]!; i < start[q]! + len[q]!; i++) {
              const w = adj[i]!;
              if (host[w] === from) continue;
              if (order.opened(w, from)) this.markDirtyIndex(w);
            }
          }
        }
      }
      if (stopped) break;
      if (moves === 0) {
        converged = true;
        break;
      }
    }
    this.lastMoves = log.moveCount;
    this.lastFlows = log.flowCount;
    this.lastCands = log.candidateCount;
    // a snapshot of the hosts behind a map view: copying 65k names into a Map was a large share of a small epoch
    const finalPlacement = new PlacementView(this.names, this.id, this.hvNames, this.host.slice());
    let steps: Step[] | undefined;
    let decisions: (Decision & { round: number })[] | undefined;
    const logged = log.moveCount;
    return {
      policy: o.policy,
      initialCost,
      finalCost: this.total,
      get steps(): Step[] {
        return (steps ??= log.steps(nSteps, initialCost));
      },
      get decisions(): (Decision & { round: number })[] {
        if (decisions === undefined) {
          decisions = [];
          for (let k = 0; k < logged; k++) decisions.push(new LazyDecision(log, k, log.round(k)) as LazyDecision & { round: number });
        }
        return decisions;
      },
      rounds: round,
      converged,
      finalPlacement,
      asked,
      bounded: this.boundList.length,
    };
  }

  private hvPush(h: number, u: number): void {
    if (this.hvLen[h] === this.hvRoom[h]) {
      // the list is full: to the end of the store with twice the room (its old room is left unused)
      const room = 2 * this.hvRoom[h]!;
      if (this.hvUsed + room > this.onHv.length) {
        const next = new Int32Array(Math.max(this.hvUsed + room, 2 * this.onHv.length));
        next.set(this.onHv.subarray(0, this.hvUsed));
        this.onHv = next;
      }
      this.onHv.copyWithin(this.hvUsed, this.hvStart[h]!, this.hvStart[h]! + this.hvLen[h]!);
      this.hvStart[h] = this.hvUsed;
      this.hvRoom[h] = room;
      this.hvUsed += room;
    }
    this.onHv[this.hvStart[h]! + this.hvLen[h]!] = u;
    this.hvLen[h]! += 1;
  }

  /** for tests: every VM is on its hypervisor's list exactly once, the lists hold nothing else, and each list fits its room, the rooms apart inside the space given out */
  hostListsConsistent(): boolean {
    const seen = new Uint8Array(this.names.length);
    if (this.hvUsed > this.onHv.length) return false;
    // rooms inside the space given out and apart from each other
    const byStart = [...this.hvStart.keys()].sort((a, b) => this.hvStart[a]! - this.hvStart[b]!);
    let end = 0;
    for (const h of byStart) {
      if (this.hvLen[h]! > this.hvRoom[h]! || this.hvStart[h]! < end) return false;
      end = this.hvStart[h]! + this.hvRoom[h]!;
    }
    if (end > this.hvUsed) return false;
    for (let h = 0; h < this.hvLen.length; h++) {
      for (let j = this.hvStart[h]!; j < this.hvStart[h]! + this.hvLen[h]!; j++) {
        const u = this.onHv[j]!;
        if (u < 0 || u >= seen.length || seen[u] === 1 || this.host[u] !== h) return false;
        seen[u] = 1;
      }
    }
    return seen.every((x) => x === 1);
  }

  /**
   * for tests: whether every remembered home/away answer, R_away and C_A is what summing u's row
   * again on the current hosts gives, to the bit (a memo kept past a change of its inputs is
   * stale), and how many home/away answers and C_A sums are remembered
   */
  memoCheck(): { consistent: boolean; homeHeld: number; keyHeld: number } {
    let homeHeld = 0;
    let keyHeld = 0;
    const bad = { consistent: false, homeHeld: -1, keyHeld: -1 };
    const { adj, rate, start, len } = this.rows;
    for (let u = 0; u < this.names.length; u++) {
      const x = this.host[u]!;
      if (this.homeMemo[u]! >= 0) {
        homeHeld += 1;
        let home = 0;
        let away = 0;
        let finite = true;
        for (let i = start[u]!; i < start[u]! + len[u]!; i++) {
          const r = rate[i]!;
          if (!(r >= 0 && r < Infinity)) finite = false;
          else if (this.host[adj[i]!] === x) home += r;
          else away += r;
        }
        if (!finite) {
          if (this.homeMemo[u] !== 0 || !Number.isNaN(this.awayMemo[u])) return bad;
        } else if (this.homeMemo[u] !== (away <= home ? 1 : 0) || !Object.is(this.awayMemo[u], away)) return bad;
      }
      const key = this.keyMemo[u]!;
      if (key === key) {
        keyHeld += 1;
        let sum = 0;
        for (let i = start[u]!; i < start[u]! + len[u]!; i++) sum += rate[i]! * this.dist(x, this.host[adj[i]!]!);
        if (!Object.is(key, sum)) return bad;
      }
    }
    return { consistent: true, homeHeld, keyHeld };
  }

  private moveVm(u: number, from: number, to: number): void {
    this.host[u] = to;
    this.keyMemo[u] = NaN;
    this.homeMemo[u] = -1;
    const { start, len, adj } = this.rows;
    const host = this.host;
    // with class costs (every cost finite, none -0), a peer whose hypervisor is as far from `to`
    // as from `from` (the same double) sums the same terms in the same order for C_A: its key
    // memo stays bit-identical (at fat-tree(32), a peer in a third pod)
    const cc = this.ccPalette.length > 0;
    const { ccPalette, ccCode, ccRow, ccCol } = this;
    const colFrom = cc ? ccCol[from]! : 0;
    const colTo = cc ? ccCol[to]! : 0;
    for (let i = start[u]!; i < start[u]! + len[u]!; i++) {
      const p = adj[i]!;
      const hp = host[p]!;
      if (hp === from || hp === to) {
        this.keyMemo[p] = NaN;
        this.homeMemo[p] = -1;
        continue;
      }
      // a peer p on a third hypervisor had u away before and has it away after: the same terms
      // in the same order on each side of its home/away test, so that memo stays bit-identical
      if (!cc) this.keyMemo[p] = NaN;
      else {
        const rowP = ccRow[hp]!;
        if (ccPalette[ccCode[rowP + colFrom]!] !== ccPalette[ccCode[rowP + colTo]!]) this.keyMemo[p] = NaN;
      }
    }
    this.load[from]! -= 1;
    this.load[to]! += 1;
    // as a list's indexOf, swap with the last and pop: the same order a list kept
    const list = this.onHv;
    const base = this.hvStart[from]!;
    const last = base + this.hvLen[from]! - 1;
    let i = base;
    // (bounded: u is on `from`, so it is found before `last` or is `last`)
    while (i < last && list[i] !== u) i++;
    // a broken list would otherwise lose another VM's entry without a word
    if (last < base || list[i] !== u) throw new Error(`incremental planner: VM ${u} is not on the list of hypervisor ${from}`);
    list[i] = list[last]!;
    this.hvLen[from]! -= 1;
    this.hvPush(to, u);
  }

  /**
   * Is C_A(u) surely above (1), surely below (-1) `level`, or too close to tell (0), from
   * R_away alone (dLo·R_away <= C_A(u) <= dHi·R_away; no path cost read)? A relative margin of
   * 1e-9 covers the rounding of both sums, so a sure answer never depends on it; 0 also when
   * u's remembered key makes the exact comparison cheap, or the bounds do not apply.
   */
  keySide(u: number, level: number): number {
    if (this.dLo !== this.dLo || this.keyMemo[u] === this.keyMemo[u]) return 0;
    if (this.homeMemo[u]! < 0) this.homeMemo[u] = this.homeAtLeastAway(u) ? 1 : 0;
    const away = this.awayMemo[u]!;
    if (away !== away) return 0;
    if (away * this.dHi * (1 + 1e-9) < level) return -1;
    if (away * this.dLo * (1 - 1e-9) > level) return 1;
    return 0;
  }

  /** set by `exactCost`: whether every term of the last sum was finite and >= 0 */
  lastSound = true;

  /** for the orders: C_A(u) where u is (and `lastSound`) */
  exactCost(u: number): number {
    const memo = this.keyMemo[u]!;
    if (memo === memo) {
      this.lastSound = true;
      return memo;
    }
    const x = this.host[u]!;
    const { adj, rate } = this.rows;
    const end = this.rows.start[u]! + this.rows.len[u]!;
    let sum = 0;
    let sound = true;
    const rowX = this.rowIn(x);
    for (let i = this.rows.start[u]!; i < end; i++) {
      const t = rate[i]! * this.distIn(x, rowX, this.host[adj[i]!]!);
      if (!(t >= 0 && t < Infinity)) sound = false;
      sum += t;
    }
    this.lastSound = sound;
    if (sound) this.keyMemo[u] = sum;
    return sum;
  }

  /**
   * For the orders: would u, whose only new input is a freed slot on h, still decline a move to
   * h? Exactly `declines`' test for h (the same sums, in the same order, the same c_m), so the
   * answer never differs from asking u; false when a sum is not finite and >= 0 (then u is asked).
   * O(degree) path costs, where asking would cost a key, a heap entry and every candidate's sum.
   */
  staysOff(u: number, h: number): boolean {
    const before = this.exactCost(u);
    if (!this.lastSound) return false;
    if (before === 0) return true;
    const there = this.costAt(u, h);
    if (!(there >= 0 && there < Infinity)) return false;
    const cm = this.cmFnNow === null ? this.cmFixedNow : this.cmFnNow(this.names[u]!, this.hvNames[this.host[u]!]!, this.hvNames[h]!);
    return !worthMigrating(before, there, cm);
  }

  /** for the orders */
  view(): PlannerView {
    return { rows: this.rows, host: this.host, dist: (a, b) => this.dist(a, b) };
  }
}

