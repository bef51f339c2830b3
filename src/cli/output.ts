import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { RunRecord } from '../sim/run.ts';
import { costChartSpec, renderSvg, svgToPng, utilisationChartSpec } from '../report/charts.ts';
import { hasMigrationFigures, migrationsCsv, stepsCsv, timelineCsv } from '../report/csv.ts';

/**
 * Writes a set of runs as JSON, CSV and the two figures (SVG + PNG); returns the paths written.
 * migrations.csv only when some step carries measured migrations (`score emulate --policy`).
 */
export async function writeRunOutputs(dir: string, runs: readonly RunRecord[], png = true): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string | Buffer): void => {
    const p = join(dir, name);
    writeFileSync(p, data);
    written.push(p);
  };
  put('runs.json', JSON.stringify({ kind: 'score-runs', version: 1, runs }, null, 2) + '\n');
  put('timeline.csv', timelineCsv(runs));
  put('steps.csv', stepsCsv(runs));
  if (hasMigrationFigures(runs)) put('migrations.csv', migrationsCsv(runs));
  const figures: [string, string][] = [
    ['fig3-utilisation', await renderSvg(utilisationChartSpec(runs))],
    ['fig4-cost', await renderSvg(costChartSpec(runs))],
  ];
  for (const [name, svg] of figures) {
    put(`${name}.svg`, svg);
    if (png) put(`${name}.png`, svgToPng(svg));
  }
  return written.map((p) => relative(process.cwd(), p) || p);
}
