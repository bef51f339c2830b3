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
  // the group's mean, 500.67, on the 1/1024 grid: equal is then exactly equal
  assert.deepEqual(q.map((f) => f.rate), [500.6669921875, 500.6669921875, 1000, 500.6669921875]);
  assert.deepEqual(quantizeRates([{ src: 'a', dst: 'b', rate: 7 }], 0).map((f) => f.rate), [7]);
});

test('property: quantizing keeps order and moves no rate by more than the tolerance', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.double({ min: 0, max: 0.2, noNaN: true }), (rates, tol) => {
      const q = quantizeRates(rates.map((rate, i) => ({ src: `s${i}`, dst: `d${i}`, rate })), tol);
      // a grouped mean is put on the 1/1024 grid: half a step more
      q.forEach((f, i) => assert.ok(Math.abs(f.rate - rates[i]!) <= rates[i]! * tol + 1 / 2048 + 1e-9, 'Math.abs(f.rate - rates[i]!) <= rates[i]! * tol + 1 / 2048 + 1e-9'));
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
  // each direction keeps its share of the pair, to the grid (1/1024)
  q.forEach((f, i) => {
    const raw = flows.filter((g) => (g.src === f.src && g.dst === f.dst) || (g.src === f.dst && g.dst === f.src)).reduce((x, g) => x + g.rate, 0);
    assert.ok(Math.abs(f.rate - (flows[i]!.rate * 1170) / raw) <= 1 / 1024, `${f.src}>${f.dst} ${f.rate}: its share of 1170`);
  });
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
  // below 1 B/s too (scaled in floats these came out 0.71 and 0.7100000000000001)
  const small = quantizeRates(
    [
      { src: 'vm1', dst: 'vm6', rate: 0.42 },
      { src: 'vm6', dst: 'vm1', rate: 0.28 },
      { src: 'vm2', dst: 'vm10', rate: 0.396 },
      { src: 'vm10', dst: 'vm2', rate: 0.324 },
    ],
    0.05,
  );
  assert.equal(small[0]!.rate + small[1]!.rate, small[2]!.rate + small[3]!.rate);
  // huge rates do not overflow (rate × λ would): 2e154 + 1e154 and 3.01e154 in one group
  const huge = quantizeRates(
    [
      { src: 'a', dst: 'b', rate: 2e154 },
      { src: 'b', dst: 'a', rate: 1e154 },
      { src: 'c', dst: 'd', rate: 3.01e154 },
    ],
    0.05,
  );
  for (const f of huge) assert.ok(Number.isFinite(f.rate) && f.rate > 0, `${f.src}>${f.dst} ${f.rate} finite`);
});

test('property: a pair keeps its λ order, moves by at most the tolerance, and its directions keep their shares', () => {
  const vms = ['u', 'v', 'w', 'x', 'y'];
  const flow = fc.record({ src: fc.constantFrom(...vms), dst: fc.constantFrom(...vms), rate: fc.oneof(fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true })) }).filter((f) => f.src !== f.dst);
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
        // equal or a grid step apart, never an ulp apart (the policies' tie-break needs exact equality)
        if (tol > 0) for (const k2 of before.keys()) assert.ok(a === after.get(k2)! || Math.abs(a - after.get(k2)!) >= 1 / 1024, `λ ${k} ${a} and ${k2} ${after.get(k2)!}: equal or a grid step apart`);
        assert.ok(Math.abs(a - l) <= l * tol * (1 + 1e-9) + 1 / 2048 + 1e-9, `λ ${k} moved from ${l} to ${a}`);
        for (const [k2, l2] of before) if (l < l2) assert.ok(a <= after.get(k2)! * (1 + 1e-12), `λ order of ${k} < ${k2} kept`);
      }
      flows.forEach((f, i) => {
        const k = [f.src, f.dst].sort().join('-');
        assert.ok(Math.abs(q[i]!.rate - (f.rate * after.get(k)!) / before.get(k)!) <= 1 / 1024 + 1e-9 * after.get(k)!, `${f.src}>${f.dst} keeps its share of λ (to the grid)`);
      });
    }),
  );
});
