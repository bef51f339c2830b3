import { seededRng } from '../core/random.ts';
import { index, totalOf, type BudgetInput, type Indexed } from './half-moved.ts';
import { ScoreError } from '../errors/errors.ts';

/**
 * The best placement with at most `budget` VMs away from their initial hypervisors, searched with
 * a price on being away instead of a hard budget (benchmark analysis, like half-moved.ts: it
 * computes a target placement, it does not plan migrations).
 *
 * Why a price: annealing under the hard budget (`budgetAnneal`) cannot change *which* VMs are
 * away once the budget is used up: moving a new VM needs another one home first, a step that
 * raises C_A and is refused at low temperature. Here the objective is C_A + μ·(VMs away), a
 * Lagrangian relaxation of the budget, and μ follows the count (raised while more than `budget`
 * are away, lowered while fewer), so VMs trade places in the moved set one step at a time.
 * At the end the placement is brought within the budget (the away VMs whose return home costs
 * least go home) and improved by exchanges of a moved VM for an unmoved one at a fixed count.
 *
 * Moves: a VM to a peer's hypervisor, a rack mate of it, a host in the peer's pod (the hosts at the
 * second-least path cost) or home; onto a full hypervisor as an exchange with one of its VMs.
 * Slots as given (pass a large capacity to ignore them). Costs in C_A units (Eq. 2).
 */
export interface PricedSearchOptions {
  readonly iterations: number;
  /** start temperature as a share of the mean C_A(u) of the initial placement; falls linearly to 0 */
  readonly temperature: number;
  /** start price of being away, as a share of the mean C_A(u) of the initial placement */
  readonly price: number;
  readonly seed: number;
  /** where to start (within the slots; default: the initial placement) */
  readonly start?: ReadonlyMap<string, string>;
}

export interface PricedSearchResult {
  readonly placement: Map<string, string>;
  readonly initialCost: number;
  readonly cost: number;
  readonly reduction: number;
  /** VMs away from their initial hypervisor (≤ budget) */
  readonly moved: number;
  /** the price at the end of the annealing, as a share of the mean C_A(u) */
  readonly finalPrice: number;
  /** VMs away when the annealing ended (before the repair to the budget) */
  readonly annealedMoved: number;
}

/** Per host, the hosts at the second-least positive path cost from it (pod mates on a fat-tree). */
function secondLevel(x: Indexed): number[][] {
  const H = x.hosts.length;
  const out: number[][] = [];
  for (let a = 0; a < H; a++) {
    const levels = new Set<number>();
    for (let b = 0; b < H; b++) if (b !== a && x.cost[a * H + b]! > 0) levels.add(x.cost[a * H + b]!);
    const sorted = [...levels].sort((p, q) => p - q);
    const t = sorted[1];
    const list: number[] = [];
    if (t !== undefined) for (let b = 0; b < H; b++) if (b !== a && x.cost[a * H + b] === t) list.push(b);
    out.push(list);
  }
  return out;
}

/**
 * @throws ScoreError PLACEMENT_INVALID (a VM of the input or of `o.start` without a hypervisor of
 *   `capacity`), CAPACITY_EXCEEDED (`o.start` puts more VMs on a hypervisor than its slots)
 */
