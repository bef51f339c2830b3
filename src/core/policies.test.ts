import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadScenarioFile } from '../scenario/load.ts';
import { rankOf, runPolicy, loadAwareRound, type PolicyName, type RunInput } from './policies.ts';
import { totalCost, trafficMatrix, vmCost } from './cost.ts';
import { build } from './build.ts';
import { threeTier, leafSpine } from '../topologies/generate.ts';
import { randomWorkload } from '../workloads/random.ts';
import { seededRng } from './random.ts';
import { decide } from './decision.ts';

function paperInput(policy: PolicyName): RunInput {
  const { model } = loadScenarioFile('paper');
  return { policy, vms: model.vms, placement: model.placement, traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, rank: model.rank, migrationCost: model.migrationCost };
}

test('paper: both policies reach cost 0 after exactly 6 migrations; Load-Aware is never above Round-Robin', () => {
  const rr = runPolicy(paperInput('round-robin'));
  const la = runPolicy(paperInput('load-aware'));
  for (const r of [rr, la]) {
    assert.equal(r.initialCost, 25000);
    assert.equal(r.finalCost, 0);
    assert.equal(r.steps.length, 6);
    assert.equal(r.converged, true);
  }
  const rrCosts = [rr.initialCost, ...rr.steps.map((s) => s.totalAfter)];
  const laCosts = [la.initialCost, ...la.steps.map((s) => s.totalAfter)];
  laCosts.forEach((c, i) => assert.ok(c <= rrCosts[i]!, `step ${i}: LA ${c} > RR ${rrCosts[i]}`));
  assert.ok(laCosts.some((c, i) => c < rrCosts[i]!), 'Load-Aware is strictly ahead somewhere');
});

test('paper: Round-Robin asks VMs by MAC ascending; Load-Aware starts with the costliest VM (lowest number on ties)', () => {
  const rr = runPolicy(paperInput('round-robin'));
  const firstRound = rr.decisions.filter((d) => d.round === 1).map((d) => d.vm);
  assert.deepEqual(firstRound.slice(0, 4), ['vm1', 'vm2', 'vm3', 'vm4']);
  assert.equal(firstRound.length, 24);
  const la = runPolicy(paperInput('load-aware'));
  // initial C_A: vm3, vm5, vm9, vm21, vm22, vm23 all cost 6000; vm3 has the lowest number
  assert.equal(la.decisions[0]?.vm, 'vm3');
  assert.equal(la.decisions[0]?.costBefore, 6000);
  // Load-Aware never asks a VM whose cost is 0
  for (const d of la.decisions) assert.ok(d.costBefore > 0, 'd.costBefore > 0');
});

test('Load-Aware round: each VM asked at most once, always the costliest not yet asked', () => {
  const { model } = loadScenarioFile('paper');
  const placement = new Map(model.placement);
  const gen = loadAwareRound({ vms: model.vms, traffic: model.traffic, oracle: model.oracle, rank: model.rank }, placement);
  const asked = new Set<string>();
  let next = gen.next({ movedTo: null });
  while (!next.done) {
    const { vm, cost } = next.value;
    assert.ok(!asked.has(vm), '!asked.has(vm)');
    for (const other of model.vms) {
      if (!asked.has(other) && other !== vm) assert.ok(vmCost(other, placement, model.traffic, model.oracle) <= cost, 'vmCost(other, placement, model.traffic, model.oracle) <= cost');
    }
    asked.add(vm);
    next = gen.next({ movedTo: null }); // everybody declines
  }
  assert.equal(next.value, 0);
  assert.deepEqual([...asked].sort(), ['vm1', 'vm10', 'vm11', 'vm2', 'vm21', 'vm22', 'vm23', 'vm3', 'vm5', 'vm6', 'vm9'].sort());
});

const topologies = [build(threeTier({ pods: 2, torsPerPod: 3, hypervisorsPerTor: 3 })), build(leafSpine({ leaves: 4, spines: 2, hypervisorsPerLeaf: 3 }))];

