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
  // the group's mean, 500.67, as a whole B/s: equal is then exactly equal
  assert.deepEqual(q.map((f) => f.rate), [501, 501, 1000, 501]);
  assert.deepEqual(quantizeRates([{ src: 'a', dst: 'b', rate: 7 }], 0).map((f) => f.rate), [7]);
});

test('property: quantizing keeps order and moves no rate by more than the tolerance', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.double({ min: 0, max: 0.2, noNaN: true }), (rates, tol) => {
      const q = quantizeRates(rates.map((rate, i) => ({ src: `s${i}`, dst: `d${i}`, rate })), tol);
      // a grouped mean is rounded to a whole unit: half a unit more
      q.forEach((f, i) => assert.ok(Math.abs(f.rate - rates[i]!) <= rates[i]! * tol + 0.5 + 1e-9, 'Math.abs(f.rate - rates[i]!) <= rates[i]! * tol + 0.5 + 1e-9'));
      for (let i = 0; i < rates.length; i++) for (let j = 0; j < rates.length; j++) if (rates[i]! < rates[j]!) assert.ok(q[i]!.rate <= q[j]!.rate, 'q[i]!.rate <= q[j]!.rate');
    }),
  );
});

test("a pair's two directions are grouped as its λ: nominally equal pairs stay equal when their directions straddle a group boundary", () => {
  // forward streams and their replies measure apart (nping: ~640 and ~540 B/s); by direction, the
  // boundary at 540 × 1.15 put a>b alone above the rest and its pair's λ above c-d's
  const flows = [
    { src: 'a', dst: 'b', rate: 640 },
    { src: 'b', dst: 'a', rate: 540 },
    { src: 'c', dst: 'd', rate: 600 },
    { src: 'd', dst: 'c', rate: 560 },
  ];
  const q = quantizeRates(flows, 0.15);
  const lambda = (src: string, dst: string): number => q.filter((f) => (f.src === src && f.dst === dst) || (f.src === dst && f.dst === src)).reduce((s, f) => s + f.rate, 0);
  assert.equal(lambda('a', 'b'), 1170);
  assert.equal(lambda('c', 'd'), 1170);
  // each direction keeps its share of the pair, to the whole B/s
  assert.deepEqual(q.map((f) => f.rate), [635, 535, 605, 565]);
  // pairs apart by more than the tolerance stay apart
  const apart = quantizeRates([{ src: 'a', dst: 'b', rate: 500 }, { src: 'b', dst: 'a', rate: 500 }, { src: 'c', dst: 'd', rate: 700 }, { src: 'd', dst: 'c', rate: 700 }], 0.15);
  assert.deepEqual(apart.map((f) => f.rate), [500, 500, 700, 700]);
});

test('grouped pairs are exactly equal, not an ulp apart: Load-Aware breaks a tie by VM number only when the costs are equal', () => {
  // scaled in floats, these directions summed to 9923.349999999999 and 9923.350000000002, and the
  // second pair's VM was asked first
  const q = quantizeRates(
    [
      { src: 'vm1', dst: 'vm6', rate: 5054.3 },
      { src: 'vm6', dst: 'vm1', rate: 5222.6 },
      { src: 'vm2', dst: 'vm10', rate: 4533.2 },
      { src: 'vm10', dst: 'vm2', rate: 5036.6 },
    ],
    0.15,
  );
  assert.equal(q[0]!.rate + q[1]!.rate, q[2]!.rate + q[3]!.rate);
  assert.equal(q[1]!.rate + q[0]!.rate, q[3]!.rate + q[2]!.rate);
});

test('property: a pair keeps its λ order, moves by at most the tolerance, and its directions keep their shares', () => {
  const vms = ['u', 'v', 'w', 'x', 'y'];
  const flow = fc.record({ src: fc.constantFrom(...vms), dst: fc.constantFrom(...vms), rate: fc.double({ min: 1, max: 1e6, noNaN: true }) }).filter((f) => f.src !== f.dst);
  fc.assert(
    fc.property(fc.uniqueArray(flow, { minLength: 1, maxLength: 20, selector: (f) => `${f.src}>${f.dst}` }), fc.double({ min: 0, max: 0.3, noNaN: true }), (flows, tol) => {
      const q = quantizeRates(flows, tol);
      const lambdas = (fs: readonly { src: string; dst: string; rate: number }[]): Map<string, number> => {
        const m = new Map<string, number>();
        for (const f of fs) {
          const k = [f.src, f.dst].sort().join('-');
          m.set(k, (m.get(k) ?? 0) + f.rate);
        }
        return m;
      };
      const before = lambdas(flows);
      const after = lambdas(q);
      for (const [k, l] of before) {
        const a = after.get(k)!;
        // equal or apart, never an ulp apart (the policies' tie-break needs exact equality)
        if (tol > 0) for (const k2 of before.keys()) assert.ok(a === after.get(k2)! || Math.abs(a - after.get(k2)!) > 1e-6 * Math.max(a, after.get(k2)!), `λ ${k} ${a} and ${k2} ${after.get(k2)!}: equal or apart`);
        assert.ok(Math.abs(a - l) <= l * tol * (1 + 1e-9) + 0.5 + 1e-9, `λ ${k} moved from ${l} to ${a}`);
        for (const [k2, l2] of before) if (l < l2) assert.ok(a <= after.get(k2)! * (1 + 1e-12), `λ order of ${k} < ${k2} kept`);
      }
      flows.forEach((f, i) => {
        const k = [f.src, f.dst].sort().join('-');
        assert.ok(Math.abs(q[i]!.rate - (f.rate * after.get(k)!) / before.get(k)!) <= 1, `${f.src}>${f.dst} keeps its share of λ (to a whole unit)`);
      });
    }),
  );
});
