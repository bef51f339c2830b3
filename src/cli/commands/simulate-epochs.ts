import { readFileSync } from 'node:fs';
import Table from 'cli-table3';
import { ScoreError } from '../../errors/errors.ts';
import { build } from '../../core/build.ts';
import { seededRng } from '../../core/random.ts';
import type { DirectedFlow } from '../../core/cost.ts';
import { churnEpochs, diurnalEpochs, EPOCH_STRATEGIES, epochFlowCounts, runEpochs, type EpochResult, type EpochStrategy } from '../../sim/epochs.ts';
import { workloadFromOptions, type WorkloadOptions } from '../workload-options.ts';
import { topologyFromSpec } from '../../topologies/spec.ts';
import { generateWorkload, onOffEpochs } from '../../workloads/workload.ts';
import { buildTimeline, checkTraceVms, flowsAt, parseTrafficTrace } from '../../scenario/timeline.ts';
import { renderSvg, svgToPng } from '../../report/charts.ts';
import { outputFiles } from '../output.ts';
import { epochCsv, epochCumulativeSpec, epochCostSpec, epochMigrationsSpec, epochScale, epochSummaryRows, scaleText } from '../../report/epochs.ts';

/**
 * `score simulate --topology ... --epochs N --evolve MODEL`: the scale simulator over time. The
 * evolution is `churn:RATE` (share of pairs re-partnered per epoch), `diurnal:PERIOD` (epochs per
 * cycle between the workload's traffic and cross-pod traffic on the same VMs), `onoff` (the
 * Benson ON/OFF model's windows; needs --workload onoff), `trace:FILE` (a time,src,dst,rate CSV
 * sampled at each epoch's start) or `static`.
 */
export interface EpochsCliOptions {
  readonly topology: string;
  readonly oversubscription?: string;
  readonly workload: WorkloadOptions;
  readonly epochs: number;
  readonly evolve: string;
  readonly epochSeconds: number;
  readonly periodSeconds: number;
  readonly horizonSeconds?: number;
  readonly noReturnEpochs: number;
  /** rounds of one plan (default 20) */
  readonly maxRounds?: number;
  /** with hysteresis, periods of the stable rule before a move (default 3) */
  readonly stableRounds?: number;
  /** the timeline's strategies (default all of EPOCH_STRATEGIES) */
  readonly strategies?: readonly EpochStrategy[];
  /** continuous mode's measurement window, epochs */
  readonly measureEpochs?: number;
  /** continuous mode without hysteresis: incremental re-planning (default) or from scratch */
  readonly planner?: 'incremental' | 'full';
  readonly out: string;
  readonly png: boolean;
  readonly json: boolean;
}

export async function runEpochsCli(o: EpochsCliOptions): Promise<EpochResult> {
  // continuous mode re-plans within each epoch; a period past the epoch's end would be clamped to
  // it, changing only when the moves count (the trial: --period 7200 on 3600 s epochs), so refuse it.
  // Only continuous mode reads the period: without it, the period plays no part (as --planner or
  // --measure-epochs, accepted whatever strategies are chosen)
  const continuous = (o.strategies ?? EPOCH_STRATEGIES).some((s) => s.kind === 'continuous');
  if (continuous && o.periodSeconds > o.epochSeconds) throw new ScoreError('CLI_USAGE', `--period ${o.periodSeconds}: longer than an epoch (--epoch-seconds ${o.epochSeconds}); the timeline re-plans once per epoch and the period is only the delay before that epoch's moves take effect, so it must be at most one epoch`);
  const topology = topologyFromSpec(o.topology, { oversubscription: o.oversubscription });
  const built = build(topology);
  const w = workloadFromOptions(built.topology, o.workload);
  const epochs = evolve(o, built.topology, w.flows, w.vms);
  const t0 = performance.now();
  const result = runEpochs({
    vms: w.vms,
    placement: w.placement,
    capacity: w.capacity,
    oracle: built.oracle,
    epochs,
    epochSeconds: o.epochSeconds,
    periodSeconds: o.periodSeconds,
    noReturnEpochs: o.noReturnEpochs,
    ...(o.horizonSeconds === undefined ? {} : { amortisationSeconds: o.horizonSeconds }),
    ...(o.measureEpochs === undefined ? {} : { measureEpochs: o.measureEpochs }),
    ...(o.planner === undefined ? {} : { planner: o.planner }),
    ...(o.maxRounds === undefined ? {} : { maxRounds: o.maxRounds }),
    ...(o.stableRounds === undefined ? {} : { stableRounds: o.stableRounds }),
    ...(o.strategies === undefined ? {} : { strategies: o.strategies }),
  });
  const ms = performance.now() - t0;
  const { put, written } = outputFiles(o.out);
  // with a trace the generated workload gives only the VMs and their placement: its traffic is replaced
  const traced = o.evolve.startsWith('trace:');
  const doc = { ...result, topology: topology.name, workload: { name: traced ? 'trace' : w.name, seed: w.seed, vms: w.vms.length, ...epochFlowCounts(epochs) }, evolve: o.evolve };
  put('epochs.json', JSON.stringify(doc, null, 2) + '\n');
  put('epochs.csv', epochCsv(result));
  const subtitle = `${topology.name}, ${w.vms.length} VMs, ${traced ? '' : `${w.name}, `}${o.evolve}, ${o.epochs} epochs of ${o.epochSeconds} s`;
  for (const [name, spec] of [
    ['cumulative-cost', epochCumulativeSpec(result, subtitle)],
    ['cost-per-epoch', epochCostSpec(result, subtitle)],
    ['migrations-per-epoch', epochMigrationsSpec(result, subtitle)],
  ] as const) {
    const svg = await renderSvg(spec);
    put(`${name}.svg`, svg);
    if (o.png) put(`${name}.png`, svgToPng(svg));
  }
  if (o.json) {
    console.log(JSON.stringify(doc, null, 2));
    return result;
  }
  console.log(`${subtitle}; ${(ms / 1000).toFixed(1)} s`);
  const t = new Table({
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    head: ['strategy', 'total', 'vs one-shot', 'vs clairvoyant', 'cost integral', 'migration traffic', 'migrations', 'moved >1', `oscillations (K=${o.noReturnEpochs})`],
  });
  for (const row of epochSummaryRows(result)) t.push(row);
  console.log(t.toString());
  console.log(`total = ∫ C_A dt + Σ migration bytes × path weight (bytes × weight, shown ×${scaleText(epochScale(result))})`);
  console.log(`Wrote ${written.join(', ')}`);
  return result;
}

