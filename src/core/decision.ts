import type { PathOracle } from './paths.ts';
import type { Placement, TrafficMatrix } from './cost.ts';
import { vmCost, worthMigrating } from './cost.ts';
import type { MigrationCostFn } from './migration-cost.ts';
import type { RailCheck, RailCode, ResourceDimension, Resources } from './rails.ts';
import { exceeds } from './rails.ts';

/**
 * Algorithm 1 of the paper, run for one VM by its hypervisor. Candidates are the hosts of u's
 * peers, taken flow by flow from the flow with the highest communication cost (bytes × path
 * weight) down to the first collocated one (cost 0, where the paper's loop stops). Mode `first`
 * migrates to the first candidate that satisfies Eq. 3, exactly as the paper; mode `best`
 * evaluates every candidate and takes the cheapest one that satisfies it. A hypervisor at
 * capacity (slots, or CPU/memory when `resources` is given) is never a target.
 *
 * Rails: when `rail` is given, a candidate that satisfies Eq. 3 but that the rail vetoes gets the
 * verdict 'rail' (with the rail's code and reason) and the search goes on to the next candidate,
 * so the decision says which move a rail held back. Without `rail` nothing changes.
 */
export type DecisionMode = 'first' | 'best';

export type CandidateVerdict = 'chosen' | 'improves' | 'no-gain' | 'full' | 'rail' | 'not-evaluated';

export interface Candidate {
  readonly hypervisor: string;
  /** the peer whose flow proposed this candidate */
  readonly viaPeer: string;
  /** that flow's communication cost now (λ × path cost) */
  readonly flowCost: number;
  /** C_A(u) if u moved there; null when not evaluated (full, or `first` mode stopped earlier) */
  readonly costThere: number | null;
  readonly verdict: CandidateVerdict;
  /** c_m for this target; only set when c_m is a function of the move */
  readonly migrationCost?: number;
  /** for 'full' on CPU or memory (slots leave it unset, as before) */
  readonly limit?: ResourceDimension;
  /** for 'rail': which rail held the move back, and why */
  readonly rail?: RailCode;
  readonly railReason?: string;
}

export interface Decision {
  readonly vm: string;
  readonly from: string;
  /** the target, or null to stay */
  readonly to: string | null;
  readonly costBefore: number;
  /** C_A(u) at the target, or costBefore when staying */
  readonly costAfter: number;
  /** c_m of the chosen move; when staying with a per-move c_m, the least c_m among the evaluated candidates (0 if none) */
  readonly migrationCost: number;
  readonly mode: DecisionMode;
  readonly candidates: readonly Candidate[];
  readonly reason: string;
}

export interface DecisionInput {
  readonly vm: string;
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  /** VMs each hypervisor may host */
  readonly capacity: ReadonlyMap<string, number>;
  /** VMs each hypervisor hosts now */
  readonly load: ReadonlyMap<string, number>;
  /** c_m: a number (the paper) or a function of the move (e.g. the pre-copy model, see migration-cost.ts) */
  readonly migrationCost: number | MigrationCostFn;
  readonly mode: DecisionMode;
  /** tie-break order of VMs (lower first); the paper's "lower VM number" */
  readonly rank: ReadonlyMap<string, number>;
  /** CPU and memory capacity and use, checked besides the slots */
  readonly resources?: Resources;
  /** veto on a move that satisfies Eq. 3 (see rails.ts: railsAllow) */
  readonly rail?: (vm: string, from: string, to: string) => RailCheck;
}

export function decide(input: DecisionInput): Decision {
  const { vm, placement, traffic, oracle, capacity, load, rank } = input;
  const from = placement.get(vm);
  if (from === undefined) throw new Error(`VM ${vm} has no placement`);
  const peers = traffic.peers.get(vm);
  const flows: Flow<string>[] = [];
  // C_A(u) is summed here, term by term in vmCost's order, so it is the same number vmCost gives.
  let costBefore = 0;
  for (const [peer, rate] of peers ?? []) {
    const host = placement.get(peer);
    if (host === undefined) throw new Error(`VM ${peer} has no placement`);
    const cost = rate * oracle.cost(from, host);
    costBefore += cost;
    if (cost > 0) flows.push({ peer, host, cost, rank: rank.get(peer) ?? 0 });
  }
  const view: DecisionView<string> = {
    name: (h) => h,
    full: (h) => (load.get(h) ?? 0) >= (capacity.get(h) ?? 0),
    costAt: (h) => vmCost(vm, placement, traffic, oracle, h),
  };
  return decideAmong(vm, from, costBefore, flows, peers?.size ?? 0, view, input);
}

/** A flow of u that proposes its peer's host; `H` is however the caller names hypervisors. */
export interface Flow<H> {
  readonly peer: string;
  readonly host: H;
  /** λ × path cost now */
  readonly cost: number;
  /** the peer's tie-break rank */
  readonly rank: number;
}

export interface DecisionView<H> {
  name(h: H): string;
  /** no slot left */
  full(h: H): boolean;
  /** C_A(u) with u on h */
  costAt(h: H): number;
}

export type DecisionOptions = Pick<DecisionInput, 'migrationCost' | 'mode' | 'resources' | 'rail'>;

/**
 * The body of `decide` once u's flows are known, so a planner with its own (indexed) state
 * decides exactly as `decide` does. `flows` holds the flows with cost > 0 in u's peer order; it is
 * sorted in place. With `round`, the decision carries it (as runPolicy records decisions).
 */
