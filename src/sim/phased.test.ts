import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { flowsAt } from '../scenario/timeline.ts';
import { linkLoads } from './fluid.ts';
import { minimumMigrationsToColocate, simulatePhases } from './phased.ts';
import { simulate, simulateTimeline } from './run.ts';

test('fluid model on paper-phases: each phase re-converges to cost 0 with the fewest migrations its pairs need', () => {
  const { model } = loadScenarioFile('paper-phases');
  for (const policy of ['load-aware', 'round-robin'] as const) {
    const [p0, p1] = simulatePhases(model, { policy });
    assert.deepEqual([p0!.startSec, p0!.costAtStart, p0!.costAfter, p0!.migrations], [0, 25000, 0, 6]);
    assert.equal(p1!.startSec, 120);
    assert.ok(p1!.costAtStart > 0, 'the change makes the old placement costly');
    assert.equal(p1!.costAfter, 0);
    const at = new Map(model.placement);
    for (const m of p0!.moves) at.set(m.vm, m.to);
    assert.equal(p1!.migrations, minimumMigrationsToColocate(at, flowsAt(model.timeline, 120)), policy);
    assert.deepEqual(p1!.layers.map((l) => l.loadBps).slice(1), [0, 0], 'no traffic above the hypervisors');
  }
});

test('the minimum to co-locate: group size minus the most members on one hypervisor', () => {
  const at = new Map([['a', 'h1'], ['b', 'h2'], ['c', 'h2'], ['d', 'h3'], ['e', 'h3']]);
  assert.equal(minimumMigrationsToColocate(at, [{ src: 'a', dst: 'b' }, { src: 'b', dst: 'c' }, { src: 'd', dst: 'e' }]), 1);
  assert.equal(minimumMigrationsToColocate(at, [{ src: 'a', dst: 'd' }, { src: 'b', dst: 'e' }]), 2);
  assert.equal(minimumMigrationsToColocate(at, []), 0);
});

test('simulateTimeline: one record whose phases are those of simulatePhases, in either decision mode', () => {
  const { model } = loadScenarioFile('paper-phases');
  for (const policy of ['load-aware', 'round-robin'] as const) {
    for (const mode of ['first', 'best'] as const) {
      const run = simulateTimeline(model, { policy, file: 'paper-phases', decisionMode: mode });
      const phases = simulatePhases(model, { policy, mode });
      assert.deepEqual(
        run.phases?.map((p) => [p.startSec, p.costAtStart, p.costAfter, p.migrations]),
        phases.map((p) => [p.startSec, p.costAtStart, p.costAfter, p.migrations]),
        `${policy} ${mode}`,
      );
      assert.deepEqual(
        phases.map((_, i) => run.steps.filter((s) => s.phase === i).map((s) => [s.vm, s.from, s.to])),
        phases.map((p) => p.moves.map((m) => [m.vm, m.from, m.to])),
        `${policy} ${mode}: the same moves`,
      );
      assert.ok(run.steps.every((s, i) => i === 0 || s.time >= run.steps[i - 1]!.time), 'times never go back');
      assert.deepEqual(run.finalPlacement, Object.fromEntries(simulatePhasesPlacement(model, phases)), 'the last placement');
    }
  }
  // constant traffic: simulateTimeline is simulate
  const paper = loadScenarioFile('paper').model;
  assert.deepEqual(simulateTimeline(paper, { policy: 'load-aware', file: 'paper' }), simulate(paper, { policy: 'load-aware', file: 'paper' }));
});

function simulatePhasesPlacement(model: ReturnType<typeof loadScenarioFile>['model'], phases: ReturnType<typeof simulatePhases>): Map<string, string> {
  const at = new Map(model.placement);
  for (const p of phases) for (const m of p.moves) at.set(m.vm, m.to);
  return at;
}

test('simulateTimeline: link byte counters go on across phases, the idle time before a change included', () => {
  const { model } = loadScenarioFile('paper-phases');
  // nothing moves (c_m too high): phase 0's placement carries its flows from 0 to 120 s
  const run = simulateTimeline(model, { policy: 'load-aware', file: 'paper-phases', migrationCost: 1e12 });
  assert.equal(run.migrations, 0);
  const change = run.timeline.find((p) => p.phase === 1)!;
  assert.equal(change.time, 120);
  const step = run.params.stepSeconds;
  const before = new Map(linkLoads(model, model.placement, flowsAt(model.timeline, 0)).map((l) => [l.link, (l.abBps + l.baBps) / 8]));
  const after = new Map(linkLoads(model, model.placement, flowsAt(model.timeline, 120)).map((l) => [l.link, (l.abBps + l.baBps) / 8]));
  let busy = 0;
  for (const [link, bytes] of Object.entries(change.linkBytes!)) {
    const want = before.get(link)! * 120 + after.get(link)! * step;
    if (want > 0) busy++;
    assert.ok(Math.abs(bytes - want) <= 1e-9 * Math.max(1, want), `${link}: ${bytes} vs ${want}`);
  }
  assert.ok(busy > 0, 'some link carries traffic');
});

test('simulateTimeline: a change at t = 0 is phase 0 (as the data planes play it), and timeline times never go back when a phase starts before the last plan ends', () => {
  const { file } = loadScenarioFile('paper-phases');
  const text = readFileSync(file, 'utf8');
  // the partner change at 0: one segment, the rotated pairs from the start
  const at0 = buildModel(parseScenario(text.replace('  - at: 120', '  - at: 0'), file));
  assert.equal(at0.timeline.segments.length, 1);
  const run0 = simulateTimeline(at0, { policy: 'load-aware', file });
  const [p0] = simulatePhases(at0, { policy: 'load-aware' });
  assert.equal(run0.initialCost, p0!.costAtStart);
  assert.deepEqual(run0.steps.map((s) => [s.vm, s.to]), p0!.moves.map((m) => [m.vm, m.to]));
  // a change at 30 s, while phase 0's plan (6 migrations, 10 s apart) still runs
  const early = buildModel(parseScenario(text.replace('  - at: 120', '  - at: 30'), file));
  for (const policy of ['load-aware', 'round-robin'] as const) {
    const run = simulateTimeline(early, { policy, file });
    assert.ok(run.timeline.every((p, i) => i === 0 || p.time >= run.timeline[i - 1]!.time), `${policy}: ${run.timeline.map((p) => p.time).join(',')}`);
  }
});
