import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { startSimExperiment } from './sim-experiment.ts';
import { flowsAt } from '../scenario/timeline.ts';
import { minimumMigrationsToColocate } from '../sim/phased.ts';
import { countOscillations } from '../orchestrator/continuous.ts';
import type { Orchestration } from '../api/contract.ts';

/**
 * The whole system (controller, API over HTTP, 8 agents) on the simulated data plane, with
 * traffic that changes in time: paper-phases swaps partners at 120 s. Continuous mode is started
 * once over the API and nobody acts after that.
 */
test('paper-phases on the simulated data plane: continuous S-CORE re-converges to cost 0 after the change, with the fewest migrations', async () => {
  const { model, file } = loadScenarioFile('paper-phases');
  const e = await startSimExperiment({ model, file, policy: 'load-aware' });
  try {
    const { stack, clock } = e;
    const res = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.operator}`, 'content-type': 'application/json' },
      // 64 KiB, clean: the pre-copy price of a Mininet-size host; the paper's 500 B/s flows pay for it
      body: JSON.stringify({ policy: 'la', continuous: { everyMs: 5000, stableRounds: 3, memoryBytes: 65536, dirtyRateBytesPerSec: 0 } }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const status = (await res.json()) as Orchestration;
    assert.equal(status.state, 'running');
    const waitUntil = async (ms: number) => {
      while (clock.now() < ms) await new Promise((r) => setTimeout(r, 5));
    };
    // The virtual clock runs on its own pump: on a loaded machine it can be seconds ahead of this
    // loop by the time it looks, so the "before" sample is taken well before the change at 120 s
    // (the first phase has long converged by then: 6 moves within about 10 periods).
    await waitUntil(100_000);
    const costBefore = stack.service.cost().cost;
    const atChange = new Map(stack.service.snapshot().placement);
    const movesBefore = stack.service.orchestrator.records.filter((r) => r.status === 'succeeded').length;
    await waitUntil(300_000);
    const o = stack.service.orchestrator;
    const moves = o.records.filter((r) => r.status === 'succeeded').map((r) => ({ vm: r.vm, from: r.from, to: r.to!, period: r.round }));
    const after = moves.length - movesBefore;
    const show = moves.map((m) => `${m.vm}:${m.from}->${m.to}@${m.period}`).join(' ');
    assert.equal(movesBefore, 6, `the first phase converges as in the paper: ${show}`);
    assert.ok(Math.abs(costBefore) < 1e-6, `cost before the change ${costBefore}`);
    const min = minimumMigrationsToColocate(atChange, flowsAt(model.timeline, 121));
    assert.ok(min > 0, 'min > 0');
    assert.equal(after, min, moves.map((m) => `${m.vm}:${m.from}->${m.to}@${m.period}`).join(' '));
    const cost = stack.service.cost();
    assert.ok(Math.abs(cost.cost) < 1e-6, `measured cost after the change ${cost.cost}`);
    // measured traffic is all hypervisor-local again: no aggregation or core utilisation
    assert.equal(cost.layers[1]!.meanUtilisation, 0);
    assert.equal(cost.layers[2]!.meanUtilisation, 0);
    assert.equal(countOscillations(moves, 20), 0);
    assert.equal(o.status().state, 'running');
    assert.equal(o.status().continuous?.holdOff, null);
    // at cost 0 with nothing left to move, GET /orchestration says converged (the trial saw false for 45+ periods)
    const got = (await (await fetch(`${stack.apiUrl}/api/v1/orchestration`, { headers: { authorization: `Bearer ${stack.tokens.operator}` } })).json()) as Orchestration;
    assert.equal(got.converged, true, JSON.stringify(got));
    assert.equal(got.continuous?.lastPeriod?.moved, 0, JSON.stringify(got));
    await o.stop();
  } finally {
    await e.stop();
  }
});

test('the paper scenario under the default pre-copy price: nothing moves, and GET /orchestration and /migrations say why (priced out, once)', async () => {
  const { model, file } = loadScenarioFile('paper');
  const e = await startSimExperiment({ model, file, policy: 'load-aware' });
  try {
    const { stack, clock } = e;
    const auth = { authorization: `Bearer ${stack.tokens.operator}` };
    const res = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ policy: 'la', continuous: { everyMs: 5000 } }) });
    assert.equal(res.status, 200, await res.clone().text());
    while (clock.now() < 90_000) await new Promise((r) => setTimeout(r, 5));
    const o = (await (await fetch(`${stack.apiUrl}/api/v1/orchestration`, { headers: auth })).json()) as Orchestration;
    const last = o.continuous?.lastPeriod;
    assert.ok(last != null && last.asked > 0 && last.pricedOut > 0 && last.moved === 0, JSON.stringify(o));
    assert.ok(last.largestSaving !== null && last.largestSaving.migrationCost > last.largestSaving.saving, JSON.stringify(last));
    const records = (await (await fetch(`${stack.apiUrl}/api/v1/migrations`, { headers: auth })).json()) as { vm: string; status: string; error: { code: string } | null }[];
    assert.equal(records.filter((r) => r.status === 'succeeded').length, 0);
    assert.equal(records.filter((r) => r.error?.code === 'PRICED_OUT').length, 1, JSON.stringify(records.filter((r) => r.vm === '*')));
    await stack.service.orchestrator.stop();
  } finally {
    await e.stop();
  }
});