function evolve(o: EpochsCliOptions, topology: Parameters<typeof generateWorkload>[0], flows: readonly DirectedFlow[], vms: readonly string[]): DirectedFlow[][] {
  const [kind, arg] = o.evolve.split(/:(.*)/s) as [string, string | undefined];
  const n = o.epochs;
  if (kind === 'static') return Array.from({ length: n }, () => [...flows]);
  if (kind === 'churn') {
    const rate = Number(arg);
    if (arg === undefined || !(rate >= 0 && rate <= 1)) throw new ScoreError('CLI_USAGE', `--evolve churn:RATE: expected a share of pairs between 0 and 1, got "${arg ?? ''}"`);
    return churnEpochs(flows, n, rate, seededRng((o.workload.seed ^ 0xc4a9) >>> 0));
  }
  if (kind === 'diurnal') {
    const period = Number(arg ?? 24);
    if (!Number.isInteger(period) || period < 2) throw new ScoreError('CLI_USAGE', `--evolve diurnal:PERIOD: expected an integer number of epochs >= 2, got "${arg ?? ''}"`);
    if (o.workload.model === 'csv') throw new ScoreError('CLI_USAGE', '--evolve diurnal needs a generated workload, not csv');
    // the same VMs talking across pods instead: the widespread model with no rack- or pod-local peers
    const remote = generateWorkload(topology, { model: 'widespread', vms: o.workload.vms, slotsPerHypervisor: o.workload.slots, seed: o.workload.seed, params: { rackLocalFraction: 0, podLocalFraction: 0, meanPeers: 4, rateMu: Math.log(100_000), rateSigma: 2 } });
    return diurnalEpochs(flows, remote.flows, n, period);
  }
  if (kind === 'onoff') {
    if (o.workload.model !== 'onoff') throw new ScoreError('CLI_USAGE', '--evolve onoff needs --workload onoff');
    return onOffEpochs(topology, { model: 'onoff', vms: o.workload.vms, slotsPerHypervisor: o.workload.slots, seed: o.workload.seed }, n);
  }
  if (kind === 'trace') {
    if (arg === undefined || arg === '') throw new ScoreError('CLI_USAGE', '--evolve trace:FILE needs a file');
    let text: string;
    try {
      text = readFileSync(arg, 'utf8');
    } catch (e) {
      throw new ScoreError('CLI_USAGE', `--evolve trace: cannot read ${arg}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const changes = parseTrafficTrace(text, arg);
    checkTraceVms(changes, vms, arg, 'the workload');
    // the trace replaces the generated traffic from t = 0
    const tl = buildTimeline([], changes);
    return Array.from({ length: n }, (_, e) => [...flowsAt(tl, e * o.epochSeconds)]);
  }
  throw new ScoreError('CLI_USAGE', `--evolve: expected static, churn:RATE, diurnal:PERIOD, onoff or trace:FILE, got "${o.evolve}"`);
}
