import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fatTree } from '../topologies/generate.ts';
import { build } from '../core/build.ts';
import { generateWorkload, onOffEpochs } from '../workloads/workload.ts';
import { isScoreError } from '../errors/errors.ts';
import { seededRng } from '../core/random.ts';
import { churnEpochs, diurnalEpochs, EPOCH_STRATEGIES, epochFlowCounts, EXTRA_EPOCH_STRATEGIES, runEpochs, type EpochResult } from './epochs.ts';
import type { DirectedFlow } from '../core/cost.ts';

// fat-tree(8): 128 hypervisors with 8 slots, 768 VMs: the properties, quickly; docs/scale.md has fat-tree(16)
function instance(seed = 1) {
  const b = build(fatTree(8));
  const w = generateWorkload(b.topology, { model: 'partners', vms: 768, slotsPerHypervisor: 8, seed });
  return { b, w };
}

const by = (r: EpochResult, name: string) => r.strategies.find((s) => s.strategy === name)!;

test('churn keeps the talking VMs and the total rate, and re-pairs about the given share', () => {
  const { w } = instance();
  const epochs = churnEpochs(w.flows, 4, 0.2, seededRng(3));
  assert.equal(epochs.length, 4);
  const total = (fs: readonly DirectedFlow[]) => fs.reduce((a, f) => a + f.rate, 0);
  const pairs = (fs: readonly DirectedFlow[]) => new Set(fs.map((f) => (f.src < f.dst ? `${f.src}|${f.dst}` : `${f.dst}|${f.src}`)));
  for (const e of epochs) assert.ok(Math.abs(total(e) - total(w.flows)) < 1e-6 * total(w.flows), 'Math.abs(total(e) - total(w.flows)) < 1e-6 * total(w.flows)');
  const p0 = pairs(epochs[0]!);
  const p1 = pairs(epochs[1]!);
  const changed = [...p0].filter((p) => !p1.has(p)).length / p0.size;
  assert.ok(changed > 0.15 && changed <= 0.2 + 1e-9, `changed ${changed}`);
  assert.equal(pairs(churnEpochs(w.flows, 3, 0, seededRng(3))[2]!).size, p0.size, 'no churn, same pairs');
  const talking = (fs: readonly DirectedFlow[]) => [...new Set(fs.flatMap((f) => [f.src, f.dst]))].sort();
  assert.deepEqual(talking(epochs[3]!), talking(w.flows));
});

test('epochFlowCounts: churn re-pairs, so the horizon has more pairs than t = 0; a pair counts once in both directions; zero rates are no flow', () => {
  const f = (src: string, dst: string, rate = 1): DirectedFlow => ({ src, dst, rate });
  assert.deepEqual(epochFlowCounts([[f('a', 'b'), f('b', 'a'), f('c', 'd', 0)], [f('a', 'c'), f('b', 'd')], []]), { flows: 3, flowsAtStart: 1 });
  assert.deepEqual(epochFlowCounts([[], [f('a', 'b')]]), { flows: 1, flowsAtStart: 0 }, 'a trace that starts later');
  assert.deepEqual(epochFlowCounts([]), { flows: 0, flowsAtStart: 0 });
  const { w } = instance();
  const counts = epochFlowCounts(churnEpochs(w.flows, 6, 0.5, seededRng(1)));
  assert.equal(counts.flowsAtStart, w.flows.length, 'epoch 0 is the generated workload');
  assert.ok(counts.flows > counts.flowsAtStart, `re-paired pairs add to the horizon's: ${JSON.stringify(counts)}`);
});

test('diurnal: epoch 0 is all local, half a period later all remote', () => {
  const local = [{ src: 'a', dst: 'b', rate: 10 }];
  const remote = [{ src: 'a', dst: 'c', rate: 4 }];
  const e = diurnalEpochs(local, remote, 5, 4);
  assert.deepEqual(e[0], [{ src: 'a', dst: 'b', rate: 10 }]);
  assert.deepEqual(e[2], [{ src: 'a', dst: 'c', rate: 4 }]);
  assert.equal(e[1]!.length, 2);
  assert.deepEqual(e[4], e[0]);
});

