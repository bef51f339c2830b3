import type { DirectedFlow } from '../core/cost.ts';
import type { Topology } from '../core/topology.ts';
import { ScoreError } from '../errors/errors.ts';
import { lognormal, streamRng } from './distributions.ts';
import { appLayout, rackStructure, type AppLayout } from './layout.ts';
import {
  PARTNER_DEFAULTS,
  RANDOM_DEFAULTS,
  pairFlows,
  pairRates,
  partnerPairs,
  randomFlows,
  spreadPairs,
  type Pair,
  type PartnerParams,
  type RandomParams,
  type SpreadParams,
} from './models.ts';
import { epochFlows, onOffRates, type OnOffTiming } from './onoff.ts';
import { placeFromFile, placePacked, placeRandom } from './placement.ts';
import { readPlacementCsv, readTrafficCsv } from './csv.ts';

/**
 * Seeded workloads for the scale simulator: who talks to whom at what rate, and where the VMs
 * start. Everything is a pure function of (topology, options); the same seed gives byte-identical
 * output. Four independent random streams are derived from the seed (traffic structure, rates
 * over time, placement, resources), so e.g. a random and a packed placement of one seed carry
 * exactly the same traffic.
 *
 * Traffic and placement are separate choices.
 *  - Traffic is defined on an *application layout*: VMs vm1..vmN are split over the racks in
 *    topology order (each rack's share proportional to its slots, so on a uniform topology the
 *    VMs spread evenly), and a pod is the group of racks under one set of aggregation switches
 *    (see layout.ts). "Rack-local" traffic is between VMs of one logical rack, "pod-local" of
 *    one logical pod.
 *  - The initial placement is `packed` (the layout itself: each logical rack on its physical
 *    rack, spread evenly over its hosts; traffic as local as the model made it), `random` (uniform over
 *    hypervisors with a free slot: locality destroyed, which S-CORE must recover), or `file`
 *    (a `vm,hypervisor` CSV).
 *
 * Models and their defaults (rates are bytes/s, each pair's total over both directions):
 *  - `partners` (Kandula et al., IMC 2009, "The nature of datacenter traffic": a server's median
 *    number of correspondents is 2 inside its rack and 4 outside): in-rack ~ Poisson(2),
 *    out-of-rack ~ Poisson(4) per VM (an integer Poisson mean is its median), redrawn if both are
 *    0; an out-of-rack partner is in the same pod with probability 0.5 (not measured by the
 *    paper: our assumption), else in another pod; pair rates lognormal, median 100 kB/s,
 *    sigma 2: the top 10% of pairs carry ~76% of the bytes, the data-centre observation that a
 *    few large flows carry most bytes (Kandula et al.; Benson et al. IMC 2010). The skew decides
 *    how much a few migrations can save: with sigma 1.5 (top 10% carry ~59%) Load-Aware saves
 *    64% instead of 78% by the time half the VMs moved on fat-tree(16) (docs/scale.md).
 *    `rackRateFactor` (default 1) makes in-rack pairs heavier, as Kandula et al. observe
 *    qualitatively; magnitudes are ours and costs scale with them.
 *  - `onoff` (Benson et al., IMC 2010, "Network traffic characteristics of data centers in the
 *    wild": ON/OFF traffic, ON and OFF periods fit by lognormals; in cloud data centres ~75% of
 *    traffic stays in the rack): Poisson(6) peers per VM, 75% rack-local, 12.5% pod-local,
 *    12.5% in other pods; peak rates lognormal (median 300 kB/s, sigma 1.5); ON median 1 s,
 *    OFF median 2 s, both sigma 1 (ON fraction 1/3; the period scale is ours, Benson's fits vary
 *    per data centre); rates averaged over 60 s windows, one window per epoch.
 *  - `widespread` (Roy et al., SIGCOMM 2015, "Inside the social network's (datacenter) network":
 *    at Facebook only ~13% of traffic is rack-local, ~58% stays in the cluster, the rest leaves
 *    it; hosts talk to many peers with small, stable flows): Poisson(16) peers per VM, 13%
 *    rack-local, 58% pod-local (pod = cluster), 29% in other pods (Roy's intra-DC and inter-DC
 *    shares folded together: one data centre is simulated); rates lognormal median 20 kB/s,
 *    sigma 1 (less heavy-tailed than the partner model).
 *  - `random`: each VM picks 3 peers uniformly, rates uniform in [1, 100] kB/s (the structureless
 *    baseline of random.ts).
 *  - `csv`: a traffic matrix or flow trace from a file (csv.ts); its VMs in first-seen order.
 */
