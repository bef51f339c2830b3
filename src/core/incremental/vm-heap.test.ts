import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmHeap } from './vm-heap.ts';
import { CostHeap } from '../policies.ts';
import { seededRng, randomInt } from '../random.ts';

// The same pushes and pops on both heaps, ranks being the VM numbers: every pop must give the same
// entry (cost, VM, version). Few distinct costs and few VMs, so equal costs and a VM with several
// entries (stale versions, as the lazy keys leave them) are common; past 1024 entries both grow.
test('VmHeap pops what CostHeap pops when the ranks are the VM numbers, ties and growth included', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = seededRng(seed);
    const a = new VmHeap();
    const b = new CostHeap();
    const vms = seed <= 10 ? 8 : 3000;
    const costs = seed % 2 === 0 ? 4 : 1_000_000;
    let pops = 0;
    for (let step = 0; step < 6000; step++) {
      if (b.size === 0 || rng() < 0.6) {
        const vm = randomInt(rng, vms);
        const cost = randomInt(rng, costs) / 7;
        const version = randomInt(rng, 100);
        a.push(cost, vm, vm, version);
        b.push(cost, vm, vm, version);
      } else {
        a.pop();
        b.pop();
        pops += 1;
        if (a.topCost !== b.topCost || a.topVm !== b.topVm || a.topVersion !== b.topVersion) {
          assert.fail(`seed ${seed}, pop ${pops}: VmHeap gave (${a.topCost}, ${a.topVm}, ${a.topVersion}), CostHeap (${b.topCost}, ${b.topVm}, ${b.topVersion})`);
        }
      }
      assert.equal(a.size, b.size, `seed ${seed}: the same size after step ${step}`);
    }
    while (b.size > 0) {
      a.pop();
      b.pop();
      assert.ok(a.topCost === b.topCost && a.topVm === b.topVm && a.topVersion === b.topVersion, `seed ${seed}: the same entry while emptying`);
    }
  }
});

test('VmHeap refuses a rank that is not the VM number', () => {
  const h = new VmHeap();
  assert.throws(() => h.push(1, 2, 3, 0), /rank/);
  assert.equal(h.size, 0, 'nothing pushed');
});
