import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildTopology, type Topology } from '../core/topology.ts';
import { fatTree, leafSpine, threeTier, type GeneratedTopology } from '../topologies/generate.ts';
import { seededRng } from '../core/random.ts';
import { isScoreError } from '../errors/errors.ts';
import { generateWorkload, onOffEpochs, type Workload, type WorkloadOptions } from './workload.ts';
import { appLayout, rackStructure } from './layout.ts';
import { placePacked, placeRandom } from './placement.ts';
import { onFraction, onOffRates } from './onoff.ts';
import { lognormal, poisson } from './distributions.ts';

const topo = (g: GeneratedTopology): Topology => buildTopology(g.nodes, g.links);
const FT16 = topo(fatTree(16));

function serialise(w: Workload): string {
  return JSON.stringify(w, (_k, v: unknown) => (v instanceof Map ? [...(v as Map<unknown, unknown>)] : v));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Partner counts per VM by where the partner is, judged on the physical racks of a packed placement. */
function localityOf(t: Topology, w: Workload): { inRack: Map<string, number>; outRack: Map<string, number>; rackPairs: number; podPairs: number; pairs: number } {
  const s = rackStructure(t);
  const rackOf = (vm: string): number => s.rackOfHypervisor.get(w.placement.get(vm)!)!;
  const inRack = new Map(w.vms.map((v) => [v, 0]));
  const outRack = new Map(w.vms.map((v) => [v, 0]));
  let rackPairs = 0;
  let podPairs = 0;
  for (const f of w.flows) {
    const same = rackOf(f.src) === rackOf(f.dst);
    const m = same ? inRack : outRack;
    m.set(f.src, m.get(f.src)! + 1);
    m.set(f.dst, m.get(f.dst)! + 1);
    if (same) rackPairs += 1;
    else if (s.racks[rackOf(f.src)]!.pod === s.racks[rackOf(f.dst)]!.pod) podPairs += 1;
  }
  return { inRack, outRack, rackPairs, podPairs, pairs: w.flows.length };
}

test('racks and pods come from the topology for fat-tree, three-tier and leaf-spine', () => {
  const ft = rackStructure(topo(fatTree(4)));
  assert.equal(ft.racks.length, 8);
  assert.equal(ft.pods, 4);
  assert.deepEqual(ft.racks[0], { id: 'e1', pod: 0, hypervisors: ['h1', 'h2'] });
  // Edge e3 is the first of pod 2: its pod is found through the aggregation switches, not by name.
  assert.equal(ft.racks[2]!.pod, 1);
  const tt = rackStructure(topo(threeTier({ pods: 2, torsPerPod: 3, hypervisorsPerTor: 4 })));
  assert.equal(tt.racks.length, 6);
  assert.equal(tt.pods, 2);
  assert.deepEqual(tt.racks.map((r) => r.pod), [0, 0, 0, 1, 1, 1]);
  const ls = rackStructure(topo(leafSpine({ leaves: 5, spines: 2, hypervisorsPerLeaf: 3 })));
  assert.equal(ls.racks.length, 5);
  assert.equal(ls.pods, 1, 'every leaf reaches every spine: no pod level');
});

test('the application layout spreads VMs over racks in proportion to their slots', () => {
  const t = topo(fatTree(4));
  const cap = new Map(t.hypervisors.map((h) => [h, 4]));
  const l = appLayout(rackStructure(t), 13, cap);
  const perRack = Array.from({ length: 8 }, (_, r) => l.rackStart[r + 1]! - l.rackStart[r]!);
  assert.deepEqual(perRack, [2, 2, 2, 2, 2, 1, 1, 1]);
  assert.deepEqual(l.podStart, [0, 4, 8, 11, 13]);
  assert.throws(() => appLayout(rackStructure(t), 65, cap), (e) => isScoreError(e, 'CAPACITY_EXCEEDED'));
});

const MODELS: WorkloadOptions[] = [
  { model: 'partners', vms: 300, slotsPerHypervisor: 4, seed: 7 },
  { model: 'onoff', vms: 300, slotsPerHypervisor: 4, seed: 7 },
  { model: 'widespread', vms: 300, slotsPerHypervisor: 4, seed: 7, placement: 'packed' },
  { model: 'random', vms: 300, slotsPerHypervisor: 4, seed: 7, resources: true },
];

test('packed placement puts each logical rack on its own rack, evenly over the hosts', () => {
  const t = topo(fatTree(4));
  const s = rackStructure(t);
  const cap = new Map(t.hypervisors.map((h) => [h, 4]));
  const l = appLayout(s, 40, cap);
  const p = placePacked(l, cap);
  l.vms.forEach((vm, i) => assert.equal(s.rackOfHypervisor.get(p.get(vm)!), l.rack[i], vm));
  // 5 VMs per 2-host rack: 3 + 2, never 4 + 1, so hosts keep room for S-CORE to move VMs in.
  const load = new Map<string, number>();
  for (const h of p.values()) load.set(h, (load.get(h) ?? 0) + 1);
  assert.deepEqual([...new Set(load.values())].sort(), [2, 3]);
});

test('same seed gives byte-identical workloads; another seed gives another one', () => {
  const t = topo(fatTree(8));
  for (const o of MODELS) {
    const a = serialise(generateWorkload(t, o));
    assert.equal(serialise(generateWorkload(t, o)), a, o.model);
    assert.notEqual(serialise(generateWorkload(t, { ...o, seed: 8 })), a, o.model);
  }
});

test('no model emits a self-pair or the same pair twice, and every flow names workload VMs', () => {
  const t = topo(fatTree(8));
  for (const o of MODELS) {
    const w = generateWorkload(t, { ...o, vms: 500 });
    const vms = new Set(w.vms);
    const seen = new Set<string>();
    for (const f of w.flows) {
      assert.ok(vms.has(f.src) && vms.has(f.dst), `${o.model}: ${f.src}-${f.dst}`);
      assert.notEqual(f.src, f.dst, o.model);
      assert.ok(f.rate > 0 && Number.isFinite(f.rate), `${o.model}: rate ${f.rate}`);
      const key = f.src < f.dst ? `${f.src} ${f.dst}` : `${f.dst} ${f.src}`;
      assert.ok(!seen.has(key), `${o.model}: ${key} twice`);
      seen.add(key);
    }
  }
});

test('the placement choice does not change the traffic of a seed', () => {
  const t = topo(fatTree(8));
  const packed = generateWorkload(t, { model: 'partners', vms: 300, slotsPerHypervisor: 4, seed: 3, placement: 'packed' });
  const random = generateWorkload(t, { model: 'partners', vms: 300, slotsPerHypervisor: 4, seed: 3, placement: 'random' });
  assert.deepEqual(random.flows, packed.flows);
  assert.notDeepEqual([...random.placement], [...packed.placement]);
});

test('partner model: median 2 in-rack and 4 out-of-rack partners, half of those in the pod (4,096 VMs)', () => {
  const w = generateWorkload(FT16, { model: 'partners', vms: 4096, slotsPerHypervisor: 8, seed: 11, placement: 'packed' });
  const loc = localityOf(FT16, w);
  assert.equal(median([...loc.inRack.values()]), 2);
  assert.equal(median([...loc.outRack.values()]), 4);
  // Poisson means 2 and 4: in-rack pairs are 1/3 of all pairs, pod ones half of the rest.
  const out = loc.pairs - loc.rackPairs;
  assert.ok(Math.abs(loc.rackPairs / loc.pairs - 1 / 3) < 0.02, `rack-local share ${loc.rackPairs / loc.pairs}`);
  assert.ok(Math.abs(loc.podPairs / out - 0.5) < 0.03, `pod share of out-of-rack ${loc.podPairs / out}`);
  // At least one partner each: the redraw rule (only stub-matching leftovers may drop a VM to 0).
  const lonely = w.vms.filter((v) => loc.inRack.get(v)! + loc.outRack.get(v)! === 0).length;
  assert.ok(lonely < w.vms.length * 0.005, `${lonely} VMs without partners`);
  // Heavy tail: the mean pair rate is well above the median (lognormal sigma 2: ratio e^2 ≈ 7.4).
  const rates = w.flows.map((f) => f.rate);
  const ratio = rates.reduce((a, b) => a + b, 0) / rates.length / median(rates);
  assert.ok(ratio > 5.5 && ratio < 9.5, `mean/median ${ratio}`);
});

test('spread models hit their configured rack-local fraction', () => {
  const cases = [
    { model: 'widespread' as const, want: 0.13 },
    { model: 'widespread' as const, want: 0.4, params: { rackLocalFraction: 0.4, podLocalFraction: 0.3 } },
    { model: 'onoff' as const, want: 0.75, params: { windowSec: 3600 } },
  ];
  for (const c of cases) {
    const w = generateWorkload(FT16, { model: c.model, vms: 2048, slotsPerHypervisor: 4, seed: 5, placement: 'packed', params: c.params ?? {} });
    const loc = localityOf(FT16, w);
    const frac = loc.rackPairs / loc.pairs;
    assert.ok(Math.abs(frac - c.want) < 0.03, `${c.model}: rack-local ${frac}, configured ${c.want}`);
  }
});

test('wide-spread: many more peers per VM than the partner model, mostly in the pod', () => {
  const w = generateWorkload(FT16, { model: 'widespread', vms: 2048, slotsPerHypervisor: 4, seed: 5, placement: 'packed' });
  const loc = localityOf(FT16, w);
  const degree = w.vms.map((v) => loc.inRack.get(v)! + loc.outRack.get(v)!);
  assert.ok(Math.abs(median(degree) - 16) <= 1, `median peers ${median(degree)}`);
  assert.ok(Math.abs(loc.podPairs / loc.pairs - 0.58) < 0.03, `pod share ${loc.podPairs / loc.pairs}`);
});

test('ON/OFF: the mean rate over long windows is peak × E[ON] / (E[ON] + E[OFF])', () => {
  const peaks = Array.from({ length: 2000 }, () => 1e6);
  for (const timing of [
    { onMu: 0, onSigma: 1, offMu: Math.log(2), offSigma: 1, windowSec: 200, burnInCycles: 10 },
    { onMu: Math.log(3), onSigma: 0.5, offMu: 0, offSigma: 1.2, windowSec: 200, burnInCycles: 10 },
  ]) {
    const [rates] = onOffRates(peaks, timing, 1, seededRng(9));
    const measured = rates!.reduce((a, b) => a + b, 0) / (1e6 * peaks.length);
    const want = onFraction(timing);
    assert.ok(Math.abs(measured - want) < 0.02, `ON fraction ${measured}, expected ${want}`);
  }
});

test('ON/OFF epochs: epoch 0 is the generated workload, traffic changes over time, earlier epochs do not depend on how many', () => {
  const t = topo(fatTree(8));
  const o = { model: 'onoff' as const, vms: 200, slotsPerHypervisor: 4, seed: 4 };
  const series = onOffEpochs(t, o, 5);
  assert.equal(series.length, 5);
  assert.deepEqual(series[0], generateWorkload(t, o).flows);
  assert.deepEqual(onOffEpochs(t, o, 2), series.slice(0, 2));
  const key = (fs: readonly { src: string; dst: string; rate: number }[]): string => JSON.stringify(fs);
  assert.notEqual(key(series[1]!), key(series[0]));
  // An OFF period longer than the 60 s window is a 3.4-sigma event for OFF median 2 s, sigma 1:
  // nearly every pair shows up in every epoch, with a different mean rate.
  const pairs = new Set(series.flatMap((fs) => fs.map((f) => `${f.src}>${f.dst}`)));
  for (const fs of series) assert.ok(fs.length > 0.99 * pairs.size, `${fs.length} of ${pairs.size} pairs`);
});

test('placements never exceed capacity and place every VM (property)', () => {
  const tops = [topo(fatTree(4)), topo(threeTier({ pods: 2, torsPerPod: 2, hypervisorsPerTor: 3 })), topo(leafSpine({ leaves: 3, spines: 2, hypervisorsPerLeaf: 2 }))];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), fc.boolean(), (ti, slots, fill, seed, packed) => {
      const t = tops[ti]!;
      // Uneven capacities too, so proportional shares and "free slot" bookkeeping are both exercised.
      const cap = new Map(t.hypervisors.map((h, i) => [h, i % 3 === 0 ? slots + 1 : slots]));
      const total = [...cap.values()].reduce((a, b) => a + b, 0);
      const n = Math.floor(fill * total);
      const layout = appLayout(rackStructure(t), n, cap);
      const p = packed ? placePacked(layout, cap) : placeRandom(layout.vms, cap, seededRng(seed));
      assert.equal(p.size, n);
      const load = new Map<string, number>();
      for (const h of p.values()) load.set(h, (load.get(h) ?? 0) + 1);
      for (const [h, l] of load) assert.ok(l <= cap.get(h)!, `${h} holds ${l} > ${cap.get(h)}`);
    }),
    { numRuns: 200 },
  );
  const t = tops[0]!;
  const cap = new Map(t.hypervisors.map((h) => [h, 1]));
  assert.throws(() => placeRandom(Array.from({ length: 17 }, (_, i) => `v${i}`), cap, seededRng(1)), (e) => isScoreError(e, 'CAPACITY_EXCEEDED'));
  assert.throws(() => generateWorkload(t, { model: 'partners', vms: 17, slotsPerHypervisor: 1, seed: 1 }), (e) => isScoreError(e, 'CAPACITY_EXCEEDED'));
});