export interface Workload {
  readonly name: string;
  readonly seed: number;
  /** every option that shaped this workload, defaults filled in */
  readonly params: Readonly<Record<string, unknown>>;
  readonly vms: readonly string[];
  readonly placement: ReadonlyMap<string, string>;
  readonly capacity: ReadonlyMap<string, number>;
  readonly flows: readonly DirectedFlow[];
  /** per-VM resources for the safety rails, when asked for */
  readonly resources?: ReadonlyMap<string, VmResources>;
}

export interface VmResources {
  readonly cpu: number;
  readonly memoryBytes: number;
  readonly dirtyRateBytesPerSec: number;
}

export type OnOffParams = SpreadParams & OnOffTiming;

export const ONOFF_DEFAULTS: OnOffParams = {
  meanPeers: 6,
  rackLocalFraction: 0.75,
  podLocalFraction: 0.125,
  rateMu: Math.log(300_000),
  rateSigma: 1.5,
  onMu: Math.log(1),
  onSigma: 1,
  offMu: Math.log(2),
  offSigma: 1,
  windowSec: 60,
  burnInCycles: 10,
};

export const WIDESPREAD_DEFAULTS: SpreadParams = {
  meanPeers: 16,
  rackLocalFraction: 0.13,
  podLocalFraction: 0.58,
  rateMu: Math.log(20_000),
  rateSigma: 1,
};

export { PARTNER_DEFAULTS, RANDOM_DEFAULTS };

export interface FileText {
  readonly text: string;
  readonly fileName: string;
}

interface Common {
  /** ignored for `csv` (the file names the VMs) */
  readonly vms?: number;
  readonly slotsPerHypervisor: number;
  /** default `random` */
  readonly placement?: 'random' | 'packed' | 'file';
  /** required for placement `file` */
  readonly placementFile?: FileText;
  readonly seed: number;
  /** draw per-VM CPU, memory and dirty rate (default false) */
  readonly resources?: boolean;
}

export type WorkloadOptions = Common &
  (
    | { readonly model: 'partners'; readonly params?: Partial<PartnerParams> }
    | { readonly model: 'onoff'; readonly params?: Partial<OnOffParams> }
    | { readonly model: 'widespread'; readonly params?: Partial<SpreadParams> }
    | { readonly model: 'random'; readonly params?: Partial<RandomParams> }
    | { readonly model: 'csv'; readonly trafficFile: FileText; readonly params?: { readonly durationSec?: number } }
  );

export type WorkloadModel = WorkloadOptions['model'];

const STREAM_STRUCTURE = 1;
const STREAM_TIME = 2;
const STREAM_PLACEMENT = 3;
const STREAM_RESOURCES = 4;

function capacityOf(topology: Topology, slots: number): Map<string, number> {
  if (!Number.isInteger(slots) || slots < 1) throw new ScoreError('WORKLOAD_INVALID', `slotsPerHypervisor must be a positive integer, got ${slots}`, { slots });
  return new Map(topology.hypervisors.map((h) => [h, slots]));
}

function vmCount(o: WorkloadOptions): number {
  const n = o.vms;
  if (n === undefined || !Number.isInteger(n) || n < 1) throw new ScoreError('WORKLOAD_INVALID', `vms must be a positive integer, got ${n}`, { vms: n });
  return n;
}

function place(o: WorkloadOptions, layout: AppLayout, capacity: ReadonlyMap<string, number>): Map<string, string> {
  const mode = o.placement ?? 'random';
  if (mode === 'packed') return placePacked(layout, capacity);
  if (mode === 'random') return placeRandom(layout.vms, capacity, streamRng(o.seed, STREAM_PLACEMENT));
  if (o.placementFile === undefined) throw new ScoreError('WORKLOAD_INVALID', 'placement "file" needs a placement file', {});
  const { text, fileName } = o.placementFile;
  return placeFromFile(layout.vms, readPlacementCsv(text, fileName), capacity, fileName);
}

