/**
 * Pure geometry and scales for the dashboard: no DOM here, so node tests can check the layout
 * the browser draws.
 */

export interface LayoutSwitch {
  readonly name: string;
  readonly kind: 'hypervisor' | 'switch';
  readonly layer: number | null;
}

export interface LayoutLink {
  readonly a: { readonly switch: string };
  readonly b: { readonly switch: string };
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Row {
  /** 0: hypervisors; -1: the VMs under them; maxLayer + 1: switches discovery cannot place */
  readonly layer: number;
  readonly label: string;
  readonly y: number;
}

export interface TopologyLayout {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, Point & { readonly layer: number }>;
  readonly rows: readonly Row[];
  /** where the i-th VM (0-based) on a hypervisor sits */
  vmSlot(hypervisor: string, index: number): Point;
}

export interface LayoutOptions {
  readonly width?: number;
  readonly rowGap?: number;
  readonly vmGap?: number;
  /** how many VMs a column under a hypervisor has room for */
  readonly vmRows?: number;
}

/** Names with numbers in them sort as people expect: hv9 before hv10. */
export const naturalCompare = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** The usual name of a link layer's upper end in a tree-like data centre. */
export function rowLabel(layer: number, maxLayer: number): string {
  if (layer === -1) return 'VMs';
  if (layer === 0) return 'hypervisors';
  if (layer > maxLayer) return 'unplaced';
  if (layer === 1) return 'ToR';
  if (layer === maxLayer) return 'core';
  if (maxLayer === 3 && layer === 2) return 'aggregation';
  return `layer ${layer}`;
}

/** Link layer names as the reports use them (layer 1 joins hypervisors and ToR switches). */
export function linkLayerName(layer: number, maxLayer: number): string {
  if (maxLayer === 3) return ['hypervisor-ToR', 'ToR-aggregation', 'aggregation-core'][layer - 1] ?? `layer ${layer}`;
  return `layer ${layer}`;
}

/**
 * Rows by layer, core at the top, hypervisors and their VMs at the bottom. Hypervisors are spread
 * evenly in name order; every switch above sits in the order of the mean position of its
 * neighbours below, so a tree draws without crossings.
 */
export function layoutTopology(switches: readonly LayoutSwitch[], links: readonly LayoutLink[], o: LayoutOptions = {}): TopologyLayout {
  const width = o.width ?? 960;
  const rowGap = o.rowGap ?? 90;
  const vmGap = o.vmGap ?? 24;
  const vmRows = Math.max(1, o.vmRows ?? 3);
  const margin = 70;
  const known = switches.filter((s) => s.layer !== null).map((s) => s.layer!);
  const maxLayer = known.length > 0 ? Math.max(...known) : 0;
  const layerOf = (s: LayoutSwitch): number => (s.kind === 'hypervisor' ? 0 : s.layer === null || s.layer <= 0 ? maxLayer + 1 : s.layer);
  const top = Math.max(maxLayer, ...switches.map(layerOf));
  const yOf = (layer: number): number => 40 + (top - layer) * rowGap;

  const neighbours = new Map<string, string[]>();
  for (const l of links) {
    neighbours.set(l.a.switch, [...(neighbours.get(l.a.switch) ?? []), l.b.switch]);
    neighbours.set(l.b.switch, [...(neighbours.get(l.b.switch) ?? []), l.a.switch]);
  }
  const nodes = new Map<string, Point & { layer: number }>();
  const spread = (names: readonly string[], layer: number): void => {
    const step = (width - 2 * margin) / Math.max(1, names.length);
    names.forEach((n, i) => nodes.set(n, { x: margin + step * (i + 0.5), y: yOf(layer), layer }));
  };
  const byLayer = new Map<number, LayoutSwitch[]>();
  for (const s of switches) byLayer.set(layerOf(s), [...(byLayer.get(layerOf(s)) ?? []), s]);
  spread((byLayer.get(0) ?? []).map((s) => s.name).sort(naturalCompare), 0);
  for (let layer = 1; layer <= top; layer++) {
    const row = byLayer.get(layer) ?? [];
    const keyed = row.map((s) => {
      const below = (neighbours.get(s.name) ?? []).map((n) => nodes.get(n)).filter((p): p is Point & { layer: number } => p !== undefined && p.layer < layer);
      const bary = below.length > 0 ? below.reduce((sum, p) => sum + p.x, 0) / below.length : Number.POSITIVE_INFINITY;
      return { name: s.name, bary };
    });
    keyed.sort((a, b) => a.bary - b.bary || naturalCompare(a.name, b.name));
    spread(
      keyed.map((k) => k.name),
      layer,
    );
  }
  const rows: Row[] = [...byLayer.keys()].sort((a, b) => b - a).map((layer) => ({ layer, label: rowLabel(layer, maxLayer), y: yOf(layer) }));
  const vmTop = yOf(0) + 42;
  rows.push({ layer: -1, label: 'VMs', y: vmTop });
  return {
    width,
    height: vmTop + vmRows * vmGap + 10,
    nodes,
    rows,
    vmSlot(hypervisor, index) {
      const hv = nodes.get(hypervisor);
      const x = hv?.x ?? margin / 2;
      return { x, y: vmTop + index * vmGap };
    },
  };
}

/**
 * Link colour for a utilisation relative to the busiest link now: grey when idle, green to red
 * as it approaches the busiest. Absolute utilisation on the paper's links is a fraction of a
 * percent, which an absolute scale would paint all green.
 */
export function utilisationColour(utilisation: number, busiest: number): string {
  if (!(utilisation > 0) || !(busiest > 0)) return '#c3c8d0';
  const t = Math.min(1, utilisation / busiest);
  return `hsl(${Math.round((1 - t) * 120)}, 75%, 42%)`;
}

/** Stroke width: thicker the busier, relative to the busiest link now. */
export function utilisationWidth(utilisation: number, busiest: number): number {
  if (!(utilisation > 0) || !(busiest > 0)) return 1.5;
  return 2 + 6 * Math.min(1, utilisation / busiest);
}

/** A "nice" upper bound for an axis (1, 2, 2.5 or 5 times a power of ten). */
export function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

export interface ChartScale {
  x(v: number): number;
  y(v: number): number;
  readonly xMin: number;
  readonly xMax: number;
  readonly yMax: number;
}

/** Maps data to a plot area inside a box of `width` × `height` with room for axis labels. */
export function chartScale(xs: readonly number[], ys: readonly number[], width: number, height: number, pad = { left: 64, right: 16, top: 12, bottom: 30 }): ChartScale {
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMaxRaw = xs.length > 0 ? Math.max(...xs) : 1;
  const xMax = xMaxRaw > xMin ? xMaxRaw : xMin + 1;
  const yMax = niceMax(ys.length > 0 ? Math.max(...ys) : 0);
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  return {
    xMin,
    xMax,
    yMax,
    x: (v) => pad.left + ((v - xMin) / (xMax - xMin)) * w,
    y: (v) => pad.top + h - (Math.max(0, v) / yMax) * h,
  };
}

/** Compact numbers for axis ticks and labels. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100 || a === 0) return String(Math.round(v));
  return String(+v.toPrecision(3));
}

export function formatPercent(ratio: number): string {
  const p = ratio * 100;
  if (p === 0) return '0%';
  return p < 0.01 ? `${p.toExponential(1)}%` : `${+p.toPrecision(3)}%`;
}

/** A migration's own figures (QEMU's query-migrate or libvirt's job info), as one line of text. */
export function figuresLine(f: { source: string; totalTimeMs: number; downtimeMs: number | null; setupTimeMs: number | null; transferredBytes: number; dirtyPagesRate: number | null }): string {
  const ms = (v: number | null): string => (v === null ? '–' : `${formatNumber(v)} ms`);
  return `${f.source}: total ${ms(f.totalTimeMs)}, downtime ${ms(f.downtimeMs)}, setup ${ms(f.setupTimeMs)}, ${(f.transferredBytes / 1e6).toFixed(1)} MB sent${f.dirtyPagesRate === null ? '' : `, ${formatNumber(f.dirtyPagesRate)} dirty pages/s`}`;
}
