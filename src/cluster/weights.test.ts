import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overrideOf, withOverride } from './weights.ts';

test('weight overrides: last value per target wins and moves to the end; events map to overrides', () => {
  let l = withOverride([], { kind: 'layer', target: '1', weight: 2 });
  l = withOverride(l, { kind: 'link', target: 'a-b', weight: 5 });
  l = withOverride(l, { kind: 'layer', target: '1', weight: 3 });
  assert.deepEqual(l, [
    { kind: 'link', target: 'a-b', weight: 5 },
    { kind: 'layer', target: '1', weight: 3 },
  ]);
  assert.deepEqual(overrideOf({ type: 'weight-changed', at: 0, data: { layer: 2, weight: 4 } }), { kind: 'layer', target: '2', weight: 4 });
  assert.deepEqual(overrideOf({ type: 'weight-changed', at: 0, data: { link: 'x-y', weight: 1 } }), { kind: 'link', target: 'x-y', weight: 1 });
  assert.equal(overrideOf({ type: 'cost', at: 0, data: { cost: 1 } }), undefined);
});
