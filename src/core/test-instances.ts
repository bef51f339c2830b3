import { trafficMatrix } from './cost.ts';
import type { StrategyInput } from './baselines.ts';
import { rankOf } from './policies.ts';
import type { ResourceSpec } from './rails.ts';
import { seededRng } from './random.ts';
import { build, type Built } from './build.ts';
import { leafSpine, threeTier } from '../topologies/generate.ts';
import { randomWorkload } from '../workloads/random.ts';

/** Small topologies for the strategy tests: 8 and 12 hypervisors, two shapes. */
export const SMALL_TOPOLOGIES: readonly Built[] = [
  build(threeTier({ pods: 2, torsPerPod: 2, hypervisorsPerTor: 2 })),
  build(leafSpine({ leaves: 4, spines: 2, hypervisorsPerLeaf: 3 })),
];

export interface SmallInstance extends StrategyInput {
  readonly built: Built;
}

/**
 * A seeded random instance that fits: `vms` VMs on `slots` slots per hypervisor with at least one
 * slot free, and optionally CPU/memory demands drawn so that some targets are full in those
 * dimensions even with a slot free.
 */
export function smallInstance(seed: number, o: { vms: number; slots: number; topology?: number; partners?: number; withResources?: boolean }): SmallInstance {
  const built = SMALL_TOPOLOGIES[o.topology ?? 0]!;
  const hvs = built.topology.hypervisors;
  const rng = seededRng(seed);
  const n = Math.min(o.vms, hvs.length * o.slots - 1);
  const w = randomWorkload({ hypervisors: hvs, vms: n, capacity: o.slots, partners: o.partners ?? 2, rng, minRate: 1, maxRate: 100 });
  let res: ResourceSpec | undefined;
  if (o.withResources === true) {
    // demands are drawn first; each host's limits are then set at or above what it holds now, so
    // the initial placement is feasible and the limits still bind on moves
    const demand = new Map(w.vms.map((vm) => [vm, { cpu: 1 + Math.floor(rng() * 4), memoryBytes: (1 + Math.floor(rng() * 4)) * 2 ** 30 }]));
    const cpuNow = new Map<string, number>();
    const memNow = new Map<string, number>();
    for (const [vm, h] of w.placement) {
      cpuNow.set(h, (cpuNow.get(h) ?? 0) + demand.get(vm)!.cpu);
      memNow.set(h, (memNow.get(h) ?? 0) + demand.get(vm)!.memoryBytes);
    }
    const hosts = new Map(hvs.map((h) => [h, { cpu: Math.max(cpuNow.get(h) ?? 0, 2 + Math.floor(rng() * 5)), memoryBytes: Math.max(memNow.get(h) ?? 0, (2 + Math.floor(rng() * 5)) * 2 ** 30) }]));
    res = { hosts, demand };
  }
  return {
    built,
    vms: w.vms,
    placement: w.placement,
    traffic: trafficMatrix(w.flows),
    oracle: built.oracle,
    capacity: w.capacity,
    rank: rankOf(w.vms),
    migrationCost: 0,
    ...(res === undefined ? {} : { resources: res }),
  };
}
