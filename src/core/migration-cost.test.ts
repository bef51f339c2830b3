import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QEMU_STOP_COPY_SECONDS, migrationCostUnits, migrationTraffic, preCopy, preCopyMigrationCost, qemuStopCopyBytes } from './migration-cost.ts';
import { decide } from './decision.ts';
import { loadScenarioFile } from '../scenario/load.ts';

const GiB = 2 ** 30;

test('pre-copy: a VM that dirties nothing is copied once, in one round, with no downtime', () => {
  const r = preCopy({ memoryBytes: 4 * GiB, dirtyRateBytesPerSec: 0, bandwidthBytesPerSec: GiB, maxRounds: 30, stopCopyBytes: 2 ** 20 });
  assert.deepEqual(r, { bytesMoved: 4 * GiB, rounds: 1, stopCopyBytes: 0, migrationSeconds: 4, downtimeSeconds: 0, converged: true });
});

test('pre-copy: rounds shrink geometrically by dirty rate / bandwidth until the stop-copy threshold', () => {
  // 1 GiB at 1 GiB/s, dirtying 0.25 GiB/s: rounds send 1, 1/4, 1/16, 1/64 GiB; 1/256 GiB (4 MiB) ≤ 8 MiB is left
  const r = preCopy({ memoryBytes: GiB, dirtyRateBytesPerSec: GiB / 4, bandwidthBytesPerSec: GiB, maxRounds: 30, stopCopyBytes: 8 * 2 ** 20 });
  assert.equal(r.rounds, 4);
  assert.equal(r.stopCopyBytes, GiB / 256);
  assert.equal(r.bytesMoved, GiB * (1 + 1 / 4 + 1 / 16 + 1 / 64 + 1 / 256));
  assert.equal(r.downtimeSeconds, r.stopCopyBytes / GiB, 'downtime = final stop-copy bytes / bandwidth');
  assert.equal(r.migrationSeconds, r.bytesMoved / GiB);
  assert.equal(r.converged, true);
});

test('pre-copy: dirtying at least as fast as the link sends never converges and stops at max rounds', () => {
  for (const ratio of [1, 3]) {
    const r = preCopy({ memoryBytes: 2 * GiB, dirtyRateBytesPerSec: ratio * GiB, bandwidthBytesPerSec: GiB, maxRounds: 5, stopCopyBytes: 2 ** 20 });
    assert.equal(r.rounds, 5);
    assert.equal(r.converged, false);
    // at most all of memory is dirty: every round resends it, then the stop-copy sends it once more
    assert.equal(r.stopCopyBytes, 2 * GiB);
    assert.equal(r.bytesMoved, 6 * 2 * GiB);
    assert.equal(r.downtimeSeconds, 2);
  }
});

test('pre-copy: a memory below the threshold is a plain stop-and-copy', () => {
  const r = preCopy({ memoryBytes: 2 ** 20, dirtyRateBytesPerSec: 1e9, bandwidthBytesPerSec: 2 ** 20, maxRounds: 30, stopCopyBytes: 2 ** 21 });
  assert.deepEqual([r.rounds, r.bytesMoved, r.downtimeSeconds], [0, 2 ** 20, 1]);
  assert.throws(() => preCopy({ memoryBytes: 1, dirtyRateBytesPerSec: 0, bandwidthBytesPerSec: 0, maxRounds: 1, stopCopyBytes: 0 }), RangeError);
});

test('c_m in cost units: bytes moved × path weight over the amortisation horizon; migration traffic per link', () => {
  assert.equal(migrationCostUnits(6e9, 12, 60), 1.2e9);
  const { model } = loadScenarioFile('paper');
  const path = model.oracle.path('hv16', 'hv19');
  const load = migrationTraffic(path, 8e9, 4);
  assert.equal(load.size, path.length);
  for (const l of path) assert.equal(load.get(l.id), 2e9);
  const cm = preCopyMigrationCost({ oracle: model.oracle, defaults: { memoryBytes: GiB, dirtyRateBytesPerSec: 0 }, bandwidthBytesPerSec: GiB, maxRounds: 30, stopCopyBytes: 2 ** 20, amortisationSeconds: 60 });
  assert.equal(cm('vm6', 'hv16', 'hv19'), (GiB * model.oracle.cost('hv16', 'hv19')) / 60);
});

