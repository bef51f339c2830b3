/**
 * The look-ahead is the gain-ordered planner's: the service refuses it with another policy or
 * with per-VM options it would otherwise ignore (plan, rails, mode, swaps), and continuous mode
 * refuses it too; nothing starts then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock } from '../runtime/clock.ts';
import { startStack } from '../system/stack.ts';
import { isScoreError } from '../errors/errors.ts';

test('lookahead with another policy or with plan, rails, mode or swaps is refused with API_BAD_REQUEST; with continuous with CONTINUOUS_INVALID; nothing starts', async () => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  try {
    for (const body of [
      { policy: 'la' as const, lookahead: true },
      { policy: 'rr' as const, lookahead: true },
      { policy: 'gain' as const, lookahead: true, plan: true },
      { policy: 'gain-order' as const, lookahead: true, rails: { cooldownRounds: 2 } },
      { policy: 'gain' as const, lookahead: true, swaps: true },
      { policy: 'gain' as const, lookahead: true, mode: 'best' as const },
    ]) {
      assert.throws(() => stack.service.startOrchestration(body), (e: unknown) => isScoreError(e, 'API_BAD_REQUEST') && /lookahead goes with the gain-order policy alone/.test(e.message), JSON.stringify(body));
      assert.equal(stack.service.orchestration().state, 'idle');
    }
    assert.throws(() => stack.service.startOrchestration({ policy: 'gain', lookahead: true, continuous: { everyMs: 1000 } }), (e: unknown) => isScoreError(e, 'CONTINUOUS_INVALID') && e.message.includes('lookahead'));
    assert.equal(stack.service.orchestration().state, 'idle');
  } finally {
    await stack.stop();
  }
});

test('plan with swaps, and overcommit without swaps or lookahead, are refused with API_BAD_REQUEST; nothing starts', async () => {
  const { model } = loadScenarioFile('swap');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  try {
    for (const [body, re] of [
      [{ policy: 'la' as const, plan: true, swaps: true }, /plan does not go with swaps/],
      [{ policy: 'gain' as const, plan: true, swaps: true, overcommit: 1 }, /plan does not go with swaps/],
      [{ policy: 'la' as const, overcommit: 1 }, /overcommit goes with swaps: true or lookahead: true/],
      [{ policy: 'la' as const, swaps: false, overcommit: 0 }, /overcommit goes with swaps: true or lookahead: true/],
    ] as const) {
      assert.throws(() => stack.service.startOrchestration(body), (e: unknown) => isScoreError(e, 'API_BAD_REQUEST') && re.test(e.message), JSON.stringify(body));
      assert.equal(stack.service.orchestration().state, 'idle');
    }
  } finally {
    await stack.stop();
  }
});
