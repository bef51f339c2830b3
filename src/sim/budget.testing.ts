import { totalCost, type Placement } from '../core/cost.ts';
import { rackMates } from '../core/nearby.ts';
import type { SmallInstance } from '../core/test-instances.ts';
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
export function bruteForce(inst: SmallInstance, budget: number): number {
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
