import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, type DecisionMode } from './decision.ts';
import { totalCost, trafficMatrix } from './cost.ts';
import { build } from './build.ts';
import { threeTier } from '../topologies/generate.ts';
import { randomWorkload } from '../workloads/random.ts';
import { seededRng } from './random.ts';
import { rankOf } from './policies.ts';
import { loadScenarioFile } from '../scenario/load.ts';

function loadOf(placement: ReadonlyMap<string, string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const h of placement.values()) m.set(h, (m.get(h) ?? 0) + 1);
  return m;
}

test('Algorithm 1 on the paper: vm6 tries its heaviest flow first; c_m and idle VMs keep VMs in place', () => {
  const { model } = loadScenarioFile('paper');
  const base = { traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, rank: model.rank, migrationCost: 0, mode: 'first' as const };
  const d = decide({ ...base, vm: 'vm6', placement: model.placement, load: loadOf(model.placement) });
  // flows: vm11 on hv19 (cost 3000) then vm1 on hv16 (cost 1000); hv19 gives 3000 (< 4000): chosen
  assert.deepEqual(d.candidates.map((c) => [c.hypervisor, c.verdict]), [['hv19', 'chosen'], ['hv16', 'not-evaluated']]);
  assert.equal(d.to, 'hv19');
  assert.equal(d.costBefore, 4000);
  assert.equal(d.costAfter, 3000);
  const best = decide({ ...base, mode: 'best', vm: 'vm6', placement: model.placement, load: loadOf(model.placement) });
  assert.deepEqual(best.candidates.map((c) => [c.hypervisor, c.verdict, c.costThere]), [['hv19', 'chosen', 3000], ['hv16', 'improves', 3000]]);
  // equal savings: best keeps the earlier (heavier-flow) candidate
  // with c_m = 1000 the saving of 1000 is not enough
  const costly = decide({ ...base, migrationCost: 1000, vm: 'vm6', placement: model.placement, load: loadOf(model.placement) });
  assert.equal(costly.to, null);
  assert.match(costly.reason, /c_m = 1000/);
  // a VM without traffic never moves
  const idle = decide({ ...base, vm: 'vm24', placement: model.placement, load: loadOf(model.placement) });
  assert.equal(idle.to, null);
  assert.equal(idle.reason, 'no traffic');
});

test('Algorithm 1: a full hypervisor is never a target', () => {
  const { model } = loadScenarioFile('paper');
  const load = loadOf(model.placement);
  load.set('hv23', 5);
  const d = decide({ vm: 'vm3', placement: model.placement, traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, load, rank: model.rank, migrationCost: 0, mode: 'first' });
  assert.equal(d.to, null);
  assert.equal(d.candidates[0]?.verdict, 'full');
  assert.equal(d.reason, 'every candidate hypervisor is full');
});

const topo = build(threeTier({ pods: 2, torsPerPod: 2, hypervisorsPerTor: 3 }));

test('property: a chosen migration lowers the total cost by more than c_m and respects capacity', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 0, max: 200_000 }),
      fc.constantFrom<DecisionMode>('first', 'best'),
      fc.integer({ min: 2, max: 6 }),
      (seed, cm, mode, cap) => {
        const rng = seededRng(seed);
        const w = randomWorkload({ hypervisors: topo.topology.hypervisors, vms: Math.min(40, cap * 12), capacity: cap, partners: 3, rng });
        const traffic = trafficMatrix(w.flows);
        const load = loadOf(w.placement);
        const rank = rankOf(w.vms);
        const before = totalCost(w.placement, traffic, topo.oracle);
        for (const vm of w.vms) {
          const d = decide({ vm, placement: w.placement, traffic, oracle: topo.oracle, capacity: w.capacity, load, rank, migrationCost: cm, mode });
          if (d.to === null) continue;
          assert.ok((load.get(d.to) ?? 0) < cap, 'target has a free slot');
          const after = totalCost(new Map(w.placement).set(vm, d.to), traffic, topo.oracle);
          assert.ok(after < before - cm + 1e-6, `total ${before} -> ${after} with c_m ${cm}`);
          assert.ok(Math.abs(before - after - (d.costBefore - d.costAfter)) < 1e-6 * Math.max(1, before), 'Δ total = Δ C_A(u)');
        }
      },
    ),
    { numRuns: 100 },
  );
});

test('property: best mode never ends above first mode, and both only pick peer hosts', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
      const w = randomWorkload({ hypervisors: topo.topology.hypervisors, vms: 36, capacity: 4, partners: 3, rng: seededRng(seed) });
      const traffic = trafficMatrix(w.flows);
      const load = loadOf(w.placement);
      const rank = rankOf(w.vms);
      for (const vm of w.vms) {
        const args = { vm, placement: w.placement, traffic, oracle: topo.oracle, capacity: w.capacity, load, rank, migrationCost: 0 };
        const first = decide({ ...args, mode: 'first' });
        const best = decide({ ...args, mode: 'best' });
        assert.ok(best.costAfter <= first.costAfter, 'best.costAfter <= first.costAfter');
        assert.equal(first.to === null, best.to === null);
        const peerHosts = new Set([...(traffic.peers.get(vm)?.keys() ?? [])].map((p) => w.placement.get(p)));
        if (best.to !== null) assert.ok(peerHosts.has(best.to), 'peerHosts.has(best.to)');
      }
    }),
    { numRuns: 60 },
  );
});
