/**
 * One Load-Aware round at data-centre scale: fat-tree(32) (8,192 hypervisors, 1,280 switches)
 * with 65,536 VMs (issue #6 target: under 2 s and under 2 GB). Baselines in the same process:
 * one Round-Robin round on the same input, and, once, the same Load-Aware round on the general
 * path oracle (one least-weight tree per source hypervisor), run last so its memory does not
 * inflate the figures above it. Prints one JSON object.
 *   node --import tsx bench/scale-round.bench.ts [--k 32] [--vms 65536] [--slots 16] [--model partners] [--seed 42] [--repeats 5] [--no-general]
 */
import { parseArgs } from 'node:util';
import { runPolicy, type PolicyName } from '../src/core/policies.ts';
import { fatTreeWorkload, median, rssSampler } from './support.ts';
import { createPathOracle, type PathOracle } from '../src/core/paths.ts';

const { values } = parseArgs({
  options: {
    k: { type: 'string', default: '32' },
    vms: { type: 'string', default: '65536' },
    // 8 slots fill fat-tree(32) completely (8,192 x 8 = 65,536): every target would be full and
    // nothing could move, so the default leaves half the slots free.
    slots: { type: 'string', default: '16' },
    model: { type: 'string', default: 'partners' },
    repeats: { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
    'no-general': { type: 'boolean', default: false },
  },
});
const repeats = Number(values.repeats);
const model = values.model;
// the workload module's defaults for the model, started from a random placement
const { built, topologyName, w, traffic, rank, setupMs } = fatTreeWorkload({ k: Number(values.k), vms: Number(values.vms), slots: Number(values.slots), model, seed: Number(values.seed) });

const rss = rssSampler();

interface RoundResult {
  ms: number;
  cpuMs: number;
  migrations: number;
  asked: number;
  before: number;
  after: number;
}

function round(policy: PolicyName, oracle: PathOracle): RoundResult {
  const t = performance.now();
  const c = process.cpuUsage();
  const r = runPolicy({ policy, vms: w.vms, placement: w.placement, traffic, oracle, capacity: w.capacity, rank, migrationCost: 0, maxRounds: 1 });
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(c);
  rss.sample();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, migrations: r.steps.length, asked: r.decisions.length, before: r.initialCost, after: r.finalCost };
}

function summary(runs: RoundResult[]): Record<string, number | number[]> {
  const last = runs[runs.length - 1]!;
  return {
    medianMs: +median(runs.map((r) => r.ms)).toFixed(1),
    runsMs: runs.map((r) => +r.ms.toFixed(1)),
    // CPU time of the process (GC threads included): steadier than wall time on a shared machine
    medianCpuMs: +median(runs.map((r) => r.cpuMs)).toFixed(1),
    migrations: last.migrations,
    asked: last.asked,
    costBefore: last.before,
    costAfter: last.after,
    costReduction: +(1 - last.after / last.before).toFixed(4),
  };
}

const results: Record<string, Record<string, number | number[]>> = {};
// cold: a fresh oracle per round, so the round pays for every tree it needs; warm: one shared oracle
for (const policy of ['load-aware', 'round-robin'] as const) {
  for (const cold of [true, false]) {
    const shared = createPathOracle(built.topology, built.weights);
    round(policy, shared); // warm-up (JIT), and fills the shared oracle
    const runs: RoundResult[] = [];
    for (let i = 0; i < repeats; i++) runs.push(round(policy, cold ? createPathOracle(built.topology, built.weights) : shared));
    results[`${policy}-${cold ? 'cold' : 'warm'}`] = summary(runs);
  }
}
const peakRssFast = rss.peak();

let general: { cold: Record<string, number | number[]>; warm: Record<string, number | number[]>; peakRssMB: number } | { skipped: string };
if (values['no-general']) {
  general = { skipped: '--no-general' };
} else {
  const oracle = createPathOracle(built.topology, built.weights, { algorithm: 'general' });
  const cold = round('load-aware', oracle);
  const warm = round('load-aware', oracle);
  general = { cold: summary([cold]), warm: summary([warm]), peakRssMB: +(rss.peak() / 2 ** 20).toFixed(1) };
}
rss.stop();

const la = results['load-aware-cold']!;
const laMs = la.medianMs as number;
console.log(
  JSON.stringify(
    {
      bench: 'scale-round',
      topology: topologyName,
      hypervisors: built.topology.hypervisors.length,
      switches: built.topology.nodes.size - built.topology.hypervisors.length,
      vms: w.vms.length,
      slotsPerHypervisor: Number(values.slots),
      flows: w.flows.length,
      workload: { model, placement: 'random', seed: Number(values.seed) },
      setupMs: +setupMs.toFixed(0),
      repeats,
      results,
      loadAwareVsRoundRobin: +(laMs / (results['round-robin-cold']!.medianMs as number)).toFixed(3),
      generalOracle: general,
      generalColdVsFastCold: 'cold' in general ? +((general.cold.medianMs as number) / laMs).toFixed(1) : null,
      peakRssMB: +(peakRssFast / 2 ** 20).toFixed(1),
      targets: { loadAwareRoundMs: 2000, memoryMB: 2048 },
      pass: laMs < 2000 && peakRssFast < 2 * 2 ** 30,
    },
    null,
    2,
  ),
);
