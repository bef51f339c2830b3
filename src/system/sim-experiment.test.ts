import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { runSimExperiment } from './sim-experiment.ts';
import { simulate } from '../sim/run.ts';
import type { Stack } from './stack.ts';

test('the whole system on the simulated data plane: controller, API and 8 agents over HTTP reproduce the paper', async () => {
  const { model, file } = loadScenarioFile('paper');
  let seen: { switches: number; agents: number; apiStatus: number } | null = null;
  const runs = await Promise.all(
    (['round-robin', 'load-aware'] as const).map((policy) =>
      runSimExperiment({
        model,
        file,
        policy,
        onReady: (stack: Stack) => {
          if (policy === 'load-aware') {
            seen = { switches: stack.runtime.channels.size, agents: stack.service.hypervisors().filter((h) => h.agent !== null).length, apiStatus: 0 };
          }
        },
      }),
    ),
  );
  assert.deepEqual(seen, { switches: 18, agents: 8, apiStatus: 0 });
  const [rr, la] = runs;
  for (const r of runs) {
    assert.equal(r.migrations, 6);
    assert.ok(Math.abs(r.initialCost - 25000) < 1, `initial cost measured ${r.initialCost}`);
    assert.ok(Math.abs(r.finalCost) < 1e-6, 'Math.abs(r.finalCost) < 1e-6');
    assert.equal(r.converged, true);
    // measured utilisation of the aggregation and core layers falls to 0
    const last = r.timeline.at(-1)!;
    assert.equal(last.layers[1]!.meanUtilisation, 0);
    assert.equal(last.layers[2]!.meanUtilisation, 0);
  }
  la!.timeline.forEach((p, i) => assert.ok(p.totalCost <= rr!.timeline[i]!.totalCost + 1e-6, `step ${i}`));
  // the live system decides exactly as the pure model does
  for (const r of runs) {
    const m = simulate(model, { policy: r.policy, file });
    assert.deepEqual(r.steps.map((s) => [s.vm, s.from, s.to]), m.steps.map((s) => [s.vm, s.from, s.to]));
    r.timeline.forEach((p, i) => assert.ok(Math.abs(p.totalCost - m.timeline[i]!.totalCost) < 1e-3 * Math.max(1, m.timeline[i]!.totalCost), 'Math.abs(p.totalCost - m.timeline[i]!.totalCost) < 1e-3 * Math.max(1, m.timeline[i]!.to...'));
  }
});
