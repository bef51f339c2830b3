/**
 * Each strategy's gap to the exact optimum on random small instances (6-12 VMs, 2 slots per
 * hypervisor, an 8-hypervisor three-tier or a 12-hypervisor leaf-spine, c_m = 0). The gap is
 * (final cost − optimum) / initial cost, so 0 is optimal and the optimum's own reduction is the
 * ceiling. Random gets Load-Aware's migration count as its budget. gain-swap and lookahead carry
 * a swap out through a free slot elsewhere (3 migrations); lookahead-overcommit-1 is lookahead
 * allowed one temporary extra VM per hypervisor (2 migrations per swap). Prints one JSON object.
 *   node --import tsx bench/optimality-gap.bench.ts [--instances N]
 */
import { parseArgs } from 'node:util';
import { runStrategy, type StrategyName } from '../src/core/baselines.ts';
import { seededRng } from '../src/core/random.ts';
import { smallInstance } from '../src/core/test-instances.ts';

const { values } = parseArgs({ options: { instances: { type: 'string', default: '200' } } });
const total = Number(values.instances);
const names: StrategyName[] = ['none', 'round-robin', 'load-aware', 'distributed', 'random', 'greedy', 'gain-order', 'gain-swap', 'lookahead'];
const acc = new Map<string, { gap: number; atOptimum: number; migrations: number; reduction: number }>();
let optimumReduction = 0;
let proven = 0;
let counted = 0;
let solverMs = 0;
for (let i = 0; i < total; i++) {
  const inst = smallInstance(1000 + i, { vms: 6 + (i % 7), slots: 2, topology: i % 2, partners: 2 });
  const t0 = performance.now();
  const opt = runStrategy('optimal', inst);
  solverMs += performance.now() - t0;
  if (opt.converged) proven += 1;
  if (opt.initialCost === 0) continue;
  counted += 1;
  optimumReduction += 1 - opt.finalCost / opt.initialCost;
  const la = runStrategy('load-aware', inst);
  // lookahead again with one slot of temporary overcommit per hypervisor: a swap takes 2 migrations instead of 3
  for (const name of [...names, 'lookahead-overcommit-1'] as const) {
    const r =
      name === 'load-aware'
        ? la
        : name === 'lookahead-overcommit-1'
          ? runStrategy('lookahead', { ...inst, overcommit: 1 })
          : runStrategy(name, { ...inst, rng: seededRng(i), ...(name === 'random' ? { maxMigrations: la.steps.length } : {}) });
    const a = acc.get(name) ?? { gap: 0, atOptimum: 0, migrations: 0, reduction: 0 };
    a.gap += (r.finalCost - opt.finalCost) / opt.initialCost;
    a.reduction += 1 - r.finalCost / r.initialCost;
    if (r.finalCost <= opt.finalCost + 1e-9 * Math.max(1, opt.finalCost)) a.atOptimum += 1;
    a.migrations += r.steps.length;
    acc.set(name, a);
  }
}
const pct = (x: number): number => +((100 * x) / counted).toFixed(1);
console.log(
  JSON.stringify(
    {
      bench: 'optimality-gap',
      instances: total,
      withTraffic: counted,
      optimumProven: proven,
      solverMeanMs: +(solverMs / total).toFixed(2),
      optimumMeanReductionPct: pct(optimumReduction),
      strategies: Object.fromEntries(
        [...acc].map(([name, a]) => [name, { meanGapPct: pct(a.gap), reachesOptimum: a.atOptimum, meanReductionPct: pct(a.reduction), meanMigrations: +(a.migrations / counted).toFixed(2) }]),
      ),
    },
    null,
    2,
  ),
);
