import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTopology, linkId } from './topology.ts';
import { isScoreError } from '../errors/errors.ts';

const n = (id: string, kind: 'switch' | 'hypervisor' = 'switch') => ({ id, kind });

test('topology: link ids are order-independent and adjacency is symmetric', () => {
  const t = buildTopology([n('h1', 'hypervisor'), n('s1'), n('s2')], [
    { a: 's2', b: 's1', capacityBps: 5 },
    { a: 'h1', b: 's1', capacityBps: 10 },
  ]);
  assert.equal(linkId('s2', 's1'), 's1-s2');
  assert.ok(t.linkById.has('s1-s2'), 't.linkById.has(\'s1-s2\')');
  assert.deepEqual(t.adjacency.get('s1')!.map((x) => x.neighbour), ['h1', 's2']);
  assert.deepEqual(t.hypervisors, ['h1']);
});

test('topology: bad input is refused with TOPOLOGY_INVALID', () => {
  const bad = [
    () => buildTopology([n('a'), n('a')], []),
    () => buildTopology([n('a')], [{ a: 'a', b: 'zz', capacityBps: 1 }]),
    () => buildTopology([n('a')], [{ a: 'a', b: 'a', capacityBps: 1 }]),
    () => buildTopology([n('a'), n('b')], [{ a: 'a', b: 'b', capacityBps: 0 }]),
    () => buildTopology([n('a'), n('b')], [{ a: 'a', b: 'b', capacityBps: 1 }, { a: 'b', b: 'a', capacityBps: 1 }]),
  ];
  for (const f of bad) assert.throws(f, (e) => isScoreError(e, 'TOPOLOGY_INVALID'));
});
