import type { Placement, TrafficMatrix } from './cost.ts';
import { worthMigrating } from './cost.ts';
import type { Candidate, Decision, DecisionMode } from './decision.ts';
import { decideAmong, type DecisionView, type Flow } from './decision.ts';
import type { MigrationCostFn } from './migration-cost.ts';
import type { IndexedCost, PathOracle } from './paths.ts';
import { CostHeap, type PolicyRun, type Step } from './policies.ts';
import { ScoreError } from '../errors/errors.ts';

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
 * random instances. What differs: `decisions` holds only the VMs actually asked, and the totals
 * are kept up to date by differences (equal to a from-scratch sum up to rounding).
 *
 * Limits (checked): the Load-Aware and Round-Robin policies, VMs with distinct ranks, slots only
 * (no CPU/memory resources, no rails: the continuous orchestrator applies its own), a fixed set of
 * VMs and hypervisors, and a c_m that is the same function of (vm, from, to) from one plan to the
 * next (a caller whose pricing changes names the VMs concerned with `markDirty`).
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
  private readonly rank: Float64Array;
  private load: Float64Array;
  private cap: Float64Array;
  /** per hypervisor: the VMs on it (unordered) */
  private onHv: number[][];
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
  /** VMs to ask in the next plan's first round */
  private dirty: Uint8Array;
  private dirtyList: number[] = [];
  private total = 0;
  /**
   * per VM: C_A(u) as `exactCost` last summed it, NaN when u's row, u's host or a peer's host has
   * changed since (so a hit is bit-identical to summing again)
   */
  private readonly keyMemo: Float64Array;
  /**
   * per VM: whether R_home >= R_away (1), not (0), or unknown (-1); forgotten exactly when
   * `keyMemo` is (u's row, u's host or a peer's host changed), as it reads the same inputs
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
  /** whether the home/away bound holds in the current plan (metric oracle, c_m >= 0) */
  private boundOk = false;
  /**
   * distinct VMs the home/away bound found to surely decline in the current plan (set aside, or
   * declined unpriced when asked), each counted once however often the bound answered for it
   */
  private readonly boundSeen: Uint8Array;
  private boundList: number[] = [];
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
    this.onHv = Array.from({ length: hn }, () => []);
    this.oi = new Int32Array(hn);
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
    }
    for (let u = 0; u < n; u++) {
      this.load[this.host[u]!]! += 1;
      this.onHv[this.host[u]!]!.push(u);
    }
    const degree = new Int32Array(n);
    for (const [u, row] of input.traffic.peers) degree[this.vmId(u)] = row.size;
    this.rows = new Rows(degree);
    for (const [u, row] of input.traffic.peers) {
      const ui = this.vmId(u);
      for (const [v, r] of row) this.rows.append(ui, this.vmId(v), r);
    }
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
      this.dirtyList.push(u);
    }
  }

  /** Have these VMs asked in the next plan (e.g. their c_m changed). */
  markDirty(vms: Iterable<string>): void {
    for (const vm of vms) this.markDirtyIndex(this.vmId(vm));
  }

  /** VMs the next plan starts from */
  get dirtyCount(): number {
    return this.dirtyList.length;
  }

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
    for (let k = 0; k < changes.length; k++) {
      const c = changes[k]!;
      const rate = c.rate;
      if (!(rate >= 0 && Number.isFinite(rate))) throw new ScoreError('WORKLOAD_INVALID', `rate of ${c.a}-${c.b} must be a finite number >= 0, got ${rate}`, { a: c.a, b: c.b });
      if (c.a === c.b) continue;
      const a = id.get(c.a) ?? this.vmId(c.a);
      const b = id.get(c.b) ?? this.vmId(c.b);
      const ia = rows.indexOf(a, b);
      const old = ia < 0 ? 0 : rows.rate[ia]!;
      if (old === rate) continue;
      this.total += (rate - old) * this.dist(host[a]!, host[b]!);
      rows.set(a, ia, b, rate);
      rows.set(b, rows.indexOf(b, a), a, rate);
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

  /** C_A(u) with u on hypervisor h, terms in row order (vmCost's order) */
  private costAt(u: number, h: number): number {
    const { adj, rate } = this.rows;
    const end = this.rows.start[u]! + this.rows.len[u]!;
    let sum = 0;
    for (let i = this.rows.start[u]!; i < end; i++) sum += rate[i]! * this.dist(h, this.host[adj[i]!]!);
    return sum;
  }

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
    if (before === 0) return true;
    for (let i = s; i < end; i++) {
      const h = this.host[adj[i]!]!;
      if (h === x || this.load[h]! >= this.cap[h]!) continue;
      if (!(rate[i]! * this.dist(x, h) > 0)) continue;
      // a host seen through an earlier peer was already tried
      let seen = false;
      for (let j = s; j < i && !seen; j++) seen = this.host[adj[j]!] === h && rate[j]! > 0;
      if (seen) continue;
      const cm = cmFn === null ? cmFixed : cmFn(this.names[u]!, this.hvNames[x]!, this.hvNames[h]!);
      if (worthMigrating(before, this.costAt(u, h), cm)) return false;
    }
    return true;
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
  private choose(u: number, mode: DecisionMode, cmFn: MigrationCostFn | null, cmFixed: number, log: MoveLog): number {
    const x = this.host[u]!;
    const { adj, rate } = this.rows;
    const s = this.rows.start[u]!;
    const deg = this.rows.len[u]!;
    if (deg > this.fPeer.length) this.growScratch(deg);
    const { fPeer, fHost, fCost, fOrder, cHost, cCost, cCm, rank } = this;
    let nf = 0;
    let costBefore = 0;
    for (let i = s; i < s + deg; i++) {
      const v = adj[i]!;
      const hv = this.host[v]!;
      const cost = rate[i]! * this.dist(x, hv);
      costBefore += cost;
      if (cost > 0) {
        fPeer[nf] = v;
        fHost[nf] = hv;
        fCost[nf] = cost;
        // insertion by (cost desc, rank asc), `decideAmong`'s order (unique: ranks are distinct)
        let j = nf;
        while (j > 0) {
          const o = fOrder[j - 1]!;
          if (!((cost - fCost[o]! || rank[fPeer[o]!]! - rank[v]!) > 0)) break;
          fOrder[j] = o;
          j -= 1;
        }
        fOrder[j] = nf;
        nf += 1;
      }
    }
    const from = this.hvNames[x]!;
    const vm = this.names[u]!;
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
      const there = this.costAt(u, h);
      const cm = cmFn === null ? cmFixed : cmFn(vm, from, this.hvNames[h]!);
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
    return log.add(u, x, best, deg, costBefore, bestCost, bestCm, fPeer, fHost, fCost, fOrder, nf, cHost, cCost, cCm, nc);
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
   * Declines found by the numeric check are counted, not built: `decisions` holds the moves'
   * decisions (the same data as `steps`' with the round; the list is made when first read, as a
   * period that only applies the steps never needs it), whose `candidates` and `reason` are built
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
    this.cmFnNow = cmFn;
    this.cmFixedNow = cmFixed;
    this.boundOk = this.oracle.metric === true && (cmFn === null ? cmFixed >= 0 : o.migrationCostNonNegative === true);
    for (const u of this.boundList) this.boundSeen[u] = 0;
    this.boundList = [];
    const initialCost = this.total;
    const steps: Step[] = [];
    /** per move log entry (each decision made, applied or not): its round */
    const decisionRounds: number[] = [];
    const log = new MoveLog(this.names, this.hvNames, this.rank, cmFn === null ? cmFixed : null, mode);
    let asked = 0;
    let round = 0;
    let converged = false;
    // kept from plan to plan (each round's `begin` clears what the last one touched): a new
    // order's per-VM arrays were megabytes of fresh memory each period
    const order = o.policy === 'round-robin' ? (this.rrOrder ??= new RoundRobinInc(this, n)) : (this.laOrder ??= new LoadAwareInc(this, n));
    let stopped = false;
    while (round < maxRounds && steps.length < maxMigrations) {
      round += 1;
      const explicit = this.dirtyList;
      this.dirtyList = [];
      for (const u of explicit) this.dirty[u] = 0;
      order.begin(explicit);
      let moves = 0;
      for (let u = order.next(); u >= 0; u = order.next()) {
        asked += 1;
        if (this.surelyDeclines(u) || this.declines(u, cmFn, cmFixed)) continue;
        const k = this.choose(u, mode, cmFn, cmFixed, log);
        if (k < 0) continue;
        decisionRounds.push(round);
        if (steps.length >= maxMigrations) {
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
        steps.push({ step: steps.length + 1, round, decision: new LazyDecision(log, k, undefined), totalBefore: this.total, totalAfter });
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
          for (const q of this.onHv[from]!) {
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
    // a snapshot of the hosts behind a map view: copying 65k names into a Map was a large share of a small epoch
    const finalPlacement = new PlacementView(this.names, this.id, this.hvNames, this.host.slice());
    let decisions: (Decision & { round: number })[] | undefined;
    return {
      policy: o.policy,
      initialCost,
      finalCost: this.total,
      steps,
      get decisions(): (Decision & { round: number })[] {
        return (decisions ??= decisionRounds.map((r, k) => new LazyDecision(log, k, r) as LazyDecision & { round: number }));
      },
      rounds: round,
      converged,
      finalPlacement,
      asked,
      bounded: this.boundList.length,
    };
  }

  private moveVm(u: number, from: number, to: number): void {
    this.host[u] = to;
    this.keyMemo[u] = NaN;
    this.homeMemo[u] = -1;
    const { start, len, adj } = this.rows;
    for (let i = start[u]!; i < start[u]! + len[u]!; i++) {
      this.keyMemo[adj[i]!] = NaN;
      this.homeMemo[adj[i]!] = -1;
    }
    this.load[from]! -= 1;
    this.load[to]! += 1;
    const list = this.onHv[from]!;
    const i = list.indexOf(u);
    list[i] = list[list.length - 1]!;
    list.pop();
    this.onHv[to]!.push(u);
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
    for (let i = this.rows.start[u]!; i < end; i++) {
      const t = rate[i]! * this.dist(x, this.host[adj[i]!]!);
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
  view(): { readonly rows: Rows; readonly host: Int32Array; readonly rank: Float64Array; dist(a: number, b: number): number } {
    return { rows: this.rows, host: this.host, rank: this.rank, dist: (a, b) => this.dist(a, b) };
  }
}

/**
 * Per-VM rows of (peer, rate) in flat typed arrays (CSR with slack): row u is adj/rate[start[u] ..
 * start[u] + len[u]), room for cap[u] entries. A row that outgrows its room moves to the end with
 * twice the room (its old room is left unused: the waste is at most the rows' total room), so a
 * traffic change writes in place and allocates only when the store doubles. Entries keep the
 * order a Map-based row would: appended at the end, removed with the rest shifted down.
 * `adj` and `rate` may be replaced by `append`; nothing holds them across a traffic change.
 */
class Rows {
  readonly start: Int32Array;
  readonly len: Int32Array;
  private readonly cap: Int32Array;
  adj: Int32Array;
  rate: Float64Array;
  private used = 0;

  /** room for each row's `degree` entries and some more */
  constructor(degree: Int32Array) {
    const n = degree.length;
    this.start = new Int32Array(n);
    this.len = new Int32Array(n);
    this.cap = new Int32Array(n);
    let total = 0;
    for (let u = 0; u < n; u++) {
      const c = degree[u]! + (degree[u]! >> 1) + 2;
      this.start[u] = total;
      this.cap[u] = c;
      total += c;
    }
    this.used = total;
    this.adj = new Int32Array(total + (total >> 2) + 16);
    this.rate = new Float64Array(this.adj.length);
  }

  /** where v is in u's row (an index into adj/rate), or -1 */
  indexOf(u: number, v: number): number {
    const adj = this.adj;
    const end = this.start[u]! + this.len[u]!;
    for (let i = this.start[u]!; i < end; i++) if (adj[i] === v) return i;
    return -1;
  }

  append(u: number, v: number, r: number): void {
    if (this.len[u] === this.cap[u]) this.move(u, 2 * this.cap[u]! + 2);
    const i = this.start[u]! + this.len[u]!;
    this.adj[i] = v;
    this.rate[i] = r;
    this.len[u]! += 1;
  }

  /** sets entry i (from `indexOf`) of u's row to (v, r): appended when i < 0, removed when r is 0 */
  set(u: number, i: number, v: number, r: number): void {
    if (i < 0) {
      if (r > 0) this.append(u, v, r);
    } else if (r > 0) this.rate[i] = r;
    else {
      // by hand: copyWithin's call costs more than moving a few entries
      const { adj, rate } = this;
      const end = this.start[u]! + this.len[u]! - 1;
      for (let j = i; j < end; j++) {
        adj[j] = adj[j + 1]!;
        rate[j] = rate[j + 1]!;
      }
      this.len[u]! -= 1;
    }
  }

  private move(u: number, room: number): void {
    if (this.used + room > this.adj.length) {
      const size = Math.max(this.used + room, 2 * this.adj.length);
      const adj = new Int32Array(size);
      adj.set(this.adj.subarray(0, this.used));
      const rate = new Float64Array(size);
      rate.set(this.rate.subarray(0, this.used));
      this.adj = adj;
      this.rate = rate;
    }
    const { adj, rate } = this;
    const s = this.start[u]!;
    for (let j = 0; j < this.len[u]!; j++) {
      adj[this.used + j] = adj[s + j]!;
      rate[this.used + j] = rate[s + j]!;
    }
    this.start[u] = this.used;
    this.cap[u] = room;
    this.used += room;
  }
}

/**
 * What each move's decision saw, kept in flat arrays so its record is built by `decideAmong` (the
 * code every other planner uses) when first read and not per move, and a move costs no objects
 * beyond its two record shells: per move, u, its host, the target, the peer count, C_A before and
 * after, c_m; its flows with cost > 0 in `decideAmong`'s order (peer, host, cost); and per
 * distinct candidate host in that order, C_A there (NaN: full, or not evaluated in `first` mode
 * after the choice) and its c_m. `decideAmong` asks `full` and `costAt` only of the hosts
 * `choose` looked at, in the same order, so the record is the one a decision on the spot would
 * have made. A copy, not a view: later plans and traffic changes do not alter it.
 */
class MoveLog {
  /** per move: u, from, to, peer count, start of its flows and of its candidates in the arrays below, flows, candidates */
  private mi: Int32Array = new Int32Array(8 * 1024);
  /** per move: C_A before, after, c_m */
  private mf: Float64Array = new Float64Array(3 * 1024);
  private fi: Int32Array = new Int32Array(2 * 4096);
  private ff: Float64Array = new Float64Array(4096);
  private ci: Int32Array = new Int32Array(4096);
  private cf: Float64Array = new Float64Array(2 * 4096);
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
  ) {}

  add(u: number, from: number, to: number, peerCount: number, costBefore: number, costAfter: number, cm: number, fPeer: Int32Array, fHost: Int32Array, fCost: Float64Array, fOrder: Int32Array, nf: number, cHost: Int32Array, cCost: Float64Array, cCm: Float64Array, nc: number): number {
    const k = this.nMoves++;
    if (8 * this.nMoves > this.mi.length) {
      this.mi = grownI(this.mi, 8 * this.nMoves);
      this.mf = grownF(this.mf, 3 * this.nMoves);
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
    const m = 8 * k;
    mi[m] = u;
    mi[m + 1] = from;
    mi[m + 2] = to;
    mi[m + 3] = peerCount;
    mi[m + 4] = this.nFlows;
    mi[m + 5] = nf;
    mi[m + 6] = this.nCands;
    mi[m + 7] = nc;
    mf[3 * k] = costBefore;
    mf[3 * k + 1] = costAfter;
    mf[3 * k + 2] = cm;
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
    return this.names[this.mi[8 * k]!]!;
  }
  from(k: number): string {
    return this.hvNames[this.mi[8 * k + 1]!]!;
  }
  target(k: number): number {
    return this.mi[8 * k + 2]!;
  }
  costBefore(k: number): number {
    return this.mf[3 * k]!;
  }
  costAfter(k: number): number {
    return this.mf[3 * k + 1]!;
  }
  migrationCost(k: number): number {
    return this.mf[3 * k + 2]!;
  }
  to(k: number): string {
    return this.hvNames[this.mi[8 * k + 2]!]!;
  }

  decision(k: number): Decision {
    const done = this.made[k];
    if (done !== undefined) return done;
    const { mi, fi, ff, ci, cf, hvNames } = this;
    const peerCount = mi[8 * k + 3]!;
    const f0 = mi[8 * k + 4]!;
    const nf = mi[8 * k + 5]!;
    const c0 = mi[8 * k + 6]!;
    const nc = mi[8 * k + 7]!;
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
class LazyDecision implements Decision {
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

/** A placement as a read-only map over a snapshot of host numbers. */
class PlacementView implements ReadonlyMap<string, string> {
  constructor(
    private readonly names: readonly string[],
    private readonly id: ReadonlyMap<string, number>,
    private readonly hvNames: readonly string[],
    private readonly hosts: Int32Array,
  ) {}
  get size(): number {
    return this.names.length;
  }
  get(vm: string): string | undefined {
    const u = this.id.get(vm);
    return u === undefined ? undefined : this.hvNames[this.hosts[u]!];
  }
  has(vm: string): boolean {
    return this.id.has(vm);
  }
  forEach(f: (host: string, vm: string, map: ReadonlyMap<string, string>) => void): void {
    for (let u = 0; u < this.names.length; u++) f(this.hvNames[this.hosts[u]!]!, this.names[u]!, this);
  }
  *entries(): MapIterator<[string, string]> {
    for (let u = 0; u < this.names.length; u++) yield [this.names[u]!, this.hvNames[this.hosts[u]!]!];
  }
  *keys(): MapIterator<string> {
    yield* this.names;
  }
  *values(): MapIterator<string> {
    for (let u = 0; u < this.names.length; u++) yield this.hvNames[this.hosts[u]!]!;
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}

interface IncOrder {
  /** a new round over these VMs (and whoever becomes dirty during it) */
  begin(explicit: readonly number[]): void;
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
class RoundRobinInc implements IncOrder {
  private readonly heap = new CostHeap();
  private readonly queued: Uint8Array;
  private readonly done: Uint8Array;
  private doneList: number[] = [];
  private at = -Infinity;
  private readonly rank: Float64Array;
  private readonly rows: Rows;
  constructor(p: IncrementalPlanner, n: number) {
    const v = p.view();
    this.rank = v.rank;
    this.rows = v.rows;
    this.queued = new Uint8Array(n);
    this.done = new Uint8Array(n);
  }
  begin(explicit: readonly number[]): void {
    for (const u of this.doneList) this.done[u] = 0;
    this.doneList = [];
    this.at = -Infinity;
    for (const u of explicit) this.push(u);
  }
  private push(u: number): void {
    if (this.queued[u] === 1 || this.done[u] === 1 || this.rank[u]! <= this.at) return;
    this.queued[u] = 1;
    // the heap pops the highest cost first: key on −rank so the lowest rank comes first
    this.heap.push(-this.rank[u]!, this.rank[u]!, u, 0);
  }
  next(): number {
    if (this.heap.size === 0) return -1;
    this.heap.pop();
    const u = this.heap.topVm;
    this.queued[u] = 0;
    this.done[u] = 1;
    this.doneList.push(u);
    this.at = this.rank[u]!;
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
class LoadAwareInc implements IncOrder {
  private readonly heap = new CostHeap();
  private readonly version: Int32Array;
  private readonly asked: Uint8Array;
  /** pushed in this round (its key is tracked by the heap, not the "asked already" test) */
  private readonly inRound: Uint8Array;
  private touched: number[] = [];
  private readonly bound: Float64Array;
  private readonly exact: Uint8Array;
  /** per VM outside the heap: asks made in the round when it left the heap (0: since the round began) */
  private readonly since: Int32Array;
  /** asks made in this round */
  private asks = 0;
  /** suffix minima of the asks' keys: ask index, cost, rank; bottom to top indices and keys rise */
  private readonly stIdx: Int32Array;
  private readonly stCost: Float64Array;
  private readonly stRank: Float64Array;
  private stTop = 0;
  private readonly s: ReturnType<IncrementalPlanner['view']>;

  constructor(
    private readonly p: IncrementalPlanner,
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

  begin(explicit: readonly number[]): void {
    for (const u of this.touched) {
      this.asked[u] = 0;
      this.inRound[u] = 0;
      this.bound[u] = NaN;
      this.exact[u] = 0;
      this.since[u] = 0;
      this.version[u]! += 1;
    }
    this.touched = [];
    this.heap.size = 0;
    this.asks = 0;
    this.stTop = 0;
    for (const u of explicit) this.pushExact(u);
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
    return c > minCost || (c === minCost && this.s.rank[u]! < this.stRank[lo]!);
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
      const r = this.s.rank[u]!;
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
      const f = rows.indexOf(p, u);
      if (f < 0) continue;
      const r = rows.rate[f]!;
      const hp = s.host[p]!;
      const before = r * s.dist(hp, from);
      const after = r * s.dist(hp, s.host[u]!);
      if (!(r > 0 && before >= 0 && after >= 0 && after < Infinity)) {
        this.pushExact(p);
      } else if (after <= before) {
        if (b > 0) this.exact[p] = 0;
      } else {
        const nb = (b + (after - before)) * (1 + 1e-9);
        this.bound[p] = nb;
        this.exact[p] = 0;
        this.heap.push(nb, s.rank[p]!, p, ++this.version[p]!);
      }
    }
  }

  opened(w: number, h: number): boolean {
    if (this.asked[w] === 1 || this.inRound[w] === 1) return true;
    // the bound holds whatever is full: a VM it sets aside keeps its key and its `since`
    if (this.p.surelyDeclines(w)) return true;
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
      return;
    }
    this.inRound[u] = 1;
    const v = ++this.version[u]!;
    const sum = this.p.exactCost(u);
    this.bound[u] = this.p.lastSound ? sum : NaN;
    this.exact[u] = 1;
    if (sum > 0) this.heap.push(sum, this.s.rank[u]!, u, v);
  }
}

