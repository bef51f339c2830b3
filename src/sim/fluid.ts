import type { DirectedFlow, Placement, TrafficMatrix } from '../core/cost.ts';
import { totalCost } from '../core/cost.ts';
import type { Layers } from '../core/layers.ts';
import type { PathOracle } from '../core/paths.ts';
import type { PolicyRun } from '../core/policies.ts';
import type { Topology } from '../core/topology.ts';

/**
 * Fluid (flow-level) data plane on a virtual clock: every flow runs at its rate over the path
 * the controller would install between its VMs' hypervisors. Per-link load is kept per
 * direction; a link's utilisation is its busier direction over its capacity, as a port's
 * tx/rx counters would show it.
 */
export interface LinkLoad {
  /** carries VM traffic (the paper averages utilisation over these links only) */
  readonly active: boolean;
  readonly link: string;
  readonly layer: number;
  readonly capacityBps: number;
  /** bits/s from link.a to link.b, and back */
  readonly abBps: number;
  readonly baBps: number;
  readonly utilisation: number;
}

export interface LayerUtilisation {
  readonly layer: number;
  /** links of this layer that carry any traffic (the paper averages over these only) */
  readonly activeLinks: number;
  readonly totalLinks: number;
  /** mean utilisation over the active links, 0 when none is active */
  readonly meanUtilisation: number;
  readonly maxUtilisation: number;
  /** bits/s carried by the layer, both directions */
  readonly loadBps: number;
}

export interface DataPlaneView {
  readonly topology: Topology;
  readonly layers: Layers;
  readonly oracle: PathOracle;
}

export function linkLoads(view: DataPlaneView, placement: Placement, flows: readonly DirectedFlow[]): LinkLoad[] {
  const ab = new Map<string, number>();
  const ba = new Map<string, number>();
  for (const f of flows) {
    const x = placement.get(f.src);
    const y = placement.get(f.dst);
    if (x === undefined || y === undefined || x === y) continue;
    let at = x;
    for (const link of view.oracle.path(x, y)) {
      const bits = f.rate * 8;
      if (link.a === at) {
        ab.set(link.id, (ab.get(link.id) ?? 0) + bits);
        at = link.b;
      } else {
        ba.set(link.id, (ba.get(link.id) ?? 0) + bits);
        at = link.a;
      }
    }
  }
  return view.topology.links.map((l) => {
    const abBps = ab.get(l.id) ?? 0;
    const baBps = ba.get(l.id) ?? 0;
    return {
      active: abBps + baBps > 0,
      link: l.id,
      layer: view.layers.linkLayer.get(l.id) ?? 0,
      capacityBps: l.capacityBps,
      abBps,
      baBps,
      utilisation: Math.max(abBps, baBps) / l.capacityBps,
    };
  });
}

export function layerUtilisation(loads: readonly LinkLoad[], maxLayer: number): LayerUtilisation[] {
  const out: LayerUtilisation[] = [];
  for (let layer = 1; layer <= maxLayer; layer++) {
    const inLayer = loads.filter((l) => l.layer === layer);
    const active = inLayer.filter((l) => l.active);
    const sum = active.reduce((s, l) => s + l.utilisation, 0);
    out.push({
      layer,
      activeLinks: active.length,
      totalLinks: inLayer.length,
      meanUtilisation: active.length === 0 ? 0 : sum / active.length,
      maxUtilisation: active.reduce((m, l) => Math.max(m, l.utilisation), 0),
      loadBps: inLayer.reduce((s, l) => s + l.abBps + l.baBps, 0),
    });
  }
  return out;
}

export interface TimelinePoint {
  /** 0 = before any migration, k = after migration k */
  readonly step: number;
  /** virtual seconds */
  readonly time: number;
  readonly totalCost: number;
  readonly layers: readonly LayerUtilisation[];
  /** bytes each link has carried since t=0, both directions, on the virtual clock (fluid replay only) */
  readonly linkBytes?: Readonly<Record<string, number>>;
  /** a scenario with traffic phases: the phase (0-based) whose traffic this point is measured on */
  readonly phase?: number;
}

export interface ReplayInput extends DataPlaneView {
  readonly initial: Placement;
  readonly flows: readonly DirectedFlow[];
  readonly traffic: TrafficMatrix;
  readonly run: PolicyRun;
  /** virtual seconds between migrations */
  readonly stepSeconds: number;
}

/** Replays a policy run on the fluid data plane: the network state before and after each migration. */
export function replay(input: ReplayInput): TimelinePoint[] {
  const placement = new Map(input.initial);
  const counters = new Map<string, number>();
  const points: TimelinePoint[] = [];
  const snapshot = (step: number): void => {
    const loads = linkLoads(input, placement, input.flows);
    // Counters advance by one interval of the state that holds during it.
    for (const l of loads) counters.set(l.link, (counters.get(l.link) ?? 0) + ((l.abBps + l.baBps) / 8) * input.stepSeconds);
    points.push({
      step,
      time: step * input.stepSeconds,
      totalCost: totalCost(placement, input.traffic, input.oracle),
      layers: layerUtilisation(loads, input.layers.maxLayer),
      linkBytes: Object.fromEntries(counters),
    });
  };
  snapshot(0);
  for (const s of input.run.steps) {
    placement.set(s.decision.vm, s.decision.to);
    snapshot(s.step);
  }
  return points;
}
