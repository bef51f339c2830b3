/**
 * Path costs between hypervisors as one byte per pair of attachment classes, for the planner's
 * inner sums. A cost from the oracle's table (see IndexedCost.table) is
 * `rows[row(lo) + col(hi)] + up(hi)`, lo and hi ordered by the oracle's numbers: it depends only
 * on each end's (row, col, up), its class. At fat-tree(32) there are 512 classes (edge switches)
 * and a handful of distinct costs, so the 512 × 512 costs fit in 256 KiB of codes into a short
 * palette, where the table is 2 MiB of doubles read at random: in a profile of warm epochs the
 * table's load was a fifth of the planner's samples. Exact: each palette entry is the very double
 * the formula gives (computed with the same two operands), and the classes are used only when
 * the formula gives the same double in both orders for every pair of classes, so which end is lo
 * does not matter.
 */
export interface ClassCosts {
  /** per hypervisor: its class × the number of classes (a row of `code`) */
  readonly rowOf: Int32Array;
  /** per hypervisor: its class (a column of `code`) */
  readonly colOf: Int32Array;
  /** per pair of classes: the index of its cost in `palette` */
  readonly code: Uint8Array;
  readonly palette: Float64Array;
}

/**
 * The classes of hypervisors 0..n-1 given each one's row offset, column and uplink weight in the
 * table `rows` (all of them in the table). Undefined, and the caller keeps the formula, when the
 * costs are not the same in both orders, when a cost is Infinity (no path: the oracle's error
 * must be thrown) or -0 (a palette keyed by value would merge it with 0), when there are more than
 * 256 distinct costs, or more than `maxPairs` pairs of classes. O(classes² + n).
 */
export function classCosts(tRow: Int32Array, tCol: Int32Array, tUp: Float64Array, rows: Float64Array, maxPairs = 1 << 22): ClassCosts | undefined {
  const n = tRow.length;
  const classOf = new Map<string, number>();
  const colOf = new Int32Array(n);
  const repRow: number[] = [];
  const repCol: number[] = [];
  const repUp: number[] = [];
  for (let h = 0; h < n; h++) {
    const key = `${tRow[h]!},${tCol[h]!},${tUp[h]!}`;
    let k = classOf.get(key);
    if (k === undefined) {
      k = repRow.length;
      classOf.set(key, k);
      repRow.push(tRow[h]!);
      repCol.push(tCol[h]!);
      repUp.push(tUp[h]!);
    }
    colOf[h] = k;
  }
  const m = repRow.length;
  if (m * m > maxPairs) return undefined;
  const code = new Uint8Array(m * m);
  const index = new Map<number, number>();
  const palette: number[] = [];
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) {
      // a as lo, and b as lo: the formula's two orders
      const ab = rows[repRow[a]! + repCol[b]!]! + repUp[b]!;
      const ba = rows[repRow[b]! + repCol[a]!]! + repUp[a]!;
      if (!Object.is(ab, ba) || ab === Infinity || Object.is(ab, -0)) return undefined;
      let c = index.get(ab);
      if (c === undefined) {
        if (palette.length === 256) return undefined;
        c = palette.length;
        index.set(ab, c);
        palette.push(ab);
      }
      code[a * m + b] = c;
    }
  }
  const rowOf = new Int32Array(n);
  for (let h = 0; h < n; h++) rowOf[h] = colOf[h]! * m;
  return { rowOf, colOf, code, palette: Float64Array.from(palette) };
}
