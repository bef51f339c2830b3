import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate, simulateTimeline } from '../sim/run.ts';
import { stepsCsv, timelineCsv } from './csv.ts';

const STEPS_HEAD = 'policy,step,round,vm,from,to,vm_cost_before,vm_cost_after,total_before,total_after,reason';
const TIMELINE_HEAD = 'policy,step,time_s,total_cost,layer1_mean_utilisation,layer1_active_links,layer2_mean_utilisation,layer2_active_links,layer3_mean_utilisation,layer3_active_links';

const lines = (csv: string): string[] => csv.trimEnd().split('\n');
const lastCell = (line: string): string => line.slice(line.lastIndexOf(',') + 1);

test('steps.csv and timeline.csv end with a phase column (0-based, as runs.json) for a run with phases', () => {
  const { model, file } = loadScenarioFile('paper-phases');
  const la = simulateTimeline(model, { policy: 'load-aware', file });
  const steps = lines(stepsCsv([la]));
  assert.equal(steps[0], `${STEPS_HEAD},phase`);
  assert.deepEqual(steps.slice(1).map(lastCell), la.steps.map((s) => String(s.phase)));
  assert.deepEqual(steps.slice(1).map(lastCell), ['0', '0', '0', '0', '0', '0', '1', '1', '1', '1', '1', '1']);
  const timeline = lines(timelineCsv([la]));
  assert.equal(timeline[0], `${TIMELINE_HEAD},phase`);
  assert.deepEqual(timeline.slice(1).map(lastCell), la.timeline.map((p) => String(p.phase)));
  // the point at the change: step 6 again, at 120 s, in phase 1
  const change = timeline.find((l) => /^load-aware,6,120,/.test(l));
  assert.ok(change !== undefined, `a row at the change: ${timeline.join('\n')}`);
  assert.equal(lastCell(change), '1');
});

test('without phases the CSVs are as before (no phase column); beside a phased run, an unphased run\'s phase cells are empty', () => {
  const { model, file } = loadScenarioFile('paper');
  const la = simulate(model, { policy: 'load-aware', file });
  assert.deepEqual(simulateTimeline(model, { policy: 'load-aware', file }), la, 'one segment: simulateTimeline is simulate');
  const steps = lines(stepsCsv([la]));
  assert.equal(steps[0], STEPS_HEAD);
  assert.equal(steps.length, 1 + 6);
  // every row ends with its reason, as before phases (these reasons need no quoting)
  la.steps.forEach((s, i) => {
    assert.ok(!/[",\n]/.test(s.reason), `a plain reason: ${s.reason}`);
    assert.equal(steps[i + 1], ['load-aware', s.step, s.round, s.vm, s.from, s.to, s.vmCostBefore, s.vmCostAfter, s.totalBefore, s.totalAfter, s.reason].join(','));
  });
  assert.equal(lines(timelineCsv([la]))[0], TIMELINE_HEAD);
  const phased = simulateTimeline(loadScenarioFile('paper-phases').model, { policy: 'round-robin', file });
  const mixed = lines(stepsCsv([la, phased]));
  assert.equal(mixed[0], `${STEPS_HEAD},phase`);
  assert.ok(mixed.slice(1, 7).every((l) => l.endsWith(',')), `the unphased run's cells are empty: ${mixed.slice(1, 7).join('\n')}`);
  assert.ok(mixed.slice(7).every((l) => /,[01]$/.test(l)), 'the phased run\'s are its phases');
  const mixedTimeline = lines(timelineCsv([la, phased]));
  assert.ok(mixedTimeline.slice(1).filter((l) => l.startsWith('load-aware,')).every((l) => l.endsWith(',')), 'timeline: empty for the unphased run');
});
