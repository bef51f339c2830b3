import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate } from '../sim/run.ts';
import { withMeasuredMigrations } from './live-run.ts';

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
