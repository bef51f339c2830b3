import type { Placement, TrafficMatrix } from './cost.ts';
import { lambda, vmCost, worthMigrating } from './cost.ts';
import type { Candidate, Decision, DecisionInput } from './decision.ts';
import { decide, fmt } from './decision.ts';
import type { PathOracle } from './paths.ts';
import type { Resources } from './rails.ts';

/**
 * Pairs of moves: u goes x → y while w (on y) goes y → z. With z = x it is a swap (exchange),
 * with z elsewhere a look-ahead "ejection" (w makes room for u). Eq. 3 for a pair: the pair is
 * taken only when the drop of the total cost C_A (Eq. 2) exceeds c_m of both moves.
 *
 * The drop of C_A for the pair, with λ = λ(u, w) and h_p every other VM's host:
 *   Σ_{p≠w} λ(u,p)[c(x,h_p) − c(y,h_p)] + Σ_{p≠u} λ(w,p)[c(y,h_p) − c(z,h_p)] + λ[c(x,y) − c(y,z)]
 * which, from the single-VM costs of the current placement (A = C_A(u) − C_{A,u→y}(u),
 * B = C_A(w) − C_{A,w→z}(w)), is A + B − λ·c(y,x) + λ·c(z,x) − λ·c(y,z). For a swap that is
 * A + B − 2λ·c(x,y): two peers that trade places save nothing on their own flow.
 */
export interface PairMove {
  readonly u: string;
  readonly x: string;
  readonly y: string;
  readonly w: string;
  /** where w goes: x for a swap */
  readonly z: string;
  /** drop of the total cost C_A if both moves are made (may be negative) */
  readonly saving: number;
  /** C_A(u) + C_A(w) now, and after both moves */
  readonly costBefore: number;
  readonly costAfter: number;
  /** c_m(u: x→y) + c_m(w: y→z) */
  readonly migrationCost: number;
}

export interface PairInput {
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
}

/** The pair u: x → y, w: y → z (z = x: a swap) priced on the current placement (see PairMove). */
export function pairMove(p: PairInput, u: string, w: string, z: string, cm: (vm: string, from: string, to: string) => number): PairMove {
  const { placement, traffic, oracle } = p;
  const x = placement.get(u);
  const y = placement.get(w);
  if (x === undefined || y === undefined) throw new Error(`VM ${x === undefined ? u : w} has no placement`);
  const cu = vmCost(u, placement, traffic, oracle);
  const cw = vmCost(w, placement, traffic, oracle);
  const a = cu - vmCost(u, placement, traffic, oracle, y);
  const b = cw - vmCost(w, placement, traffic, oracle, z);
  const l = lambda(traffic, u, w);
  const saving = l === 0 ? a + b : a + b - l * oracle.cost(y, x) + l * oracle.cost(z, x) - l * oracle.cost(y, z);
  // C_A(u) + C_A(w) counts their common flow twice where C_A counts it once
  const common = l === 0 ? 0 : l * oracle.cost(y, z) - l * oracle.cost(x, y);
  return { u, x, y, w, z, saving, costBefore: cu + cw, costAfter: cu + cw - saving + common, migrationCost: cm(u, x, y) + cm(w, y, z) };
}

/** Eq. 3 for a pair: the pair's drop of C_A exceeds both moves' c_m (with the same noise margin as one move). */
export function pairWorthIt(m: PairMove): boolean {
  return worthMigrating(m.costBefore, m.costBefore - m.saving, m.migrationCost);
}

/** True when the exchange u ↔ w keeps both hypervisors within CPU and memory (slots do not change). */
export function swapFits(r: Resources | undefined, u: string, x: string, w: string, y: string): boolean {
  if (r === undefined) return true;
  const du = r.spec.demand.get(u);
  const dw = r.spec.demand.get(w);
  const fits = (host: string, out: typeof du, into: typeof du): boolean => {
    const cap = r.spec.hosts.get(host);
    if (cap === undefined) return true;
    if (cap.cpu !== undefined && (r.use.cpu.get(host) ?? 0) - (out?.cpu ?? 0) + (into?.cpu ?? 0) > cap.cpu + 1e-9) return false;
    if (cap.memoryBytes !== undefined && (r.use.memoryBytes.get(host) ?? 0) - (out?.memoryBytes ?? 0) + (into?.memoryBytes ?? 0) > cap.memoryBytes) return false;
    return true;
  };
  return fits(y, dw, du) && fits(x, du, dw);
}

