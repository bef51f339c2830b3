import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RunRecord } from '../sim/run.ts';

/**
 * The paper's figures as Vega-Lite specs, rendered headless to SVG (and PNG through resvg).
 * Fig. 3: mean utilisation per link layer (over links that carry traffic) after each migration.
 * Fig. 4: overall communication cost C_A after each migration.
 */
const POLICY_LABEL: Record<string, string> = { 'round-robin': 'Round-Robin', 'load-aware': 'Load-Aware', 'gain-order': 'Gain-ordered' };

export function costChartSpec(runs: readonly RunRecord[]): TopLevelSpec {
  const values = runs.flatMap((r) =>
    r.timeline.map((p) => ({ policy: POLICY_LABEL[r.policy] ?? r.policy, step: p.step, cost: p.totalCost })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Overall communication cost after each migration', subtitle: `scenario ${runs[0]?.scenario.name ?? ''} (cf. Fig. 4)` },
    width: 420,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'migration step', axis: { tickMinStep: 1 } },
      y: { field: 'cost', type: 'quantitative', title: 'C_A (bytes/s × path weight)' },
      color: { field: 'policy', type: 'nominal', title: 'policy', sort: ['Round-Robin', 'Load-Aware'] },
      strokeDash: { field: 'policy', type: 'nominal' },
    },
  };
}

export function utilisationChartSpec(runs: readonly RunRecord[]): TopLevelSpec {
  const values = runs.flatMap((r) =>
    r.timeline.flatMap((p) =>
      p.layers.map((l) => ({
        policy: POLICY_LABEL[r.policy] ?? r.policy,
        step: p.step,
        layer: `${l.layer}: ${r.layerNames[l.layer - 1] ?? `layer ${l.layer}`}`,
        utilisation: l.meanUtilisation * 100,
      })),
    ),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Mean link utilisation per layer (links carrying traffic)', subtitle: `scenario ${runs[0]?.scenario.name ?? ''} (cf. Fig. 3)` },
    data: { values },
    facet: { column: { field: 'policy', type: 'nominal', title: null, sort: ['Round-Robin', 'Load-Aware'] } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'migration step', axis: { tickMinStep: 1 } },
        y: { field: 'utilisation', type: 'quantitative', title: 'utilisation (%)' },
        color: { field: 'layer', type: 'nominal', title: 'link layer' },
      },
    },
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
