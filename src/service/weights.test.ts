/**
 * GET /weights on a live controller (issue 15): every layer's effective weight, and how a layer
 * weight and a link override combine (the link override wins for that link alone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock } from '../runtime/clock.ts';
import { startStack } from '../system/stack.ts';

test('weights: every layer listed with its effective weight; a link override beats its layer', async () => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  try {
    for (let i = 0; i < 200 && Object.keys(stack.service.weights().links).length < model.topology.links.length; i++) await clock.advance(250);
    const before = stack.service.weights();
    assert.equal(Object.keys(before.links).length, 24);
    // The paper's scenario sets no weights: the learner's defaults, layer i weighs i, all listed.
    assert.deepEqual(before.layers, { '1': 1, '2': 2, '3': 3 });

    const afterLink = stack.service.setLinkWeight('a1-t1', 5);
    assert.deepEqual(afterLink.layers, { '1': 1, '2': 2, '3': 3 }, 'a link override leaves its layer alone');
    assert.equal(afterLink.links['a1-t1'], 5);

    const afterLayer = stack.service.setLayerWeight(2, 7);
    assert.deepEqual(afterLayer.layers, { '1': 1, '2': 7, '3': 3 });
    assert.equal(afterLayer.links['a1-t1'], 5, 'the link override still wins');
    assert.equal(afterLayer.links['a2-t1'], 7, 'other layer-2 links take the layer weight');
    assert.equal(afterLayer.links['a1-c1'], 3);
  } finally {
    await stack.stop();
  }
});
