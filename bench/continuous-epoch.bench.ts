/**
 * One continuous-mode epoch at scale (issue #12): fat-tree(32), 65,536 VMs, the partner workload
 * converged by Load-Aware, then 10% of the pairs re-partnered (src/sim/epochs.ts churn). The
 * epoch re-plans only the VMs whose pairs changed (the endpoints of changed pairs: what the
 * measured rates say moved) with one Load-Aware round over the new traffic; the baseline, in the
 * same process, is one full Load-Aware round over every VM on the same new traffic and placement.
 * Target: the epoch under a tenth of the full round. Prints one JSON object.
 *   node --import tsx bench/continuous-epoch.bench.ts [--k 32] [--vms 65536] [--slots 16] [--churn 0.1] [--repeats 3] [--seed 42]
 */
import { parseArgs } from 'node:util';
import { runPolicy } from '../src/core/policies.ts';
import { trafficMatrix, type DirectedFlow } from '../src/core/cost.ts';
import { seededRng } from '../src/core/random.ts';
import { churnEpochs } from '../src/sim/epochs.ts';
import { fatTreeWorkload, median, rssSampler } from './support.ts';

const { values } = parseArgs({
  options: {
    k: { type: 'string', default: '32' },
    vms: { type: 'string', default: '65536' },
    slots: { type: 'string', default: '16' },
    churn: { type: 'string', default: '0.1' },
    repeats: { type: 'string', default: '3' },
    seed: { type: 'string', default: '42' },
  },
});
const repeats = Number(values.repeats);
const { built, topologyName, w, traffic, rank, setupMs } = fatTreeWorkload({ k: Number(values.k), vms: Number(values.vms), slots: Number(values.slots), model: 'partners', seed: Number(values.seed) });
const rss = rssSampler();
const oracle = built.oracle;

// converge on epoch 0, as continuous mode has by the time the traffic changes
const t0 = performance.now();
const converged = runPolicy({ policy: 'load-aware', vms: w.vms, placement: w.placement, traffic, oracle, capacity: w.capacity, rank, migrationCost: 0, maxRounds: 20 });
const convergeMs = performance.now() - t0;
const [, next] = churnEpochs(w.flows, 2, Number(values.churn), seededRng(7)) as [DirectedFlow[], DirectedFlow[]];
const key = (f: DirectedFlow): string => `${f.src}\u0000${f.dst}\u0000${f.rate}`;
const before = new Set(w.flows.map(key));
const after = new Set(next.map(key));
const dirty = new Set<string>();
for (const f of next) if (!before.has(key(f))) dirty.add(f.src).add(f.dst);
for (const f of w.flows) if (!after.has(key(f))) dirty.add(f.src).add(f.dst);
const dirtyVms = w.vms.filter((v) => dirty.has(v));
const newTraffic = trafficMatrix(next);

function time(vms: readonly string[]): { ms: number; migrations: number; asked: number; costAfter: number; costBefore: number } {
  const t = performance.now();
  const r = runPolicy({ policy: 'load-aware', vms, placement: converged.finalPlacement, traffic: newTraffic, oracle, capacity: w.capacity, rank, migrationCost: 0, maxRounds: 1 });
  rss.sample();
  return { ms: performance.now() - t, migrations: r.steps.length, asked: r.decisions.length, costBefore: r.initialCost, costAfter: r.finalCost };
}
time(dirtyVms); // warm-up
const full: ReturnType<typeof time>[] = [];
const epoch: ReturnType<typeof time>[] = [];
for (let i = 0; i < repeats; i++) {
  full.push(time(w.vms));
  epoch.push(time(dirtyVms));
}
const fullMs = median(full.map((r) => r.ms));
const epochMs = median(epoch.map((r) => r.ms));
rss.stop();
console.log(
  JSON.stringify(
    {
      bench: 'continuous-epoch',
      topology: topologyName,
      vms: w.vms.length,
      flows: w.flows.length,
      churn: Number(values.churn),
      setupMs: +setupMs.toFixed(0),
      convergeMs: +convergeMs.toFixed(0),
      changedVms: dirtyVms.length,
      fullRound: { medianMs: +fullMs.toFixed(1), runsMs: full.map((r) => +r.ms.toFixed(1)), asked: full[0]!.asked, migrations: full[0]!.migrations, costBefore: full[0]!.costBefore, costAfter: full[0]!.costAfter },
      epoch: { medianMs: +epochMs.toFixed(1), runsMs: epoch.map((r) => +r.ms.toFixed(1)), asked: epoch[0]!.asked, migrations: epoch[0]!.migrations, costAfter: epoch[0]!.costAfter },
      ratio: +(epochMs / fullMs).toFixed(3),
      target: 0.1,
      targetMet: epochMs / fullMs < 0.1,
      peakRssMB: Math.round(rss.peak() / 2 ** 20),
    },
    null,
    2,
  ),
);
