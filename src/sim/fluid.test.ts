import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { linkLoads, layerUtilisation } from './fluid.ts';
import { simulate } from './run.ts';

test('fluid plane: initial paper loads per link and layer', () => {
  const { model } = loadScenarioFile('paper');
  const loads = linkLoads(model, model.placement, model.flows);
  const byId = new Map(loads.map((l) => [l.link, l]));
  // hv16 sends three flows up (vm1, vm2, vm3): 3 × 500 B/s = 12 kb/s from hv16 to t1
  assert.equal(byId.get('hv16-t1')?.abBps, 12000);
  assert.equal(byId.get('hv16-t1')?.baBps, 0);
  assert.ok(Math.abs(byId.get('hv16-t1')!.utilisation - 12000 / 10e6) < 1e-12, 'Math.abs(byId.get(\'hv16-t1\')!.utilisation - 12000 / 10e6) < 1e-12');
  // conservation: every flow puts its rate on each link of its path
  const expected = model.flows.reduce((s, f) => s + f.rate * 8 * model.oracle.path(model.placement.get(f.src)!, model.placement.get(f.dst)!).length, 0);
  assert.equal(loads.reduce((s, l) => s + l.abBps + l.baBps, 0), expected);
  const layers = layerUtilisation(loads, 3);
  assert.deepEqual(layers.map((l) => l.totalLinks), [8, 8, 8]);
  assert.deepEqual(layers.map((l) => l.activeLinks), [5, 3, 2]);
  assert.ok(layers[2]!.meanUtilisation > layers[0]!.meanUtilisation, 'the oversubscribed core layer is the busiest');
});

test('replay: both policies drive every layer to 0 and the timeline matches the steps', () => {
  const { model, file } = loadScenarioFile('paper');
  for (const policy of ['round-robin', 'load-aware'] as const) {
    const r = simulate(model, { policy, file });
    assert.equal(r.timeline.length, r.migrations + 1);
    assert.equal(r.timeline[0]!.totalCost, 25000);
    r.steps.forEach((s, i) => assert.equal(r.timeline[i + 1]!.totalCost, s.totalAfter));
    const last = r.timeline.at(-1)!;
    assert.equal(last.totalCost, 0);
    for (const l of last.layers) assert.equal(l.meanUtilisation, 0);
    assert.equal(r.timeline[1]!.time, 10);
    // byte counters only grow on the virtual clock
    for (let i = 1; i < r.timeline.length; i++) {
      for (const [k, v] of Object.entries(r.timeline[i]!.linkBytes ?? {})) assert.ok(v >= (r.timeline[i - 1]!.linkBytes?.[k] ?? 0), 'v >= (r.timeline[i - 1]!.linkBytes?.[k] ?? 0)');
    }
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'a run record is plain JSON');
  }
});
