import type { Topology } from './topology.ts';

/**
 * The paper's link learner. A switch's layer is its hop distance from the nearest hypervisor
 * (hypervisor 0, ToR 1, aggregation 2, core 3 on a 3-tier tree; host/edge/agg/core on a fat-tree;
 * leaf/spine on a leaf-spine). A link's layer is the higher layer of its two ends, so the
 * hypervisor-ToR links are layer 1 (weight c1), ToR-aggregation layer 2 (c2), aggregation-core
 * layer 3 (c3). The paper numbers the same layers 2..4 by the upper switch; reports say both.
 */
export interface Layers {
  readonly nodeLayer: ReadonlyMap<string, number>;
  readonly linkLayer: ReadonlyMap<string, number>;
  readonly maxLayer: number;
}

export interface WeightOverrides {
  /** weight per link layer (1-based); a layer not listed gets its own number (1, 2, 3, ...) */
  readonly layers?: Readonly<Record<number, number>>;
  /** weight per link id; wins over the layer weight */
  readonly links?: Readonly<Record<string, number>>;
}

export function learnLayers(topo: Topology): Layers {
  const nodeLayer = new Map<string, number>();
  let frontier = [...topo.hypervisors];
  for (const h of frontier) nodeLayer.set(h, 0);
  let depth = 0;
  while (frontier.length > 0) {
    depth += 1;
    const next: string[] = [];
    for (const n of frontier) {
      for (const { neighbour } of topo.adjacency.get(n) ?? []) {
        if (!nodeLayer.has(neighbour)) {
          nodeLayer.set(neighbour, depth);
          next.push(neighbour);
        }
      }
    }
    frontier = next;
  }
  const linkLayer = new Map<string, number>();
  let maxLayer = 0;
  for (const link of topo.links) {
    const la = nodeLayer.get(link.a);
    const lb = nodeLayer.get(link.b);
    // A link no hypervisor can reach carries no VM traffic: it gets no layer and no weight.
    if (la === undefined || lb === undefined) continue;
    const layer = Math.max(la, lb, 1);
    linkLayer.set(link.id, layer);
    maxLayer = Math.max(maxLayer, layer);
  }
  return { nodeLayer, linkLayer, maxLayer };
}

/** Incremental per-layer weights (default c_i = i), then the operator's per-layer and per-link overrides. */
/**
 * The effective weight of every link layer 1..maxLayer (and of any layer the operator set): the operator's layer override, else the
 * learner's default (layer i weighs i, the paper's c_i). A link override beats its layer's weight
 * for that link alone ({@link assignWeights}), so this is what a link without one weighs.
 */
export function layerWeights(layers: Layers, overrides: WeightOverrides = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (let layer = 1; layer <= layers.maxLayer; layer++) out.set(layer, overrides.layers?.[layer] ?? layer);
  // An override for a layer not (yet) discovered still is the operator's setting: it shows, so a
  // write is visible before the switches connect (a cluster standby taking over, say).
  for (const [k, w] of Object.entries(overrides.layers ?? {})) if (!out.has(Number(k))) out.set(Number(k), w);
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

export function assignWeights(layers: Layers, overrides: WeightOverrides = {}): Map<string, number> {
  const weights = new Map<string, number>();
  for (const [id, layer] of layers.linkLayer) {
    weights.set(id, overrides.links?.[id] ?? overrides.layers?.[layer] ?? layer);
  }
  return weights;
}
