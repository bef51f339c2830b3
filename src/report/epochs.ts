import type { TopLevelSpec } from 'vega-lite';
import type { EpochResult } from '../sim/epochs.ts';

/** Tables, CSV and figures of the scale simulator over time (src/sim/epochs.ts). */
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * The power of 1,000 the cumulative columns are shown in: 1e12, as docs/scale.md's tables, unless
 * the largest total is smaller; then the largest power not above it, so a small run (a short
 * trace, a few VMs) does not print 0.0 everywhere.
 */
export function epochScale(r: EpochResult): number {
  const max = Math.max(0, ...r.strategies.map((s) => s.total));
  let scale = 1;
  while (scale < 1e12 && scale * 1000 <= max) scale *= 1000;
  return scale;
}

/** 1e12 as "1e12", 1 as "1". */
export const scaleText = (scale: number): string => (scale === 1 ? '1' : `1e${Math.round(Math.log10(scale))}`);

/** The summary table's rows (strategy, total, vs one-shot, vs clairvoyant, ...), totals ÷ epochScale. */
export function epochSummaryRows(r: EpochResult): string[][] {
  const T = epochScale(r);
  const ref = (name: string) => r.strategies.find((s) => s.strategy === name)?.total;
  const oneShot = ref('one-shot');
  const clair = ref('clairvoyant');
  const pct = (x: number, base: number | undefined) => (base === undefined || base === 0 ? '–' : x === base ? '0.0%' : `${x >= base ? '+' : '-'}${(Math.abs(x / base - 1) * 100).toFixed(1)}%`);
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

export function epochCumulativeSpec(r: EpochResult, subtitle: string): TopLevelSpec {
  const scale = epochScale(r);
  return line(r, 'Cumulative cost: ∫ C_A dt + migration traffic', subtitle, 'cumulative', `bytes × path weight (×${scaleText(scale)})`, scale);
}
export const epochCostSpec = (r: EpochResult, subtitle: string): TopLevelSpec => line(r, 'Communication cost per epoch (time average)', subtitle, 'cost', 'C_A (bytes/s × path weight)');
export const epochMigrationsSpec = (r: EpochResult, subtitle: string): TopLevelSpec => line(r, 'Migrations per epoch', subtitle, 'migrations', 'migrations');
