import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smallInstance } from '../core/test-instances.ts';
import { pricedBudgetSearch } from './budget-search.ts';
import { checkWithinBudget, inputOf, optimaFound } from './budget.testing.ts';
import { isScoreError } from '../errors/errors.ts';

test('priced budget search: within the slots, at most the budget of VMs away, cost as stated', () => {
  checkWithinBudget((input, budget, seed) => pricedBudgetSearch(input, budget, { iterations: 3000, temperature: 0.05, price: 0.2, seed }));
});

test('priced budget search: never below the best placement with the same budget, and finds it on at least half of small instances', () => {
  const { found, n } = optimaFound((input, budget, seed) => pricedBudgetSearch(input, budget, { iterations: 20000, temperature: 0.1, price: 0.2, seed }));
  assert.ok(found >= 10, `optimum found on ${found} of ${n}`);
});

test('priced budget search: a start over the slots is refused; a start is kept when nothing is better', () => {
  const inst = smallInstance(7, { vms: 8, slots: 2, topology: 1, partners: 2 });
  const [h] = [...inst.capacity.keys()];
  const crowded = new Map(inst.vms.map((vm) => [vm, h!]));
  assert.throws(() => pricedBudgetSearch(inputOf(inst), 8, { iterations: 10, temperature: 0, price: 0.2, seed: 1, start: crowded }), (e) => isScoreError(e, 'CAPACITY_EXCEEDED') && /slots/.test(e.message));
  const partial = new Map(inst.placement);
  partial.delete(inst.vms[0]!);
  assert.throws(() => pricedBudgetSearch(inputOf(inst), 8, { iterations: 10, temperature: 0, price: 0.2, seed: 1, start: partial }), (e) => isScoreError(e, 'PLACEMENT_INVALID') && e.message.includes(inst.vms[0]!));
  const r = pricedBudgetSearch(inputOf(inst), 8, { iterations: 0, temperature: 0, price: 0.2, seed: 1, start: inst.placement });
  assert.ok(r.cost <= r.initialCost + 1e-9, 'r.cost <= r.initialCost + 1e-9');
});