/** A decision that may be an exchange: `to` is u's target and `swap` the partner's move back. */
export interface SwapDecision extends Decision {
  readonly swap?: {
    readonly vm: string;
    readonly from: string;
    readonly to: string;
    /** C_A(w) now and after the exchange */
    readonly costBefore: number;
    readonly costAfter: number;
    readonly migrationCost: number;
    /** the drop of the total C_A for the pair */
    readonly saving: number;
  };
}

export interface SwapDecisionInput extends DecisionInput {
  /** the VMs on each hypervisor (the exchange partners on a full candidate) */
  readonly members: ReadonlyMap<string, readonly string[]>;
}

/**
 * Algorithm 1 with exchanges: `decide` first; when it keeps u where it is and some candidate
 * hypervisor was full in slots, each VM w on such a hypervisor y is priced as the exchange
 * u: x → y, w: y → x, and the exchange with the largest drop of C_A that passes Eq. 3 for a pair
 * is taken (ties: the candidate order, then the lower-ranked partner). A rail must allow both
 * moves. Only slot-full candidates are paired: a CPU/memory-full one stays full (`swapFits`
 * checks the exchange itself).
 */
export function decideWithSwap(input: SwapDecisionInput): SwapDecision {
  const d = decide(input);
  if (d.to !== null) return d;
  const { vm: u, placement, traffic, oracle, members, rank, rail } = input;
  const x = d.from;
  const cmOf = typeof input.migrationCost === 'number' ? ((c: number) => () => c)(input.migrationCost) : input.migrationCost;
  let best: { m: PairMove; index: number } | null = null;
  d.candidates.forEach((c, index) => {
    if (c.verdict !== 'full' || c.limit !== undefined) return;
    const ws = [...(members.get(c.hypervisor) ?? [])].sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
    for (const w of ws) {
      if (w === u) continue;
      if (!swapFits(input.resources, u, x, w, c.hypervisor)) continue;
      const m = pairMove({ placement, traffic, oracle }, u, w, x, cmOf);
      if (!pairWorthIt(m)) continue;
      if (rail !== undefined && (!rail(u, x, c.hypervisor).ok || !rail(w, c.hypervisor, x).ok)) continue;
      if (best === null || m.saving - m.migrationCost > best.m.saving - best.m.migrationCost) best = { m, index };
    }
  });
  if (best === null) return d;
  const { m, index } = best as { m: PairMove; index: number };
  const cuAfter = vmCost(u, new Map(placement).set(u, m.y).set(m.w, x), traffic, oracle);
  const cwBefore = vmCost(m.w, placement, traffic, oracle);
  const cwAfter = m.costAfter - cuAfter;
  const cmU = cmOf(u, x, m.y);
  const candidates: Candidate[] = d.candidates.map((c, i) => (i === index ? { ...c, verdict: 'chosen', costThere: cuAfter } : c));
  const reason =
    `exchange with ${m.w}: ${m.y} is full, so ${u} goes ${x} -> ${m.y} and ${m.w} goes ${m.y} -> ${x}; ` +
    `C_A(${u}) + C_A(${m.w}) from ${fmt(m.costBefore)} to ${fmt(m.costAfter)}, C_A drops by ${fmt(m.saving)} > c_m of both moves ${fmt(m.migrationCost)}`;
  return {
    ...d,
    to: m.y,
    costAfter: cuAfter,
    migrationCost: cmU,
    candidates,
    reason,
    swap: { vm: m.w, from: m.y, to: x, costBefore: cwBefore, costAfter: cwAfter, migrationCost: m.migrationCost - cmU, saving: m.saving },
  };
}
