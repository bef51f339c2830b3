import type { DirectedFlow } from '../core/cost.ts';
import type { Rng } from '../core/random.ts';
import { randomInt } from '../core/random.ts';

/**
 * A seeded random workload for tests and benchmarks: VMs placed uniformly at random on
 * hypervisors with free slots, each VM talking to `partners` others chosen uniformly, at rates
 * drawn uniformly from [minRate, maxRate] bytes/s. Richer models (ON/OFF, rack-local partners)
 * belong to the scale simulator.
 */
export interface RandomWorkload {
  readonly vms: readonly string[];
  readonly placement: ReadonlyMap<string, string>;
  readonly capacity: ReadonlyMap<string, number>;
  readonly flows: readonly DirectedFlow[];
}

export function randomWorkload(o: {
  readonly hypervisors: readonly string[];
  readonly vms: number;
  readonly capacity: number;
  readonly partners: number;
  readonly minRate?: number;
  readonly maxRate?: number;
  readonly rng: Rng;
}): RandomWorkload {
  const { hypervisors, rng } = o;
  if (o.vms > hypervisors.length * o.capacity) throw new RangeError(`${o.vms} VMs do not fit ${hypervisors.length} × ${o.capacity} slots`);
  const minRate = o.minRate ?? 1_000;
  const maxRate = o.maxRate ?? 100_000;
  const digits = String(o.vms).length;
  const vms = Array.from({ length: o.vms }, (_, i) => `vm${String(i + 1).padStart(digits, '0')}`);
  const load = new Map<string, number>();
  const placement = new Map<string, string>();
  const free = [...hypervisors];
  for (const vm of vms) {
    const i = randomInt(rng, free.length);
    const hv = free[i]!;
    placement.set(vm, hv);
    const n = (load.get(hv) ?? 0) + 1;
    load.set(hv, n);
    if (n >= o.capacity) {
      free[i] = free[free.length - 1]!;
      free.pop();
    }
  }
  const flows: DirectedFlow[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < vms.length; i++) {
    for (let p = 0; p < o.partners; p++) {
      const j = randomInt(rng, vms.length);
      const key = i < j ? `${i}:${j}` : `${j}:${i}`;
      if (j === i || seen.has(key)) continue;
      seen.add(key);
      flows.push({ src: vms[i]!, dst: vms[j]!, rate: Math.round(minRate + rng() * (maxRate - minRate)) });
    }
  }
  return { vms, placement, capacity: new Map(hypervisors.map((h) => [h, o.capacity])), flows };
}
