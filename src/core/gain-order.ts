import { totalCost, vmCost, worthMigrating } from './cost.ts';
import type { Candidate, Decision } from './decision.ts';
import { fmt } from './decision.ts';
import type { StrategyInput, StrategyRun } from './baselines.ts';
import type { Step } from './policies.ts';
import type { RailState, Resources } from './rails.ts';
import { beginRound, createRailState, exceeds, moveUse, railsActive, railsAllow, recordMigration, resources } from './rails.ts';
import { lambda } from './cost.ts';
import { closestByCost, type Nearby } from './nearby.ts';

/**
 * Gain-ordered planning: the VM whose best action saves most goes first, and after every action
 * only the VMs it can have changed are re-priced (a heap of each VM's best action, re-checked when
 * it reaches the top). An action is one of
 *  - move:  u: x → y, y a peer's hypervisor with room (Algorithm 1's candidates, Eq. 3);
 *  - swap:  u: x → y and w: y → x for a VM w on a full candidate y (Eq. 3 for a pair: the drop of
 *           C_A exceeds the c_m of the migrations it takes);
 *  - eject (look-ahead, `lookahead`): w leaves the full y for z, a hypervisor of one of w's peers
 *           with room, and u takes its slot: two moves that may pay only together.
 * Every action's saving is the exact drop of the total C_A (swap.ts gives the pair formula), and
 * its gain is that saving minus the c_m of every migration it takes. The run is a sequence of
 * rounds: each starts by pricing every VM; a round that applies nothing ends the run.
 *
 * Carrying a swap out, a VM is always at exactly one place: with `overcommit` ≥ 1 (temporary extra
 * slots per hypervisor, an operator setting) u goes first onto the full y, then w to x (2
 * migrations); otherwise u steps aside to a hypervisor z with room, w goes to x, then u to y (3
 * migrations, all within capacity). With CPU/memory limits only the detour is used. Slots, CPU and
 * memory are never exceeded beyond the declared overcommit; rails (rails.ts) must allow each
 * migration in order.
 */
export interface GainOrderOptions {
  /** consider exchanges with VMs on full candidates (default true) */
  readonly swaps?: boolean;
  /** consider ejections: a move that makes room for another (default false) */
  readonly lookahead?: boolean;
  /** temporary extra VMs per hypervisor while a swap is carried out (default 0: detour through a free slot) */
  readonly overcommit?: number;
  /** stop after this many actions (a move, swap, ejection or pair move each count one); the live orchestrator plans one at a time */
  readonly maxActions?: number;
}

type Move = readonly [vm: string, from: string, to: string];

interface Action {
  readonly kind: 'move' | 'swap' | 'eject' | 'together';
  readonly u: string;
  readonly y: string;
  /** partner (swap, eject) */
  readonly w?: string;
  /** where the partner goes */
  readonly z?: string;
  /** drop of the total C_A */
  readonly saving: number;
  /** Σ c_m over the migrations */
  readonly cm: number;
  readonly moves: readonly Move[];
}

const gainOf = (a: Action): number => a.saving - a.cm;

/** look-ahead pair moves are tried with this many of a VM's heaviest peers */
const TOGETHER_PEERS = 3;

/** the first stage's price on a VM's first move, as a share of the mean C_A(u) at the start */
export const FIRST_MOVE_PRICE = 0.3;

/**
 * `lookahead-staged`: the look-ahead twice. Stage 1 adds to c_m a price on every migration of a
 * VM from the hypervisor it started on (FIRST_MOVE_PRICE × the mean C_A(u) of the initial
 * placement; moving a VM again is not priced), so it takes the actions that save most per VM
 * that has to move; stage 2 is the plain look-ahead from where stage 1 ended. Aimed at the
 * saving by the time half the VMs have moved (fat-tree(16), partner model: 83.9% against the
 * plain look-ahead's 82.5%, 88.6% at the end; docs/scale.md). Stage 1's decisions state the
 * price in their c_m. One run: steps numbered on, rounds added.
 */