test('decide with c_m as a function of the move: a far target can be too dear while a near one is not', () => {
  const { model } = loadScenarioFile('paper');
  const load = new Map<string, number>();
  for (const h of model.placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
  const base = { vm: 'vm6', placement: model.placement, traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, load, rank: model.rank, mode: 'best' as const };
  // vm6 saves 1000 going to hv19 (its heavier flow, 6 hops) or to hv16 (2 hops); c_m = 200 per unit of path weight
  const cm = (_vm: string, from: string, to: string): number => 200 * model.oracle.cost(from, to);
  const d = decide({ ...base, migrationCost: cm });
  const byHost = new Map(d.candidates.map((c) => [c.hypervisor, c]));
  assert.equal(byHost.get('hv19')?.verdict, 'no-gain');
  assert.equal(byHost.get('hv19')?.migrationCost, cm('vm6', d.from, 'hv19'));
  assert.equal(d.to, 'hv16');
  assert.equal(d.migrationCost, cm('vm6', d.from, 'hv16'));
  // a constant c_m leaves the candidates exactly as before: no per-candidate c_m field
  assert.ok(decide({ ...base, migrationCost: 0 }).candidates.every((c) => !('migrationCost' in c)), 'decide({ ...base, migrationCost: 0 }).candidates.every((c) => !(\'migrationCost\' in c))');
});

test('pre-copy with a writable working set: a round leaves at most the WWS dirty; the default is the uniform model', () => {
  const base = { memoryBytes: 96 * 2 ** 20, dirtyRateBytesPerSec: 14e6, bandwidthBytesPerSec: 17e6, maxRounds: 1000, stopCopyBytes: 5e6 };
  const uniform = preCopy(base);
  assert.deepEqual(preCopy({ ...base, writableWorkingSetBytes: base.memoryBytes }), uniform);
  const wws = preCopy({ ...base, writableWorkingSetBytes: 32 * 2 ** 20 });
  assert.ok(wws.bytesMoved < uniform.bytesMoved, `${wws.bytesMoved} < ${uniform.bytesMoved}`);
  // every round after the first sends at most the WWS
  assert.ok(wws.bytesMoved <= base.memoryBytes + wws.rounds * 32 * 2 ** 20 + 1, 'wws.bytesMoved <= base.memoryBytes + wws.rounds * 32 * 2 ** 20 + 1');
  assert.throws(() => preCopy({ ...base, writableWorkingSetBytes: -1 }), RangeError);
});

test('the QEMU-fitted stop-copy threshold: 6 ms of the bandwidth; on the simulator\'s default VM it changes the downtime, not the bytes', () => {
  assert.equal(qemuStopCopyBytes(125e6), 125e6 * QEMU_STOP_COPY_SECONDS);
  assert.throws(() => qemuStopCopyBytes(0), RangeError);
  // 4 GiB, 10 MB/s dirtied, 125 MB/s: the fixed 50 MB threshold vs QEMU's behaviour
  const base = { memoryBytes: 4 * GiB, dirtyRateBytesPerSec: 10e6, bandwidthBytesPerSec: 125e6, maxRounds: 30 };
  const fixed = preCopy({ ...base, stopCopyBytes: 50e6 });
  const fitted = preCopy({ ...base, stopCopyBytes: qemuStopCopyBytes(125e6) });
  assert.ok(fitted.rounds > fixed.rounds, 'fitted.rounds > fixed.rounds');
  assert.ok(Math.abs(fitted.bytesMoved / fixed.bytesMoved - 1) < 0.001, `${fitted.bytesMoved} vs ${fixed.bytesMoved}`);
  assert.ok(fitted.downtimeSeconds < 0.006 && fixed.downtimeSeconds > 0.1, `${fitted.downtimeSeconds} vs ${fixed.downtimeSeconds}`);
});
