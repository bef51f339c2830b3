import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate } from '../sim/run.ts';
import { continuousDone, phaseReadingDue, READING_WAIT_MS, withMeasuredMigrations, withPhases, type PhaseMark } from './live-run.ts';
import { minimumMigrationsToColocate } from '../sim/phased.ts';
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

test('withPhases: the reading at each change goes into the timeline after the points before it; points, steps and phases as simulateTimeline gives them', () => {
  const { file, model } = loadScenarioFile('paper-phases');
  // a live run's record as runRecord makes it: 6 steps, a settled point per step (and step 0)
  const run = { ...simulate(model, { policy: 'load-aware', file, source: 'demo' }), rounds: 30, converged: true, finalCost: 0 };
  assert.equal(run.timeline.length, 7);
  const placement = Object.fromEntries(model.placement);
  const reading = { ...run.timeline[4]!, time: 157, totalCost: 30000 };
  // the traffic began 30 s into the run; phase 2's reading came after step 4 had settled
  const marks: PhaseMark[] = [
    { startSec: 30, point: null, pointsBefore: 0, stepsBefore: 0, period: 0, placement, settled: false },
    { startSec: 150, point: reading, pointsBefore: 5, stepsBefore: 4, period: 12, placement },
  ];
  const out = withPhases(model, run, marks);
  assert.deepEqual(out.timeline.map((p) => [p.step, p.phase]), [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [4, 1], [5, 1], [6, 1]]);
  assert.equal(out.timeline[5]!.totalCost, 30000);
  assert.deepEqual(out.steps.map((x) => x.phase), [0, 0, 0, 0, 1, 1]);
  // phase 2's first migration starts from the reading, not from step 4's point
  assert.equal(out.steps[4]!.totalBefore, 30000);
  assert.deepEqual({ ...out.steps[5]!, phase: undefined }, { ...run.steps[5]!, phase: undefined });
  const fewest = (k: number) => minimumMigrationsToColocate(model.placement, model.timeline.segments[k]!.flows);
  assert.deepEqual(out.phases, [
    { phase: 0, startSec: 30, flows: 6, costAtStart: run.initialCost, costAfter: run.timeline[4]!.totalCost, migrations: 4, rounds: 12, converged: false, firstStep: 1, fewestMigrations: fewest(0) },
    { phase: 1, startSec: 150, flows: 6, costAtStart: 30000, costAfter: 0, migrations: 2, rounds: 18, converged: true, firstStep: 5, fewestMigrations: fewest(1) },
  ]);
  assert.equal(fewest(0), 6, 'the paper needs 6 from its start');
  // a reading after every settled point goes last; a run stopped before the change has phase 0 only
  assert.deepEqual(withPhases(model, run, [marks[0]!, { ...marks[1]!, pointsBefore: 7, stepsBefore: 6 }]).timeline.map((p) => p.phase), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(withPhases(model, run, [marks[0]!]).phases?.map((p) => [p.migrations, p.converged]), [[6, true]]);
  // constant traffic: the record as it was
  const paper = loadScenarioFile('paper');
  assert.equal(withPhases(paper.model, run, marks), run);
});

test('phaseReadingDue: after the rate window, once no migration is in flight or waiting to settle; at most READING_WAIT_MS later', () => {
  const settled = [{ status: 'succeeded' as const, step: 6 }, { status: 'declined' as const, step: null }];
  assert.equal(phaseReadingDue(999, 1000, 6, settled), false, 'the rate window has not passed');
  assert.equal(phaseReadingDue(1000, 1000, 6, settled), true, 'every move has its point');
  // a move made just before the reading: its point comes a settle after it, and the reading waits for it
  const unsettled = [...settled, { status: 'succeeded' as const, step: 7 }];
  assert.equal(phaseReadingDue(1000, 1000, 6, unsettled), false, 'step 7 has moved but not settled');
  assert.equal(phaseReadingDue(1000, 1000, 7, unsettled), true, 'step 7 settled');
  const inFlight = [...settled, { status: 'started' as const, step: null }];
  assert.equal(phaseReadingDue(5000, 1000, 6, inFlight), false, 'a migration in flight');
  assert.equal(phaseReadingDue(1000 + READING_WAIT_MS, 1000, 6, inFlight), true, 'bounded: a point that never comes does not lose the phase');
});
