import type { DirectedFlow } from '../core/cost.ts';

/**
 * The grid quantized rates are put on (units per second): a binary fraction, so the sums of a
 * pair's directions are exact in floating point (up to 2^43 units a second) and equal means equal.
 */
const GRID = 1 / 1024;

/**
 * Measured rates wobble; the paper's equal flows come back as 498, 503, 501 B/s. What the policies
 * compare is a pair's λ(u, v), both directions together (Eq. 1 sums them), so pairs are grouped by
 * λ, not directions one by one: sorted by λ, a group takes every pair within a relative `tolerance`
 * of its smallest, and each member's λ becomes the group's mean, so the deterministic tie-break
 * (lower VM number) decides between them, as it does in simulation. Every output λ lies on a grid
 * of 1/1024 units, so λs made equal are exactly equal, and no two λs come out an ulp apart. A
 * pair's directions keep their shares of its λ (each on the grid; the largest takes the rest).
 *
 * Grouping direction by direction split nominally equal pairs: nping's forward stream and its
 * RST replies measure ~18% apart, and with twelve directions spread over 16% (a cluster system test
 * run) the one boundary fell between vm2->vm10 and the rest, so vm2's λ came out above vm1's equal
 * one and Load-Aware asked it first. Scaling a pair's directions in plain floats then made two
 * "equal" λs differ by an ulp (9923.349999999999 against 9923.350000000002), which outranks the
 * tie-break just the same.
 *
 * `flows`: directed rates (any unit per second, finite and >= 0; a direction listed once, as the
 * controller measures them); `tolerance`: a fraction, <= 0 leaves every rate as it is. Returns
 * flows in the input order, the same length (new objects when tolerance > 0).
 */
export function quantizeRates(flows: readonly DirectedFlow[], tolerance: number): DirectedFlow[] {
  if (tolerance <= 0 || flows.length === 0) return [...flows];
  const pairOf = (f: DirectedFlow): string => (f.src < f.dst ? `${f.src}\u0000${f.dst}` : `${f.dst}\u0000${f.src}`);
  const keys = flows.map(pairOf);
  const lambda = new Map<string, number>();
  // the index of each pair's largest direction: it takes what the others' rounding leaves
  const largest = new Map<string, number>();
  flows.forEach((f, i) => {
    const k = keys[i]!;
    lambda.set(k, (lambda.get(k) ?? 0) + f.rate);
    const j = largest.get(k);
    if (j === undefined || f.rate > flows[j]!.rate) largest.set(k, i);
  });
  // monotone, so the order of λs is kept
  const onGrid = (x: number): number => Math.round(x / GRID) * GRID;
  const order = [...lambda].sort((a, b) => a[1] - b[1]);
  const value = new Map<string, number>();
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    const base = order[start]![1];
    while (end < order.length && order[end]![1] <= base * (1 + tolerance)) end++;
    let sum = 0;
    for (let k = start; k < end; k++) sum += order[k]![1];
    const mean = onGrid(sum / (end - start));
    for (let k = start; k < end; k++) value.set(order[k]![0], mean);
    start = end;
  }
  // every direction but the pair's largest on the grid, the largest the rest: sums of grid values
  // are exact, so the directions add up to the pair's λ to the bit
  const out = flows.map((f) => ({ ...f }));
  const rest = new Map<string, number>();
  flows.forEach((f, i) => {
    const k = keys[i]!;
    if (largest.get(k) === i) return;
    const raw = lambda.get(k)!;
    // the factor first: rate × λ could overflow where rate × (λ' / λ) does not
    out[i]!.rate = raw > 0 ? onGrid(f.rate * (value.get(k)! / raw)) : 0;
    rest.set(k, (rest.get(k) ?? 0) + out[i]!.rate);
  });
  for (const [k, i] of largest) out[i]!.rate = Math.max(0, value.get(k)! - (rest.get(k) ?? 0));
  return out;
}
