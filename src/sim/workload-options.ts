import { ScoreError } from '../errors/errors.ts';
import type { Topology } from '../core/topology.ts';
import { seededRng } from '../core/random.ts';
import { randomWorkload } from '../workloads/random.ts';
import type { ScaleWorkload } from './scale.ts';

/** The workload a scale run uses, as the command line describes it. */
export interface WorkloadOptions {
  readonly model: string;
  readonly vms: number;
  readonly slots: number;
  readonly placement: string;
  readonly seed: number;
  readonly trafficFile?: string;
}

export function workloadFromOptions(topology: Topology, o: WorkloadOptions): ScaleWorkload {
  if (o.vms > topology.hypervisors.length * o.slots) {
    throw new ScoreError('CAPACITY_EXCEEDED', `${o.vms} VMs do not fit ${topology.hypervisors.length} hypervisors × ${o.slots} slots`, { vms: o.vms, slots: o.slots });
  }
  const w = randomWorkload({ hypervisors: topology.hypervisors, vms: o.vms, capacity: o.slots, partners: 3, rng: seededRng(o.seed) });
  return { name: o.model, seed: o.seed, params: { partners: 3 }, ...w };
}