function drawResources(vms: readonly string[], seed: number): Map<string, VmResources> {
  const rng = streamRng(seed, STREAM_RESOURCES);
  const gib = 1024 ** 3;
  const out = new Map<string, VmResources>();
  for (const vm of vms) {
    // Common instance sizes; dirty rates in the tens of MB/s as Clark et al. (NSDI 2005) measured
    // for busy servers (illustrative, not fitted).
    const size = Math.floor(rng() * 3);
    out.set(vm, { cpu: 2 ** size, memoryBytes: 2 * 2 ** size * gib, dirtyRateBytesPerSec: Math.round(lognormal(rng, Math.log(10e6), 1)) });
  }
  return out;
}

interface Structure {
  readonly layout: AppLayout;
  readonly capacity: Map<string, number>;
  readonly pairs: readonly Pair[];
  readonly params: Record<string, unknown>;
}

function onOffStructure(topology: Topology, o: WorkloadOptions & { model: 'onoff' }): Structure & { readonly p: OnOffParams; readonly peaks: number[] } {
  const p: OnOffParams = { ...ONOFF_DEFAULTS, ...o.params };
  const capacity = capacityOf(topology, o.slotsPerHypervisor);
  const layout = appLayout(rackStructure(topology), vmCount(o), capacity);
  const rng = streamRng(o.seed, STREAM_STRUCTURE);
  const pairs = spreadPairs(layout, p, rng);
  return { layout, capacity, pairs, params: { ...p }, p, peaks: pairRates(pairs, p, rng) };
}

/** One workload, ready for the simulator. Throws a ScoreError for bad options or a workload that does not fit. */
export function generateWorkload(topology: Topology, o: WorkloadOptions): Workload {
  let layout: AppLayout;
  let capacity: Map<string, number>;
  let flows: DirectedFlow[];
  let params: Record<string, unknown>;
  if (o.model === 'csv') {
    const csv = readTrafficCsv(o.trafficFile.text, o.trafficFile.fileName, o.params ?? {});
    capacity = capacityOf(topology, o.slotsPerHypervisor);
    const base = appLayout(rackStructure(topology), csv.vms.length, capacity);
    layout = { ...base, vms: csv.vms };
    flows = [...csv.flows];
    params = { file: o.trafficFile.fileName, kind: csv.kind, ...(csv.durationSec === undefined ? {} : { durationSec: csv.durationSec }) };
  } else if (o.model === 'onoff') {
    const s = onOffStructure(topology, o);
    ({ layout, capacity } = s);
    const rates = onOffRates(s.peaks, s.p, 1, streamRng(o.seed, STREAM_TIME))[0]!;
    flows = epochFlows(layout.vms, s.pairs, rates);
    params = s.params;
  } else {
    capacity = capacityOf(topology, o.slotsPerHypervisor);
    layout = appLayout(rackStructure(topology), vmCount(o), capacity);
    const rng = streamRng(o.seed, STREAM_STRUCTURE);
    if (o.model === 'random') {
      const p: RandomParams = { ...RANDOM_DEFAULTS, ...o.params };
      flows = randomFlows(layout, p, rng);
      params = { ...p };
    } else {
      const p = o.model === 'partners' ? { ...PARTNER_DEFAULTS, ...o.params } : { ...WIDESPREAD_DEFAULTS, ...o.params };
      const pairs = o.model === 'partners' ? partnerPairs(layout, p as PartnerParams, rng) : spreadPairs(layout, p as SpreadParams, rng);
      flows = pairFlows(layout, pairs, pairRates(pairs, p, rng));
      params = { ...p };
    }
  }
  const placement = place(o, layout, capacity);
  const mode = o.placement ?? 'random';
  return {
    name: o.model,
    seed: o.seed,
    params: { ...params, vms: layout.vms.length, slotsPerHypervisor: o.slotsPerHypervisor, placement: mode, ...(mode === 'file' ? { placementFile: o.placementFile?.fileName } : {}) },
    vms: layout.vms,
    placement,
    capacity,
    flows,
    ...(o.resources === true ? { resources: drawResources(layout.vms, o.seed) } : {}),
  };
}

/**
 * The ON/OFF model over time: the flows of `epochs` consecutive windows for the same pairs and
 * peak rates. Epoch 0 is exactly what generateWorkload gives for the same options, and the first
 * k epochs do not depend on how many are asked for.
 */
export function onOffEpochs(topology: Topology, o: WorkloadOptions & { model: 'onoff' }, epochs: number): DirectedFlow[][] {
  const s = onOffStructure(topology, o);
  return onOffRates(s.peaks, s.p, epochs, streamRng(o.seed, STREAM_TIME)).map((rates) => epochFlows(s.layout.vms, s.pairs, rates));
}