test('property: under every policy the cost never rises, capacity is never exceeded, runs are deterministic', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.constantFrom<PolicyName>('round-robin', 'load-aware'),
      fc.integer({ min: 0, max: 1 }),
      fc.integer({ min: 2, max: 5 }),
      fc.integer({ min: 0, max: 100_000 }),
      (seed, policy, t, cap, cm) => {
        const b = topologies[t]!;
        const w = randomWorkload({ hypervisors: b.topology.hypervisors, vms: Math.min(45, b.topology.hypervisors.length * cap - 3), capacity: cap, partners: 2, rng: seededRng(seed) });
        const input: RunInput = { policy, vms: w.vms, placement: w.placement, traffic: trafficMatrix(w.flows), oracle: b.oracle, capacity: w.capacity, rank: rankOf(w.vms), migrationCost: cm };
        const run = runPolicy(input);
        const placement = new Map(w.placement);
        let prev = run.initialCost;
        for (const s of run.steps) {
          placement.set(s.decision.vm, s.decision.to);
          const counts = new Map<string, number>();
          for (const h of placement.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
          for (const [h, n] of counts) assert.ok(n <= cap, `${h} hosts ${n} > ${cap}`);
          const now = totalCost(placement, input.traffic, b.oracle);
          assert.ok(now < prev - cm + 1e-6, `cost ${prev} -> ${now}`);
          assert.ok(Math.abs(now - s.totalAfter) < 1e-6 * Math.max(1, now), 'Math.abs(now - s.totalAfter) < 1e-6 * Math.max(1, now)');
          prev = now;
        }
        assert.equal(run.finalCost, prev);
        assert.deepEqual(runPolicy(input).steps, run.steps);
      },
    ),
    { numRuns: 80 },
  );
});

test('property: on one snapshot, a larger c_m makes a subset of the VMs willing to migrate', () => {
  const b = topologies[0]!;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 50_000 }), fc.integer({ min: 0, max: 50_000 }), (seed, x, y) => {
      const w = randomWorkload({ hypervisors: b.topology.hypervisors, vms: 40, capacity: 5, partners: 2, rng: seededRng(seed) });
      const traffic = trafficMatrix(w.flows);
      const load = new Map<string, number>();
      for (const h of w.placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
      const willing = (cm: number): Set<string> =>
        new Set(
          w.vms.filter(
            (vm) => decide({ vm, placement: w.placement, traffic, oracle: b.oracle, capacity: w.capacity, load, rank: rankOf(w.vms), migrationCost: cm, mode: 'first' }).to !== null,
          ),
        );
      const lo = willing(Math.min(x, y));
      const hi = willing(Math.max(x, y));
      for (const vm of hi) assert.ok(lo.has(vm), `${vm} migrates at c_m ${Math.max(x, y)} but not at ${Math.min(x, y)}`);
      assert.equal(willing(Number.MAX_SAFE_INTEGER).size, 0);
    }),
    { numRuns: 40 },
  );
});

test('onRound reports every round with the migrations so far and changes nothing', () => {
  const { model } = loadScenarioFile('paper');
  const input = { policy: 'round-robin' as const, vms: model.vms, placement: model.placement, traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, rank: model.rank, migrationCost: 0 };
  const seen: [number, number][] = [];
  const withHook = runPolicy({ ...input, onRound: (round, migrations) => seen.push([round, migrations]) });
  const without = runPolicy(input);
  assert.deepEqual(withHook, without);
  assert.equal(seen.length, without.rounds);
  assert.deepEqual(seen.map(([r]) => r), Array.from({ length: without.rounds }, (_, i) => i + 1));
  assert.equal(seen.at(-1)![1], without.steps.length);
  seen.slice(1).forEach(([, m], i) => assert.ok(m >= seen[i]![1], 'm >= seen[i]![1]'));
});