export function decideAmong<H>(vm: string, from: string, costBefore: number, flows: Flow<H>[], peerCount: number, view: DecisionView<H>, o: DecisionOptions): Decision;
export function decideAmong<H>(vm: string, from: string, costBefore: number, flows: Flow<H>[], peerCount: number, view: DecisionView<H>, o: DecisionOptions, round: number): Decision & { readonly round: number };
export function decideAmong<H>(vm: string, from: string, costBefore: number, flows: Flow<H>[], peerCount: number, view: DecisionView<H>, o: DecisionOptions, round?: number): Decision {
  const { mode, resources, rail } = o;
  const cmFn = typeof o.migrationCost === 'number' ? null : o.migrationCost;
  const cmFixed = typeof o.migrationCost === 'number' ? o.migrationCost : 0;
  flows.sort((a, b) => b.cost - a.cost || a.rank - b.rank);

  const candidates: Candidate[] = [];
  const seen = new Set<H>();
  let chosen: { host: string; cost: number; cm: number; index: number } | null = null;
  let railBlocked: Candidate | null = null;
  let leastCm = Infinity;
  for (const f of flows) {
    if (seen.has(f.host)) continue;
    seen.add(f.host);
    const host = view.name(f.host);
    if (mode === 'first' && chosen !== null) {
      candidates.push({ hypervisor: host, viaPeer: f.peer, flowCost: f.cost, costThere: null, verdict: 'not-evaluated' });
      continue;
    }
    if (view.full(f.host)) {
      candidates.push({ hypervisor: host, viaPeer: f.peer, flowCost: f.cost, costThere: null, verdict: 'full' });
      continue;
    }
    const limit = resources === undefined ? null : exceeds(resources, vm, host);
    if (limit !== null) {
      candidates.push({ hypervisor: host, viaPeer: f.peer, flowCost: f.cost, costThere: null, verdict: 'full', limit });
      continue;
    }
    const costThere = view.costAt(f.host);
    const cm = cmFn === null ? cmFixed : cmFn(vm, from, host);
    if (cm < leastCm) leastCm = cm;
    const improves = worthMigrating(costBefore, costThere, cm);
    if (improves && rail !== undefined) {
      const check = rail(vm, from, host);
      if (!check.ok) {
        const c: Candidate = { hypervisor: host, viaPeer: f.peer, flowCost: f.cost, costThere, verdict: 'rail', rail: check.code, railReason: check.reason, ...(cmFn === null ? {} : { migrationCost: cm }) };
        candidates.push(c);
        if (railBlocked === null || costThere < (railBlocked.costThere ?? Infinity)) railBlocked = c;
        continue;
      }
    }
    const verdict = improves ? 'improves' : 'no-gain';
    candidates.push(
      cmFn === null
        ? { hypervisor: host, viaPeer: f.peer, flowCost: f.cost, costThere, verdict }
        : { hypervisor: host, viaPeer: f.peer, flowCost: f.cost, costThere, verdict, migrationCost: cm },
    );
    if (improves && (chosen === null || costThere < chosen.cost)) {
      chosen = { host, cost: costThere, cm, index: candidates.length - 1 };
    }
  }

  if (chosen === null) {
    const migrationCost = cmFn === null ? cmFixed : leastCm === Infinity ? 0 : leastCm;
    const reason =
      railBlocked !== null
        ? `rail ${railBlocked.rail ?? ''} holds back the move to ${railBlocked.hypervisor} (C_A(${vm}) ${fmt(costBefore)} -> ${fmt(railBlocked.costThere ?? costBefore)}): ${railBlocked.railReason ?? ''}`
        : flows.length === 0
          ? costBefore === 0 && peerCount > 0
            ? 'already collocated with every peer'
            : 'no traffic'
          : candidates.every((c) => c.verdict === 'full')
            ? 'every candidate hypervisor is full'
            : cmFn === null
              ? `no candidate saves more than c_m = ${migrationCost}`
              : 'no candidate saves more than its c_m';
    if (round === undefined) return { vm, from, to: null, costBefore, costAfter: costBefore, migrationCost, mode, candidates, reason };
    const d: Decision & { readonly round: number } = { vm, from, to: null, costBefore, costAfter: costBefore, migrationCost, mode, candidates, reason, round };
    return d;
  }
  const picked = candidates[chosen.index]!;
  candidates[chosen.index] = { ...picked, verdict: 'chosen' };
  const reason = `moving next to ${picked.viaPeer} on ${chosen.host} cuts C_A(${vm}) from ${fmt(costBefore)} to ${fmt(chosen.cost)} (saving ${fmt(costBefore - chosen.cost)} > c_m ${fmt(chosen.cm)})`;
  if (round === undefined) return { vm, from, to: chosen.host, costBefore, costAfter: chosen.cost, migrationCost: chosen.cm, mode, candidates, reason };
  // built with the round in place: copying 65k decisions to add it cost a noticeable share of a round
  const d: Decision & { readonly round: number } = { vm, from, to: chosen.host, costBefore, costAfter: chosen.cost, migrationCost: chosen.cm, mode, candidates, reason, round };
  return d;
}

/**
 * The same decision with its move held back by a rail applied after the choice (the stability
 * rule, or a limit met when simultaneous moves are admitted): it stays, and says why.
 */
export function holdBack(d: Decision, code: RailCode, why: string): Decision {
  const candidates = d.candidates.map((c) => (c.verdict === 'chosen' ? { ...c, verdict: 'rail' as const, rail: code, railReason: why } : c));
  return { ...d, to: null, costAfter: d.costBefore, candidates, reason: `rail ${code} holds back the move to ${d.to ?? '?'}: ${why}` };
}

/** A cost as decisions' reasons print it: at most two decimals. */
export function fmt(x: number): string {
  // toFixed is slow, and for an integer below 1e21 (costs usually are) it changes nothing.
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x);
  return String(+x.toFixed(2));
}
