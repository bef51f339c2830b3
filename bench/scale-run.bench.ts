/**
 * A full Load-Aware run at data-centre scale: fat-tree(48) (27,648 hypervisors, 2,880 switches)
 * with 100,000 VMs, rounds until one migrates nothing or the round cap (issue #6: it must
 * complete; time and memory reported). Baseline in the same process: a Round-Robin run on the
 * same input and cap. The general path oracle (one tree per source hypervisor) is no baseline
 * here: 27,648 trees over ~30,500 nodes would hold ~14 GB. Prints one JSON object.
 *   node --import tsx bench/scale-run.bench.ts [--k 48] [--vms 100000] [--slots 8] [--model partners] [--max-rounds 10] [--no-baseline]
 */
import { parseArgs } from 'node:util';
import { runPolicy, type PolicyName } from '../src/core/policies.ts';
import { fatTreeWorkload, rssSampler } from './support.ts';
import { createPathOracle } from '../src/core/paths.ts';

const { values } = parseArgs({
  options: {
    k: { type: 'string', default: '48' },
    vms: { type: 'string', default: '100000' },
    slots: { type: 'string', default: '8' },
    model: { type: 'string', default: 'partners' },
    seed: { type: 'string', default: '42' },
    'max-rounds': { type: 'string', default: '10' },
    'no-baseline': { type: 'boolean', default: false },
  },
});
const maxRounds = Number(values['max-rounds']);

const rss = rssSampler();

const model = values.model;
// the workload module's defaults for the model, started from a random placement
const { built, topologyName, w, traffic, rank, setupMs } = fatTreeWorkload({ k: Number(values.k), vms: Number(values.vms), slots: Number(values.slots), model, seed: Number(values.seed) });
rss.sample();

function run(policy: PolicyName): Record<string, unknown> {
  // a fresh oracle: the run pays for every tree it needs
  const oracle = createPathOracle(built.topology, built.weights);
  const rssBefore = process.memoryUsage().rss;
  const t = performance.now();
  const c = process.cpuUsage();
  const r = runPolicy({ policy, vms: w.vms, placement: w.placement, traffic, oracle, capacity: w.capacity, rank, migrationCost: 0, maxRounds });
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(c);
  rss.sample();
  const migrated = new Set(r.steps.map((s) => s.decision.vm)).size;
  const perRound = Array.from({ length: r.rounds }, (_, i) => r.steps.filter((s) => s.round === i + 1).length);
  return {
    wallMs: +ms.toFixed(0),
    cpuMs: +((cpu.user + cpu.system) / 1000).toFixed(0),
    rounds: r.rounds,
    converged: r.converged,
    migrations: r.steps.length,
    migrationsPerRound: perRound,
    vmsMigrated: migrated,
    vmsMigratedFraction: +(migrated / w.vms.length).toFixed(4),
    decisions: r.decisions.length,
    costBefore: r.initialCost,
    costAfter: r.finalCost,
    costReduction: +(1 - r.finalCost / r.initialCost).toFixed(4),
    rssBeforeMB: +(rssBefore / 2 ** 20).toFixed(1),
  };
}

const la = run('load-aware');
const peakRssLa = rss.peak();
const rr = values['no-baseline'] ? { skipped: '--no-baseline' } : run('round-robin');
rss.stop();

console.log(
  JSON.stringify(
    {
      bench: 'scale-run',
      topology: topologyName,
      hypervisors: built.topology.hypervisors.length,
      switches: built.topology.nodes.size - built.topology.hypervisors.length,
      vms: w.vms.length,
      slotsPerHypervisor: Number(values.slots),
      flows: w.flows.length,
      workload: { model, placement: 'random', seed: Number(values.seed) },
      maxRounds,
      setupMs: +setupMs.toFixed(0),
      results: { 'load-aware': la, 'round-robin': rr },
      loadAwareVsRoundRobinWall: 'wallMs' in rr ? +((la.wallMs as number) / (rr.wallMs as number)).toFixed(3) : null,
      // peak RSS up to the end of the Load-Aware run, and over the whole process (with the baseline)
      peakRssMB: +(peakRssLa / 2 ** 20).toFixed(1),
      peakRssProcessMB: +(rss.peak() / 2 ** 20).toFixed(1),
      pass: la.rounds === maxRounds || la.converged === true,
    },
    null,
    2,
  ),
);
