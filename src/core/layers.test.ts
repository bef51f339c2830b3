import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fatTree, leafSpine, threeTier } from '../topologies/generate.ts';
import { build } from './build.ts';
import { assignWeights, layerWeights } from './layers.ts';
import { loadScenarioFile } from '../scenario/load.ts';

test('paper scenario: hypervisor-ToR links weigh 1, ToR-aggregation 2, aggregation-core 3', () => {
  const { model } = loadScenarioFile('paper');
  assert.equal(model.weights.get('hv16-t1'), 1);
  assert.equal(model.weights.get('a1-t1'), 2);
  assert.equal(model.weights.get('a1-c1'), 3);
  assert.equal(model.layers.nodeLayer.get('c2'), 3);
  assert.equal(model.layers.maxLayer, 3);
  assert.equal(model.weights.size, model.topology.links.length);
});

test('fat-tree(k): every link gets its layer weight', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }).map((h) => h * 2), (k) => {
      const g = fatTree(k);
      const b = build(g);
      for (const l of g.links) {
        const id = l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`;
        assert.equal(b.layers.linkLayer.get(id), l.expectedLayer, `${g.name} ${id}`);
        assert.equal(b.weights.get(id), l.expectedLayer);
      }
    }),
    { numRuns: 5 },
  );
});

test('three-tier and leaf-spine of any shape: every link gets its layer weight, overrides win', () => {
  fc.assert(
    fc.property(
      fc.record({
        pods: fc.integer({ min: 1, max: 4 }),
        torsPerPod: fc.integer({ min: 1, max: 4 }),
        hypervisorsPerTor: fc.integer({ min: 1, max: 4 }),
        aggPerPod: fc.integer({ min: 1, max: 3 }),
        cores: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({ c1: fc.integer({ min: 1, max: 9 }), c2: fc.integer({ min: 1, max: 9 }), c3: fc.integer({ min: 1, max: 9 }) }),
      (shape, c) => {
        const g = threeTier(shape);
        const b = build(g, { layers: { 1: c.c1, 2: c.c2, 3: c.c3 } });
        for (const l of g.links) {
          const id = l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`;
          assert.equal(b.weights.get(id), [0, c.c1, c.c2, c.c3][l.expectedLayer]);
        }
      },
    ),
    { numRuns: 60 },
  );
  const ls = leafSpine({ leaves: 4, spines: 3, hypervisorsPerLeaf: 2 });
  const b = build(ls, { links: { 'l1-s1': 7 } });
  assert.equal(b.weights.get('l1-s1'), 7);
  assert.equal(b.weights.get('l1-s2'), 2);
  assert.equal(b.weights.get('h1-l1'), 1);
});

test('a link no hypervisor reaches gets no weight', () => {
  const b = build({
    nodes: [
      { id: 'h1', kind: 'hypervisor' },
      { id: 't1', kind: 'switch' },
      { id: 'x', kind: 'switch' },
      { id: 'y', kind: 'switch' },
    ],
    links: [
      { a: 'h1', b: 't1', capacityBps: 1 },
      { a: 'x', b: 'y', capacityBps: 1 },
    ],
  });
  assert.equal(b.weights.has('x-y'), false);
  assert.equal(b.weights.get('h1-t1'), 1);
});

test('layerWeights: every layer 1..maxLayer, overridden or the default i; link overrides do not change it', () => {
  const { model } = loadScenarioFile('paper');
  assert.deepEqual([...layerWeights(model.layers)], [[1, 1], [2, 2], [3, 3]]);
  const overrides = { layers: { 2: 7 }, links: { 'a1-t1': 5 } };
  assert.deepEqual([...layerWeights(model.layers, overrides)], [[1, 1], [2, 7], [3, 3]]);
  const w = assignWeights(model.layers, overrides);
  assert.equal(w.get('a1-t1'), 5, 'the link override wins');
  assert.equal(w.get('a2-t1'), 7, 'the other layer-2 links weigh the layer weight');
});

test('layerWeights: an override for a layer not discovered yet shows as set (no switches connected)', () => {
  const { model } = loadScenarioFile('paper');
  const none = { ...model.layers, maxLayer: 0, linkLayer: new Map<string, number>() };
  assert.deepEqual([...layerWeights(none)], []);
  assert.deepEqual([...layerWeights(none, { layers: { 1: 7 } })], [[1, 7]]);
  assert.deepEqual([...layerWeights(model.layers, { layers: { 5: 9 } })], [[1, 1], [2, 2], [3, 3], [5, 9]]);
});
