import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addSample, createRateTracker, COUNTER_UNKNOWN } from './rates.ts';

test('rates use the switch duration as time base and survive resets', () => {
  const t = createRateTracker<string>();
  assert.equal(addSample(t, 'f', { count: 1000n, duration: 10 }, 0), 'baseline');
  assert.equal(addSample(t, 'f', { count: 1500n, duration: 11 }, 5000), 'rate');
  assert.deepEqual(t.rates.get('f'), { perSecond: 500, measuredAt: 5000, window: 1 });
  // a late reply: controller time jumped 10 s, the switch says 2 s passed
  addSample(t, 'f', { count: 2500n, duration: 13 }, 15000);
  assert.equal(t.rates.get('f')!.perSecond, 500);
  // the rule was reinstalled: duration and count start again
  assert.equal(addSample(t, 'f', { count: 10n, duration: 0.5 }, 16000), 'reset');
  assert.equal(t.rates.has('f'), false);
  assert.equal(addSample(t, 'f', { count: 510n, duration: 1.5 }, 17000), 'rate');
  assert.equal(t.rates.get('f')!.perSecond, 500);
  assert.equal(addSample(t, 'f', { count: COUNTER_UNKNOWN, duration: 2 }, 0), 'unknown');
  assert.equal(addSample(t, 'f', { count: 510n, duration: 1.5 }, 18000), 'no-time');
});

test('rates average over the window: a 10 packet/s flow does not wobble by a packet', () => {
  const t = createRateTracker<string>(5);
  // 64-byte packets, 10 or 11 of them per second depending on the phase of the poll
  let count = 0n;
  const perSecond = [10, 11, 10, 10, 11, 10, 10, 11, 10, 10];
  addSample(t, 'f', { count, duration: 0 }, 0);
  perSecond.forEach((n, i) => {
    count += BigInt(n * 64);
    addSample(t, 'f', { count, duration: i + 1 }, (i + 1) * 1000);
  });
  const r = t.rates.get('f')!;
  assert.equal(r.window, 5);
  assert.ok(Math.abs(r.perSecond - (51 * 64) / 5) < 1e-9, String(r.perSecond));
  const one = createRateTracker<string>(1);
  addSample(one, 'f', { count: 0n, duration: 0 }, 0);
  addSample(one, 'f', { count: 704n, duration: 1 }, 1000);
  assert.equal(one.rates.get('f')!.perSecond, 704, 'a one-second window sees the 10% wobble');
});

test('property: no sequence of samples gives a negative or non-finite rate', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ count: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), duration: fc.double({ min: 0, max: 1e6, noNaN: true }) }), { maxLength: 30 }), (samples) => {
      const t = createRateTracker<number>();
      samples.forEach((s, i) => {
        addSample(t, 1, s, i);
        const r = t.rates.get(1);
        if (r) assert.ok(r.perSecond >= 0 && Number.isFinite(r.perSecond), 'r.perSecond >= 0 && Number.isFinite(r.perSecond)');
      });
    }),
  );
});
