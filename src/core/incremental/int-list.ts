/**
 * A list of int32s kept from use to use (cleared, not replaced). The planner's per-round lists
 * (VMs marked, touched, set aside) reach tens of thousands of entries each period; as JS arrays
 * each growth copied them into a new old-generation object, so an epoch fed the old-generation
 * collector megabytes it did not keep. `items` is valid up to `length` until the next `push`.
 */
export class IntList {
  items: Int32Array;
  length = 0;

  constructor(room = 1024) {
    this.items = new Int32Array(Math.max(16, room));
  }

  push(x: number): void {
    if (this.length === this.items.length) {
      const grown = new Int32Array(2 * this.items.length);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length++] = x;
  }

  clear(): void {
    this.length = 0;
  }
}
