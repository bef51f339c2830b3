/**
 * Continuous mode refuses one-shot options instead of dropping them (swaps, rails, plan, ...):
 * an operator who asked for swaps must not believe they are on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock } from '../runtime/clock.ts';
import { startStack } from '../system/stack.ts';
import { isScoreError } from '../errors/errors.ts';

test('continuous orchestration with swaps, rails or plan is refused with CONTINUOUS_INVALID, naming them; nothing starts', async () => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  try {
    for (const extra of [{ swaps: true }, { rails: { cooldownRounds: 2 } }, { plan: true }, { swaps: true, overcommit: 1 }]) {
      assert.throws(
        () => stack.service.startOrchestration({ policy: 'la', continuous: { everyMs: 1000 }, ...extra }),
        (e: unknown) => isScoreError(e, 'CONTINUOUS_INVALID') && Object.keys(extra).every((k) => e.message.includes(k)),
        JSON.stringify(extra),
      );
      assert.equal(stack.service.orchestration().state, 'idle');
    }
  } finally {
    await stack.stop();
  }
});
