/**
 * How much a placement can save with at most half the VMs moved: the instance of docs/scale.md's
 * results (fat-tree(16), 4,096 VMs, 8 slots, partner model, random placement, seed 1), with the
 * partner model's default σ = 2 and with σ = 1.5. Per σ: the share of the initial cost in the
 * 2,048 costliest pairs and in the maximum-weight forest of 2,048 pairs, what that forest saves
 * with each tree on one hypervisor (slots ignored), and simulated annealing directly on C_A over
 * placements within the slots with at most 2,048 VMs away from their start (src/sim/half-moved.ts),
 * started from the forest packed under capacity and from stage 1 of lookahead-staged (the
 * strongest start we have; 1,912 VMs moved at σ = 2), and with the slots lifted from the forest on
 * single hypervisors. Then the upper bounds on any placement with at most 2,048 VMs away (half-moved.ts:
 * coverage and star) with values each is at least: the coverage LP relaxation's (100% at half),
 * the greedy coverage set's, the annealed star set's. Both bounds are valid but at least 99.6% and
 * 95.2% at σ = 2 (docs/scale.md), so they cannot rule out 87%. The split-star bound
 * (src/sim/split-star-bound.ts) is computed, not only witnessed: a valid bound with the splits found
 * by `--split-iterations` subgradient steps at each of `--split-mu-steps` prices (0 skips it).
 * The priced search (src/sim/budget-search.ts) runs from the forest, within the slots (forest packed)
 * and with the slots lifted. Prints one JSON object.
 * `--seed` picks another instance of the same workload (docs/scale.md's figures are seed 1's);
 * `--structure-only` prints only the cheap yardsticks (top pairs, forest, forest with slots ignored:
 * seconds per σ) and skips the bounds and every search.
 *   node --import tsx bench/half-moved.bench.ts [--iterations N] [--sigmas 2,1.5] [--seed N] [--bound-iterations N]
 *     [--bounds-only | --structure-only] [--split-iterations N] [--split-mu-steps N]
 */
import { parseArgs } from 'node:util';
import { runScale, type StrategyContext } from '../src/sim/scale.ts';
import { workloadFromOptions } from '../src/cli/workload-options.ts';
import { topologyFromSpec } from '../src/topologies/spec.ts';
import { rackMates } from '../src/core/nearby.ts';
import { runStagedFirst } from '../src/core/gain-order.ts';
import { boundWitnesses, budgetAnneal, budgetStructure, type BudgetInput } from '../src/sim/half-moved.ts';
import { pricedBudgetSearch } from '../src/sim/budget-search.ts';
import { optimiseSplits, splitStar } from '../src/sim/split-star-bound.ts';

const { values } = parseArgs({ options: {
    iterations: { type: 'string', default: '20000000' },
    sigmas: { type: 'string', default: '2,1.5' },
    seed: { type: 'string', default: '1' },
    'structure-only': { type: 'boolean', default: false },
    'bound-iterations': { type: 'string', default: '1000000' },
    'bounds-only': { type: 'boolean', default: false },
    'split-iterations': { type: 'string', default: '300' },
    'split-mu-steps': { type: 'string', default: '4' },
  } });