export function runStaged(input: StrategyInput, o: { readonly overcommit?: number | undefined } = {}): StrategyRun {
  const one = runStagedFirst(input, o);
  const left = (input.maxMigrations ?? Infinity) - one.steps.length;
  const two = left <= 0 ? null : runGainOrder({ ...input, placement: one.finalPlacement, maxMigrations: left }, { lookahead: true, overcommit: o.overcommit }, 'lookahead');
  const steps = [...one.steps, ...(two?.steps ?? []).map((st, i) => ({ ...st, step: one.steps.length + i + 1, round: one.rounds + st.round }))];
  const decisions = [...one.decisions, ...(two?.decisions ?? []).map((d) => ({ ...d, round: one.rounds + d.round }))];
  return {
    policy: 'lookahead-staged',
    initialCost: one.initialCost,
    finalCost: two?.finalCost ?? one.finalCost,
    steps,
    decisions,
    rounds: one.rounds + (two?.rounds ?? 0),
    converged: two?.converged ?? false,
    finalPlacement: two?.finalPlacement ?? one.finalPlacement,
  };
}

/** Stage 1 of `lookahead-staged` alone: the look-ahead with the price on first moves (see runStaged). */
export function runStagedFirst(input: StrategyInput, o: { readonly overcommit?: number | undefined } = {}): StrategyRun {
  const initial = input.placement;
  const start = totalCost(initial, input.traffic, input.oracle);
  const price = input.vms.length === 0 ? 0 : (FIRST_MOVE_PRICE * start) / input.vms.length;
  const base = input.migrationCost;
  const priced = (vm: string, from: string, to: string): number => (typeof base === 'number' ? base : base(vm, from, to)) + (from === initial.get(vm) ? price : 0);
  return runGainOrder({ ...input, migrationCost: priced }, { lookahead: true, overcommit: o.overcommit }, 'lookahead');
}

