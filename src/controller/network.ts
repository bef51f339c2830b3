import { buildTopology, linkId, type Topology } from '../core/topology.ts';
import { assignWeights, learnLayers, type Layers, type WeightOverrides } from '../core/layers.ts';
import { createPathOracle, type PathOracle } from '../core/paths.ts';
import type { Dpid, PortRef } from './commands.ts';
import type { DiscoveryState, DiscoveredLink } from './discovery.ts';

/**
 * The controller's picture of the network as the core sees it: discovered switches become
 * topology nodes (named from the scenario when one is given, `s<hex dpid>` otherwise), discovered
 * links become topology links, the link learner gives their layers and weights, and the path
 * oracle routes over them. Rebuilt whenever discovery reports a change; cheap at data-centre scale.
 */
export interface NetworkConfig {
  /** dpid -> name, e.g. from a scenario */
  readonly names?: ReadonlyMap<Dpid, string>;
  /** switches that are hypervisors' virtual switches; when empty, every switch with a host port that has hosts is one */
  readonly hypervisors?: ReadonlySet<Dpid>;
  readonly weights?: WeightOverrides;
  /** capacity per link id (names), bits/s; else the slower port's reported speed; else 1 Gb/s */
  readonly capacities?: ReadonlyMap<string, number>;
}

export interface NetworkView {
  readonly topology: Topology;
  readonly layers: Layers;
  readonly weights: ReadonlyMap<string, number>;
  readonly oracle: PathOracle;
  readonly nameOf: (dpid: Dpid) => string;
  readonly dpidOf: ReadonlyMap<string, Dpid>;
  /** topology link id -> the ports at its ends */
  readonly ports: ReadonlyMap<string, DiscoveredLink>;
  readonly hypervisors: ReadonlySet<Dpid>;
}

const DEFAULT_CAPACITY_BPS = 1e9;

export function defaultName(dpid: Dpid): string {
  return `s${dpid.toString(16)}`;
}

export function buildView(disc: DiscoveryState, config: NetworkConfig, hostDpids: ReadonlySet<Dpid>): NetworkView {
  const names = config.names ?? new Map<Dpid, string>();
  const nameOf = (dpid: Dpid): string => names.get(dpid) ?? defaultName(dpid);
  const explicit = config.hypervisors !== undefined && config.hypervisors.size > 0;
  const hypervisors = new Set<Dpid>([...disc.switches.keys()].filter((d) => (explicit ? config.hypervisors.has(d) : hostDpids.has(d))));
  const dpidOf = new Map<string, Dpid>();
  const nodes = [...disc.switches.keys()].map((dpid) => {
    dpidOf.set(nameOf(dpid), dpid);
    return { id: nameOf(dpid), kind: hypervisors.has(dpid) ? ('hypervisor' as const) : ('switch' as const) };
  });
  const ports = new Map<string, DiscoveredLink>();
  const specs = [];
  for (const { link } of disc.links.values()) {
    const a = nameOf(link.a.dpid);
    const b = nameOf(link.b.dpid);
    const id = linkId(a, b);
    // Parallel links between two switches: the first one carries the name, others get a suffix.
    const unique = ports.has(id) ? `${id}#${link.a.port}` : id;
    ports.set(unique, link);
    specs.push({ id: unique, a, b, capacityBps: config.capacities?.get(unique) ?? portCapacity(disc, link.a, link.b) });
  }
  const topology = buildTopology(nodes, specs);
  const layers = learnLayers(topology);
  const weights = assignWeights(layers, config.weights);
  // Without declared hypervisors, hosts may hang off transit switches (a Mininet linear chain).
  const oracle = createPathOracle(topology, weights, { hypervisorTransit: !explicit });
  return { topology, layers, weights, oracle, nameOf, dpidOf, ports, hypervisors };
}

function portCapacity(disc: DiscoveryState, a: PortRef, b: PortRef): number {
  const sa = disc.switches.get(a.dpid)?.get(a.port)?.speedKbps ?? 0;
  const sb = disc.switches.get(b.dpid)?.get(b.port)?.speedKbps ?? 0;
  const known = [sa, sb].filter((x) => x > 0);
  return known.length === 0 ? DEFAULT_CAPACITY_BPS : Math.min(...known) * 1000;
}
