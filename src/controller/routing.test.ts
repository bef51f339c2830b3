import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRouting, nextPathCookie } from './routing.ts';
import { GENERATION_COOKIE_MASK, generationCookie, pathCookie } from './commands.ts';

test('path cookies: ids count up within the generation slot, wrap after 2^32 skipping 0 and every id still in use', () => {
  const state = createRouting();
  state.generationSlot = 7n;
  const first = nextPathCookie(state);
  assert.equal(first, pathCookie(7n, 1n));
  assert.equal(nextPathCookie(state), pathCookie(7n, 2n));
  assert.equal(first & GENERATION_COOKIE_MASK, generationCookie(7n) & GENERATION_COOKIE_MASK, 'in the slot of its generation');
  // the last id, then the wrap: 1 and 2 still name live paths, 3 is free
  const max = (1n << 32n) - 1n;
  state.nextId = max;
  state.byCookie.set(pathCookie(7n, 1n), 'a>b');
  state.byCookie.set(pathCookie(7n, 2n), 'b>a');
  assert.equal(nextPathCookie(state), pathCookie(7n, max));
  const wrapped = nextPathCookie(state);
  assert.equal(wrapped, pathCookie(7n, 3n), `after the wrap: ${wrapped.toString(16)}`);
  assert.equal(wrapped & GENERATION_COOKIE_MASK, generationCookie(7n) & GENERATION_COOKIE_MASK, 'never spills into another generation');
});
