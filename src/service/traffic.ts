import type { DirectedFlow } from '../core/cost.ts';

/**
 * Measured rates wobble; the paper's equal flows come back as 498, 503, 501 B/s. Rates within a
 * relative tolerance of the smallest member of their group are replaced by the group's mean, so
 * the deterministic tie-break (lower VM number) decides between them, as it does in simulation.
 */
export function quantizeRates(flows: readonly DirectedFlow[], tolerance: number): DirectedFlow[] {
  if (tolerance <= 0 || flows.length === 0) return [...flows];
  const order = flows.map((f, i) => ({ rate: f.rate, i })).sort((a, b) => a.rate - b.rate);
  const value = new Array<number>(flows.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    const base = order[start]!.rate;
    while (end < order.length && order[end]!.rate <= base * (1 + tolerance)) end++;
    const mean = order.slice(start, end).reduce((s, x) => s + x.rate, 0) / (end - start);
    for (let k = start; k < end; k++) value[order[k]!.i] = mean;
    start = end;
  }
  return flows.map((f, i) => ({ ...f, rate: value[i]! }));
}
