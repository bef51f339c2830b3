import { svg } from './dom.ts';
import { chartScale, formatNumber } from './layout.ts';

export interface Series {
  readonly name: string;
  readonly className: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface Marker {
  readonly x: number;
  readonly label: string;
}

const W = 600;
const H = 220;
/** Enough points for hours of one-second samples without slowing the page. */
const MAX_POINTS = 900;

/**
 * A line chart in SVG. Each sample is also a `circle.pt` with `data-x`/`data-y`, so what the
 * chart shows can be read back from the DOM.
 */
export function renderLineChart(root: SVGSVGElement, series: readonly Series[], o: { xLabel: string; yLabel: string; yFormat?: (v: number) => string; markers?: readonly Marker[] }): void {
  const all = series.map((s) => ({ ...s, points: s.points.slice(-MAX_POINTS) }));
  const xs = all.flatMap((s) => s.points.map((p) => p.x));
  const ys = all.flatMap((s) => s.points.map((p) => p.y));
  // The top margin holds the y-axis label and the legend, clear of the plot.
  const sc = chartScale(xs, ys, W, H, { left: 64, right: 16, top: 26, bottom: 30 });
  const fmt = o.yFormat ?? formatNumber;
  root.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const parts: SVGElement[] = [];
  const axis = svg('g', { class: 'axis' });
  for (let i = 0; i <= 4; i++) {
    const v = (sc.yMax * i) / 4;
    const y = sc.y(v);
    axis.append(svg('line', { x1: sc.x(sc.xMin), x2: sc.x(sc.xMax), y1: y, y2: y, class: 'grid' }), svg('text', { x: sc.x(sc.xMin) - 6, y: y + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const v = sc.xMin + ((sc.xMax - sc.xMin) * i) / 4;
    axis.append(svg('text', { x: sc.x(v), y: H - 12, 'text-anchor': 'middle' }, formatNumber(v)));
  }
  axis.append(svg('text', { x: W - 16, y: H - 1, 'text-anchor': 'end', class: 'axis-label' }, o.xLabel), svg('text', { x: 4, y: 10, class: 'axis-label' }, o.yLabel));
  parts.push(axis);
  for (const m of o.markers ?? []) {
    if (m.x < sc.xMin || m.x > sc.xMax) continue;
    const x = sc.x(m.x);
    const g = svg('g', { class: 'marker' });
    g.append(svg('line', { x1: x, x2: x, y1: sc.y(sc.yMax), y2: sc.y(0) }), svg('title', {}, m.label));
    parts.push(g);
  }
  for (const s of all) {
    const g = svg('g', { class: `series ${s.className}`, 'data-series': s.name });
    g.append(svg('polyline', { points: s.points.map((p) => `${sc.x(p.x).toFixed(1)},${sc.y(p.y).toFixed(1)}`).join(' ') }));
    for (const p of s.points) g.append(svg('circle', { class: 'pt', r: 1.8, cx: sc.x(p.x).toFixed(1), cy: sc.y(p.y).toFixed(1), 'data-x': p.x, 'data-y': p.y }));
    parts.push(g);
  }
  if (all.length > 1) {
    const legend = svg('g', { class: 'legend' });
    all.forEach((s, i) => {
      const g = svg('g', { class: `series ${s.className}`, transform: `translate(${W - 16 - (all.length - i) * 118} 9)` });
      g.append(svg('line', { x1: 0, x2: 18, y1: 0, y2: 0 }), svg('text', { x: 22, y: 4 }, s.name));
      legend.append(g);
    });
    parts.push(legend);
  }
  if (xs.length === 0) parts.push(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'no samples yet'));
  root.replaceChildren(...parts);
}
