import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate, simulateTimeline } from '../sim/run.ts';
import { costRows, costTable } from './tables.ts';

test('costRows: a row per step labelled by its step number; a phase start repeats the step before it and is labelled so', () => {
  const { model, file } = loadScenarioFile('paper-phases');
  const la = simulateTimeline(model, { policy: 'load-aware', file });
  const rows = costRows([la]);
  assert.equal(rows.length, la.timeline.length);
  const i = rows.findIndex((r) => r.label === '6 (phase 2 starts)');
  assert.equal(rows[i - 1]?.label, '6', 'the phase start follows the step it repeats');
  assert.equal(rows[i]?.costs[0], la.phases![1]!.costAtStart);
  // the last row is the last migration's step, not one past it
  assert.equal(rows.at(-1)?.label, String(la.steps.at(-1)!.step));
  assert.equal(rows.at(-1)?.costs[0], la.finalCost);
  // runs side by side: a run without the row leaves its cell empty
  const paper = loadScenarioFile('paper');
  const one = simulate(paper.model, { policy: 'load-aware', file: paper.file });
  const both = costRows([la, one]);
  assert.equal(both.find((r) => r.label === '6 (phase 2 starts)')?.costs[1], undefined);
  assert.equal(both.find((r) => r.label === '0')?.costs[1], one.initialCost);
  assert.match(costTable([la]), /│ 6 \(phase 2 starts\) │/);
});
