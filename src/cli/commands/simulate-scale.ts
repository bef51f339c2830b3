import Table from 'cli-table3';
import { ScoreError } from '../../errors/errors.ts';
import { runScale, type ScaleResult } from '../../sim/scale.ts';
import { metisReference, requireGpmetis } from '../../sim/reference.ts';
import { capacityLowerBound } from '../../sim/bound.ts';
import { strategyRunner, parseStrategies } from '../../sim/strategies.ts';
import { workloadFromOptions, type WorkloadOptions } from '../workload-options.ts';
import { topologyFromSpec } from '../../topologies/spec.ts';
import { buildTopology } from '../../core/topology.ts';
import { renderSvg, svgToPng } from '../../report/charts.ts';
import { outputFiles } from '../output.ts';
import {
  scaleCdfSpec,
  scaleCostSpec,
  scaleMigrationsSpec,
  scaleRoundsCsv,
  scaleSummaryCsv,
  scaleSummaryTable,
  scaleUtilisationSpec,
} from '../../report/scale.ts';
import type { RailOptions } from '../../sim/strategies.ts';
import type { DecisionMode } from '../../core/decision.ts';

/**
 * `score simulate --topology ...`: the scale simulator from the command line. Progress goes to
 * stderr (on a terminal a bar; elsewhere only with --progress, one line per strategy) so stdout
 * stays a clean table or JSON document; with --json the list of written files goes to stderr too.
 */
export interface ScaleCliOptions {
  readonly topology: string;
  readonly oversubscription?: string;
  readonly workload: WorkloadOptions;
  readonly strategies: string;
  readonly migrationCost: number | 'precopy';
  readonly amortisationSeconds?: number;
  readonly mode?: DecisionMode;
  /** a number, or a fraction of the VMs ("50%") */
  readonly maxMigrations?: string;
  readonly maxRounds: number;
  readonly rails: RailOptions;
  readonly utilisation: boolean;
  readonly out: string;
  readonly png: boolean;
  readonly json: boolean;
  readonly progress: boolean;
  /** OVERCOMMIT_STRATEGIES' temporary extra VMs per hypervisor during an exchange (0 or 1; default 0) */
  readonly overcommit?: number;
  /** 'metis': a hierarchical-partitioning reference (gpmetis) and each strategy's gap to the best known placement */
  readonly reference?: 'none' | 'metis';
}

