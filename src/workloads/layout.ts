import type { Topology } from '../core/topology.ts';
import { learnLayers } from '../core/layers.ts';
import { ScoreError } from '../errors/errors.ts';

/**
 * Racks and pods as the workload models see them, derived from the topology alone so the same
 * code serves fat-tree, three-tier and leaf-spine:
 *  - a rack is the set of hypervisors sharing one ToR/edge/leaf switch: each hypervisor's switch
 *    neighbour (the lowest id if it is multi-homed; a hypervisor without one is a rack by itself);
 *  - a pod is a connected group of racks joined through layer-2 switches (aggregation on a
 *    fat-tree or three-tier; on a leaf-spine every leaf reaches every spine, so the whole data
 *    centre is one pod, which is right: there is no level between rack and everything).
 * Racks are ordered by their first hypervisor in `topology.hypervisors`, pods by their first
 * rack; racks of a pod are contiguous in that order.
 */
export interface Rack {
  readonly id: string;
  readonly pod: number;
  readonly hypervisors: readonly string[];
}

export interface RackStructure {
  readonly racks: readonly Rack[];
  readonly rackOfHypervisor: ReadonlyMap<string, number>;
  readonly pods: number;
}

export function rackStructure(topology: Topology): RackStructure {
  const layers = learnLayers(topology);
  const rackSwitch = new Map<string, string>();
  for (const h of topology.hypervisors) {
    let sw: string | undefined;
    for (const { neighbour } of topology.adjacency.get(h) ?? []) {
      if (topology.nodes.get(neighbour)?.kind !== 'switch') continue;
      if (sw === undefined || neighbour < sw) sw = neighbour;
    }
    rackSwitch.set(h, sw ?? `(${h})`);
  }
  const members = new Map<string, string[]>();
  for (const h of topology.hypervisors) {
    const sw = rackSwitch.get(h)!;
    let list = members.get(sw);
    if (list === undefined) members.set(sw, (list = []));
    list.push(h);
  }
  const switchIds = [...members.keys()];
  // Union-find over racks: two racks are in one pod when they share a layer-2 neighbour.
  const parent = switchIds.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const viaUpper = new Map<string, number>();
  switchIds.forEach((sw, i) => {
    for (const { neighbour } of topology.adjacency.get(sw) ?? []) {
      if (layers.nodeLayer.get(neighbour) !== 2 || topology.nodes.get(neighbour)?.kind !== 'switch') continue;
      const j = viaUpper.get(neighbour);
      if (j === undefined) viaUpper.set(neighbour, i);
      else parent[find(i)] = find(j);
    }
  });
  const podOfRoot = new Map<number, number>();
  const podOf = switchIds.map((_, i) => {
    const r = find(i);
    let p = podOfRoot.get(r);
    if (p === undefined) podOfRoot.set(r, (p = podOfRoot.size));
    return p;
  });
  const order = switchIds.map((_, i) => i).sort((a, b) => podOf[a]! - podOf[b]! || a - b);
  const racks: Rack[] = order.map((i) => ({ id: switchIds[i]!, pod: podOf[i]!, hypervisors: members.get(switchIds[i]!)! }));
  const rackOfHypervisor = new Map<string, number>();
  racks.forEach((r, i) => r.hypervisors.forEach((h) => rackOfHypervisor.set(h, i)));
  return { racks, rackOfHypervisor, pods: podOfRoot.size };
}

/**
 * The application layout: VMs numbered vm1..vmN are split over the racks in order, each rack's
 * share proportional to its slots (largest remainders, ties to the earlier rack), so on a
 * uniform topology every rack holds the same number of VMs ±1. `rack[i]` / `pod[i]` are VM i's
 * logical rack and pod; "rack-local" traffic is between VMs of one logical rack.
 */
export interface AppLayout {
  readonly vms: readonly string[];
  readonly rack: Int32Array;
  readonly pod: Int32Array;
  /** first VM index of each rack, plus N at the end */
  readonly rackStart: readonly number[];
  /** first VM index of each pod, plus N at the end */
  readonly podStart: readonly number[];
  readonly structure: RackStructure;
}

export function vmNames(n: number): string[] {
  const digits = String(n).length;
  return Array.from({ length: n }, (_, i) => `vm${String(i + 1).padStart(digits, '0')}`);
}

export function appLayout(structure: RackStructure, vms: number, capacity: ReadonlyMap<string, number>): AppLayout {
  if (!Number.isInteger(vms) || vms < 0) throw new ScoreError('WORKLOAD_INVALID', `the number of VMs must be a non-negative integer, got ${vms}`, { vms });
  const slots = structure.racks.map((r) => r.hypervisors.reduce((s, h) => s + (capacity.get(h) ?? 0), 0));
  const total = slots.reduce((a, b) => a + b, 0);
  if (vms > total) throw new ScoreError('CAPACITY_EXCEEDED', `${vms} VMs do not fit the ${total} slots of the topology`, { vms, slots: total });
  const exact = slots.map((s) => (total === 0 ? 0 : (vms * s) / total));
  const quota = exact.map(Math.floor);
  let left = vms - quota.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, i) => i).sort((a, b) => exact[b]! - quota[b]! - (exact[a]! - quota[a]!) || a - b);
  for (const i of byRemainder) {
    if (left === 0) break;
    if (quota[i]! < slots[i]!) {
      quota[i]! += 1;
      left -= 1;
    }
  }
  const rack = new Int32Array(vms);
  const pod = new Int32Array(vms);
  const rackStart: number[] = [];
  const podStart: number[] = [];
  let at = 0;
  structure.racks.forEach((r, ri) => {
    rackStart.push(at);
    if (ri === 0 || structure.racks[ri - 1]!.pod !== r.pod) podStart.push(at);
    for (let k = 0; k < quota[ri]!; k++, at++) {
      rack[at] = ri;
      pod[at] = r.pod;
    }
  });
  rackStart.push(vms);
  podStart.push(vms);
  return { vms: vmNames(vms), rack, pod, rackStart, podStart, structure };
}
