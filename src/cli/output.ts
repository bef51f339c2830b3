import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../sim/run.ts';
import { costChartSpec, renderSvg, svgToPng, utilisationChartSpec } from '../report/charts.ts';
import { hasMigrationFigures, migrationsCsv, stepsCsv, timelineCsv } from '../report/csv.ts';

/**
 * A directory's file writer: `put(name, data)` writes DIR/name (DIR made on the first call) and
 * `written` lists the paths in the form the user gave DIR (relative stays relative, absolute
 * stays absolute), for the `Wrote ...` line.
 */
export function outputFiles(dir: string): { put: (name: string, data: string | Buffer) => void; written: string[] } {
  const written: string[] = [];
  return {
    written,
    put: (name, data) => {
      if (written.length === 0) mkdirSync(dir, { recursive: true });
      const p = join(dir, name);
      writeFileSync(p, data);
      written.push(p);
    },
  };
}

/**
 * Writes a set of runs as JSON, CSV and the two figures (SVG + PNG); returns the paths written
 * (as `outputFiles` gives them). migrations.csv only when some step carries measured migrations
 * (`score emulate --policy`).
 */
export async function writeRunOutputs(dir: string, runs: readonly RunRecord[], png = true): Promise<string[]> {
  const { put, written } = outputFiles(dir);
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
  return written;
}
