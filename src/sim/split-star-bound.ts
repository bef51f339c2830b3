import { index, isUltrametric, type BudgetInput, type Indexed } from './half-moved.ts';
import { ScoreError, isScoreError } from '../errors/errors.ts';

/**
 * A computed upper bound on the saving of any placement with at most `budget` VMs away from their
 * initial hypervisors (slots ignored, so it holds within the slots too): the "split-star" bound,
 * a Lagrangian relaxation of the budget plus a decomposition of C_A's saving into one star per VM.
 * Benchmark analysis for docs/scale.md's half-moved section; not used by any planner.
 *
 * Notation: VM u starts on x_u; a placement puts it on h_u and M is the set with h_u ≠ x_u. Pair
 * e = (u, v) with rate λ_e and initial cost w_e = λ_e·c(x_u, x_v) saves
 * s_e = λ_e·(c(x_u, x_v) − c(h_u, h_v)) ≤ w_e (path costs fixed, c(h, h) = 0). Saving S = Σ_e s_e.
 *
 * 1. Lagrange: for any μ ≥ 0 and |M| ≤ k, S ≤ (S − μ|M|) + μk ≤ Φ(μ) + μk, with
 *    Φ(μ) = max over all placements of S − μ|M|.
 * 2. Splits: per pair shares α_{e,u} + α_{e,v} = 1 (α ≥ 0); per VM v a split of its price
 *    π_{v,v} + Σ_{u ∈ N(v)} π_{v,u} ≤ μ (π ≥ 0). Then
 *      S − μ|M| ≤ Σ_u B_u,  B_u = Σ_{e=(u,v)} α_{e,u}·s_e − π_{u,u}·[u ∈ M] − Σ_{v ∈ N(u)} π_{v,u}·[v ∈ M]
 *    (each s_e is counted with total weight 1, each moved VM pays at least μ over the brackets).
 * 3. Star u: B_u depends only on h_u and its partners' h_v, so B_u ≤ Ψ_u = max over those of B_u:
 *    for a given h_u, partner v either stays (α_{e,u}·λ_e·(c(x_u, x_v) − c(h_u, x_v))) or moves
 *    (at most α_{e,u}·w_e − π_{v,u}, since s_e ≤ w_e), independently of the others, so
 *      Ψ_u = max_h [ −π_{u,u}·[h ≠ x_u] + Σ_v max(α_{e,u}·λ_e·(c(x_u, x_v) − c(h, x_v)), α_{e,u}·w_e − π_{v,u}) ].
 *    On an ultrametric (fat-tree, leaf-spine: the cost depends only on the level a path turns at)
 *    the maximum over all hypervisors is attained on {x_u} ∪ {x_v}: for any h, the nearest point p
 *    of that set has c(p, x_v) ≤ max(c(p, h), c(h, x_v)) = c(h, x_v) for every partner, so no term
 *    falls (α ≥ 0), and p = x_u only drops the price. Otherwise every hypervisor is tried.
 *  So for every μ, α, π as above: max saving with |M| ≤ k ≤ μk + Σ_u Ψ_u. Any splits give a valid
 *  bound; `optimiseSplits` searches for low ones (projected subgradient on this convex, piecewise
 *  linear function; a golden-section search over μ, whose best value is convex in μ).
 *
 * Shapes: shares of the initial cost C_A (Eq. 2). α per VM aligned with its pair list (`Indexed.adj`);
 * the partner's share is 1 − α; π likewise per VM: own share, then one per partner (π_{v,u} in v's list).
 */
export interface Splits {
  readonly mu: number;
  /** alpha[u][i]: α of u's i-th pair, u's side; the partner's side holds 1 − this */
  readonly alpha: readonly Float64Array[];
  /** own[v] = π_{v,v} */
  readonly own: Float64Array;
  /** give[v][i] = π_{v, u} for u = v's i-th partner */
  readonly give: readonly Float64Array[];
}

