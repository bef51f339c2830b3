import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settlingTracker } from './cost-settling.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { startSimExperiment } from '../system/sim-experiment.ts';

const sample = (at: number, cost: number) => ({ at, cost, layers: [{ layer: 1, meanUtilisation: cost / 1e6, activeLinks: 1 }] });

test('samples from a migration start until settleMs after its end hold the last settled value, marked', () => {
  const t = settlingTracker(3000);
  const all = ['vm6>vm11', 'vm11>vm6', 'vm1>vm2'];
  assert.deepEqual(t.sample(sample(1000, 7000), all), sample(1000, 7000));
  t.onEvent({ type: 'migration-started', at: 1500, data: { id: 'm4', vm: 'vm6', from: 'hv17', to: 'hv19' } });
  // the moving VM's old flows are gone, its new ones not yet counted: 3000 is no real saving
  assert.deepEqual(t.sample(sample(2000, 3000), ['vm1>vm2']), { ...sample(2000, 7000), settling: true, measuredCost: 3000 });
  t.onEvent({ type: 'migration-finished', at: 2500, data: { id: 'm4', vm: 'vm6', from: 'hv17', to: 'hv19', status: 'succeeded', step: 4 } });
  // within settleMs of the end: settling even with every pair measured
  assert.deepEqual(t.sample(sample(5000, 6000), all), { ...sample(5000, 7000), settling: true, measuredCost: 6000 });
  // settleMs passed, but vm6's pairs are not measured again yet: still settling
  assert.deepEqual(t.sample(sample(6000, 3000), ['vm1>vm2']), { ...sample(6000, 7000), settling: true, measuredCost: 3000 });
  assert.deepEqual(t.sample(sample(7000, 6000), all), sample(7000, 6000));
  // A failed migration settles the same way (nothing moved, but flows may have been touched).
  t.onEvent({ type: 'migration-started', at: 7500, data: { id: 'm5' } });
  t.onEvent({ type: 'migration-finished', at: 7600, data: { id: 'm5', status: 'failed' } });
  assert.equal(t.sample(sample(8000, 1), all).cost, 6000);
  assert.equal(t.sample(sample(10_600, 5000), all).cost, 5000);
  // A pair missing without any migration event (the move's start not reported yet) holds too,
  // and a pair that really stopped holds the history for at most 10 × settleMs.
  assert.equal(t.sample(sample(11_000, 2000), ['vm1>vm2']).cost, 5000);
  assert.equal(t.sample(sample(40_999, 2000), ['vm1>vm2']).settling, true);
  assert.deepEqual(t.sample(sample(41_000, 2000), ['vm1>vm2']), sample(41_000, 2000));
  assert.equal(t.sample(sample(42_000, 1000), ['vm1>vm2']).settling, undefined, 'the new pair set is the settled one');
});

test("a Load-Aware run's cost history moves only in the steps the migrations made (no false dips)", async () => {
  const { model, file } = loadScenarioFile('paper');
  const exp = await startSimExperiment({ model, file, policy: 'load-aware' });
  try {
    const run = await exp.run();
    const history = exp.stack.service.costHistory();
    // distinct consecutive values from the first sample on
    const steps = history.map((s) => s.cost).filter((c, i, a) => i === 0 || c !== a[i - 1]);
    const expected = [run.initialCost, ...run.steps.map((s) => s.totalAfter)];
    assert.deepEqual(steps.slice(steps.indexOf(run.initialCost)), expected, `history ${JSON.stringify(history.map((s) => [s.cost, s.measuredCost ?? null]))}`);
    assert.ok(history.some((s) => s.settling === true), 'some samples were taken while a migration settled');
  } finally {
    await exp.stop();
  }
});
