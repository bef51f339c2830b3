import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runStrategy, STRATEGY_NAMES, type StrategyInput } from './baselines.ts';
import { decide } from './decision.ts';
import { totalCost, trafficMatrix } from './cost.ts';
import { rankOf } from './policies.ts';
import { seededRng } from './random.ts';
import { smallInstance, SMALL_TOPOLOGIES } from './test-instances.ts';
import { loadScenarioFile } from '../scenario/load.ts';

function paper(): StrategyInput {
  const { model } = loadScenarioFile('paper');
  return { vms: model.vms, placement: model.placement, traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, rank: model.rank, migrationCost: model.migrationCost };
}

test('paper: none keeps the cost; greedy reaches 0 in 6 migrations; the distributed rule oscillates', () => {
  const none = runStrategy('none', paper());
  assert.deepEqual([none.initialCost, none.finalCost, none.steps.length, none.converged], [25000, 25000, 0, true]);
  const greedy = runStrategy('greedy', paper());
  assert.deepEqual([greedy.finalCost, greedy.steps.length, greedy.converged], [0, 6, true]);
  // every step takes the largest gain there is, so gains never grow
  const gains = greedy.steps.map((s) => s.totalBefore - s.totalAfter);
  gains.forEach((g, i) => assert.ok(i === 0 || g <= gains[i - 1]!, 'i === 0 || g <= gains[i - 1]!'));
  // pairs on different hypervisors both move towards each other in the same round and swap
  const dist = runStrategy('distributed', paper());
  assert.equal(dist.converged, false);
  assert.equal(dist.rounds, 20);
  assert.ok(dist.finalCost > 0, 'dist.finalCost > 0');
});

test('distributed: moves chosen on one snapshot are admitted in rank order; one whose target filled up is rejected and says so', () => {
  const b = SMALL_TOPOLOGIES[0]!;
  // a on h1 and b on h3 both talk to c on h5, which has one free slot: both pick h5; c stays with
  // its heavy partner d
  const placement = new Map([['a', 'h1'], ['b', 'h3'], ['c', 'h5'], ['d', 'h5']]);
  const input: StrategyInput = {
    vms: ['a', 'b', 'c', 'd'],
    placement,
    traffic: trafficMatrix([{ src: 'a', dst: 'c', rate: 10 }, { src: 'b', dst: 'c', rate: 10 }, { src: 'c', dst: 'd', rate: 100 }]),
    oracle: b.oracle,
    capacity: new Map(b.topology.hypervisors.map((h) => [h, h === 'h5' ? 3 : 2])),
    rank: rankOf(['a', 'b', 'c', 'd']),
    migrationCost: 0,
  };
  const run = runStrategy('distributed', input);
  assert.deepEqual(run.steps.map((s) => [s.round, s.decision.vm, s.decision.to]), [[1, 'a', 'h5']]);
  const b1 = run.decisions.find((d) => d.vm === 'b' && d.round === 1)!;
  assert.equal(b1.to, null);
  assert.match(b1.reason, /^rejected when the round's moves were applied: h5 has no free slot/);
  assert.deepEqual(b1.candidates.map((c) => [c.hypervisor, c.verdict]), [['h5', 'full']]);
  // round 2: b sees h5 full and stays; nothing moves: converged
  assert.equal(run.decisions.find((d) => d.vm === 'b' && d.round === 2)?.reason, 'every candidate hypervisor is full');
  assert.deepEqual([run.rounds, run.converged], [2, true]);
  assert.equal(run.finalCost, totalCost(run.finalPlacement, input.traffic, input.oracle));
});

test('random: spends exactly its budget when there is room, and ignores Eq. 3', () => {
  const inst = smallInstance(5, { vms: 20, slots: 3 });
  const r = runStrategy('random', { ...inst, rng: seededRng(1), maxMigrations: 7 });
  assert.equal(r.steps.length, 7);
  assert.throws(() => runStrategy('random', inst), /seeded rng/);
});

test('property: the same seed gives the same run, for every strategy', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.constantFrom(...STRATEGY_NAMES), (seed, name) => {
      const inst = smallInstance(seed, { vms: name === 'optimal' ? 10 : 30, slots: 3, topology: seed % 2, withResources: seed % 3 === 0 });
      const a = runStrategy(name, { ...inst, rng: seededRng(seed), maxMigrations: name === 'random' ? 10 : undefined, rails: { cooldownRounds: seed % 2, maxPerHypervisor: 2 } });
      const b = runStrategy(name, { ...inst, rng: seededRng(seed), maxMigrations: name === 'random' ? 10 : undefined, rails: { cooldownRounds: seed % 2, maxPerHypervisor: 2 } });
      assert.deepEqual(a, b);
      assert.equal(JSON.stringify({ ...a, finalPlacement: [...a.finalPlacement] }), JSON.stringify({ ...b, finalPlacement: [...b.finalPlacement] }));
    }),
    { numRuns: 40 },
  );
});

