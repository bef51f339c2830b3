/** A placement as a read-only map over a snapshot of host numbers. */
export class PlacementView implements ReadonlyMap<string, string> {
  constructor(
    private readonly names: readonly string[],
    private readonly id: ReadonlyMap<string, number>,
    private readonly hvNames: readonly string[],
    private readonly hosts: Int32Array,
  ) {}
  get size(): number {
    return this.names.length;
  }
  get(vm: string): string | undefined {
    const u = this.id.get(vm);
    return u === undefined ? undefined : this.hvNames[this.hosts[u]!];
  }
  has(vm: string): boolean {
    return this.id.has(vm);
  }
  forEach(f: (host: string, vm: string, map: ReadonlyMap<string, string>) => void): void {
    for (let u = 0; u < this.names.length; u++) f(this.hvNames[this.hosts[u]!]!, this.names[u]!, this);
  }
  *entries(): MapIterator<[string, string]> {
    for (let u = 0; u < this.names.length; u++) yield [this.names[u]!, this.hvNames[this.hosts[u]!]!];
  }
  *keys(): MapIterator<string> {
    yield* this.names;
  }
  *values(): MapIterator<string> {
    for (let u = 0; u < this.names.length; u++) yield this.hvNames[this.hosts[u]!]!;
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}
