import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../errors/errors.ts';
import { memoryStore } from './store.ts';

test('memory store: put/get/list by prefix in key order, delete, JSON copies (no aliasing)', async () => {
  const s = memoryStore();
  assert.equal(await s.get('weights/overrides'), undefined);
  const doc = { layer: { 1: 2 } };
  await s.put('weights/overrides', doc);
  doc.layer[1] = 99;
  assert.deepEqual(await s.get('weights/overrides'), { layer: { 1: 2 } });
  await s.put('migrations/b', { vm: 'vm2' });
  await s.put('migrations/a', { vm: 'vm1' });
  const list = await s.list('migrations/');
  assert.deepEqual(list.map((e) => [e.key, e.value]), [
    ['migrations/a', { vm: 'vm1' }],
    ['migrations/b', { vm: 'vm2' }],
  ]);
  assert.ok((list[0]?.revision ?? 0n) > (list[1]?.revision ?? 0n), 'revisions grow with each write');
  await s.delete('migrations/a');
  assert.deepEqual((await s.list('migrations/')).map((e) => e.key), ['migrations/b']);
  assert.deepEqual(await s.keys('migrations/'), ['migrations/b'], 'keys only, the same keys as list');
});

test('memory store: bad keys and non-JSON values are refused with a stable code', async () => {
  const s = memoryStore();
  await assert.rejects(async () => s.put('../etc', 1), (e: unknown) => isScoreError(e, 'INTERNAL'));
  await assert.rejects(async () => s.put('a//b', 1), (e: unknown) => isScoreError(e, 'INTERNAL'));
  await assert.rejects(async () => s.put('a', 1n), (e: unknown) => isScoreError(e, 'INTERNAL') && /not JSON/.test(e.message));
  await assert.rejects(async () => s.put('a', undefined), (e: unknown) => isScoreError(e, 'INTERNAL'));
});
