import { ScoreError } from '../errors/errors.ts';
import type { DirectedFlow, TrafficMatrix } from '../core/cost.ts';
import { trafficMatrix } from '../core/cost.ts';
import type { Layers } from '../core/layers.ts';
import { assignWeights, learnLayers } from '../core/layers.ts';
import type { PathOracle } from '../core/paths.ts';
import { createPathOracle } from '../core/paths.ts';
import type { Topology } from '../core/topology.ts';
import { buildTopology } from '../core/topology.ts';
import { parseBandwidth } from './bandwidth.ts';
import type { ScenarioFile, TrafficEntry } from './schema.ts';
import { buildTimeline, type Timeline, type TrafficChange } from './timeline.ts';

/** Everything the core needs, derived from a validated scenario file. Pure. */
export interface Model {
  readonly scenario: ScenarioFile;
  readonly topology: Topology;
  readonly layers: Layers;
  readonly weights: ReadonlyMap<string, number>;
  readonly oracle: PathOracle;
  /** VM names by MAC ascending: Round-Robin's order and the tie-break order */
  readonly vms: readonly string[];
  readonly rank: ReadonlyMap<string, number>;
  readonly vmInfo: ReadonlyMap<string, { readonly ip: string; readonly mac: string }>;
  readonly placement: ReadonlyMap<string, string>;
  readonly capacity: ReadonlyMap<string, number>;
  readonly flows: readonly DirectedFlow[];
  readonly traffic: TrafficMatrix;
  readonly migrationCost: number;
  /** traffic over time: segment 0 is `flows`; later ones come from `phases` and the trace */
  readonly timeline: Timeline;
}

export const DEFAULT_HYPERVISOR_CAPACITY = 5;

/** λ of a traffic entry in bytes per second. */
export function trafficRateBytes(t: TrafficEntry): number {
  if (t.rate !== undefined) return parseBandwidth(t.rate) / 8;
  if (t.packetBytes !== undefined && t.pps !== undefined) return t.packetBytes * t.pps;
  throw new ScoreError('SCENARIO_INVALID', `traffic ${t.src} -> ${t.dst} needs "rate" or both "packetBytes" and "pps"`);
}

export function macKey(mac: string): string {
  return mac.toLowerCase();
}

/** The scenario's phases as timeline changes, merged in time order with a trace's (phases first at equal times). */
export function scenarioChanges(s: ScenarioFile, trace: readonly TrafficChange[] = []): TrafficChange[] {
  const flows = (ts: readonly TrafficEntry[] | undefined) => ts?.map((t) => ({ src: t.src, dst: t.dst, rate: trafficRateBytes(t) }));
  const phases: TrafficChange[] = (s.phases ?? []).map((p) => {
    const replace = flows(p.traffic);
    const set = flows(p.set);
    return { atSec: p.at, ...(replace ? { replace } : {}), ...(set ? { set } : {}), ...(p.stop ? { stop: p.stop } : {}) };
  });
  return [...phases.map((c, i) => ({ c, i })), ...trace.map((c, i) => ({ c, i: phases.length + i }))]
    .sort((a, b) => a.c.atSec - b.c.atSec || a.i - b.i)
    .map((x) => x.c);
}

/** `trace`: the scenario's trace file, already parsed (the loader reads it). */
export function buildModel(s: ScenarioFile, trace: readonly TrafficChange[] = []): Model {
  const topology = buildTopology(
    [
      ...s.switches.map((x) => ({ id: x.id, kind: 'switch' as const })),
      ...s.hypervisors.map((x) => ({ id: x.id, kind: 'hypervisor' as const })),
    ],
    s.links.map((l) => ({ a: l.a, b: l.b, capacityBps: parseBandwidth(l.capacity) })),
  );
  const layers = learnLayers(topology);
  const layerOverrides: Record<number, number> = {};
  for (const [k, v] of Object.entries(s.weights?.layers ?? {})) layerOverrides[Number(k)] = v;
  const weights = assignWeights(layers, { layers: layerOverrides, links: s.weights?.links ?? {} });
  const oracle = createPathOracle(topology, weights);
  const sorted = [...s.vms].sort((a, b) => (macKey(a.mac) < macKey(b.mac) ? -1 : macKey(a.mac) > macKey(b.mac) ? 1 : 0));
  const vms = sorted.map((v) => v.name);
  const rank = new Map(vms.map((v, i) => [v, i]));
  const defaultCap = s.defaults?.hypervisorCapacity ?? DEFAULT_HYPERVISOR_CAPACITY;
  const capacity = new Map(s.hypervisors.map((h) => [h.id, h.capacity ?? defaultCap]));
  const flows = s.traffic.map((t) => ({ src: t.src, dst: t.dst, rate: trafficRateBytes(t) }));
  return {
    scenario: s,
    topology,
    layers,
    weights,
    oracle,
    vms,
    rank,
    vmInfo: new Map(s.vms.map((v) => [v.name, { ip: v.ip, mac: macKey(v.mac) }])),
    placement: new Map(s.vms.map((v) => [v.name, v.host])),
    capacity,
    flows,
    traffic: trafficMatrix(flows),
    migrationCost: s.migrationCost ?? 0,
    timeline: buildTimeline(flows, scenarioChanges(s, trace)),
  };
}
