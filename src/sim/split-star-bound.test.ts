import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smallInstance } from '../core/test-instances.ts';
import { seededRng } from '../core/random.ts';
import type { PathOracle } from '../core/paths.ts';
import type { BudgetInput } from './half-moved.ts';
import { evenSplits, optimiseSplits, splitStar, splitStarBound, type Splits } from './split-star-bound.ts';
import { bestSaving, inputOf } from './budget.testing.ts';
import { exitCodeFor, isScoreError } from '../errors/errors.ts';

/** Random valid splits: α per pair in [0, 1] (both sides summing to 1), each VM's price split at random, summing to at most μ. */
function randomSplits(input: BudgetInput, mu: number, rng: () => number): Splits {
  const st = splitStar(input);
  const { x } = st;
  const alpha = x.adj.map((peers) => new Float64Array(peers.length));
  x.adj.forEach((peers, u) =>
    peers.forEach(([v], i) => {
      if (v < u) return;
      const a = rng();
      alpha[u]![i] = a;
      alpha[v]![st.back[u]![i]!] = 1 - a;
    }),
  );
  const own = new Float64Array(x.n);
  const give = x.adj.map((peers) => new Float64Array(peers.length));
  for (let v = 0; v < x.n; v++) {
    const w = Array.from({ length: give[v]!.length + 1 }, () => rng());
    const s = w.reduce((a, b) => a + b, 0) / (rng() < 0.2 ? 0.7 : 1);
    own[v] = (mu * w[0]!) / s;
    for (let i = 0; i < give[v]!.length; i++) give[v]![i] = (mu * w[i + 1]!) / s;
  }
  return { mu, alpha, own, give };
}

test('split-star bound: never below the best saving with the budget, for random valid splits and the optimised ones', () => {
  let tight = 0;
  for (let seed = 1; seed <= 16; seed++) {
    const inst = smallInstance(500 + seed, { vms: 6, slots: 2, topology: seed % 2, partners: 2 });
    const input = inputOf(inst);
    const st = splitStar(input);
    assert.equal(st.ultra, true);
    const rng = seededRng(seed);
    const mean = (2 * st.x.initialCost) / st.x.n;
    for (const budget of [1, 2, 3]) {
      const best = bestSaving(input, budget);
      for (let k = 0; k < 20; k++) {
        const b = splitStarBound(st, budget, randomSplits(input, rng() * mean, rng));
        assert.ok(b >= best - 1e-9, `seed ${seed} budget ${budget}: bound ${b} below the best saving ${best}`);
      }
      const o = optimiseSplits(st, budget, { iterations: 60, muSteps: 8, muHigh: 2 });
      assert.ok(o.share >= best - 1e-9, `seed ${seed} budget ${budget}: optimised bound ${o.share} below the best saving ${best}`);
      assert.ok(Math.abs(splitStarBound(st, budget, o.splits) - o.share) < 1e-12, 'Math.abs(splitStarBound(st, budget, o.splits) - o.share) < 1e-12');
      if (o.share <= best + 0.05) tight += 1;
    }
  }
  // the bound is not vacuous on small instances: within 5 points of the optimum on some (16 of 48 when written)
  assert.ok(tight >= 10, `within 5 points on ${tight} of 48`);
});

test('split-star bound: even splits at μ = 0 give every pair (100%); splits that break the conditions are refused', () => {
  const inst = smallInstance(601, { vms: 6, slots: 2, topology: 0, partners: 2 });
  const st = splitStar(inputOf(inst));
  assert.ok(Math.abs(splitStarBound(st, 2, evenSplits(st, 0)) - 1) < 1e-12, 'Math.abs(splitStarBound(st, 2, evenSplits(st, 0)) - 1) < 1e-12');
  const s = evenSplits(st, 1);
  const over = { ...s, own: s.own.map((p) => p + 1) };
  const refused = (re: RegExp) => (e: unknown): boolean => isScoreError(e, 'SPLITS_INVALID') && re.test(e.message);
  assert.throws(() => splitStarBound(st, 2, over), refused(/sums to/));
  const lopsided = { ...s, alpha: s.alpha.map((a, u) => (u === 0 ? a.map(() => 0.9) : a)) };
  assert.throws(() => splitStarBound(st, 2, lopsided), refused(/≠ 1/));
  assert.throws(() => splitStarBound(st, 2, { ...s, mu: -1 }), refused(/μ/));
  const negative = { ...s, give: s.give.map((g, u) => (u === 0 ? g.map(() => -0.5) : g)) };
  assert.throws(() => splitStarBound(st, 2, negative), refused(/negative/));
  assert.equal(exitCodeFor('SPLITS_INVALID'), 2, 'bad splits are bad input');
});

