/** What the benchmarks share: medians, peak-RSS sampling, and the fat-tree + workload set-up. */
import { fatTree } from '../src/topologies/generate.ts';
import { build, type Built } from '../src/core/build.ts';
import { generateWorkload, type Workload, type WorkloadModel } from '../src/workloads/workload.ts';
import { trafficMatrix, type TrafficMatrix } from '../src/core/cost.ts';
import { rankOf } from '../src/core/policies.ts';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface RssSampler {
  /** take a sample now (on top of the timer's) */
  sample(): void;
  /** the largest RSS seen so far, bytes */
  peak(): number;
  stop(): void;
}

export function rssSampler(everyMs = 20): RssSampler {
  let peak = process.memoryUsage().rss;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  // RSS between samples is invisible; a timer catches the peaks inside long rounds too.
  const timer = setInterval(sample, everyMs);
  return { sample, peak: () => peak, stop: () => clearInterval(timer) };
}

export interface FatTreeWorkload {
  readonly built: Built;
  readonly topologyName: string;
  readonly w: Workload;
  readonly traffic: TrafficMatrix;
  readonly rank: ReadonlyMap<string, number>;
  readonly setupMs: number;
}

/** fat-tree(k) with a workload model's defaults, started from a random placement. */
export function fatTreeWorkload(o: { k: number; vms: number; slots: number; model: string; seed: number }): FatTreeWorkload {
  const t0 = performance.now();
  const topo = fatTree(o.k);
  const built = build(topo);
  const w = generateWorkload(built.topology, { model: o.model as Exclude<WorkloadModel, 'csv'>, vms: o.vms, slotsPerHypervisor: o.slots, placement: 'random', seed: o.seed });
  const traffic = trafficMatrix(w.flows);
  const rank = rankOf(w.vms);
  return { built, topologyName: topo.name, w, traffic, rank, setupMs: performance.now() - t0 };
}
