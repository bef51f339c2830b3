import type { TopLevelSpec } from 'vega-lite';
import type { ScaleResult } from '../sim/scale.ts';

/**
 * Outputs of a scale run: a summary table, CSVs and four figures (cost per round per strategy,
 * per-layer utilisation per round, the CDF of per-VM cost, migrations per round).
 */
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

function subtitle(r: ScaleResult): string {
  return `${r.topology.name}, ${r.workload.vms} VMs, workload ${r.workload.name}, seed ${r.workload.seed}`;
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function cell(v: string | number | boolean): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(head: readonly string[], rows: readonly (readonly (string | number | boolean)[])[]): string {
  return [head, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export function scaleSummaryCsv(r: ScaleResult): string {
  return csv(
    ['topology', 'workload', 'seed', 'vms', 'strategy', 'initial_cost', 'final_cost', 'cost_reduction', 'reduction_at_half_migrated', 'migrations', 'vms_migrated', 'fraction_migrated', 'migration_bytes', 'rounds', 'converged'],
    r.strategies.map((s) => [
      r.topology.name,
      r.workload.name,
      r.workload.seed,
      r.workload.vms,
      s.strategy,
      s.initialCost,
      s.finalCost,
      s.costReduction,
      s.reductionAtHalfMigrated,
      s.migrations,
      s.vmsMigrated,
      s.fractionMigrated,
      s.migrationBytes,
      s.rounds,
      s.converged,
    ]),
  );
}

export function scaleRoundsCsv(r: ScaleResult): string {
  const layers = r.layerNames.length;
  const head = ['strategy', 'round', 'cost', 'migrations', 'migration_bytes'];
  for (let i = 1; i <= layers; i++) head.push(`layer${i}_mean_utilisation`, `layer${i}_max_utilisation`, `layer${i}_load_bps`);
  const rows = r.strategies.flatMap((s) =>
    s.perRound.map((p) => {
      const row: (string | number)[] = [s.strategy, p.round, p.cost, p.migrations, p.migrationBytes];
      for (let i = 0; i < layers; i++) {
        const l = p.layers[i];
        row.push(l?.meanUtilisation ?? '', l?.maxUtilisation ?? '', l?.loadBps ?? '');
      }
      return row;
    }),
  );
  return csv(head, rows);
}

export function scaleSummaryTable(r: ScaleResult): string[][] {
  return r.strategies.map((s) => [
    s.strategy,
    s.initialCost.toExponential(3),
    s.finalCost.toExponential(3),
    pct(s.costReduction),
    pct(s.reductionAtHalfMigrated),
    String(s.migrations),
    pct(s.fractionMigrated),
    `${s.rounds}${s.converged ? '' : ' (cap)'}`,
  ]);
}

export function scaleCostSpec(r: ScaleResult): TopLevelSpec {
  const values = r.strategies.flatMap((s) => s.perRound.map((p) => ({ strategy: s.strategy, round: p.round, cost: p.cost })));
  return {
    $schema: SCHEMA,
    title: { text: 'Overall communication cost per round', subtitle: subtitle(r) },
    width: 460,
    height: 280,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'round', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'cost', type: 'quantitative', title: 'C_A (bytes/s × path weight)' },
      color: { field: 'strategy', type: 'nominal' },
    },
  };
}

export function scaleUtilisationSpec(r: ScaleResult): TopLevelSpec {
  const values = r.strategies.flatMap((s) =>
    s.perRound.flatMap((p) =>
      p.layers.map((l) => ({ strategy: s.strategy, round: p.round, layer: `${l.layer}: ${r.layerNames[l.layer - 1] ?? ''}`, utilisation: l.meanUtilisation * 100 })),
    ),
  );
  return {
    $schema: SCHEMA,
    title: { text: 'Mean utilisation per link layer (links carrying traffic)', subtitle: subtitle(r) },
    data: { values },
    facet: { column: { field: 'layer', type: 'nominal', title: null } },
    spec: {
      width: 240,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'round', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'utilisation', type: 'quantitative', title: 'utilisation (%)' },
        color: { field: 'strategy', type: 'nominal' },
      },
    },
  };
}

export function scaleCdfSpec(r: ScaleResult): TopLevelSpec {
  const first = r.strategies[0];
  const series: { strategy: string; qs: readonly number[] }[] = [];
  if (first) series.push({ strategy: 'initial', qs: first.vmCostQuantiles.initial });
  for (const s of r.strategies) series.push({ strategy: s.strategy, qs: s.vmCostQuantiles.final });
  const values = series.flatMap(({ strategy, qs }) => qs.map((cost, i) => ({ strategy, cost, fraction: i / Math.max(1, qs.length - 1) })));
  return {
    $schema: SCHEMA,
    title: { text: 'CDF of per-VM cost C_A(u)', subtitle: subtitle(r) },
    width: 460,
    height: 280,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'cost', type: 'quantitative', title: 'C_A(u)' },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of VMs' },
      color: { field: 'strategy', type: 'nominal' },
    },
  };
}

export function scaleMigrationsSpec(r: ScaleResult): TopLevelSpec {
  const values = r.strategies.flatMap((s) => s.perRound.filter((p) => p.round > 0).map((p) => ({ strategy: s.strategy, round: p.round, migrations: p.migrations })));
  return {
    $schema: SCHEMA,
    title: { text: 'Migrations per round', subtitle: subtitle(r) },
    width: 460,
    height: 240,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'round', type: 'ordinal' },
      xOffset: { field: 'strategy', type: 'nominal' },
      y: { field: 'migrations', type: 'quantitative' },
      color: { field: 'strategy', type: 'nominal' },
    },
  };
}
