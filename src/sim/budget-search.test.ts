import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalCost } from '../core/cost.ts';
import { closestByCost } from '../core/nearby.ts';
import { smallInstance } from '../core/test-instances.ts';
import { pricedBudgetSearch } from './budget-search.ts';
import { bruteForce, inputOf, movedCount } from './budget.testing.ts';

test('priced budget search: within the slots, at most the budget of VMs away, cost as stated', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const inst = smallInstance(seed, { vms: 8 + (seed % 5), slots: 2, topology: seed % 2, partners: 3 });
    for (const budget of [0, 1, 3, inst.vms.length]) {
      const r = pricedBudgetSearch(inputOf(inst), budget, { iterations: 3000, temperature: 0.05, price: 0.2, seed });
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

test('priced budget search: never below the best placement with the same budget, and finds it on at least half of small instances', () => {
  let found = 0;
  const n = 20;
  for (let seed = 1; seed <= n; seed++) {
    const inst = smallInstance(100 + seed, { vms: 6, slots: 2, topology: 0, partners: 2 });
    const budget = 2;
    const opt = bruteForce(inst, budget);
    const r = pricedBudgetSearch({ ...inputOf(inst), nearby: closestByCost([...inst.capacity.keys()], inst.oracle) }, budget, { iterations: 20000, temperature: 0.1, price: 0.2, seed });
    assert.ok(r.cost >= opt - 1e-9, `seed ${seed}: ${r.cost} below the optimum ${opt}`);
    if (r.cost <= opt + 1e-9 * Math.max(1, opt)) found += 1;
  }
  assert.ok(found >= 10, `optimum found on ${found} of ${n}`);
});

test('priced budget search: a start over the slots is refused; a start is kept when nothing is better', () => {
  const inst = smallInstance(7, { vms: 8, slots: 2, topology: 1, partners: 2 });
  const [h] = [...inst.capacity.keys()];
  const crowded = new Map(inst.vms.map((vm) => [vm, h!]));
  assert.throws(() => pricedBudgetSearch(inputOf(inst), 8, { iterations: 10, temperature: 0, price: 0.2, seed: 1, start: crowded }), /slots/);
  const r = pricedBudgetSearch(inputOf(inst), 8, { iterations: 0, temperature: 0, price: 0.2, seed: 1, start: inst.placement });
  assert.ok(r.cost <= r.initialCost + 1e-9);
});