/*
 * c_m monotonicity. What holds:
 *  - one decision on one snapshot: a larger c_m never turns "stay" into "move" (policies.test.ts
 *    tests the set of willing VMs; below, the per-VM choice);
 *  - greedy over a whole run: with a larger c_m greedy takes exactly the same moves as with a
 *    smaller one, only stops earlier (the largest-gain move either qualifies under both or stops
 *    the larger one), so it never migrates more.
 * What does not hold: full multi-round runs of Load-Aware, Round-Robin or the distributed rule.
 * A small move that a low c_m allows can fill the hypervisor that later, larger moves needed; with
 * a higher c_m that small move is skipped and the larger ones happen: more migrations (and a
 * lower cost). The pinned counterexample below shows it for Load-Aware.
 */
test('property: greedy never migrates more with a larger c_m, and its moves are a prefix of the smaller c_m run', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 3 }), (seed, x, y, slots) => {
      const inst = smallInstance(seed, { vms: 24, slots, topology: seed % 2 });
      const lo = runStrategy('greedy', { ...inst, migrationCost: Math.min(x, y) });
      const hi = runStrategy('greedy', { ...inst, migrationCost: Math.max(x, y) });
      assert.ok(hi.steps.length <= lo.steps.length, `c_m ${Math.max(x, y)}: ${hi.steps.length} moves, c_m ${Math.min(x, y)}: ${lo.steps.length}`);
      const moves = (r: typeof lo): string[] => r.steps.map((s) => `${s.decision.vm}>${s.decision.to}`);
      assert.deepEqual(moves(hi), moves(lo).slice(0, hi.steps.length));
    }),
    { numRuns: 60 },
  );
});

test('property: one decision on one snapshot: with a larger c_m a VM that stays keeps staying', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (seed, x, y) => {
      const inst = smallInstance(seed, { vms: 24, slots: 2, topology: seed % 2 });
      const load = new Map<string, number>();
      for (const h of inst.placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
      for (const vm of inst.vms) {
        for (const mode of ['first', 'best'] as const) {
          const at = (cm: number): string | null => decide({ vm, placement: inst.placement, traffic: inst.traffic, oracle: inst.oracle, capacity: inst.capacity, rank: inst.rank, load, mode, migrationCost: cm }).to;
          if (at(Math.min(x, y)) === null) assert.equal(at(Math.max(x, y)), null);
        }
      }
    }),
    { numRuns: 40 },
  );
});

test('counterexample: over a whole Load-Aware run a larger c_m can yield more migrations', () => {
  // three-tier, two hypervisors per ToR, two slots each; path costs h1-h2 2, h1-h3 6, h1-h5 12
  const b = SMALL_TOPOLOGIES[0]!;
  const flows = [
    ['vm1', 'vm3', 2], ['vm1', 'vm5', 2], ['vm2', 'vm1', 10], ['vm2', 'vm4', 2], ['vm3', 'vm2', 3],
    ['vm3', 'vm5', 2], ['vm4', 'vm5', 1], ['vm5', 'vm2', 9], ['vm6', 'vm2', 7],
  ] as const;
  const placement = new Map([['vm1', 'h6'], ['vm2', 'h2'], ['vm3', 'h1'], ['vm4', 'h5'], ['vm5', 'h5'], ['vm6', 'h6']]);
  const vms = [...placement.keys()];
  const input = {
    vms,
    placement,
    traffic: trafficMatrix(flows.map(([src, dst, rate]) => ({ src, dst, rate }))),
    oracle: b.oracle,
    capacity: new Map(b.topology.hypervisors.map((h) => [h, 2])),
    rank: rankOf(vms),
  };
  const low = runStrategy('load-aware', { ...input, migrationCost: 5 });
  const high = runStrategy('load-aware', { ...input, migrationCost: 8 });
  // c_m 5: vm2 (the costliest) saves 6 by joining vm3 on h1, which fills h1; vm1's and vm5's
  // targets (h1, h2's neighbour h1, h5) are then all full
  assert.deepEqual(low.steps.map((s) => [s.decision.vm, s.decision.to]), [['vm2', 'h1']]);
  // c_m 8: vm2 stays, so vm1 (saving 120) and vm5 (saving 122) move
  assert.deepEqual(high.steps.map((s) => [s.decision.vm, s.decision.to]), [['vm1', 'h2'], ['vm5', 'h1']]);
  assert.ok(high.finalCost < low.finalCost, 'high.finalCost < low.finalCost');
});
