import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { solveOptimal } from '../core/exact.ts';
import { SMALL_TOPOLOGIES, smallInstance } from '../core/test-instances.ts';
import { runStrategy } from '../core/baselines.ts';
import { capacityLowerBound } from './bound.ts';

test('slot-capacity lower bound: never above the exact optimum (60 small instances on two topologies)', () => {
  let positive = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const inst = smallInstance(seed, { vms: 9, slots: 2, topology: seed % 2, partners: 3 });
    const bound = capacityLowerBound({ topology: inst.built.topology, oracle: inst.oracle, vms: inst.vms, traffic: inst.traffic, capacity: inst.capacity });
    const opt = solveOptimal({ vms: inst.vms, traffic: inst.traffic, oracle: inst.oracle, capacity: inst.capacity, incumbent: inst.placement });
    assert.ok(opt.proven, `seed ${seed}: optimum proven`);
    assert.ok(bound.cost >= 0 && bound.cost <= opt.cost + 1e-9, `seed ${seed}: bound ${bound.cost} <= optimum ${opt.cost}`);
    const la = runStrategy('lookahead', inst);
    assert.ok(bound.cost <= la.finalCost + 1e-9, 'bound.cost <= la.finalCost + 1e-9');
    if (bound.cost > 0) positive += 1;
  }
  // with 2 slots per hypervisor and 3 partners per VM the bound has something to say on most instances
  assert.ok(positive >= 30, `bound positive on ${positive} of 60`);
});

test('slot-capacity lower bound is reached where the capacity is all that stands in the way', () => {
  // three-tier 2x2x2: 2 hypervisors per ToR (cost 2 apart), 2 slots each. a-b heavy, b-c light:
  // one of the three must leave the pair's hypervisor, at best to its rack mate, and it should be c
  const built = SMALL_TOPOLOGIES[0]!;
  const [h1, h2, , , h5] = [...built.topology.hypervisors].sort();
  const traffic = trafficMatrix([
    { src: 'a', dst: 'b', rate: 10 },
    { src: 'b', dst: 'c', rate: 1 },
  ]);
  const capacity = new Map(built.topology.hypervisors.map((h) => [h, 2]));
  const bound = capacityLowerBound({ topology: built.topology, oracle: built.oracle, vms: ['a', 'b', 'c'], traffic, capacity });
  const best = totalCost(new Map([['a', h1!], ['b', h1!], ['c', h2!]]), traffic, built.oracle);
  assert.equal(built.oracle.cost(h1!, h2!), 2);
  assert.equal(best, 2);
  assert.equal(bound.cost, 2);
  assert.deepEqual(bound.levels.map((l) => [l.partSlots, l.by]).slice(0, 1), [[2, 'spanning-tree']]);
  // with c on another ToR the cost only grows: the bound stays below
  assert.ok(totalCost(new Map([['a', h1!], ['b', h1!], ['c', h5!]]), traffic, built.oracle) > bound.cost, 'totalCost(new Map([[\'a\', h1!], [\'b\', h1!], [\'c\', h5!]]), traffic, built.oracle) > bound...');
});

test('slot-capacity lower bound: 0 when everything can share one hypervisor', () => {
  const built = SMALL_TOPOLOGIES[1]!;
  const traffic = trafficMatrix([
    { src: 'a', dst: 'b', rate: 10 },
    { src: 'b', dst: 'c', rate: 1 },
  ]);
  const capacity = new Map(built.topology.hypervisors.map((h) => [h, 3]));
  assert.equal(capacityLowerBound({ topology: built.topology, oracle: built.oracle, vms: ['a', 'b', 'c'], traffic, capacity }).cost, 0);
});