const iterations = Number(values.iterations);
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, not ${values.seed}`);
if (values['bounds-only'] && values['structure-only']) throw new Error('--bounds-only and --structure-only exclude each other');
const pct = (x: number): number => +(100 * x).toFixed(2);
/** The cheap yardsticks of budgetStructure, as both output shapes print them (percent of the initial cost). */
const structureFields = (s: ReturnType<typeof budgetStructure>) => ({
  topPairsSharePct: pct(s.topPairsShare),
  forestSharePct: pct(s.forestShare),
  forestUncapacitatedReductionPct: pct(s.forestUncapacitatedReduction),
  forestUncapacitatedVmsMoved: s.forestVmsMoved,
});
const out: Record<string, unknown>[] = [];
for (const sigma of values.sigmas.split(',').map(Number)) {
  let ctx: StrategyContext | undefined;
  runScale({
    topology: topologyFromSpec('fat-tree:16', {}),
    workload: (t) => workloadFromOptions(t, { model: 'partners', vms: 4096, slots: 8, placement: 'random', seed, params: sigma === 2 ? [] : [`rateSigma=${sigma}`] }),
    utilisation: false,
    strategies: [
      [
        'none',
        (c) => {
          ctx = c;
          return { policy: 'none', initialCost: 0, finalCost: 0, steps: [], decisions: [], rounds: 0, converged: true, finalPlacement: c.placement };
        },
      ],
    ],
  });
  if (ctx === undefined) throw new Error('no instance');
  const input: BudgetInput = { vms: ctx.vms, placement: ctx.placement, traffic: ctx.traffic, oracle: ctx.oracle, capacity: ctx.capacity, nearby: rackMates(ctx.topology) };
  const budget = Math.floor(ctx.vms.length / 2);
  if (values['structure-only']) {
    const t = performance.now();
    const s = budgetStructure(input, budget);
    out.push({ sigma, budgetVms: budget, ...structureFields(s), seconds: +((performance.now() - t) / 1000).toFixed(1) });
    continue;
  }
  const tb = performance.now();
  const w = boundWitnesses(input, budget, { iterations: Number(values['bound-iterations']), temperature: 0.02, seed: 1 });
  const bounds = {
    ultrametric: w.ultrametric,
    coverageLpRelaxationPct: w.coverageLpShare === null ? null : pct(w.coverageLpShare),
    coverageIntegerAtLeastPct: pct(w.coverageGreedyShare),
    starAtLeastPct: pct(w.starSearchShare),
    seconds: +((performance.now() - tb) / 1000).toFixed(1),
    splitStar: null as null | { boundPct: number; mu: number; seconds: number },
  };
  const splitIterations = Number(values['split-iterations']);
  if (splitIterations > 0) {
    const ts = performance.now();
    const st = splitStar(input);
    const r = optimiseSplits(st, budget, { iterations: splitIterations, muSteps: Number(values['split-mu-steps']), muHigh: 0.5 });
    bounds.splitStar = { boundPct: pct(r.share), mu: +(r.splits.mu / ((2 * st.x.initialCost) / st.x.n)).toFixed(4), seconds: +((performance.now() - ts) / 1000).toFixed(1) };
  }
  if (values['bounds-only']) {
    out.push({ sigma, budgetVms: budget, bounds });
    continue;
  }
  const t0 = performance.now();
  const s = budgetStructure(input, budget);
  const fromForest = budgetAnneal(input, budget, { iterations, temperature: 0.05, seed: 1 });
  // the same annealing with the slots lifted, from the forest on single hypervisors: how far the budget alone allows
  const unbounded = new Map([...ctx.capacity.keys()].map((h) => [h, ctx!.vms.length]));
  const uncapacitated = budgetAnneal({ ...input, capacity: unbounded }, budget, { iterations, temperature: 0.005, seed: 1, start: s.forestPlacement });
  // the priced search from the same starts (the forest packed under capacity is the annealer's own start)
  const packed = budgetAnneal(input, budget, { iterations: 0, temperature: 0, seed: 1 }).placement;
  const pricedSlots = pricedBudgetSearch(input, budget, { iterations, temperature: 0.01, price: 0.2, seed: 1, start: packed });
  const pricedFree = pricedBudgetSearch({ ...input, capacity: unbounded }, budget, { iterations, temperature: 0.01, price: 0.2, seed: 1, start: s.forestPlacement });
  const t1 = performance.now();
  const stage1 = runStagedFirst({ vms: ctx.vms, placement: ctx.placement, traffic: ctx.traffic, oracle: ctx.oracle, capacity: ctx.capacity, rank: ctx.rank, migrationCost: 0, maxRounds: 20, nearby: input.nearby });
  const stage1Moved = ctx.vms.filter((vm) => stage1.finalPlacement.get(vm) !== ctx!.placement.get(vm)).length;
  // a start that already moves more VMs than the budget is no start (σ = 1.5: stage 1 moves more than half)
  const fromStaged = stage1Moved <= budget ? budgetAnneal(input, budget, { iterations, temperature: 0.01, seed: 1, start: stage1.finalPlacement }) : null;
  out.push({
    sigma,
    budgetVms: budget,
    ...structureFields(s),
    annealFromForest: { startPct: pct(fromForest.start.reduction), startMoved: fromForest.start.moved, reductionPct: pct(fromForest.reduction), moved: fromForest.moved },
    annealSlotsIgnoredFromForest: { startPct: pct(uncapacitated.start.reduction), reductionPct: pct(uncapacitated.reduction), moved: uncapacitated.moved },
    pricedFromForestPacked: { reductionPct: pct(pricedSlots.reduction), moved: pricedSlots.moved },
    pricedSlotsIgnoredFromForest: { reductionPct: pct(pricedFree.reduction), moved: pricedFree.moved },
    annealFromStagedStage1:
      fromStaged === null
        ? { skipped: `stage 1 ends with ${stage1Moved} VMs away from their start, more than the budget`, stage1ReductionPct: pct(1 - stage1.finalCost / stage1.initialCost) }
        : { startPct: pct(fromStaged.start.reduction), startMoved: fromStaged.start.moved, reductionPct: pct(fromStaged.reduction), moved: fromStaged.moved },
    bounds,
    seconds: { structureAndForestAnneal: +((t1 - t0) / 1000).toFixed(1), stage1AndAnneal: +((performance.now() - t1) / 1000).toFixed(1) },
  });
}
console.log(JSON.stringify({ bench: 'half-moved', topology: 'fat-tree(16)', vms: 4096, slots: 8, workload: 'partners', seed, iterations, results: out }, null, 2));
