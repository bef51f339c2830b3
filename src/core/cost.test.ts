import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { totalCost, trafficMatrix, vmCost, lambda, worthMigrating } from './cost.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { build } from './build.ts';
import { threeTier } from '../topologies/generate.ts';
import { randomWorkload } from '../workloads/random.ts';
import { seededRng } from './random.ts';

test("paper scenario: initial C_A is the sum of Table II's path costs times λ", () => {
  const { model } = loadScenarioFile('paper');
  // λ = 50 bytes × 10 packets/s = 500 bytes/s per pair; path costs 2 + 6 + 12 + 6 + 12 + 12 = 50
  assert.equal(totalCost(model.placement, model.traffic, model.oracle), 500 * 50);
  assert.equal(vmCost('vm6', model.placement, model.traffic, model.oracle), 500 * 2 + 500 * 6);
  assert.equal(vmCost('vm6', model.placement, model.traffic, model.oracle, 'hv16'), 500 * 0 + 500 * 6);
  assert.equal(vmCost('vm24', model.placement, model.traffic, model.oracle), 0);
});

test('λ is symmetric and adds both directions', () => {
  const t = trafficMatrix([
    { src: 'a', dst: 'b', rate: 3 },
    { src: 'b', dst: 'a', rate: 4 },
    { src: 'a', dst: 'a', rate: 9 },
  ]);
  assert.equal(lambda(t, 'a', 'b'), 7);
  assert.equal(lambda(t, 'b', 'a'), 7);
  assert.equal(lambda(t, 'a', 'a'), 0);
});

test('Eq. 2 equals half the sum of Eq. 1 over all VMs; collocating everything costs 0', () => {
  const b = build(threeTier({ pods: 2, torsPerPod: 2, hypervisorsPerTor: 3 }));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
      const w = randomWorkload({ hypervisors: b.topology.hypervisors, vms: 30, capacity: 5, partners: 2, rng: seededRng(seed) });
      const t = trafficMatrix(w.flows);
      const sum = w.vms.reduce((s, vm) => s + vmCost(vm, w.placement, t, b.oracle), 0);
      assert.ok(Math.abs(totalCost(w.placement, t, b.oracle) - sum / 2) < 1e-6 * Math.max(1, sum), 'Math.abs(totalCost(w.placement, t, b.oracle) - sum / 2) < 1e-6 * Math.max(1, sum)');
      const together = new Map(w.vms.map((vm) => [vm, 'h1']));
      assert.equal(totalCost(together, t, b.oracle), 0);
    }),
    { numRuns: 50 },
  );
});

test('Eq. 3: migrate only when the saving exceeds c_m', () => {
  assert.equal(worthMigrating(10, 4, 5), true);
  assert.equal(worthMigrating(10, 5, 5), false);
  assert.equal(worthMigrating(10, 10, 0), false);
  assert.equal(worthMigrating(0.1 + 0.2, 0.3, 0), false, 'rounding noise is not a saving');
});