test('stationary workload: continuous mode makes no more migrations than one-shot', () => {
  const { b, w } = instance();
  const epochs = Array.from({ length: 5 }, () => w.flows);
  const r = runEpochs({ vms: w.vms, placement: w.placement, capacity: w.capacity, oracle: b.oracle, epochs, epochSeconds: 3600, strategies: [...EPOCH_STRATEGIES, ...EXTRA_EPOCH_STRATEGIES] });
  const oneShot = { 'load-aware': by(r, 'one-shot'), 'round-robin': by(r, 'one-shot-rr') };
  assert.ok(oneShot['load-aware'].migrations > 0, 'oneShot.migrations > 0');
  // every continuous strategy of the table, against one-shot with its own policy: RR's one plan
  // makes more moves than LA's (the trial's 247 vs 212 on fat-tree(8)), continuous mode none more
  const continuous = EPOCH_STRATEGIES.filter((s) => s.kind === 'continuous');
  assert.equal(continuous.length, 4, 'RR and LA, with and without hysteresis');
  for (const s of continuous) {
    const base = oneShot[s.policy as 'load-aware' | 'round-robin'];
    assert.ok(by(r, s.name).migrations <= base.migrations, `${s.name}: ${by(r, s.name).migrations} vs ${base.strategy} ${base.migrations}`);
    // without pricing the plan is the same one, made a period later
    if (!s.hysteresis) assert.equal(by(r, s.name).migrations, base.migrations, `${s.name} vs ${base.strategy}`);
    // after the first epoch nothing changes, so nothing moves
    assert.ok(by(r, s.name).perEpoch.slice(1).every((p) => p.migrations === 0), s.name);
  }
  assert.ok(oneShot['round-robin'].migrations > oneShot['load-aware'].migrations, `RR's one plan moves more than LA's here: ${oneShot['round-robin'].migrations} vs ${oneShot['load-aware'].migrations}`);
  assert.equal(by(r, 'never').migrations, 0);
  assert.equal(by(r, 'never').total, by(r, 'never').costIntegral);
});

test('churn: continuous LA with hysteresis follows the traffic, never oscillates, beats one-shot, and is near the clairvoyant reference', () => {
  const { b, w } = instance();
  const epochs = churnEpochs(w.flows, 6, 0.1, seededRng(7));
  const r = runEpochs({ vms: w.vms, placement: w.placement, capacity: w.capacity, oracle: b.oracle, epochs, epochSeconds: 3600 });
  const hyst = by(r, 'continuous-la-hyst');
  for (const s of r.strategies) {
    // the books add up
    assert.ok(Math.abs(s.total - (s.costIntegral + s.migrationWeighted)) <= 1e-9 * s.total, 'Math.abs(s.total - (s.costIntegral + s.migrationWeighted)) <= 1e-9 * s.total');
    assert.ok(Math.abs(s.perEpoch.at(-1)!.cumulative - s.total) <= 1e-9 * s.total, 'Math.abs(s.perEpoch.at(-1)!.cumulative - s.total) <= 1e-9 * s.total');
    assert.equal(s.perEpoch.reduce((a, p) => a + p.migrations, 0), s.migrations);
  }
  assert.equal(hyst.oscillations, 0);
  assert.equal(by(r, 'continuous-rr-hyst').oscillations, 0);
  assert.ok(hyst.perEpoch.slice(1).some((p) => p.migrations > 0), 'it keeps following the traffic');
  assert.ok(hyst.total < by(r, 'one-shot').total, `${hyst.total} vs one-shot ${by(r, 'one-shot').total}`);
  assert.ok(hyst.total < by(r, 'never').total, 'hyst.total < by(r, \'never\').total');
  assert.ok(hyst.total <= 1.15 * by(r, 'clairvoyant').total, `${hyst.total} vs clairvoyant ${by(r, 'clairvoyant').total}`);
  // without hysteresis it moves far more
  assert.ok(by(r, 'continuous-la').migrations > hyst.migrations, 'by(r, \'continuous-la\').migrations > hyst.migrations');
});

