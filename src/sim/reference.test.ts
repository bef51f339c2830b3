import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findTool, systemTestsRequired } from '../emulation/system-gate.ts';
import { build } from '../core/build.ts';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { seededRng } from '../core/random.ts';
import { topologyFromSpec } from '../topologies/spec.ts';
import { generateWorkload } from '../workloads/workload.ts';
import { randomWorkload } from '../workloads/random.ts';
import { metisReference } from './reference.ts';
import { exitCodeFor, isScoreError } from '../errors/errors.ts';
import { runScale } from './scale.ts';
import { strategyRunner } from './strategies.ts';

// gpmetis is Debian's metis package: installed in CI (.ci/run), skipped with a reason elsewhere
const gpmetis = findTool('gpmetis');
const skip = gpmetis === undefined && !systemTestsRequired() ? 'gpmetis (Debian package metis) is not installed' : false;

function instance(vms: number, slots: number) {
  const built = build(topologyFromSpec('fat-tree:4'));
  const w = randomWorkload({ hypervisors: built.topology.hypervisors, vms, capacity: slots, partners: 3, rng: seededRng(5) });
  return { built, w, traffic: trafficMatrix(w.flows) };
}

test('METIS reference: every VM placed once, within capacity, deterministic, and far below a random placement', { skip }, () => {
  const { built, w, traffic } = instance(60, 4);
  const input = { topology: built.topology, oracle: built.oracle, vms: w.vms, traffic, capacity: w.capacity, seed: 3 };
  const ref = metisReference(input);
  assert.deepEqual([...ref.placement.keys()].sort(), [...w.vms].sort());
  const n = new Map<string, number>();
  for (const h of ref.placement.values()) n.set(h, (n.get(h) ?? 0) + 1);
  for (const [h, k] of n) assert.ok(k <= w.capacity.get(h)!, `${h} holds ${k}`);
  assert.equal(ref.cost, totalCost(ref.placement, traffic, built.oracle));
  assert.ok(ref.cost < 0.8 * totalCost(w.placement, traffic, built.oracle), 'ref.cost < 0.8 * totalCost(w.placement, traffic, built.oracle)');
  assert.ok(ref.levels >= 2 && ref.partitions >= 1, 'ref.levels >= 2 && ref.partitions >= 1');
  assert.deepEqual([...metisReference(input).placement], [...ref.placement]);
});

test('METIS reference with every slot taken still fits (the repair gives back what METIS overfills)', { skip }, () => {
  const { built, w, traffic } = instance(64, 4);
  const ref = metisReference({ topology: built.topology, oracle: built.oracle, vms: w.vms, traffic, capacity: w.capacity });
  const n = new Map<string, number>();
  for (const h of ref.placement.values()) n.set(h, (n.get(h) ?? 0) + 1);
  assert.deepEqual([...n.values()].every((k) => k === 4), true);
});

test('a scale run with a reference reports the best known cost and every strategy\'s gap to it', { skip }, () => {
  const topology = topologyFromSpec('fat-tree:4');
  const names = ['load-aware', 'greedy', 'lookahead'] as const;
  const result = runScale({
    topology,
    workload: (t) => generateWorkload(t, { model: 'partners', vms: 48, slotsPerHypervisor: 4, placement: 'random', seed: 2 }),
    strategies: names.map((n) => [n, strategyRunner(n, { migrationCost: 0, maxRounds: 20, rails: {} })] as const),
    reference: (ctx) => metisReference({ topology: ctx.topology, oracle: ctx.oracle, vms: ctx.vms, traffic: ctx.traffic, capacity: ctx.capacity, seed: ctx.seed }),
  });
  const ref = result.reference;
  assert.ok(ref !== undefined, 'ref !== undefined');
  assert.equal(ref.method, 'metis-hierarchical');
  assert.ok(ref.bestKnown.cost <= ref.cost, 'ref.bestKnown.cost <= ref.cost');
  for (const s of result.strategies) {
    assert.ok(ref.bestKnown.cost <= s.finalCost, 'ref.bestKnown.cost <= s.finalCost');
    assert.ok(Math.abs(ref.gapToBest[s.strategy]! - (s.finalCost - ref.bestKnown.cost) / s.initialCost) < 1e-12, 'Math.abs(ref.gapToBest[s.strategy]! - (s.finalCost - ref.bestKnown.cost) / s.initialCos...');
  }
  assert.ok(Object.values(ref.gapToBest).some((g) => g === 0) || ref.bestKnown.by === 'metis-hierarchical', 'Object.values(ref.gapToBest).some((g) => g === 0) || ref.bestKnown.by === \'metis-hierar...');
});

test('METIS reference: gpmetis not installed is EMULATION_MISSING_TOOL, a gpmetis that fails is EMULATION_COMMAND (exit 1: not a bad option)', () => {
  const { built, w, traffic } = instance(60, 4);
  const input = { topology: built.topology, oracle: built.oracle, vms: w.vms, traffic, capacity: w.capacity };
  assert.throws(() => metisReference({ ...input, gpmetis: '/nonexistent/gpmetis' }), (e: unknown) => isScoreError(e, 'EMULATION_MISSING_TOOL') && /not installed/.test(e.message));
  // a binary that runs and exits 1, as a gpmetis that rejects its input does
  assert.throws(() => metisReference({ ...input, gpmetis: 'false' }), (e: unknown) => isScoreError(e, 'EMULATION_COMMAND') && /failed/.test(e.message));
  assert.equal(exitCodeFor('EMULATION_COMMAND'), 1);
  assert.equal(exitCodeFor('EMULATION_MISSING_TOOL'), 1);
});
