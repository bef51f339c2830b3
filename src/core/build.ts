import { buildTopology, type LinkSpec, type Topology, type TopoNode } from './topology.ts';
import { assignWeights, learnLayers, type Layers, type WeightOverrides } from './layers.ts';
import { createPathOracle, type PathOracle } from './paths.ts';

/** Topology, layers, weights and paths in one step (the scale simulator, tests and benchmarks). */
export interface Built {
  readonly topology: Topology;
  readonly layers: Layers;
  readonly weights: ReadonlyMap<string, number>;
  readonly oracle: PathOracle;
}

export function build(g: { readonly nodes: readonly TopoNode[]; readonly links: readonly LinkSpec[] }, overrides?: WeightOverrides): Built {
  const topology = buildTopology(g.nodes, g.links);
  const layers = learnLayers(topology);
  const weights = assignWeights(layers, overrides);
  return { topology, layers, weights, oracle: createPathOracle(topology, weights) };
}
