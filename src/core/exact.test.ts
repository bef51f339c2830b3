import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { solveOptimal } from './exact.ts';
import { runStrategy, STRATEGY_NAMES, type StrategyName } from './baselines.ts';
import { totalCost } from './cost.ts';
import { withinResources } from './rails.ts';
import { seededRng } from './random.ts';
import { smallInstance, type SmallInstance } from './test-instances.ts';

/** Every assignment of the VMs to the hypervisors, capacity checked: the reference for tiny instances. */
function bruteForce(inst: SmallInstance): number {
  const hosts = [...inst.capacity.keys()];
  const at = new Map<string, string>();
  let best = Infinity;
  const go = (i: number): void => {
    if (i === inst.vms.length) {
      const counts = new Map<string, number>();
      for (const h of at.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
      for (const [h, n] of counts) if (n > inst.capacity.get(h)!) return;
      if (inst.resources !== undefined && !withinResources(inst.resources, at)) return;
      best = Math.min(best, totalCost(at, inst.traffic, inst.oracle));
      return;
    }
    for (const h of hosts) {
      at.set(inst.vms[i]!, h);
      go(i + 1);
    }
    at.delete(inst.vms[i]!);
  };
  go(0);
  return best;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

test('property: on tiny instances the branch and bound optimum equals brute force (slots, and CPU/memory)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), (seed, vms, slots, withResources) => {
      const inst = smallInstance(seed, { vms, slots, withResources });
      const opt = solveOptimal({ ...inst, incumbent: inst.placement });
      assert.ok(opt.proven, 'opt.proven');
      const ref = bruteForce(inst);
      assert.ok(close(opt.cost, ref), `branch and bound ${opt.cost} vs brute force ${ref}`);
      assert.ok(close(opt.cost, totalCost(opt.placement, inst.traffic, inst.oracle)), 'close(opt.cost, totalCost(opt.placement, inst.traffic, inst.oracle))');
      // without a starting incumbent the search finds the same optimum
      assert.ok(close(solveOptimal(inst).cost, ref), 'close(solveOptimal(inst).cost, ref)');
    }),
    { numRuns: 40 },
  );
});

test('property: the optimum is never above what any strategy reaches (up to 12 VMs)', () => {
  const strategies = STRATEGY_NAMES.filter((s): s is Exclude<StrategyName, 'optimal'> => s !== 'optimal');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 4, max: 12 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 50 }), fc.boolean(), (seed, vms, topology, cm, withResources) => {
      const inst = { ...smallInstance(seed, { vms, slots: 2, topology, withResources }), migrationCost: cm, rng: seededRng(seed) };
      const opt = runStrategy('optimal', inst);
      assert.ok(opt.converged, 'proven');
      for (const s of strategies) {
        const run = runStrategy(s, inst);
        assert.ok(opt.finalCost <= run.finalCost + 1e-9 * Math.max(1, run.finalCost), `${s}: ${run.finalCost} < optimum ${opt.finalCost}`);
      }
    }),
    { numRuns: 40 },
  );
});

test('optimal run: steps replay to the optimal placement, each step with the exact total', () => {
  const inst = smallInstance(7, { vms: 10, slots: 2 });
  const run = runStrategy('optimal', inst);
  const p = new Map(inst.placement);
  let total = run.initialCost;
  for (const s of run.steps) {
    assert.equal(s.decision.from, p.get(s.decision.vm));
    p.set(s.decision.vm, s.decision.to);
    const now = totalCost(p, inst.traffic, inst.oracle);
    assert.ok(close(s.totalBefore, total) && close(s.totalAfter, now), 'close(s.totalBefore, total) && close(s.totalAfter, now)');
    total = now;
  }
  assert.deepEqual(p, run.finalPlacement);
  assert.ok(close(run.finalCost, solveOptimal(inst).cost), 'close(run.finalCost, solveOptimal(inst).cost)');
});

test('the search reports the nodes it explored and gives up, unproven, at maxNodes', () => {
  const inst = smallInstance(3, { vms: 12, slots: 2, topology: 1 });
  const full = solveOptimal(inst);
  assert.ok(full.proven && full.explored > 0, 'full.proven && full.explored > 0');
  const cut = solveOptimal({ ...inst, incumbent: inst.placement, maxNodes: 5 });
  assert.equal(cut.proven, false);
  assert.ok(cut.cost >= full.cost - 1e-9, 'cut.cost >= full.cost - 1e-9');
});