export interface SplitStar {
  readonly x: Indexed;
  readonly ultra: boolean;
  /** for u's i-th pair (v), the index of u in v's pair list */
  readonly back: readonly Int32Array[];
  /** hypervisors tried per VM */
  readonly candidates: readonly Int32Array[];
}

/** @throws ScoreError PLACEMENT_INVALID (half-moved.ts index) */
export function splitStar(input: BudgetInput): SplitStar {
  const x = index(input);
  const ultra = isUltrametric(x);
  const back = x.adj.map((peers, u) => Int32Array.from(peers, ([v]) => x.adj[v]!.findIndex(([w]) => w === u)));
  const all = Int32Array.from(x.hosts, (_, i) => i);
  const candidates = x.adj.map((peers, u) => (ultra ? Int32Array.from(new Set([x.init[u]!, ...peers.map(([v]) => x.init[v]!)])) : all));
  return { x, ultra, back, candidates };
}

/** Ψ_u, with the maximising hypervisor and per partner whether "moves" was the larger term. */
function star(st: SplitStar, s: Splits, u: number, moves?: Uint8Array): { value: number; h: number } {
  const { x } = st;
  const H = x.hosts.length;
  const peers = x.adj[u]!;
  const xu = x.init[u]!;
  let best = -Infinity;
  let bestH = xu;
  for (const h of st.candidates[u]!) {
    let val = h === xu ? 0 : -s.own[u]!;
    for (let i = 0; i < peers.length; i++) {
      const [v, l] = peers[i]!;
      const a = s.alpha[u]![i]!;
      const xv = x.init[v]!;
      const c0 = x.cost[xu * H + xv]!;
      const stay = a * l * (c0 - x.cost[h * H + xv]!);
      const move = a * l * c0 - s.give[v]![st.back[u]![i]!]!;
      val += stay >= move ? stay : move;
    }
    if (val > best) {
      best = val;
      bestH = h;
    }
  }
  if (moves !== undefined) {
    for (let i = 0; i < peers.length; i++) {
      const [v, l] = peers[i]!;
      const a = s.alpha[u]![i]!;
      const c0 = x.cost[xu * H + x.init[v]!]!;
      const stay = a * l * (c0 - x.cost[bestH * H + x.init[v]!]!);
      moves[i] = a * l * c0 - s.give[v]![st.back[u]![i]!]! > stay ? 1 : 0;
    }
  }
  return { value: best, h: bestH };
}

/**
 * Checks the splits' conditions (they make the bound valid) and returns μk + Σ_u Ψ_u as a share of the initial cost.
 * @throws ScoreError SPLITS_INVALID (a condition broken: the value would be no bound)
 */
export function splitStarBound(st: SplitStar, budget: number, s: Splits): number {
  const { x } = st;
  const tol = 1e-9;
  if (!(s.mu >= 0)) throw new ScoreError('SPLITS_INVALID', `μ must be ≥ 0, got ${s.mu}`, { mu: s.mu });
  for (let u = 0; u < x.n; u++) {
    const peers = x.adj[u]!;
    for (let i = 0; i < peers.length; i++) {
      const a = s.alpha[u]![i]!;
      const b = s.alpha[peers[i]![0]]![st.back[u]![i]!]!;
      if (!(a >= -tol && Math.abs(a + b - 1) <= tol)) throw new ScoreError('SPLITS_INVALID', `α of pair ${u}-${peers[i]![0]} (VM indices): ${a} + ${b} ≠ 1 or negative`, { vmIndex: u, peerIndex: peers[i]![0], alpha: a, other: b });
    }
    let sum = s.own[u]!;
    if (!(s.own[u]! >= -tol)) throw new ScoreError('SPLITS_INVALID', `π of VM index ${u} negative`, { vmIndex: u, pi: s.own[u] });
    for (const p of s.give[u]!) {
      if (!(p >= -tol)) throw new ScoreError('SPLITS_INVALID', `π of VM index ${u} negative`, { vmIndex: u, pi: p });
      sum += p;
    }
    if (sum > s.mu * (1 + tol) + tol) throw new ScoreError('SPLITS_INVALID', `π of VM index ${u} sums to ${sum} > μ = ${s.mu}`, { vmIndex: u, sum, mu: s.mu });
  }
  let total = s.mu * budget;
  for (let u = 0; u < x.n; u++) total += Math.max(0, star(st, s, u).value);
  return x.initialCost === 0 ? 0 : total / x.initialCost;
}

