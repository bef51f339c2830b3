import type { PathOracle } from './paths.ts';
import type { Topology } from './topology.ts';
import { cmp } from './topology.ts';

/**
 * Hypervisors that are as close to each other as two hypervisors get (rack mates): the places a
 * planner may put a VM next to a peer whose own hypervisor is full. Two ways to find them:
 *  - `rackMates(topology)`: hypervisors attached to the same set of switches (linear time);
 *  - `closestByCost(hosts, oracle)`: per host, the others at its least non-zero path cost
 *    (quadratic: for small instances, or any topology the first does not fit).
 * Each list is in name order and leaves the host itself out.
 */
export type Nearby = ReadonlyMap<string, readonly string[]>;

export function rackMates(topology: Topology): Nearby {
  const groups = new Map<string, string[]>();
  const keyOf = new Map<string, string>();
  for (const h of topology.hypervisors) {
    const key = (topology.adjacency.get(h) ?? []).map((a) => a.neighbour).sort(cmp).join('|');
    keyOf.set(h, key);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push(h);
  }
  const out = new Map<string, string[]>();
  for (const h of topology.hypervisors) out.set(h, groups.get(keyOf.get(h)!)!.filter((o) => o !== h).sort(cmp));
  return out;
}

export function closestByCost(hosts: readonly string[], oracle: PathOracle): Nearby {
  const out = new Map<string, string[]>();
  for (const h of hosts) {
    let least = Infinity;
    let list: string[] = [];
    for (const o of hosts) {
      if (o === h) continue;
      const c = oracle.cost(h, o);
      if (!(c > 0)) continue;
      if (c < least) {
        least = c;
        list = [o];
      } else if (c === least) list.push(o);
    }
    out.set(h, list.sort(cmp));
  }
  return out;
}
