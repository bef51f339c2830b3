import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SPEC_HYPERVISORS, MAX_SPEC_LINKS, specSize, topologyFromSpec } from './spec.ts';
import { isScoreError } from '../errors/errors.ts';
import { build } from '../core/build.ts';

test('fat-tree:K has K^3/4 hypervisors and (K/2)^2 cores', () => {
  const g = topologyFromSpec('fat-tree:8');
  assert.equal(g.nodes.filter((n) => n.kind === 'hypervisor').length, 128);
  assert.equal(g.nodes.filter((n) => n.id.startsWith('c')).length, 16);
  assert.equal(g.name, 'fat-tree(8)');
});

test('three-tier oversubscription sets the uplink capacities from the access capacity', () => {
  const g = topologyFromSpec('three-tier:2x4x20', { oversubscription: '2.5:4', accessBps: 1e9 });
  const cap = (layer: number) => g.links.find((l) => l.expectedLayer === layer)!.capacityBps;
  // a ToR sends 20 Gb/s down; its 2 uplinks carry 1/2.5 of that
  assert.equal(cap(1), 1e9);
  assert.equal(2 * cap(2), (20 * 1e9) / 2.5);
  // an aggregation switch receives 4 ToR uplinks; its 2 core uplinks carry 1/4 of that
  assert.equal(2 * cap(3), (4 * cap(2)) / 4);
  const b = build(g);
  assert.equal(b.layers.maxLayer, 3);
});

test('leaf-spine has two link layers', () => {
  const b = build(topologyFromSpec('leaf-spine:4x2x3'));
  assert.equal(b.topology.hypervisors.length, 12);
  assert.equal(b.layers.maxLayer, 2);
});

test('bad topology specs are CLI_USAGE errors naming what was expected', () => {
  for (const [spec, opts, re] of [
    ['fat-tree:7', {}, /even/],
    ['fat-tree:x', {}, /expected a positive integer$/],
    ['three-tier:2x3', {}, /3 positive integers/],
    ['torus:4', {}, /expected fat-tree:K/],
    ['fat-tree:4', { oversubscription: '2:2' }, /three-tier topologies only/],
    ['three-tier:1x1x1', { oversubscription: '0.5:1' }, /ratios >= 1/],
  ] as const) {
    assert.throws(() => topologyFromSpec(spec, opts), (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE' && re.test(e.message), spec);
  }
});

test('a topology past the size bound is refused before it is built; the bound counts what the generators make', () => {
  for (const spec of ['fat-tree:200', 'three-tier:100x100x100', 'leaf-spine:2000x600x1']) {
    const t0 = Date.now();
    assert.throws(() => topologyFromSpec(spec), (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE' && /too large/.test(e.message), spec);
    assert.ok(Date.now() - t0 < 1000, `${spec}: refused at once, not after building it`);
  }
  // the size check's own formulas against the generators' counts
  const counts = (spec: string) => {
    const g = topologyFromSpec(spec);
    return { hypervisors: g.nodes.filter((n) => n.kind === 'hypervisor').length, links: g.links.length };
  };
  for (const k of [2, 4, 8]) assert.deepEqual(specSize('fat-tree', [k]), counts(`fat-tree:${k}`), `fat-tree:${k}`);
  for (const n of [[2, 3, 4], [1, 1, 1], [3, 2, 5]]) assert.deepEqual(specSize('three-tier', n), counts(`three-tier:${n.join('x')}`), `three-tier:${n.join('x')}`);
  for (const n of [[4, 2, 3], [1, 1, 1], [5, 3, 2]]) assert.deepEqual(specSize('leaf-spine', n), counts(`leaf-spine:${n.join('x')}`), `leaf-spine:${n.join('x')}`);
  const ft64 = specSize('fat-tree', [64]);
  assert.ok(ft64.hypervisors === 65_536 && ft64.hypervisors <= MAX_SPEC_HYPERVISORS && ft64.links <= MAX_SPEC_LINKS, `fat-tree:64 is within the bound: ${JSON.stringify(ft64)}`);
});