export function pricedBudgetSearch(input: BudgetInput, budget: number, o: PricedSearchOptions): PricedSearchResult {
  const x = index(input);
  const H = x.hosts.length;
  const { n, init, cap, adj, mates, cost } = x;
  const pods = secondLevel(x);
  const host = Int32Array.from(init);
  const load = new Int32Array(H);
  for (const h of host) load[h]! += 1;
  // members per host with positions, for O(1) removal
  const members: number[][] = Array.from({ length: H }, () => []);
  const slot = new Int32Array(n);
  const place = (u: number, y: number): void => {
    slot[u] = members[y]!.length;
    members[y]!.push(u);
  };
  for (let u = 0; u < n; u++) place(u, host[u]!);
  const moveTo = (u: number, y: number): void => {
    const from = host[u]!;
    const m = members[from]!;
    const last = m.pop()!;
    if (last !== u) {
      m[slot[u]!] = last;
      slot[last] = slot[u]!;
    }
    place(u, y);
    load[from]! -= 1;
    load[y]! += 1;
    host[u] = y;
  };
  const c = (a: number, b: number): number => cost[a * H + b]!;
  const costAt = (u: number, h: number): number => {
    let s = 0;
    for (const [p, l] of adj[u]!) s += l * c(h, host[p]!);
    return s;
  };
  const lambdaOf = (u: number, w: number): number => {
    let s = 0;
    for (const [p, l] of adj[u]!) if (p === w) s += l;
    return s;
  };
  const away = (u: number, h: number): number => (h === init[u] ? 0 : 1);
  let moved = 0;
  if (o.start !== undefined) {
    const hi = new Map(x.hosts.map((h, i) => [h, i]));
    for (let u = 0; u < n; u++) {
      const t = hi.get(o.start.get(input.vms[u]!) ?? '');
      if (t === undefined) throw new ScoreError('PLACEMENT_INVALID', `start placement: VM ${input.vms[u]} has no hypervisor with a capacity`, { vm: input.vms[u], hypervisor: o.start.get(input.vms[u]!) ?? null });
      if (t !== host[u]) moveTo(u, t);
      moved += away(u, t);
    }
    for (let h = 0; h < H; h++) if (load[h]! > cap[h]!) throw new ScoreError('CAPACITY_EXCEEDED', `start placement: ${x.hosts[h]} holds ${load[h]} VMs, over its ${cap[h]} slots`, { hypervisor: x.hosts[h], vms: load[h], capacity: cap[h] });
  }
  const meanCost = n === 0 ? 0 : (2 * x.initialCost) / n;
  let mu = o.price * meanCost;
  const rng = seededRng(o.seed);
  const target = Math.max(1, budget);
  // the price follows the count about a thousand times per run (at most every 20,000 steps)
  const period = Math.max(50, Math.min(20000, Math.floor(o.iterations / 1000)));
  for (let it = 0; it < o.iterations && n > 0; it++) {
    if (it % period === 0 && it > 0) mu *= Math.exp(0.5 * ((moved - budget) / target));
    const temp = o.temperature * meanCost * (1 - it / o.iterations);
    const accept = (delta: number): boolean => delta <= 0 || (temp > 0 && rng() < Math.exp(-delta / temp));
    const u = Math.floor(rng() * n);
    const here = host[u]!;
    const peers = adj[u]!;
    if (peers.length === 0) continue;
    const r = rng();
    let y: number;
    if (r < 0.08) y = init[u]!;
    else {
      const y0 = host[peers[Math.floor(rng() * peers.length)]![0]]!;
      const r2 = rng();
      const list = r2 < 0.6 ? null : r2 < 0.85 ? mates[y0]! : pods[y0]!;
      y = list === null || list.length === 0 ? y0 : list[Math.floor(rng() * list.length)]!;
    }
    if (y === here) continue;
    const du = away(u, y) - away(u, here);
    if (load[y]! < cap[y]!) {
      const delta = costAt(u, y) - costAt(u, here) + mu * du;
      if (accept(delta)) {
        moveTo(u, y);
        moved += du;
      }
      continue;
    }
    const on = members[y]!;
    const w = on[Math.floor(rng() * on.length)]!;
    const dw = away(w, here) - away(w, y);
    const saving = costAt(u, here) - costAt(u, y) + costAt(w, y) - costAt(w, here) - 2 * lambdaOf(u, w) * c(here, y);
    if (accept(mu * (du + dw) - saving)) {
      moveTo(u, y);
      moveTo(w, here);
      moved += du + dw;
    }
  }
  const annealedMoved = moved;
  // within the budget: send home the away VM whose return costs least (through an exchange with an
  // away occupant when its home is full: a full home holds at least one VM that is not from there)
  while (moved > budget) {
    let best = -1;
    let bestLoss = Infinity;
    for (let u = 0; u < n; u++) {
      if (host[u] === init[u]) continue;
      const loss = costAt(u, init[u]!) - costAt(u, host[u]!);
      if (loss < bestLoss) {
        bestLoss = loss;
        best = u;
      }
    }
    const home = init[best]!;
    if (load[home]! < cap[home]!) moveTo(best, home);
    else {
      const w = members[home]!.find((v) => init[v] !== home)!;
      const from = host[best]!;
      moveTo(best, home);
      moveTo(w, from);
      if (from === init[w]) moved -= 1;
    }
    moved -= 1;
  }
  // exchanges at a fixed count: the unmoved VM with the largest saving from a move to a peer's
  // hypervisor with room (or a rack mate of it) for the away VM whose return home loses least
  const gainOf = (u: number): { gain: number; to: number } => {
    const now = costAt(u, host[u]!);
    let gain = 0;
    let to = -1;
    for (const [p] of adj[u]!) {
      for (const h of [host[p]!, ...mates[host[p]!]!]) {
        if (h === host[u] || load[h]! >= cap[h]!) continue;
        const g = now - costAt(u, h);
        if (g > gain) {
          gain = g;
          to = h;
        }
      }
    }
    return { gain, to };
  };
  let total = totalOf(x, host);
  for (let round = 0; round < 200 && moved > 0; round++) {
    const gains: { u: number; gain: number }[] = [];
    for (let u = 0; u < n; u++) if (host[u] === init[u]) gains.push({ u, gain: gainOf(u).gain });
    gains.sort((a, b) => b.gain - a.gain);
    const losses: { u: number; loss: number }[] = [];
    for (let u = 0; u < n; u++) if (host[u] !== init[u] && load[init[u]!]! < cap[init[u]!]!) losses.push({ u, loss: costAt(u, init[u]!) - costAt(u, host[u]!) });
    losses.sort((a, b) => a.loss - b.loss);
    let improved = false;
    for (const a of losses.slice(0, 30)) {
      for (const g of gains.slice(0, 30)) {
        if (g.gain <= a.loss) break;
        // try: a home, then g's best move given that; undo unless C_A falls
        const aFrom = host[a.u]!;
        if (load[init[a.u]!]! >= cap[init[a.u]!]!) break;
        moveTo(a.u, init[a.u]!);
        const m = gainOf(g.u);
        if (m.to >= 0 && m.gain > costAt(a.u, init[a.u]!) - costAt(a.u, aFrom) + 1e-9) {
          moveTo(g.u, m.to);
          const next = totalOf(x, host);
          if (next < total - 1e-9) {
            total = next;
            improved = true;
            break;
          }
          moveTo(g.u, init[g.u]!);
        }
        moveTo(a.u, aFrom);
      }
      if (improved) break;
    }
    if (!improved) break;
  }
  const final = totalOf(x, host);
  let count = 0;
  for (let u = 0; u < n; u++) if (host[u] !== init[u]) count += 1;
  return {
    placement: new Map(input.vms.map((v, i) => [v, x.hosts[host[i]!]!])),
    initialCost: x.initialCost,
    cost: final,
    reduction: x.initialCost === 0 ? 0 : 1 - final / x.initialCost,
    moved: count,
    finalPrice: meanCost === 0 ? 0 : mu / meanCost,
    annealedMoved,
  };
}
