/**
 * Per-VM rows of (peer, rate) in flat typed arrays (CSR with slack): row u is adj/rate[start[u] ..
 * start[u] + len[u]), room for cap[u] entries. A row that outgrows its room moves to the end with
 * twice the room (its old room is left unused: the waste is at most the rows' total room), so a
 * traffic change writes in place and allocates only when the store doubles. Entries keep the
 * order a Map-based row would: appended at the end, removed with the rest shifted down.
 * `adj` and `rate` may be replaced by `append`; nothing holds them across a traffic change.
 */
export class Rows {
  readonly start: Int32Array;
  readonly len: Int32Array;
  private readonly cap: Int32Array;
  adj: Int32Array;
  rate: Float64Array;
  private used = 0;

  /** room for each row's `degree` entries and some more */
  constructor(degree: Int32Array) {
    const n = degree.length;
    this.start = new Int32Array(n);
    this.len = new Int32Array(n);
    this.cap = new Int32Array(n);
    let total = 0;
    for (let u = 0; u < n; u++) {
      const c = degree[u]! + (degree[u]! >> 1) + 2;
      this.start[u] = total;
      this.cap[u] = c;
      total += c;
    }
    this.used = total;
    this.adj = new Int32Array(total + (total >> 2) + 16);
    this.rate = new Float64Array(this.adj.length);
  }

  /** where v is in u's row (an index into adj/rate), or -1 */
  indexOf(u: number, v: number): number {
    const adj = this.adj;
    const end = this.start[u]! + this.len[u]!;
    for (let i = this.start[u]!; i < end; i++) if (adj[i] === v) return i;
    return -1;
  }

  append(u: number, v: number, r: number): void {
    if (this.len[u] === this.cap[u]) this.move(u, 2 * this.cap[u]! + 2);
    const i = this.start[u]! + this.len[u]!;
    this.adj[i] = v;
    this.rate[i] = r;
    this.len[u]! += 1;
  }

  /** sets entry i (from `indexOf`) of u's row to (v, r): appended when i < 0, removed when r is 0 */
  set(u: number, i: number, v: number, r: number): void {
    if (i < 0) {
      if (r > 0) this.append(u, v, r);
    } else if (r > 0) this.rate[i] = r;
    else {
      // by hand: copyWithin's call costs more than moving a few entries
      const { adj, rate } = this;
      const end = this.start[u]! + this.len[u]! - 1;
      for (let j = i; j < end; j++) {
        adj[j] = adj[j + 1]!;
        rate[j] = rate[j + 1]!;
      }
      this.len[u]! -= 1;
    }
  }

  private move(u: number, room: number): void {
    if (this.used + room > this.adj.length) {
      const size = Math.max(this.used + room, 2 * this.adj.length);
      const adj = new Int32Array(size);
      adj.set(this.adj.subarray(0, this.used));
      const rate = new Float64Array(size);
      rate.set(this.rate.subarray(0, this.used));
      this.adj = adj;
      this.rate = rate;
    }
    const { adj, rate } = this;
    const s = this.start[u]!;
    for (let j = 0; j < this.len[u]!; j++) {
      adj[this.used + j] = adj[s + j]!;
      rate[this.used + j] = rate[s + j]!;
    }
    this.start[u] = this.used;
    this.cap[u] = room;
    this.used += room;
  }
}