test('ON/OFF: measured over several epochs, continuous mode sees the mean rates and moves less than on one epoch\'s draw', () => {
  const b = build(fatTree(8));
  const w = generateWorkload(b.topology, { model: 'onoff', vms: 768, slotsPerHypervisor: 8, seed: 1 });
  const epochs = onOffEpochs(b.topology, { model: 'onoff', vms: 768, slotsPerHypervisor: 8, seed: 1 }, 6);
  const base = { vms: w.vms, placement: w.placement, capacity: w.capacity, oracle: b.oracle, epochs, epochSeconds: 3600, strategies: EPOCH_STRATEGIES.filter((s) => s.name === 'continuous-la-hyst' || s.name === 'one-shot') };
  const one = runEpochs(base);
  const three = runEpochs({ ...base, measureEpochs: 3 });
  // one-shot does not measure over time: the window changes nothing for it
  assert.equal(by(three, 'one-shot').total, by(one, 'one-shot').total);
  const [m1, m3] = [by(one, 'continuous-la-hyst'), by(three, 'continuous-la-hyst')];
  assert.ok(m3.perEpoch.slice(1).reduce((a, p) => a + p.migrations, 0) < m1.perEpoch.slice(1).reduce((a, p) => a + p.migrations, 0), `after the first epoch: ${m3.migrations} vs ${m1.migrations} migrations`);
  assert.equal(m3.oscillations, 0);
  assert.throws(() => runEpochs({ ...base, measureEpochs: 0 }), (e) => isScoreError(e, 'WORKLOAD_INVALID'));
});

test('continuous mode without hysteresis re-plans incrementally: every epoch the same migrations and costs as a from-scratch round (churn, diurnal, ON/OFF averaged over 3 epochs)', () => {
  const { b, w } = instance(2);
  const onoffW = { model: 'onoff' as const, vms: 768, slotsPerHypervisor: 8, seed: 1 };
  const cases: Array<{ label: string; placement: typeof w.placement; capacity: typeof w.capacity; vms: readonly string[]; epochs: readonly (readonly DirectedFlow[])[]; measureEpochs?: number }> = [
    { ...w, label: 'churn 20%', epochs: churnEpochs(w.flows, 5, 0.2, seededRng(5)) },
    { ...w, label: 'diurnal', epochs: diurnalEpochs(w.flows, churnEpochs(w.flows, 2, 1, seededRng(9))[1]!, 5, 4) },
  ];
  const o = generateWorkload(b.topology, onoffW);
  cases.push({ ...o, label: 'on/off, 3-epoch window', epochs: onOffEpochs(b.topology, onoffW, 5), measureEpochs: 3 });
  const strategies = EPOCH_STRATEGIES.filter((s) => s.kind === 'continuous' && !s.hysteresis);
  assert.equal(strategies.length, 2, 'continuous RR and LA');
  for (const c of cases) {
    const base = { vms: c.vms, placement: c.placement, capacity: c.capacity, oracle: b.oracle, epochs: c.epochs, epochSeconds: 3600, strategies, ...(c.measureEpochs ? { measureEpochs: c.measureEpochs } : {}) };
    const inc = runEpochs(base);
    const full = runEpochs({ ...base, planner: 'full' });
    for (const s of full.strategies) {
      const i = by(inc, s.strategy);
      assert.ok(s.perEpoch.slice(1).some((p) => p.migrations > 0), `${c.label} ${s.strategy}: the later epochs move VMs (the comparison is not empty)`);
      assert.deepEqual(i.perEpoch, s.perEpoch, `${c.label} ${s.strategy}: per-epoch costs and migrations`);
      assert.equal(i.oscillations, s.oscillations, `${c.label} ${s.strategy}: oscillations`);
      assert.equal(i.vmsMovedMoreThanOnce, s.vmsMovedMoreThanOnce, `${c.label} ${s.strategy}: VMs moved more than once`);
    }
  }
});
