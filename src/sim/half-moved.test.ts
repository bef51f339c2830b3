import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalCost, type Placement } from '../core/cost.ts';
import { closestByCost, rackMates } from '../core/nearby.ts';
import { smallInstance, type SmallInstance } from '../core/test-instances.ts';
import { budgetAnneal, budgetStructure, type BudgetInput } from './half-moved.ts';

const inputOf = (inst: SmallInstance): BudgetInput => ({
  vms: inst.vms,
  placement: inst.placement,
  traffic: inst.traffic,
  oracle: inst.oracle,
  capacity: inst.capacity,
  nearby: rackMates(inst.built.topology),
});

const movedCount = (a: Placement, b: Placement): number => [...a].filter(([vm, h]) => b.get(vm) !== h).length;

test('budget annealing: within the slots, at most the budget of VMs away from their start, cost as stated', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const inst = smallInstance(seed, { vms: 8 + (seed % 5), slots: 2, topology: seed % 2, partners: 3 });
    for (const budget of [0, 1, 3, inst.vms.length]) {
      const r = budgetAnneal(inputOf(inst), budget, { iterations: 3000, temperature: 0.05, seed });
      const load = new Map<string, number>();
      for (const h of r.placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
      for (const [h, n] of load) assert.ok(n <= (inst.capacity.get(h) ?? 0), `seed ${seed} budget ${budget}: ${h} holds ${n}`);
      assert.equal(r.placement.size, inst.vms.length);
      assert.equal(movedCount(r.placement, inst.placement), r.moved);
      assert.ok(r.moved <= budget, `seed ${seed}: moved ${r.moved} > budget ${budget}`);
      assert.ok(Math.abs(r.cost - totalCost(r.placement, inst.traffic, inst.oracle)) <= 1e-9 * Math.max(1, r.cost));
      if (budget === 0) assert.equal(r.cost, r.initialCost);
    }
  }
});

/** The least cost over every placement within the slots with at most `budget` VMs away from their start. */
function bruteForce(inst: SmallInstance, budget: number): number {
  const hosts = [...inst.capacity.keys()];
  const load = new Map(hosts.map((h) => [h, 0]));
  const p = new Map<string, string>();
  let best = Infinity;
  const go = (i: number, moved: number): void => {
    if (i === inst.vms.length) {
      best = Math.min(best, totalCost(p, inst.traffic, inst.oracle));
      return;
    }
    const vm = inst.vms[i]!;
    for (const h of hosts) {
      const away = h === inst.placement.get(vm) ? 0 : 1;
      if (moved + away > budget || load.get(h)! >= inst.capacity.get(h)!) continue;
      load.set(h, load.get(h)! + 1);
      p.set(vm, h);
      go(i + 1, moved + away);
      load.set(h, load.get(h)! - 1);
    }
  };
  go(0, 0);
  return best;
}

test('budget annealing: never below the best placement with the same budget, and finds it on at least half of small instances', () => {
  let found = 0;
  const n = 20;
  for (let seed = 1; seed <= n; seed++) {
    const inst = smallInstance(100 + seed, { vms: 6, slots: 2, topology: 0, partners: 2 });
    const budget = 2;
    const opt = bruteForce(inst, budget);
    // the small three-tier has no rack mates beyond the ToR pair; closest hosts give the annealer the same reach
    const r = budgetAnneal({ ...inputOf(inst), nearby: closestByCost([...inst.capacity.keys()], inst.oracle) }, budget, { iterations: 20000, temperature: 0.1, seed });
    assert.ok(r.cost >= opt - 1e-9, `seed ${seed}: ${r.cost} below the optimum ${opt}`);
    if (r.cost <= opt + 1e-9 * Math.max(1, opt)) found += 1;
  }
  // a heuristic with a narrow neighbourhood (peers' hypervisors, their rack mates, home): 13 of 20
  // when written; fewer than half would mean it no longer optimises
  assert.ok(found >= 10, `optimum found on ${found} of ${n}`);
});

test('budget structure: the forest is within the top pairs; its trees moved whole stay within the budget', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const inst = smallInstance(200 + seed, { vms: 10, slots: 3, topology: seed % 2, partners: 3 });
    for (const budget of [1, 3, 5]) {
      const s = budgetStructure(inputOf(inst), budget);
      assert.ok(s.forestShare <= s.topPairsShare + 1e-12, `seed ${seed}: forest ${s.forestShare} > top pairs ${s.topPairsShare}`);
      assert.ok(s.topPairsShare <= 1 + 1e-12);
      assert.ok(s.forestVmsMoved <= budget, `seed ${seed}: ${s.forestVmsMoved} moved for a forest of ${budget} edges`);
      assert.equal(s.initialCost, totalCost(inst.placement, inst.traffic, inst.oracle));
      assert.equal(movedCount(s.forestPlacement, inst.placement), s.forestVmsMoved);
      assert.ok(Math.abs(1 - totalCost(s.forestPlacement, inst.traffic, inst.oracle) / s.initialCost - s.forestUncapacitatedReduction) < 1e-9);
    }
  }
});

test('budget annealing from a start: refuses a start over the budget, keeps a start that is already best', () => {
  const inst = smallInstance(7, { vms: 8, slots: 2, topology: 1, partners: 2 });
  const hosts = [...inst.capacity.keys()];
  const loads = new Map<string, number>();
  for (const h of inst.placement.values()) loads.set(h, (loads.get(h) ?? 0) + 1);
  const free = hosts.find((h) => (loads.get(h) ?? 0) === 0)!;
  const [vm] = inst.vms;
  const start = new Map(inst.placement);
  start.set(vm!, free);
  assert.throws(() => budgetAnneal(inputOf(inst), 0, { iterations: 10, temperature: 0, seed: 1, start }), /budget/);
  const r = budgetAnneal(inputOf(inst), 1, { iterations: 0, temperature: 0, seed: 1, start });
  assert.deepEqual([...r.placement], [...start]);
  assert.equal(r.moved, 1);
});
