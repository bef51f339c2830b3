/**
 * One Load-Aware round on a generated three-tier data centre with 1,000 hypervisors and 10,000
 * VMs (issue target: under 1 s and under 1 GB). Baseline in the same process: one Round-Robin
 * round on the same input. Prints one JSON object.
 *   node --import tsx bench/core-round.bench.ts [--repeats N] [--hypervisors N] [--vms N]
 */
import { parseArgs } from 'node:util';
import { threeTier } from '../src/topologies/generate.ts';
import { build } from '../src/core/build.ts';
import { randomWorkload } from '../src/workloads/random.ts';
import { seededRng } from '../src/core/random.ts';
import { trafficMatrix } from '../src/core/cost.ts';
import { rankOf, runPolicy, type PolicyName } from '../src/core/policies.ts';
import { createPathOracle } from '../src/core/paths.ts';
import { median } from './support.ts';

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '5' },
    hypervisors: { type: 'string', default: '1000' },
    vms: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '42' },
  },
});
const repeats = Number(values.repeats);
const hvPerTor = 20;
const torsPerPod = 5;
const pods = Math.ceil(Number(values.hypervisors) / (hvPerTor * torsPerPod));
const topo = threeTier({ pods, torsPerPod, hypervisorsPerTor: hvPerTor, aggPerPod: 2, cores: 4 });
const built = build(topo);
const w = randomWorkload({
  hypervisors: built.topology.hypervisors,
  vms: Number(values.vms),
  capacity: 16,
  partners: 3,
  rng: seededRng(Number(values.seed)),
});
const traffic = trafficMatrix(w.flows);
const rank = rankOf(w.vms);

function round(policy: PolicyName, cold: boolean): { ms: number; migrations: number; asked: number; before: number; after: number } {
  // cold: a fresh path oracle, so the round pays for every shortest-path tree it needs
  const oracle = cold ? createPathOracle(built.topology, built.weights) : built.oracle;
  const t0 = performance.now();
  const r = runPolicy({ policy, vms: w.vms, placement: w.placement, traffic, oracle, capacity: w.capacity, rank, migrationCost: 0, maxRounds: 1 });
  const ms = performance.now() - t0;
  return { ms, migrations: r.steps.length, asked: r.decisions.length, before: r.initialCost, after: r.finalCost };
}

let peakRss = process.memoryUsage().rss;
const results: Record<string, { medianMs: number; runsMs: number[]; migrations: number; asked: number; costReduction: number }> = {};
for (const policy of ['load-aware', 'round-robin'] as const) {
  for (const cold of [true, false]) {
    const runs: number[] = [];
    let last = round(policy, cold); // warm-up (JIT)
    for (let i = 0; i < repeats; i++) {
      last = round(policy, cold);
      runs.push(last.ms);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    results[`${policy}${cold ? '-cold' : '-warm'}`] = {
      medianMs: +median(runs).toFixed(2),
      runsMs: runs.map((x) => +x.toFixed(2)),
      migrations: last.migrations,
      asked: last.asked,
      costReduction: +(1 - last.after / last.before).toFixed(4),
    };
  }
}
const la = results['load-aware-cold']!;
const rr = results['round-robin-cold']!;
console.log(
  JSON.stringify(
    {
      bench: 'core-round',
      topology: topo.name,
      hypervisors: built.topology.hypervisors.length,
      switches: built.topology.nodes.size - built.topology.hypervisors.length,
      vms: w.vms.length,
      flows: w.flows.length,
      repeats,
      results,
      loadAwareVsRoundRobin: +(la.medianMs / rr.medianMs).toFixed(3),
      peakRssMB: +(peakRss / 2 ** 20).toFixed(1),
      targets: { loadAwareRoundMs: 1000, memoryMB: 1024 },
      pass: la.medianMs < 1000 && peakRss < 2 ** 30,
    },
    null,
    2,
  ),
);