test('bad model parameters are WORKLOAD_INVALID errors', () => {
  const t = topo(fatTree(4));
  const bad: WorkloadOptions[] = [
    { model: 'partners', vms: 8, slotsPerHypervisor: 2, seed: 1, params: { podProbability: 1.5 } },
    { model: 'widespread', vms: 8, slotsPerHypervisor: 2, seed: 1, params: { rackLocalFraction: 0.7, podLocalFraction: 0.7 } },
    { model: 'onoff', vms: 8, slotsPerHypervisor: 2, seed: 1, params: { windowSec: 0 } },
    { model: 'random', vms: 0, slotsPerHypervisor: 2, seed: 1 },
    { model: 'random', vms: 8, slotsPerHypervisor: 0, seed: 1 },
    { model: 'partners', vms: 8, slotsPerHypervisor: 2, seed: 1, placement: 'file' },
  ];
  for (const o of bad) assert.throws(() => generateWorkload(t, o), (e) => isScoreError(e, 'WORKLOAD_INVALID'), JSON.stringify(o));
});

test('distributions: Poisson mean and lognormal median match their parameters', () => {
  const rng = seededRng(2);
  const ps = Array.from({ length: 20000 }, () => poisson(rng, 4));
  const mean = ps.reduce((a, b) => a + b, 0) / ps.length;
  assert.ok(Math.abs(mean - 4) < 0.06, `Poisson mean ${mean}`);
  const big = Array.from({ length: 5000 }, () => poisson(rng, 50));
  assert.ok(Math.abs(big.reduce((a, b) => a + b, 0) / big.length - 50) < 0.5, 'Math.abs(big.reduce((a, b) => a + b, 0) / big.length - 50) < 0.5');
  const ln = Array.from({ length: 20001 }, () => lognormal(rng, Math.log(100), 1));
  const m = median(ln);
  assert.ok(m > 95 && m < 105, `lognormal median ${m}`);
});

