import assert from 'node:assert/strict';
import { totalCost, type Placement } from '../core/cost.ts';
import { closestByCost, rackMates } from '../core/nearby.ts';
import { smallInstance, type SmallInstance } from '../core/test-instances.ts';
import type { BudgetInput } from './half-moved.ts';

/** Tests' helpers for the half-moved analyses (half-moved.ts, budget-search.ts, split-star-bound.ts). */

/** A small instance as the analyses' input, rack mates as the nearby hypervisors. */
export const inputOf = (inst: SmallInstance): BudgetInput => ({
  vms: inst.vms,
  placement: inst.placement,
  traffic: inst.traffic,
  oracle: inst.oracle,
  capacity: inst.capacity,
  nearby: rackMates(inst.built.topology),
});

/** VMs whose hypervisor differs between two placements. */
export const movedCount = (a: Placement, b: Placement): number => [...a].filter(([vm, h]) => b.get(vm) !== h).length;

/** The least cost over every placement within the slots with at most `budget` VMs away from their start (exhaustive). */
export function bruteForce(inst: Pick<BudgetInput, 'vms' | 'placement' | 'traffic' | 'oracle' | 'capacity'>, budget: number): number {
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

/** What a budgeted placement search returns that the checks below read. */
export interface BudgetSearchRun {
  readonly placement: Placement;
  readonly moved: number;
  readonly cost: number;
  readonly initialCost: number;
}

/** A search under test: the input, the budget (VMs away at most) and a seed. */
export type BudgetSearch = (input: BudgetInput, budget: number, seed: number) => BudgetSearchRun;

/**
 * On 30 small instances and budgets 0, 1, 3 and all: the placement is within the slots, names
 * every VM, moves at most the budget (and says how many it moved), and its cost is as stated.
 */
export function checkWithinBudget(search: BudgetSearch): void {
  for (let seed = 1; seed <= 30; seed++) {
    const inst = smallInstance(seed, { vms: 8 + (seed % 5), slots: 2, topology: seed % 2, partners: 3 });
    for (const budget of [0, 1, 3, inst.vms.length]) {
      const r = search(inputOf(inst), budget, seed);
      const load = new Map<string, number>();
      for (const h of r.placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
      for (const [h, n] of load) assert.ok(n <= (inst.capacity.get(h) ?? 0), `seed ${seed} budget ${budget}: ${h} holds ${n}`);
      assert.equal(r.placement.size, inst.vms.length);
      assert.equal(movedCount(r.placement, inst.placement), r.moved);
      assert.ok(r.moved <= budget, `seed ${seed}: moved ${r.moved} > budget ${budget}`);
      assert.ok(Math.abs(r.cost - totalCost(r.placement, inst.traffic, inst.oracle)) <= 1e-9 * Math.max(1, r.cost), 'Math.abs(r.cost - totalCost(r.placement, inst.traffic, inst.oracle)) <= 1e-9 * Math.max...');
      if (budget === 0) assert.equal(r.cost, r.initialCost);
    }
  }
}

/**
 * On 20 six-VM instances with a budget of 2: never below the exhaustive optimum; how many times
 * the search found it. The small three-tier has no rack mates beyond the ToR pair: the closest
 * hosts are given as the nearby ones, for the same reach.
 */
export function optimaFound(search: BudgetSearch): { found: number; n: number } {
  let found = 0;
  const n = 20;
  for (let seed = 1; seed <= n; seed++) {
    const inst = smallInstance(100 + seed, { vms: 6, slots: 2, topology: 0, partners: 2 });
    const budget = 2;
    const opt = bruteForce(inst, budget);
    const r = search({ ...inputOf(inst), nearby: closestByCost([...inst.capacity.keys()], inst.oracle) }, budget, seed);
    assert.ok(r.cost >= opt - 1e-9, `seed ${seed}: ${r.cost} below the optimum ${opt}`);
    if (r.cost <= opt + 1e-9 * Math.max(1, opt)) found += 1;
  }
  return { found, n };
}

/** The largest saving (share of the initial cost) over every placement with at most `budget` VMs away, slots ignored. */
export function bestSaving(input: BudgetInput, budget: number): number {
  const free = new Map([...input.capacity.keys()].map((h) => [h, input.vms.length]));
  return 1 - bruteForce({ ...input, capacity: free }, budget) / totalCost(input.placement, input.traffic, input.oracle);
}
