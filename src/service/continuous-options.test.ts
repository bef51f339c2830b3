/**
 * Continuous mode refuses one-shot options instead of dropping them (swaps, rails, plan, ...):
 * an operator who asked for swaps must not believe they are on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock, type VirtualClock } from '../runtime/clock.ts';
import { startStack, type Stack } from '../system/stack.ts';
import { isScoreError } from '../errors/errors.ts';
import { rememberRejected } from './service.ts';

/** The paper's data centre on the simulated data plane and a stack on a virtual clock, stopped after `fn`. */
async function withPaperStack(fn: (stack: Stack, clock: VirtualClock) => void | Promise<void>): Promise<void> {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  try {
    await fn(stack, clock);
  } finally {
    await stack.stop();
  }
}

test('continuous orchestration with swaps, rails or plan is refused with CONTINUOUS_INVALID, naming them; nothing starts', () =>
  withPaperStack((stack) => {
  for (const extra of [{ swaps: true }, { rails: { cooldownRounds: 2 } }, { plan: true }, { swaps: true, overcommit: 1 }]) {
    assert.throws(
      () => stack.service.startOrchestration({ policy: 'la', continuous: { everyMs: 1000 }, ...extra }),
      (e: unknown) => isScoreError(e, 'CONTINUOUS_INVALID') && Object.keys(extra).every((k) => e.message.includes(k)),
      JSON.stringify(extra),
    );
    assert.equal(stack.service.orchestration().state, 'idle');
  }
  }));

test('continuous mode holds off while a path a switch refused is outstanding, and plans again once it is installed', () =>
  withPaperStack(async (stack, clock) => {
  // vm1 -> vm2's path refused by hv16's switch
  const [src, dst, dpid] = ['00:00:00:00:00:01', '00:00:00:00:00:02', 0x116n];
  stack.service.onControllerEvent({ type: 'path-rejected', src, dst, dpid, error: 'FLOW_MOD_FAILED/TABLE_FULL', retryInMs: 1000 });
  stack.service.startOrchestration({ policy: 'la', continuous: { everyMs: 1000 } });
  const o = stack.service.orchestrator;
  for (let i = 0; i < 100 && o.status().continuous?.holdOff == null; i++) await new Promise((r) => setTimeout(r, 5));
  assert.match(o.status().continuous?.holdOff ?? '', /refused by a switch, not installed yet: vm1->vm2/);
  assert.ok(o.records.some((r) => r.error?.code === 'HOLD_OFF' && /refused by a switch/.test(r.error.message)), 'the audit log says why');
  stack.service.onControllerEvent({ type: 'path-installed', src, dst, attempts: 2 });
  for (let i = 0; i < 200 && o.status().continuous?.holdOff != null; i++) {
    await clock.advance(1000);
  }
  assert.equal(o.status().continuous?.holdOff, null, 'planning resumes once the path is installed');
  // the loop sleeps on the virtual clock: keep it running until the stop is seen
  let stopped = false;
  const stopping = o.stop().then(() => (stopped = true));
  for (let i = 0; i < 200 && !stopped; i++) await clock.advance(1000);
  await stopping;
  }));

test('refused paths are remembered from their first refusal, and only the newest are kept', () => {
  const m = new Map<string, number>();
  rememberRejected(m, 'vm1->vm2', 10, 3);
  rememberRejected(m, 'vm1->vm2', 20, 3);
  assert.equal(m.get('vm1->vm2'), 10, 'outstanding since the first refusal');
  for (let i = 3; i <= 6; i++) rememberRejected(m, `vm1->vm${i}`, i * 10, 3);
  assert.deepEqual([...m.keys()], ['vm1->vm4', 'vm1->vm5', 'vm1->vm6']);
});

test('continuous: migrationCost together with a pre-copy parameter is refused with CONTINUOUS_INVALID naming both; nothing starts', () =>
  withPaperStack((stack) => {
  for (const precopy of [{ memoryBytes: 65536 }, { dirtyRateBytesPerSec: 0 }, { bandwidthBytesPerSec: 1e6, amortisationSeconds: 60 }]) {
    assert.throws(
      () => stack.service.startOrchestration({ policy: 'la', migrationCost: 0, continuous: { everyMs: 1000, ...precopy } }),
      (e: unknown) => isScoreError(e, 'CONTINUOUS_INVALID') && ['migrationCost', ...Object.keys(precopy)].every((k) => e.message.includes(k)),
      JSON.stringify(precopy),
    );
    assert.equal(stack.service.orchestration().state, 'idle');
  }
  }));

test('continuous with the gain-ordered policy keeps running on a controller with no agents yet (was: idle, lastError "needs the hypervisors\' capacity")', () =>
  withPaperStack(async (stack, clock) => {
  const o = stack.service.orchestrator;
  stack.service.startOrchestration({ policy: 'gain', migrationCost: 0, continuous: { everyMs: 1000 } });
  for (let i = 0; i < 30; i++) await clock.advance(1000);
  assert.equal(o.status().lastError, null, String(o.status().lastError));
  assert.equal(o.status().state, 'running');
  assert.ok((o.status().continuous?.period ?? 0) > 3, `period ${o.status().continuous?.period}`);
  let stopped = false;
  const stopping = o.stop().then(() => (stopped = true));
  for (let i = 0; i < 200 && !stopped; i++) await clock.advance(1000);
  await stopping;
  }));
