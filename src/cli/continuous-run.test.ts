import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import type { RunRecord } from '../sim/run.ts';
import { continuousRunStart, phaseSummary, quietPeriodsOf } from './continuous-run.ts';
import { isScoreError } from '../errors/errors.ts';

test('phaseSummary: a line per phase of the record (scenario seconds, migrations, the fewest after the first); one line for constant traffic', () => {
  const { model } = loadScenarioFile('paper-phases');
  const phase = (k: number, startSec: number, migrations: number, fewestMigrations: number) => ({ phase: k, startSec, flows: 6, costAtStart: 1, costAfter: 0, migrations, rounds: 3, converged: true, firstStep: 1, fewestMigrations });
  // the traffic began 30 s into the run (emulate): the lines give the scenario's seconds
  const run = { phases: [phase(0, 30, 2, 6), phase(1, 150, 1, 4)] } as unknown as RunRecord;
  assert.deepEqual(phaseSummary(model, run), ['phase 1 from 0 s: 2 migration(s)', 'phase 2 from 120 s: 1 migration(s); the fewest that make its flows local: 4']);
  // constant traffic (the paper scenario): withPhases leaves the record without phases, and the run still gets its line
  const paper = loadScenarioFile('paper').model;
  assert.deepEqual(phaseSummary(paper, { steps: [{}, {}, {}, {}, {}, {}] } as unknown as RunRecord), ['phase 1 from 0 s: 6 migration(s)']);
});

test('continuousRunStart: 64 KiB clean VMs unless --vm-memory or --cm; options without --every are CLI_USAGE', () => {
  assert.equal(continuousRunStart('load-aware', {}), null);
  const d = continuousRunStart('load-aware', { every: '5s' });
  assert.deepEqual(d?.continuous, { everyMs: 5000, memoryBytes: 65536, dirtyRateBytesPerSec: 0 });
  assert.equal(quietPeriodsOf(d), 5);
  const m = continuousRunStart('round-robin', { every: '2s', vmMemory: '1GiB', stableRounds: '2' });
  assert.deepEqual(m?.continuous, { everyMs: 2000, stableRounds: 2, memoryBytes: 1024 ** 3 });
  assert.equal(quietPeriodsOf(m), 4);
  const c = continuousRunStart('round-robin', { every: '2s', cm: '500' });
  assert.equal(c?.migrationCost, 500);
  assert.equal(c?.continuous.memoryBytes, undefined);
  assert.throws(() => continuousRunStart('load-aware', { quiet: '5s' }), (e: unknown) => isScoreError(e, 'CLI_USAGE') && /--quiet needs --every/.test((e as Error).message));
});
