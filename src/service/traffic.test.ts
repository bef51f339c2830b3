import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { quantizeRates } from './traffic.ts';

test('rates within the tolerance become equal; distinct rates stay apart', () => {
  const q = quantizeRates(
    [
      { src: 'a', dst: 'b', rate: 498 },
      { src: 'c', dst: 'd', rate: 503 },
      { src: 'e', dst: 'f', rate: 1000 },
      { src: 'g', dst: 'h', rate: 501 },
    ],
    0.05,
  );
  assert.deepEqual(q.map((f) => f.rate), [(498 + 503 + 501) / 3, (498 + 503 + 501) / 3, 1000, (498 + 503 + 501) / 3]);
  assert.deepEqual(quantizeRates([{ src: 'a', dst: 'b', rate: 7 }], 0).map((f) => f.rate), [7]);
});

test('property: quantizing keeps order and moves no rate by more than the tolerance', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.double({ min: 0, max: 0.2, noNaN: true }), (rates, tol) => {
      const q = quantizeRates(rates.map((rate, i) => ({ src: `s${i}`, dst: `d${i}`, rate })), tol);
      q.forEach((f, i) => assert.ok(Math.abs(f.rate - rates[i]!) <= rates[i]! * tol + 1e-9, 'Math.abs(f.rate - rates[i]!) <= rates[i]! * tol + 1e-9'));
      for (let i = 0; i < rates.length; i++) for (let j = 0; j < rates.length; j++) if (rates[i]! < rates[j]!) assert.ok(q[i]!.rate <= q[j]!.rate, 'q[i]!.rate <= q[j]!.rate');
    }),
  );
});
