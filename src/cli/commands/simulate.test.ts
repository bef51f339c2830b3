import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from './simulate.ts';
import { ScoreError } from '../../errors/errors.ts';

test('--policy: a comma list in the order given, both = rr,la anywhere in it, each policy once', () => {
  assert.deepEqual(parsePolicies('both'), ['round-robin', 'load-aware']);
  assert.deepEqual(parsePolicies('gain'), ['gain-order']);
  assert.deepEqual(parsePolicies('both,gain'), ['round-robin', 'load-aware', 'gain-order']);
  assert.deepEqual(parsePolicies('gain, both'), ['gain-order', 'round-robin', 'load-aware']);
  assert.deepEqual(parsePolicies('rr,rr,round-robin'), ['round-robin']);
  assert.deepEqual(parsePolicies('load-aware,rr'), ['load-aware', 'round-robin']);
});

test('--policy: any other name is CLI_USAGE naming it', () => {
  for (const bad of ['zz', 'rr,zz', '', 'both,']) {
    assert.throws(() => parsePolicies(bad), (e: unknown) => e instanceof ScoreError && e.code === 'CLI_USAGE' && e.message.includes('--policy'), bad);
  }
});
