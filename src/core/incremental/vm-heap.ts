/**
 * policies.ts's `CostHeap` (highest cost first, lower rank first among equals) for entries whose
 * rank is their VM number, as the incremental planner's are (it numbers VMs in rank order): the
 * rank is not stored apart, and each entry's VM and version sit side by side, so a sift step moves
 * an entry with two stores into two arrays instead of four. The sift steps are `CostHeap`'s, with
 * the VM number read where it reads the rank, so the same pushes and pops give the same entries in
 * the same order, ties included (`vm-heap.test.ts` checks that against `CostHeap`).
 */
export class VmHeap {
  size = 0;
  topCost = 0;
  topVm = 0;
  topVersion = 0;
  private cost = new Float64Array(1024);
  /** per entry i: its VM (2i) and version (2i + 1) */
  private vv = new Int32Array(2048);

  /**
   * `CostHeap.push`'s signature; `rank` must be `vm` (the tie-break is read from the VM number)
   * @throws Error when it is not
   */
  push(cost: number, rank: number, vm: number, version: number): void {
    if (rank !== vm) throw new Error(`VmHeap: the rank (${rank}) must be the VM number (${vm})`);
    if (this.size === this.cost.length) this.grow();
    const c = this.cost;
    const vv = this.vv;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(cost > c[p]! || (cost === c[p]! && vm < vv[2 * p]!))) break;
      c[i] = c[p]!;
      vv[2 * i] = vv[2 * p]!;
      vv[2 * i + 1] = vv[2 * p + 1]!;
      i = p;
    }
    c[i] = cost;
    vv[2 * i] = vm;
    vv[2 * i + 1] = version;
  }

  /** removes the top entry into topCost, topVm, topVersion; size must be > 0 */
  pop(): void {
    const c = this.cost;
    const vv = this.vv;
    this.topCost = c[0]!;
    this.topVm = vv[0]!;
    this.topVersion = vv[1]!;
    const n = --this.size;
    if (n === 0) return;
    const lc = c[n]!;
    const lv = vv[2 * n]!;
    const lver = vv[2 * n + 1]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const rr = l + 1;
      const ch = rr < n && (c[rr]! > c[l]! || (c[rr] === c[l] && vv[2 * rr]! < vv[2 * l]!)) ? rr : l;
      if (!(c[ch]! > lc || (c[ch] === lc && vv[2 * ch]! < lv))) break;
      c[i] = c[ch]!;
      vv[2 * i] = vv[2 * ch]!;
      vv[2 * i + 1] = vv[2 * ch + 1]!;
      i = ch;
    }
    c[i] = lc;
    vv[2 * i] = lv;
    vv[2 * i + 1] = lver;
  }

  private grow(): void {
    const cost = new Float64Array(2 * this.cost.length);
    cost.set(this.cost);
    this.cost = cost;
    const vv = new Int32Array(2 * this.vv.length);
    vv.set(this.vv);
    this.vv = vv;
  }
}
