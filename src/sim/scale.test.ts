import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScale, quantiles, DEFAULT_MIGRATION_MODEL, type ScaleWorkload, type StrategyRunner } from './scale.ts';
import { topologyFromSpec } from '../topologies/spec.ts';
import { randomWorkload } from '../workloads/random.ts';
import { seededRng } from '../core/random.ts';
import { runPolicy } from '../core/policies.ts';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { build } from '../core/build.ts';
import { generateWorkload } from '../workloads/workload.ts';
import { strategyRunner } from './strategies.ts';

function workload(seed: number) {
  return (topology: { hypervisors: readonly string[] }): ScaleWorkload => ({
    name: 'random',
    seed,
    params: { partners: 3 },
    ...randomWorkload({ hypervisors: topology.hypervisors, vms: 48, capacity: 4, partners: 3, rng: seededRng(seed) }),
  });
}

const policy =
  (p: 'round-robin' | 'load-aware'): StrategyRunner =>
  (ctx) =>
    runPolicy({ policy: p, vms: ctx.vms, placement: ctx.placement, traffic: ctx.traffic, oracle: ctx.oracle, capacity: ctx.capacity, rank: ctx.rank, migrationCost: 0 });

test('a scale run: per-round costs and migrations add up to each strategy’s run, and the last round is the final cost', () => {
  const topology = topologyFromSpec('fat-tree:4');
  const result = runScale({ topology, workload: workload(7), strategies: [['rr', policy('round-robin')], ['la', policy('load-aware')]] });
  assert.equal(result.topology.hypervisors, 16);
  assert.equal(result.workload.vms, 48);
  const built = build(topology);
  const w = workload(7)(built.topology);
  const traffic = trafficMatrix(w.flows);
  const initial = totalCost(w.placement, traffic, built.oracle);
  for (const s of result.strategies) {
    assert.ok(Math.abs(s.initialCost - initial) < 1e-6, 'Math.abs(s.initialCost - initial) < 1e-6');
    assert.equal(s.perRound[0]!.cost, s.initialCost);
    assert.ok(Math.abs(s.perRound.at(-1)!.cost - s.finalCost) <= 1e-6 * s.initialCost, `${s.strategy}: last round is the final cost`);
    assert.equal(s.perRound.reduce((n, p) => n + p.migrations, 0), s.migrations);
    assert.ok(s.vmsMigrated <= s.migrations && s.vmsMigrated <= 48, 's.vmsMigrated <= s.migrations && s.vmsMigrated <= 48');
    assert.ok(s.finalCost < s.initialCost, `${s.strategy} lowers the cost`);
    assert.equal(s.perRound[0]!.layers.length, 3);
    assert.equal(s.vmCostQuantiles.final.length, 101);
    // every migration sends at least the VM's memory once (4 GiB by default)
    assert.ok(s.migrationBytes >= s.migrations * 4 * 2 ** 30, 's.migrationBytes >= s.migrations * 4 * 2 ** 30');
    assert.equal(s.perRound.reduce((n, p) => n + p.migrationBytes, 0), s.migrationBytes);
    assert.ok(s.reductionAtHalfMigrated >= 0 && s.reductionAtHalfMigrated <= s.costReduction + 1e-9, 's.reductionAtHalfMigrated >= 0 && s.reductionAtHalfMigrated <= s.costReduction + 1e-9');
    // costs never rise from round to round under Algorithm 1 with c_m = 0
    s.perRound.slice(1).forEach((p, i) => assert.ok(p.cost <= s.perRound[i]!.cost + 1e-6, 'p.cost <= s.perRound[i]!.cost + 1e-6'));
  }
});

test('two scale runs with the same seed are identical; another seed differs', () => {
  const topology = topologyFromSpec('fat-tree:4');
  const run = (seed: number) => JSON.stringify(runScale({ topology, workload: workload(seed), strategies: [['la', policy('load-aware')]] }));
  assert.equal(run(3), run(3));
  assert.notEqual(run(3), run(4));
});

