import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieOfId, createRouting, nextPathId, pathByCookie, type InstalledPath } from './routing.ts';
import { GENERATION_COOKIE_MASK, generationCookie, pathCookie, pathIdOf } from './commands.ts';
import type { NetworkView } from './network.ts';

const livePath = (id: number, cookie: bigint): InstalledPath => ({ src: 'a', dst: 'b', key: 'a>b', id, cookie, hops: [], links: [], computedIn: {} as NetworkView });

test('path cookies: ids count up within the generation slot, wrap after 2^32 skipping 0 and every id still in use', () => {
  const state = createRouting();
  state.generationSlot = 7n;
  const first = cookieOfId(state, nextPathId(state));
  assert.equal(first, pathCookie(7n, 1n));
  assert.equal(cookieOfId(state, nextPathId(state)), pathCookie(7n, 2n));
  assert.equal(first & GENERATION_COOKIE_MASK, generationCookie(7n) & GENERATION_COOKIE_MASK, 'in the slot of its generation');
  // the last id, then the wrap: 1 (this generation's) and 2 (an older generation's) still name live paths, 3 is free
  const max = 2 ** 32 - 1;
  state.nextId = max;
  state.byId.set(1, livePath(1, pathCookie(7n, 1n)));
  state.byId.set(2, livePath(2, pathCookie(3n, 2n)));
  assert.equal(cookieOfId(state, nextPathId(state)), pathCookie(7n, BigInt(max)));
  const wrapped = cookieOfId(state, nextPathId(state));
  assert.equal(wrapped, pathCookie(7n, 3n), `after the wrap: ${wrapped.toString(16)}`);
  assert.equal(wrapped & GENERATION_COOKIE_MASK, generationCookie(7n) & GENERATION_COOKIE_MASK, 'never spills into another generation');
});

test('a new generation slot changes the cookies of new paths at once (the cached cookie base follows it)', () => {
  const state = createRouting();
  assert.equal(cookieOfId(state, nextPathId(state)), pathCookie(0n, 1n));
  state.generationSlot = 0x34_5678n;
  assert.equal(cookieOfId(state, nextPathId(state)), pathCookie(0x34_5678n, 2n));
});

test('pathByCookie: the whole cookie must match, not only its path id', () => {
  const state = createRouting();
  const cookie = pathCookie(5n, 9n);
  assert.equal(pathIdOf(cookie), 9);
  state.byId.set(9, livePath(9, cookie));
  assert.equal(pathByCookie(state, cookie)?.id, 9);
  assert.equal(pathByCookie(state, pathCookie(6n, 9n)), undefined, 'same id, another generation: not this path');
  assert.equal(pathByCookie(state, pathCookie(5n, 10n)), undefined);
});