function progressReporter(enabled: boolean): { start: (name: string, i: number, n: number) => void; done: (name: string, i: number, n: number, ms: number) => void; round: (name: string, i: number, n: number, round: number, max: number, migrations: number) => void } {
  const tty = process.stderr.isTTY;
  const bar = (frac: number): string => {
    const width = 24;
    const full = Math.round(frac * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
  };
  return {
    start: (name, i, n) => {
      if (enabled && tty) process.stderr.write(`\r${bar(i / n)} ${i + 1}/${n} ${name} ...`.padEnd(79));
    },
    round: (name, i, n, round, max, migrations) => {
      if (enabled && tty) process.stderr.write(`\r${bar((i + round / max) / n)} ${i + 1}/${n} ${name}: round ${round}, ${migrations} migrations`.padEnd(79));
    },
    done: (name, i, n, ms) => {
      if (!enabled) return;
      if (tty) process.stderr.write(`\r${bar((i + 1) / n)} ${i + 1}/${n} ${name} done in ${(ms / 1000).toFixed(2)} s`.padEnd(79) + (i + 1 === n ? '\n' : ''));
      else process.stderr.write(`${i + 1}/${n} ${name} done in ${(ms / 1000).toFixed(2)} s\n`);
    },
  };
}

export async function runScaleCli(o: ScaleCliOptions): Promise<ScaleResult> {
  const topology = topologyFromSpec(o.topology, { oversubscription: o.oversubscription });
  // Whether `all` includes the exact optimum depends on the VMs the workload really has: a CSV
  // decides its own (read once more here, on the bare topology; runScale reads it for the run).
  const workloadOptions = { ...o.workload, resources: o.migrationCost === 'precopy' };
  let vms = o.workload.vms;
  if (o.workload.model === 'csv') {
    vms = workloadFromOptions(buildTopology(topology.nodes, topology.links), workloadOptions).vms.length;
    if (o.workload.vmsGiven === true && o.workload.vms !== vms) {
      throw new ScoreError('CLI_USAGE', `--vms ${o.workload.vms} contradicts the traffic file, which has ${vms} VMs: leave --vms out with --workload csv`, {
        vms: o.workload.vms,
        inFile: vms,
      });
    }
  }
  const names = parseStrategies(o.strategies, vms);
  const budget = (vms: number): number | undefined => {
    if (o.maxMigrations === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(o.maxMigrations);
    if (m === null) throw new ScoreError('CLI_USAGE', `--max-migrations: expected a count or a percentage of the VMs (e.g. 50%), got "${o.maxMigrations}"`);
    return m[2] === '%' ? Math.floor((Number(m[1]) / 100) * vms) : Math.floor(Number(m[1]));
  };
  budget(vms);
  if (o.reference === 'metis') requireGpmetis();
  const progress = progressReporter(o.progress);
  // Wall time per strategy, measured here in the shell: the simulator's result stays deterministic.
  const timing: Record<string, number> = {};
  const result = runScale({
    topology,
    workload: (t) => workloadFromOptions(t, workloadOptions),
    strategies: names.map(
      (n, index) =>
        [
          n,
          (ctx) => {
            const maxMigrations = budget(ctx.vms.length);
            progress.start(n, index, names.length);
            const t0 = performance.now();
            const run = strategyRunner(n, {
              migrationCost: o.migrationCost,
              maxRounds: o.maxRounds,
              rails: o.rails,
              ...(o.amortisationSeconds === undefined ? {} : { amortisationSeconds: o.amortisationSeconds }),
              ...(o.mode === undefined ? {} : { mode: o.mode }),
              ...(maxMigrations === undefined ? {} : { maxMigrations }),
              ...(o.overcommit === undefined ? {} : { overcommit: o.overcommit }),
              onRound: (round, migrations) => progress.round(n, index, names.length, round, o.maxRounds, migrations),
            })(ctx);
            timing[n] = performance.now() - t0;
            progress.done(n, index, names.length, timing[n]);
            return run;
          },
        ] as const,
    ),
    utilisation: o.utilisation,
    ...(o.reference === 'metis'
      ? {
          reference: (ctx) => ({
            ...metisReference({ topology: ctx.topology, oracle: ctx.oracle, vms: ctx.vms, traffic: ctx.traffic, capacity: ctx.capacity, seed: ctx.seed }),
            lowerBound: capacityLowerBound({ topology: ctx.topology, oracle: ctx.oracle, vms: ctx.vms, traffic: ctx.traffic, capacity: ctx.capacity }),
          }),
        }
      : {}),
  });
  const { put, written } = outputFiles(o.out);
  put('scale.json', JSON.stringify(result, null, 2) + '\n');
  put('summary.csv', scaleSummaryCsv(result));
  put('rounds.csv', scaleRoundsCsv(result));
  const figures: [string, Parameters<typeof renderSvg>[0]][] = [
    ['cost-per-round', scaleCostSpec(result)],
    ['migrations-per-round', scaleMigrationsSpec(result)],
    ['vm-cost-cdf', scaleCdfSpec(result)],
  ];
  if (o.utilisation) figures.push(['utilisation-per-layer', scaleUtilisationSpec(result)]);
  for (const [name, spec] of figures) {
    const svg = await renderSvg(spec);
    put(`${name}.svg`, svg);
    if (o.png) put(`${name}.png`, svgToPng(svg));
  }
  if (o.json) {
    console.log(JSON.stringify(result, null, 2));
    console.error(`Wrote ${written.join(', ')}`);
    return result;
  }
  console.log(
    `${result.topology.name}: ${result.topology.hypervisors} hypervisors, ${result.topology.switches} switches; ` +
      `workload ${result.workload.name} (seed ${result.workload.seed}): ${result.workload.vms} VMs, ${result.workload.flows} flows; c_m = ${o.migrationCost}${o.overcommit === undefined ? '' : `; overcommit ${o.overcommit}`}`,
  );
  const t = new Table({
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    head: ['strategy', 'initial C_A', 'final C_A', 'reduction', 'at 50% VMs moved', 'migrations', 'VMs moved', 'rounds', 'time'],
  });
  scaleSummaryTable(result).forEach((row, i) => t.push([...row, `${((timing[result.strategies[i]!.strategy] ?? 0) / 1000).toFixed(2)} s`]));
  console.log(t.toString());
  const ref = result.reference;
  if (ref !== undefined) {
    console.log(`Reference ${ref.method}: C_A ${ref.cost.toExponential(3)} (${(100 * ref.reduction).toFixed(1)}% reduction); best known ${ref.bestKnown.cost.toExponential(3)} (${ref.bestKnown.by})`);
    console.log(`Gap to the best known placement ((final − best) / initial): ${Object.entries(ref.gapToBest).map(([s, g]) => `${s} ${(100 * g).toFixed(1)}%`).join(', ')}`);
    const lb = ref.lowerBound;
    if (lb !== undefined) console.log(`Lower bound (${lb.method}): C_A ≥ ${lb.cost.toExponential(3)}: no placement within capacity cuts more than ${(100 * lb.maxReduction).toFixed(1)}%`);
  }
  console.log(`Wrote ${written.join(', ')}`);
  return result;
}

export function requireNoScenario(scenario: string | undefined): void {
  if (scenario !== undefined) throw new ScoreError('CLI_USAGE', '--scenario and --topology are alternatives: give one');
}
