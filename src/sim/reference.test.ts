import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findTool, systemTestsRequired } from '../emulation/system-gate.ts';
import { build } from '../core/build.ts';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { seededRng } from '../core/random.ts';
import { topologyFromSpec } from '../topologies/spec.ts';
import { generateWorkload } from '../workloads/workload.ts';
import { randomWorkload } from '../workloads/random.ts';
import { metisReference, slackUfactor } from './reference.ts';
import { exitCodeFor, isScoreError } from '../errors/errors.ts';
import { runScale } from './scale.ts';
import { strategyRunner } from './strategies.ts';
import { runScaleCli } from '../cli/commands/simulate-scale.ts';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

test('slackUfactor lets every part fill up to its capacity and no further, whatever the count', () => {
  for (const [n, caps] of [[1020, [128, 128, 128, 128, 128, 128, 128, 128]], [900, [128, 128, 128, 128, 128, 128, 128, 128]], [113, [32, 32, 32, 32]], [97, [64, 40]], [7, [4, 4]]] as const) {
    const total = caps.reduce((a, b) => a + b, 0);
    const u = slackUfactor(n, total);
    for (const c of caps) {
      // METIS's bound on a part: (1 + u/1000) × its target share of the n VMs
      const bound = (1 + u / 1000) * ((n * c) / total);
      assert.ok(bound >= c - 1e-9, `${n} VMs over ${caps.join('+')}: ufactor ${u} caps a part of ${c} at ${bound}`);
      assert.ok(bound < c + 1, `${n} VMs over ${caps.join('+')}: ufactor ${u} lets a part of ${c} hold ${bound}`);
    }
  }
  assert.equal(slackUfactor(64, 64), 1, 'a full group gets METIS\'s tightest balance');
});

test('METIS reference on a VM count the parts cannot share evenly is within a few points of the best strategy', { skip }, () => {
  // fat-tree(4), 51 VMs in 4 slots: 4 pods of 16 slots get 12.75 VMs each, not a whole number.
  // With a fixed 0.1% imbalance METIS gave up the cut here (−3.9% reduction against gain-swap's 82.5%).
  const result = runScale({
    topology: topologyFromSpec('fat-tree:4'),
    utilisation: false,
    workload: (t) => generateWorkload(t, { model: 'partners', vms: 51, slotsPerHypervisor: 4, placement: 'random', seed: 1 }),
    strategies: (['gain-swap', 'greedy'] as const).map((n) => [n, strategyRunner(n, { migrationCost: 0, maxRounds: 30, rails: {} })] as const),
    reference: (ctx) => metisReference({ topology: ctx.topology, oracle: ctx.oracle, vms: ctx.vms, traffic: ctx.traffic, capacity: ctx.capacity, seed: ctx.seed }),
  });
  const ref = result.reference;
  assert.ok(ref !== undefined, 'the run has a reference');
  const best = Math.max(...result.strategies.map((s) => 1 - s.finalCost / s.initialCost));
  assert.ok(ref.reduction >= best - 0.03, `reference cuts ${(100 * ref.reduction).toFixed(1)}%, the best strategy ${(100 * best).toFixed(1)}%`);
});

test('simulate --reference metis without gpmetis fails before any strategy runs (EMULATION_MISSING_TOOL)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-metis-early-'));
  const path = process.env.PATH;
  const write = process.stderr.write.bind(process.stderr);
  const written: string[] = [];
  t.after(() => {
    process.env.PATH = path;
    process.stderr.write = write;
    rmSync(dir, { recursive: true, force: true });
  });
  process.env.PATH = dir; // an empty directory: no gpmetis on it
  // progress lines go to stderr as each strategy ends: none may appear before the error
  const capture = (chunk: string | Uint8Array): boolean => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  };
  process.stderr.write = capture;
  const run = runScaleCli({
    topology: 'fat-tree:4',
    workload: { model: 'partners', vms: 16, slots: 4, placement: 'random', seed: 1 },
    strategies: 'none,greedy',
    migrationCost: 0,
    maxRounds: 5,
    rails: {},
    utilisation: false,
    out: join(dir, 'out'),
    png: false,
    json: false,
    progress: true,
    reference: 'metis',
  });
  await assert.rejects(run, (e: unknown) => isScoreError(e, 'EMULATION_MISSING_TOOL') && /not installed/.test(e.message));
  process.stderr.write = write;
  assert.deepEqual(written, [], 'no strategy ran (no progress line)');
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
});

test('a gpmetis that fails keeps its stderr in the error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-metis-fail-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'gpmetis');
  writeFileSync(bin, '#!/bin/sh\necho "Input Error: the graph is broken" >&2\nexit 1\n', { mode: 0o755 });
  const { built, w, traffic } = instance(60, 4);
  assert.throws(
    () => metisReference({ topology: built.topology, oracle: built.oracle, vms: w.vms, traffic, capacity: w.capacity, gpmetis: bin }),
    (e: unknown) => isScoreError(e, 'EMULATION_COMMAND') && /stderr: Input Error: the graph is broken/.test(e.message),
  );
});