/** Euclidean projection onto {p ≥ 0, Σ p = z} (sort-based). */
function projectSimplex(p: Float64Array, z: number): void {
  const sorted = Float64Array.from(p).sort().reverse();
  let cum = 0;
  let theta = 0;
  for (let i = 0; i < sorted.length; i++) {
    cum += sorted[i]!;
    const t = (cum - z) / (i + 1);
    if (i === sorted.length - 1 || sorted[i + 1]! <= t) {
      theta = t;
      break;
    }
  }
  for (let i = 0; i < p.length; i++) p[i] = Math.max(0, p[i]! - theta);
}

export function evenSplits(st: SplitStar, mu: number): Splits {
  const { x } = st;
  return {
    mu,
    alpha: x.adj.map((peers) => new Float64Array(peers.length).fill(0.5)),
    own: Float64Array.from(x.adj, (peers) => mu / (peers.length + 1)),
    give: x.adj.map((peers) => new Float64Array(peers.length).fill(mu / (peers.length + 1))),
  };
}

/** Projected subgradient on (α, π) for a fixed μ; returns the best splits met (in C_A units: not shares). */
function descend(st: SplitStar, budget: number, start: Splits, iterations: number): { splits: Splits; value: number } {
  const { x } = st;
  const n = x.n;
  const H = x.hosts.length;
  const cur = { mu: start.mu, alpha: start.alpha.map((a) => Float64Array.from(a)), own: Float64Array.from(start.own), give: start.give.map((g) => Float64Array.from(g)) };
  const value = (): number => {
    let t = cur.mu * budget;
    for (let u = 0; u < n; u++) t += Math.max(0, star(st, cur, u).value);
    return t;
  };
  let bestVal = value();
  let best = { mu: cur.mu, alpha: cur.alpha.map((a) => Float64Array.from(a)), own: Float64Array.from(cur.own), give: cur.give.map((g) => Float64Array.from(g)) };
  const gAlpha = x.adj.map((peers) => new Float64Array(peers.length));
  const gOwn = new Float64Array(n);
  const gGive = x.adj.map((peers) => new Float64Array(peers.length));
  // scratch sized to the largest degree (a hub's partners all need a slot)
  const maxDegree = x.adj.reduce((m, peers) => Math.max(m, peers.length), 0);
  const moves = new Uint8Array(maxDegree + 1);
  const meanCost = n === 0 ? 0 : (2 * x.initialCost) / n;
  let last = bestVal;
  for (let it = 0; it < iterations; it++) {
    for (let u = 0; u < n; u++) {
      gAlpha[u]!.fill(0);
      gGive[u]!.fill(0);
    }
    gOwn.fill(0);
    let norm = 0;
    for (let u = 0; u < n; u++) {
      const r = star(st, cur, u, moves);
      if (r.value <= 0) continue;
      if (r.h !== x.init[u]) gOwn[u]! -= 1;
      const peers = x.adj[u]!;
      for (let i = 0; i < peers.length; i++) {
        const [v, l] = peers[i]!;
        const c0 = x.cost[x.init[u]! * H + x.init[v]!]!;
        const coef = moves[i] ? l * c0 : l * (c0 - x.cost[r.h * H + x.init[v]!]!);
        // α on u's side is the variable; v's side is 1 − it
        gAlpha[u]![i]! += coef;
        gAlpha[v]![st.back[u]![i]!]! -= coef;
        if (moves[i]) gGive[v]![st.back[u]![i]!]! -= 1;
      }
    }
    // variables α (no unit) and π / meanCost; gradients in C_A units
    for (let u = 0; u < n; u++) {
      const peers = x.adj[u]!;
      for (let i = 0; i < peers.length; i++) if (peers[i]![0] > u) norm += gAlpha[u]![i]! ** 2;
      for (const g of gGive[u]!) norm += (g * meanCost) ** 2;
      norm += (gOwn[u]! * meanCost) ** 2;
    }
    if (norm === 0) break;
    const eta = (0.05 * last) / norm / (1 + it / 30);
    for (let u = 0; u < n; u++) {
      const peers = x.adj[u]!;
      for (let i = 0; i < peers.length; i++) {
        const v = peers[i]![0];
        if (v < u) continue;
        // one variable per pair (u's side, u < v); gAlpha[u][i] already holds both stars' parts
        const j = st.back[u]![i]!;
        const a = Math.min(1, Math.max(0, cur.alpha[u]![i]! - eta * gAlpha[u]![i]!));
        cur.alpha[u]![i] = a;
        cur.alpha[v]![j] = 1 - a;
      }
    }
    const p = new Float64Array(maxDegree + 1);
    const k2 = eta * meanCost * meanCost;
    for (let v = 0; v < n; v++) {
      const d = cur.give[v]!.length;
      const q = p.subarray(0, d + 1);
      q[0] = cur.own[v]! - k2 * gOwn[v]!;
      for (let i = 0; i < d; i++) q[i + 1] = cur.give[v]![i]! - k2 * gGive[v]![i]!;
      projectSimplex(q, cur.mu);
      cur.own[v] = q[0]!;
      for (let i = 0; i < d; i++) cur.give[v]![i] = q[i + 1]!;
    }
    last = value();
    if (last < bestVal) {
      bestVal = last;
      best = { mu: cur.mu, alpha: cur.alpha.map((a) => Float64Array.from(a)), own: Float64Array.from(cur.own), give: cur.give.map((g) => Float64Array.from(g)) };
    }
  }
  return { splits: best, value: bestVal };
}

