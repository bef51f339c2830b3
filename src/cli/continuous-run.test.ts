import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import type { RunRecord } from '../sim/run.ts';
import { continuousRunStart, phaseSummary, quietPeriodsOf } from './continuous-run.ts';
import { isScoreError } from '../errors/errors.ts';

test('phaseSummary: migrations per phase by the steps\' times (shifted by when the traffic began), against the fewest from where the VMs were at each change', () => {
  const { model } = loadScenarioFile('paper-phases');
  const step = (vm: string, to: string, time: number) => ({ step: 0, round: 0, time, vm, from: '?', to, vmCostBefore: 0, vmCostAfter: 0, totalBefore: 0, totalAfter: 0, reason: '' });
  const run = {
    initialPlacement: Object.fromEntries(model.placement),
    // the traffic began 30 s into the run: the change at 120 s is at 150 s on the steps' axis
    steps: [step('vm3', 'hv23', 40), step('vm5', 'hv23', 149), step('vm1', 'hv19', 151)],
  } as unknown as RunRecord;
  const lines = phaseSummary(model, run, 30);
  assert.equal(lines.length, 2);
  assert.equal(lines[0], 'phase 1 from 0 s: 2 migration(s)');
  assert.match(lines[1]!, /^phase 2 from 120 s: 1 migration\(s\); the fewest that make its flows local: \d+$/);
  // without the offset, vm5's move at 149 s would be counted in phase 2
  assert.equal(phaseSummary(model, run)[0], 'phase 1 from 0 s: 1 migration(s)');
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
