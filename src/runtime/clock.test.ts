import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realClock, virtualClock } from './clock.ts';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('realClock.sleep: an abort ends the sleep at once and clears its timer (nothing left to hold the process)', async () => {
  const before = timeouts();
  const stop = new AbortController();
  const t0 = Date.now();
  const sleeping = realClock.sleep(60_000, stop.signal);
  assert.equal(timeouts(), before + 1, 'the sleep holds one timer');
  setImmediate(() => stop.abort());
  await sleeping;
  assert.ok(Date.now() - t0 < 5000, 'ended on the abort, not after 60 s');
  assert.equal(timeouts(), before, 'its timer was cleared');
  // already aborted: no timer at all; and without a signal it sleeps its time
  await realClock.sleep(60_000, stop.signal);
  assert.equal(timeouts(), before);
  const t1 = Date.now();
  await realClock.sleep(20);
  assert.ok(Date.now() - t1 >= 15, 'a plain sleep runs its time');
});

test('virtualClock.sleep: an abort ends the sleep without advancing the clock, and its timer is gone', async () => {
  const clock = virtualClock(0);
  const stop = new AbortController();
  let woke = false;
  const sleeping = clock.sleep(1000, stop.signal).then(() => (woke = true));
  const other = clock.sleep(1000);
  stop.abort();
  await sleeping;
  assert.ok(woke, 'woke on the abort');
  assert.equal(clock.now(), 0, 'the clock did not move');
  let otherWoke = false;
  void other.then(() => (otherWoke = true));
  await clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  assert.ok(otherWoke, 'a sleep without the signal still ends when its time comes');
});