export function runGainOrder(input: StrategyInput, o: GainOrderOptions = {}, policy: 'gain-swap' | 'lookahead' = 'gain-swap'): StrategyRun {
  const { traffic, oracle, capacity, rank } = input;
  const swaps = o.swaps ?? true;
  const lookahead = o.lookahead ?? false;
  const overcommit = input.resources === undefined ? Math.max(0, Math.floor(o.overcommit ?? 0)) : 0;
  const maxRounds = input.maxRounds ?? 20;
  const maxMigrations = input.maxMigrations ?? Infinity;
  const maxActions = o.maxActions ?? Infinity;
  let actions = 0;
  const placement = new Map(input.placement);
  const load = new Map<string, number>();
  const members = new Map<string, Set<string>>();
  for (const [vm, h] of placement) {
    load.set(h, (load.get(h) ?? 0) + 1);
    let s = members.get(h);
    if (s === undefined) members.set(h, (s = new Set()));
    s.add(vm);
  }
  const hosts = [...capacity.keys()];
  const nearby: Nearby | undefined = input.nearby ?? (hosts.length <= 2048 ? closestByCost(hosts, oracle) : undefined);
  const res: Resources | undefined = input.resources === undefined ? undefined : resources(input.resources, placement);
  const rails: RailState | null = railsActive(input.rails) ? createRailState(input.rails) : null;
  const cmFn = typeof input.migrationCost === 'number' ? null : input.migrationCost;
  const cmFixed = typeof input.migrationCost === 'number' ? input.migrationCost : 0;
  const cm = (vm: string, from: string, to: string): number => (cmFn === null ? cmFixed : cmFn(vm, from, to));
  const cost = (u: string, at?: string): number => vmCost(u, placement, traffic, oracle, at);
  // C_A(u) where u is, kept until u or a peer of u moves: a VM on a full candidate is priced by
  // every VM that wants its hypervisor
  const costCache = new Map<string, number>();
  const costNow = (u: string): number => {
    let c = costCache.get(u);
    if (c === undefined) costCache.set(u, (c = cost(u)));
    return c;
  };
  // with c_m ≥ 0 a pair action's gain is at most a + C_A(w) (pairSaving: w's cost stays ≥ 0 and,
  // by the triangle inequality of path costs, the shared flow only subtracts), which prunes
  // partners that cannot beat the best action found so far without changing which one wins
  const prunable = typeof input.migrationCost === 'number' && input.migrationCost >= 0;
  const initialCost = totalCost(placement, traffic, oracle);
  let total = initialCost;
  let round = 0;
  const steps: Step[] = [];
  const decisions: (Decision & { round: number })[] = [];

  const room = (h: string, extra = 0): boolean => (load.get(h) ?? 0) < (capacity.get(h) ?? 0) + extra;
  const fitsRes = (vm: string, h: string): boolean => res === undefined || exceeds(res, vm, h) === null;
  /** CPU/memory of `h` once `out` has left and `into` arrived */
  const fitsAfter = (h: string, out: string, into: string): boolean => {
    if (res === undefined) return true;
    const cap = res.spec.hosts.get(h);
    if (cap === undefined) return true;
    const dOut = res.spec.demand.get(out);
    const dIn = res.spec.demand.get(into);
    if (cap.cpu !== undefined && (res.use.cpu.get(h) ?? 0) - (dOut?.cpu ?? 0) + (dIn?.cpu ?? 0) > cap.cpu + 1e-9) return false;
    if (cap.memoryBytes !== undefined && (res.use.memoryBytes.get(h) ?? 0) - (dOut?.memoryBytes ?? 0) + (dIn?.memoryBytes ?? 0) > cap.memoryBytes) return false;
    return true;
  };
  /** CPU/memory of `h` with both `a` and `b` added */
  const fitsBoth = (h: string, a: string, b: string): boolean => {
    if (res === undefined) return true;
    const cap = res.spec.hosts.get(h);
    if (cap === undefined) return true;
    const da = res.spec.demand.get(a);
    const db = res.spec.demand.get(b);
    if (cap.slots !== undefined && (res.use.slots.get(h) ?? 0) + 2 > cap.slots) return false;
    if (cap.cpu !== undefined && (res.use.cpu.get(h) ?? 0) + (da?.cpu ?? 0) + (db?.cpu ?? 0) > cap.cpu + 1e-9) return false;
    if (cap.memoryBytes !== undefined && (res.use.memoryBytes.get(h) ?? 0) + (da?.memoryBytes ?? 0) + (db?.memoryBytes ?? 0) > cap.memoryBytes) return false;
    return true;
  };
  const railsOk = (moves: readonly Move[]): boolean => {
    if (rails === null) return true;
    if (moves.length === 1) return railsAllow(rails, moves[0]![0], moves[0]![1], moves[0]![2], round).ok;
    const s = structuredClone(rails);
    for (const [vm, from, to] of moves) {
      if (!railsAllow(s, vm, from, to, round).ok) return false;
      recordMigration(s, vm, from, to, round);
    }
    return true;
  };
  /** a hypervisor other than x and y where u can wait during a swap (first with room, in capacity order) */
  let detourFrom = 0;
  const detourFor = (u: string, x: string, y: string): string | null => {
    for (let k = 0; k < hosts.length; k++) {
      const h = hosts[(detourFrom + k) % hosts.length]!;
      if (h !== x && h !== y && room(h) && fitsRes(u, h)) {
        detourFrom = (detourFrom + k) % hosts.length;
        return h;
      }
    }
    return null;
  };

  /**
   * The drop of C_A when u: x → a and w: y → b together, from A = C_A(u) − C_{A,u→a}(u) and the
   * same for w, both priced on the current placement: their common flow λ(u, w) goes from
   * c(x, y) to c(a, b), which A and B each priced as if the other stayed (swap.ts for the swap case).
   */
  const pairSaving = (u: string, x: string, a: string, ga: number, w: string, y: string, b: string, gb: number): number => {
    const l = lambda(traffic, u, w);
    return l === 0 ? ga + gb : ga + gb + l * (oracle.cost(a, y) + oracle.cost(b, x) - oracle.cost(a, b) - oracle.cost(x, y));
  };

  /** hypervisors with room near `h` (rack mates), at most `k`, in name order */
  const roomNear = (h: string, need: number, k: number): string[] => {
    const out: string[] = [];
    for (const o of nearby?.get(h) ?? []) {
      if (room(o, 1 - need)) {
        out.push(o);
        if (out.length >= k) break;
      }
    }
    return out;
  };

  function better(a: Action, b: Action | null): boolean {
    if (b === null) return true;
    const ga = gainOf(a);
    const gb = gainOf(b);
    return ga > gb || (ga === gb && a.moves.length < b.moves.length);
  }

  /** u's best action now, or null when none passes Eq. 3 (for one move or a pair) */
  function evaluate(u: string): Action | null {
    const x = placement.get(u);
    if (x === undefined) return null;
    const cu = costNow(u);
    if (cu === 0) return null;
    let best: Action | null = null;
    const bestGain = (): number => (best === null ? -Infinity : gainOf(best));
    const consider = (act: Action, before: number): void => {
      if (worthMigrating(before, before - act.saving, act.cm) && better(act, best) && railsOk(act.moves)) best = act;
    };
    const moveSaving = new Map<string, number>();
    const savingTo = (h: string): number => {
      let g = moveSaving.get(h);
      if (g === undefined) moveSaving.set(h, (g = cu - cost(u, h)));
      return g;
    };
    const seen = new Set<string>([x]);
    const near = new Set<string>();
    for (const p of traffic.peers.get(u)?.keys() ?? []) {
      const y = placement.get(p);
      if (y === undefined || seen.has(y)) continue;
      seen.add(y);
      if (room(y) && fitsRes(u, y)) {
        consider({ kind: 'move', u, y, saving: savingTo(y), cm: cm(u, x, y), moves: [[u, x, y]] }, cu);
        continue;
      }
      // y is full: a rack mate of y with room is the next best place next to p
      for (const n of roomNear(y, 1, 2)) if (n !== x) near.add(n);
      if (!swaps && !lookahead) continue;
      const a = savingTo(y);
      for (const w of members.get(y) ?? []) {
        const cw = costNow(w);
        if (prunable && a + cw < bestGain()) continue;
        if (swaps && fitsAfter(y, w, u) && fitsAfter(x, u, w)) {
          let moves: Move[] | null = null;
          if (overcommit > 0 && room(y, overcommit)) moves = [[u, x, y], [w, y, x]];
          else {
            const d = detourFor(u, x, y);
            if (d !== null) moves = [[u, x, d], [w, y, x], [u, d, y]];
          }
          if (moves !== null) {
            const saving = pairSaving(u, x, y, a, w, y, x, cw - cost(w, x));
            consider({ kind: 'swap', u, y, w, z: x, saving, cm: moves.reduce((s, [vm, f, t]) => s + cm(vm, f, t), 0), moves }, cu + cw);
          }
        }
        if (lookahead && fitsAfter(y, w, u)) {
          const zs = new Set<string>();
          for (const q of traffic.peers.get(w)?.keys() ?? []) {
            const hq = placement.get(q);
            if (hq === undefined || hq === y) continue;
            for (const z of room(hq) ? [hq] : roomNear(hq, 1, 1)) {
              if (z === x || z === y || zs.has(z) || !fitsRes(w, z)) continue;
              zs.add(z);
              const saving = pairSaving(u, x, y, a, w, y, z, cw - cost(w, z));
              consider({ kind: 'eject', u, y, w, z, saving, cm: cm(w, y, z) + cm(u, x, y), moves: [[w, y, z], [u, x, y]] }, cu + cw);
            }
          }
        }
      }
    }
    for (const n of near) if (!seen.has(n) && fitsRes(u, n)) consider({ kind: 'move', u, y: n, saving: savingTo(n), cm: cm(u, x, n), moves: [[u, x, n]] }, cu);
    if (lookahead) {
      // u and a peer v go together to a hypervisor with two free slots next to where their other
      // peers are (or one of them): neither move may pay alone, and a collocated pair moves as one
      // (candidates: two free slots at or next to u's hypervisor, its peers' or v's; v among u's
      // TOGETHER_PEERS heaviest peers, which bounds the work per VM)
      const zu = new Set<string>();
      const add = (zs: Set<string>, h: string): void => {
        if (room(h, -1)) zs.add(h);
        for (const n of roomNear(h, 2, 1)) zs.add(n);
      };
      add(zu, x);
      for (const q of traffic.peers.get(u)?.keys() ?? []) add(zu, placement.get(q) ?? x);
      const heaviest = [...(traffic.peers.get(u) ?? [])].filter(([, l]) => l > 0).sort((a, b) => b[1] - a[1] || (rank.get(a[0]) ?? 0) - (rank.get(b[0]) ?? 0)).slice(0, TOGETHER_PEERS);
      for (const [v] of heaviest) {
        const y = placement.get(v);
        if (y === undefined) continue;
        const zs = new Set(zu);
        add(zs, y);
        const cv = costNow(v);
        for (const z of zs) {
          if (z === x || z === y || !fitsBoth(z, u, v)) continue;
          const saving = pairSaving(u, x, z, savingTo(z), v, y, z, cv - cost(v, z));
          consider({ kind: 'together', u, y: z, w: v, z, saving, cm: cm(u, x, z) + cm(v, y, z), moves: [[u, x, z], [v, y, z]] }, cu + cv);
        }
      }
    }
    return best;
  }

  function apply(act: Action): void {
    const why = describe(act);
    act.moves.forEach(([vm, from, to], i) => {
      const before = cost(vm);
      const after = cost(vm, to);
      placement.set(vm, to);
      costCache.delete(vm);
      for (const p of traffic.peers.get(vm)?.keys() ?? []) costCache.delete(p);
      load.set(from, (load.get(from) ?? 1) - 1);
      load.set(to, (load.get(to) ?? 0) + 1);
      members.get(from)?.delete(vm);
      let s = members.get(to);
      if (s === undefined) members.set(to, (s = new Set()));
      s.add(vm);
      if (res !== undefined) moveUse(res, vm, from, to);
      if (rails !== null) recordMigration(rails, vm, from, to, round);
      const c = cm(vm, from, to);
      const part = act.moves.length === 1 ? why : `${why} [migration ${i + 1} of ${act.moves.length}]`;
      const candidates: Candidate[] = [{ hypervisor: to, viaPeer: act.kind === 'move' || vm === act.u ? act.y : (act.w ?? vm), flowCost: before, costThere: after, verdict: 'chosen', migrationCost: c }];
      const d: Decision & { to: string } = { vm, from, to, costBefore: before, costAfter: after, migrationCost: c, mode: 'best', candidates, reason: part };
      const totalAfter = total - (before - after);
      steps.push({ step: steps.length + 1, round, decision: d, totalBefore: total, totalAfter });
      decisions.push({ ...d, round });
      total = totalAfter;
    });
  }

  function describe(a: Action): string {
    const x = a.moves.find((m) => m[0] === a.u)![1];
    if (a.kind === 'move') return `largest gain first: moving ${a.u} ${x} -> ${a.y} cuts C_A by ${fmt(a.saving)} > c_m ${fmt(a.cm)}`;
    if (a.kind === 'swap') {
      const order = a.moves.map(([vm, , to]) => `${vm} -> ${to}`).join(', ');
      const how = a.moves.length === 2 ? `a temporary overcommit of ${a.y}: ${order}` : `the free slot on ${a.moves[0]![2]}: ${order}`;
      return `largest gain first: exchange ${a.u} (${x}) with ${a.w ?? ''} (${a.y}), ${a.y} being full; C_A drops by ${fmt(a.saving)} > c_m of its ${a.moves.length} migrations ${fmt(a.cm)}; carried out through ${how}`;
    }
    if (a.kind === 'together') return `largest gain first (look-ahead): ${a.u} and its peer ${a.w ?? ''} both go to ${a.y}, which has room for two; together C_A drops by ${fmt(a.saving)} > c_m of both ${fmt(a.cm)}`;
    return `largest gain first (look-ahead): ${a.w ?? ''} leaves the full ${a.y} for ${a.z ?? ''} so ${a.u} can take its slot; together C_A drops by ${fmt(a.saving)} > c_m of both ${fmt(a.cm)}`;
  }

  // each VM's best action in a heap, re-checked when it reaches the top
  const version = new Map<string, number>();
  const heap: { vm: string; gain: number; rank: number; v: number }[] = [];
  const before = (a: (typeof heap)[number], b: (typeof heap)[number]): boolean => a.gain > b.gain || (a.gain === b.gain && a.rank < b.rank);
  const push = (e: (typeof heap)[number]): void => {
    let i = heap.length;
    heap.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, heap[p]!)) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = e;
  };
  const pop = (): (typeof heap)[number] | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[c]!, last)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
    return top;
  };
  const refresh = (u: string): void => {
    const v = (version.get(u) ?? 0) + 1;
    version.set(u, v);
    const a = evaluate(u);
    if (a !== null) push({ vm: u, gain: gainOf(a), rank: rank.get(u) ?? 0, v });
  };

  let converged = false;
  while (round < maxRounds && steps.length < maxMigrations) {
    round += 1;
    if (rails !== null) beginRound(rails, round);
    heap.length = 0;
    for (const u of input.vms) refresh(u);
    let applied = 0;
    let stop = false;
    for (;;) {
      const top = pop();
      if (top === undefined) break;
      if (version.get(top.vm) !== top.v) continue;
      const act = evaluate(top.vm);
      if (act === null) continue;
      // prices only drift down as others move; one that dropped goes back and waits its turn
      if (gainOf(act) < top.gain - 1e-9 * Math.max(1, Math.abs(top.gain))) {
        version.set(top.vm, top.v + 1);
        push({ vm: top.vm, gain: gainOf(act), rank: top.rank, v: top.v + 1 });
        continue;
      }
      if (steps.length + act.moves.length > maxMigrations) {
        stop = true;
        break;
      }
      apply(act);
      applied += 1;
      actions += 1;
      if (actions >= maxActions) {
        stop = true;
        break;
      }
      const again = new Set<string>();
      const freed = new Map<string, number>();
      for (const [vm, from, to] of act.moves) {
        again.add(vm);
        freed.set(from, (freed.get(from) ?? 0) + 1);
        freed.set(to, (freed.get(to) ?? 0) - 1);
        for (const p of traffic.peers.get(vm)?.keys() ?? []) again.add(p);
      }
      // a hypervisor that has more room now may be what a peer of its VMs was waiting for; one with
      // less room only makes other entries stale-high, and those are re-checked at the top
      for (const [h, n] of freed) if (n > 0) for (const x of members.get(h) ?? []) for (const p of traffic.peers.get(x)?.keys() ?? []) again.add(p);
      for (const u of again) if (placement.has(u)) refresh(u);
    }
    if (stop) break;
    if (applied === 0) {
      converged = true;
      break;
    }
  }
  return { policy, initialCost, finalCost: totalCost(placement, traffic, oracle), steps, decisions, rounds: round, converged, finalPlacement: placement };
}