test('split-star bound: off an ultrametric every hypervisor is tried (a hub no peer sits on is where the optimum is)', () => {
  // u on d (10 from everything) talks to v1, v2, v3 on a, c, e (2 apart); b is 1 from each of a, c, e.
  // Not an ultrametric. With one VM away the best is u on b: pairs cost 3 instead of 30, saving 27/30.
  const oracle: PathOracle = { cost: (x, y) => (x === y ? 0 : x === 'd' || y === 'd' ? 10 : x === 'b' || y === 'b' ? 1 : 2), path: () => [] };
  const hub: BudgetInput = {
    vms: ['u', 'v1', 'v2', 'v3'],
    placement: new Map([['u', 'd'], ['v1', 'a'], ['v2', 'c'], ['v3', 'e']]),
    traffic: { peers: new Map([['u', new Map([['v1', 1], ['v2', 1], ['v3', 1]])], ...['v1', 'v2', 'v3'].map((v) => [v, new Map([['u', 1]])] as const)]) },
    oracle,
    capacity: new Map(['a', 'b', 'c', 'd', 'e'].map((h) => [h, 4])),
    nearby: new Map(),
  };
  const best = bestSaving(hub, 1);
  assert.ok(Math.abs(best - 27 / 30) < 1e-12, `optimum ${best}`);
  const st = splitStar(hub);
  assert.equal(st.ultra, false);
  // μ = 2, u keeps every pair (α = 1 on its side) and its own price; each v gives its whole price to u's star.
  // Then μ·1 + Ψ_u = 2 + max(on b: −2 + 27, at home: 3·(10 − 2), on a: −2 + 10 + 2·8) = 27: tight. Trying only the
  // peers' hypervisors and home would give 2 + 24 = 26 < 27, no bound.
  const u = st.x.adj.findIndex((_, i) => hub.vms[i] === 'u');
  const splits: Splits = {
    mu: 2,
    alpha: st.x.adj.map((peers, i) => new Float64Array(peers.length).fill(i === u ? 1 : 0)),
    own: Float64Array.from(st.x.adj, (_, i) => (i === u ? 2 : 0)),
    give: st.x.adj.map((peers, i) => new Float64Array(peers.length).fill(i === u ? 0 : 2)),
  };
  assert.ok(Math.abs(splitStarBound(st, 1, splits) - 27 / 30) < 1e-12, `bound ${splitStarBound(st, 1, splits)}`);
});

test('split-star bound: a VM with more partners than any fixed scratch size (a hub of 70) is bounded, not refused', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => `p${i}`);
  const vms = ['hub', ...leaves];
  const rate = (i: number): number => 1 + (i % 3);
  const hub: BudgetInput = {
    vms,
    placement: new Map(vms.map((v, i) => [v, `h${i}`])),
    traffic: { peers: new Map([['hub', new Map(leaves.map((v, i) => [v, rate(i)]))], ...leaves.map((v, i) => [v, new Map([['hub', rate(i)]])] as const)]) },
    oracle: { cost: (a, b) => (a === b ? 0 : 2), path: () => [] },
    capacity: new Map(vms.map((_, i) => [`h${i}`, 100])),
    nearby: new Map(),
  };
  // with one VM away the best is one heaviest pair together (rate 3 of the total)
  const total = leaves.reduce((s, _, i) => s + rate(i), 0);
  const o = optimiseSplits(splitStar(hub), 1, { iterations: 20, muSteps: 4, muHigh: 2 });
  assert.ok(Number.isFinite(o.share), `share ${o.share}`);
  assert.ok(o.share >= 3 / total - 1e-12 && o.share <= 1 + 1e-12, `bound ${o.share} against the optimum ${3 / total}`);
});