export interface OptimiseOptions {
  /** subgradient steps per value of μ */
  readonly iterations: number;
  /** values of μ tried by the golden-section search (as shares of the mean C_A(u), in [0, hi]) */
  readonly muSteps: number;
  /** upper end of the μ search, as a share of the mean C_A(u) */
  readonly muHigh: number;
}

export function optimiseSplits(st: SplitStar, budget: number, o: OptimiseOptions): { splits: Splits; share: number } {
  const { x } = st;
  const meanCost = x.n === 0 ? 0 : (2 * x.initialCost) / x.n;
  const at = (m: number): { splits: Splits; value: number } => descend(st, budget, evenSplits(st, m * meanCost), o.iterations);
  const phi = (Math.sqrt(5) - 1) / 2;
  let lo = 0;
  let hi = o.muHigh;
  let c = hi - phi * (hi - lo);
  let d = lo + phi * (hi - lo);
  let fc = at(c);
  let fd = at(d);
  let best = fc.value < fd.value ? fc : fd;
  for (let i = 2; i < o.muSteps; i++) {
    if (fc.value < fd.value) {
      hi = d;
      d = c;
      fd = fc;
      c = hi - phi * (hi - lo);
      fc = at(c);
      if (fc.value < best.value) best = fc;
    } else {
      lo = c;
      c = d;
      fc = fd;
      d = lo + phi * (hi - lo);
      fd = at(d);
      if (fd.value < best.value) best = fd;
    }
  }
  try {
    return { splits: best.splits, share: splitStarBound(st, budget, best.splits) };
  } catch (e) {
    // the optimiser builds its splits to meet the conditions: a broken one is its bug, not the input's
    if (isScoreError(e, 'SPLITS_INVALID')) throw new ScoreError('INTERNAL', `the split optimiser made invalid splits: ${e.message}`, e.details, { cause: e });
    throw e;
  }
}
