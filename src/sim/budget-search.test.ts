import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalCost, type Placement } from '../core/cost.ts';
import { closestByCost, rackMates } from '../core/nearby.ts';
import { smallInstance, type SmallInstance } from '../core/test-instances.ts';
import type { BudgetInput } from './half-moved.ts';
import { pricedBudgetSearch } from './budget-search.ts';

const inputOf = (inst: SmallInstance): BudgetInput => ({
  vms: inst.vms,
  placement: inst.placement,
  traffic: inst.traffic,
  oracle: inst.oracle,
  capacity: inst.capacity,
  nearby: rackMates(inst.built.topology),
});

const movedCount = (a: Placement, b: Placement): number => [...a].filter(([vm, h]) => b.get(vm) !== h).length;

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
