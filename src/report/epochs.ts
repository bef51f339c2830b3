import type { TopLevelSpec } from 'vega-lite';
import type { EpochResult } from '../sim/epochs.ts';

/** Tables, CSV and figures of the scale simulator over time (src/sim/epochs.ts). */
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const T = 1e12;

export function epochSummaryRows(r: EpochResult): string[][] {
  const ref = (name: string) => r.strategies.find((s) => s.strategy === name)?.total;
  const oneShot = ref('one-shot');
  const clair = ref('clairvoyant');
  const pct = (x: number, base: number | undefined) => (base === undefined || base === 0 ? '–' : x === base ? '0.0%' : `${x >= base ? '+' : '−'}${(Math.abs(x / base - 1) * 100).toFixed(1)}%`);
  return r.strategies.map((s) => [
    s.strategy,
    (s.total / T).toFixed(1),
    pct(s.total, oneShot),
    pct(s.total, clair),
    (s.costIntegral / T).toFixed(1),
    (s.migrationWeighted / T).toFixed(1),
    String(s.migrations),
    String(s.vmsMovedMoreThanOnce),
    String(s.oscillations),
  ]);
}

export function epochCsv(r: EpochResult): string {
  const lines = ['strategy,epoch,cost,migrations,migration_bytes,migration_weighted,cumulative'];
  for (const s of r.strategies) for (const p of s.perEpoch) lines.push([s.strategy, p.epoch, p.cost, p.migrations, p.migrationBytes, p.migrationWeighted, p.cumulative].join(','));
  return lines.join('\n') + '\n';
}

function line(r: EpochResult, title: string, subtitle: string, field: 'cost' | 'cumulative' | 'migrations', yTitle: string, scale = 1): TopLevelSpec {
  const values = r.strategies.flatMap((s) => s.perEpoch.map((p) => ({ strategy: s.strategy, epoch: p.epoch, value: p[field] / scale })));
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle },
    width: 460,
    height: 280,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'strategy', type: 'nominal' },
    },
  };
}

export const epochCumulativeSpec = (r: EpochResult, subtitle: string): TopLevelSpec =>
  line(r, 'Cumulative cost: ∫ C_A dt + migration traffic', subtitle, 'cumulative', 'bytes × path weight (×1e12)', T);
export const epochCostSpec = (r: EpochResult, subtitle: string): TopLevelSpec => line(r, 'Communication cost per epoch (time average)', subtitle, 'cost', 'C_A (bytes/s × path weight)');
export const epochMigrationsSpec = (r: EpochResult, subtitle: string): TopLevelSpec => line(r, 'Migrations per epoch', subtitle, 'migrations', 'migrations');
