import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate } from '../sim/run.ts';
import { continuousDone, withMeasuredMigrations } from './live-run.ts';
import { createContinuousState, continuousConfig } from '../orchestrator/continuous.ts';

test('withMeasuredMigrations puts each succeeded record of the same step and VM on its step', () => {
  const { file, model } = loadScenarioFile('paper');
  const run = simulate(model, { policy: 'load-aware', file, source: 'emulate' });
  const [a, b, c] = run.steps;
  assert.ok(a && b && c, 'a && b && c');
  const figures = { source: 'qemu' as const, totalTimeMs: 1200, downtimeMs: 35, setupTimeMs: 4, transferredBytes: 9e7, dirtyPagesRate: 1000, memoryBytes: 268_435_456 };
  const connectivity = { sent: 150, received: 141, blackoutMs: 90 };
  const out = withMeasuredMigrations(run, [
    { vm: a.vm, step: a.step, status: 'succeeded', figures, connectivity },
    // a failed attempt of the same step and VM is not the migration that moved it
    { vm: b.vm, step: b.step, status: 'failed', figures, connectivity },
    // the right step but another VM
    { vm: `${c.vm}-other`, step: c.step, status: 'succeeded', figures, connectivity },
    { vm: c.vm, step: c.step, status: 'succeeded', figures: null, connectivity },
  ]);
  assert.deepEqual(out.steps[0], { ...a, migration: figures, probes: connectivity });
  assert.deepEqual(out.steps[1], b);
  assert.deepEqual(out.steps[2], { ...c, probes: connectivity });
  assert.deepEqual(out.steps.slice(3), run.steps.slice(3));
  assert.deepEqual({ ...out, steps: run.steps }, run);
  // the input is left alone
  assert.equal('migration' in run.steps[0]!, false);
});

test('continuousDone: quiet for N periods since the last move, the last phase and the last no-return bar; nothing chosen now; no hold-off', () => {
  const s = createContinuousState(continuousConfig({ everyMs: 5000, noReturnRounds: 20 }));
  s.period = 30;
  // quiet since period 25 (the last phase's rates measured then): 5 periods
  assert.equal(continuousDone(s, 25, 5), true);
  assert.equal(continuousDone(s, 26, 5), false, 'only 4 periods since the last phase');
  s.moves.push({ vm: 'vm1', from: 'hv1', to: 'hv2', period: 26 });
  assert.equal(continuousDone(s, 20, 5), false, 'a move 4 periods ago');
  s.moves.length = 0;
  // vm1 left hv1 in period 8: barred from it through period 28, so it may still go back at 29
  s.left.vm1 = [{ host: 'hv1', period: 8 }];
  assert.equal(continuousDone(s, 20, 5), false, 'a bar ran out one period ago');
  s.left.vm1 = [{ host: 'hv1', period: 4 }];
  assert.equal(continuousDone(s, 20, 5), true);
  // a bar set after the phase (a move made for the new traffic) is not waited for
  s.left.vm3 = [{ host: 'hv4', period: 22 }];
  assert.equal(continuousDone(s, 20, 5), true, 'a bar from after the phase');
  assert.equal(continuousDone(s, 23, 5), false, 'the same bar, set before the phase');
  delete s.left.vm3;
  // a target chosen in this period, or in the last (read before this period renewed it): the
  // stable rule is counting; a period's end forgets the choices it did not renew (endPeriod)
  s.choices.vm2 = { to: 'hv3', count: 1, period: 30 };
  assert.equal(continuousDone(s, 20, 5), false, 'a choice of this period');
  s.choices.vm2 = { to: 'hv3', count: 2, period: 29 };
  assert.equal(continuousDone(s, 20, 5), false, 'a choice of the last period');
  delete s.choices.vm2;
  assert.equal(continuousDone(s, 20, 5), true);
  s.holdOff = { reason: 'link(s) down', since: 0 };
  assert.equal(continuousDone(s, 20, 5), false, 'held off');
});