test('partner model: rackRateFactor scales in-rack pairs only, with the same draws', () => {
  const base = generateWorkload(FT16, { model: 'partners', vms: 1024, slotsPerHypervisor: 8, seed: 5, placement: 'packed' });
  const heavy = generateWorkload(FT16, { model: 'partners', vms: 1024, slotsPerHypervisor: 8, seed: 5, placement: 'packed', params: { rackRateFactor: 4 } });
  const s = rackStructure(FT16);
  const rackOfVm = (vm: string): number => s.rackOfHypervisor.get(base.placement.get(vm)!)!;
  assert.equal(heavy.flows.length, base.flows.length);
  let rack = 0;
  heavy.flows.forEach((f, i) => {
    const b = base.flows[i]!;
    assert.equal(f.src, b.src);
    assert.equal(f.dst, b.dst);
    const sameRack = rackOfVm(f.src) === rackOfVm(f.dst);
    if (sameRack) rack += 1;
    // rates are rounded after scaling, so allow the rounding of the unscaled value
    if (sameRack) assert.ok(Math.abs(f.rate - 4 * b.rate) <= 2, `${f.src}-${f.dst}: ${f.rate} vs 4 × ${b.rate}`);
    else assert.equal(f.rate, b.rate);
  });
  assert.ok(rack > 0, 'rack > 0');
  assert.throws(() => generateWorkload(FT16, { model: 'partners', vms: 64, slotsPerHypervisor: 8, seed: 5, params: { rackRateFactor: -1 } }), /rackRateFactor/);
});