test('quantiles: 101 points from the minimum to the maximum', () => {
  const q = quantiles([5, 1, 3]);
  assert.equal(q.length, 101);
  assert.equal(q[0], 1);
  assert.equal(q[50], 3);
  assert.equal(q[100], 5);
  assert.deepEqual(quantiles([]), []);
});

test('the default migration model stops as QEMU does (bandwidth × 6 ms left): every migration of a default VM sends 4 GiB × (1 + r + r² + r³ + r⁴)', () => {
  // r = 10 MB/s dirtied / 125 MB/s: 4 GiB × r³ = 2.2 MB is above 0.75 MB, 4 GiB × r⁴ = 0.18 MB is not
  assert.ok(Math.abs(DEFAULT_MIGRATION_MODEL.stopCopyBytes - 750_000) < 1e-6, `stop-copy default ${DEFAULT_MIGRATION_MODEL.stopCopyBytes}, expected 0.75 MB`);
  const r = 10e6 / 125e6;
  const perVm = 4 * 2 ** 30 * (1 + r + r ** 2 + r ** 3 + r ** 4);
  const result = runScale({ topology: topologyFromSpec('fat-tree:4'), workload: workload(7), strategies: [['la', policy('load-aware')]], utilisation: false });
  const la = result.strategies[0]!;
  assert.ok(la.migrations > 0, 'Load-Aware migrates');
  for (const p of la.perRound) assert.ok(Math.abs(p.migrationBytes - p.migrations * perVm) <= 1e-9 * perVm * Math.max(1, p.migrations), `round ${p.round}: ${p.migrationBytes}`);
});

test('migration traffic is charged to the links it crosses during its round', () => {
  const topology = topologyFromSpec('fat-tree:4');
  const run = (roundSeconds: number) =>
    runScale({ topology, workload: workload(7), strategies: [['la', policy('load-aware')]], migration: { ...DEFAULT_MIGRATION_MODEL, roundSeconds } }).strategies[0]!;
  const slow = run(1e12);
  const fast = run(60);
  const r1 = (s: typeof slow) => s.perRound[1]!;
  assert.ok(r1(fast).migrations > 0, 'r1(fast).migrations > 0');
  // the same placements; only the migration load differs, and it lands on the access layer at least
  assert.equal(r1(fast).cost, r1(slow).cost);
  assert.ok(r1(fast).layers[0]!.loadBps > r1(slow).layers[0]!.loadBps, 'r1(fast).layers[0]!.loadBps > r1(slow).layers[0]!.loadBps');
  const extra = r1(fast).layers.reduce((n, l) => n + l.loadBps, 0) - r1(slow).layers.reduce((n, l) => n + l.loadBps, 0);
  // every migration crosses at least the two access links of its hypervisors
  assert.ok(extra >= (2 * r1(fast).migrationBytes * 8) / 60 - 1, 'extra >= (2 * r1(fast).migrationBytes * 8) / 60 - 1');
});

test('quality (issue #6): on fat-tree(16) with 4,096 VMs under the partner model, Load-Aware saves at least 70% while migrating at most half the VMs', () => {
  const result = runScale({
    topology: topologyFromSpec('fat-tree:16'),
    workload: (t) => generateWorkload(t, { model: 'partners', vms: 4096, slotsPerHypervisor: 8, placement: 'random', seed: 1 }),
    strategies: [['load-aware', strategyRunner('load-aware', { migrationCost: 0, maxRounds: 20, rails: {}, maxMigrations: 2048 })]],
    utilisation: false,
  });
  const la = result.strategies[0]!;
  assert.ok(la.vmsMigrated <= 2048, `${la.vmsMigrated} VMs moved`);
  assert.ok(la.costReduction >= 0.7, `reduction ${la.costReduction}`);
});
