import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MigrationRecord } from '../api/contract.ts';
import { resumeOptions } from '../cluster/orchestration.ts';
import { seededRng } from '../core/random.ts';
import { byOpening, COUNTED_KEEP, inRun, isCounted, pruneCounted, recordOrder } from './counted.ts';
import type { RunProgress } from './orchestrator.ts';

test('record ids order by generation, then by sequence number; other ids have no order', () => {
  assert.deepEqual(recordOrder('g12-m345'), [12n, 345]);
  assert.deepEqual(recordOrder('m7'), [0n, 7]);
  for (const id of ['probe-1-vm3', 'g1-m', 'gx-m1', 'm1x', '']) assert.equal(recordOrder(id), null, id);
  assert.deepEqual(['g3-m1', 'g2-m10', 'g2-m9', 'm4', 'g10-m1'].sort(byOpening), ['m4', 'g2-m9', 'g2-m10', 'g3-m1', 'g10-m1']);
});

test('a short list is kept as it is; a long one is summed up by its latest dropped id', () => {
  const ids = Array.from({ length: 7 }, (_, i) => `g3-m${i + 1}`);
  assert.deepEqual(pruneCounted(ids.slice(0, 6), undefined, 3), { ids: ids.slice(0, 6), through: undefined });
  const p = pruneCounted(ids, 'g2-m40', 3);
  assert.deepEqual(p, { ids: ['g3-m5', 'g3-m6', 'g3-m7'], through: 'g3-m4' });
  for (const id of ids) assert.equal(isCounted(new Set(p.ids), p.through, id), true, id);
  assert.equal(isCounted(new Set(p.ids), p.through, 'g2-m41'), true, 'older generation');
  assert.equal(isCounted(new Set(p.ids), p.through, 'g3-m8'), false, 'not counted yet');
  assert.equal(isCounted(new Set(p.ids), p.through, 'g4-m1'), false, 'a later leader');
  assert.equal(isCounted(new Set(p.ids), p.through, 'other'), false, 'an id without order is counted only when listed');
  // a timed-out migration that may still be confirmed (g3-m2): nothing at or after it is summed up
  const held = pruneCounted(ids.filter((id) => id !== 'g3-m2'), undefined, 2, ['g3-m2']);
  assert.deepEqual(held, { ids: ['g3-m3', 'g3-m4', 'g3-m5', 'g3-m6', 'g3-m7'], through: 'g3-m1' });
  assert.equal(isCounted(new Set(held.ids), held.through, 'g3-m2'), false, 'not taken for counted before it is');
  // an id without the record form among those to drop: nothing is summed up
  const odd = ['x', ...ids.slice(1)];
  assert.deepEqual(pruneCounted(odd, undefined, 3), { ids: odd, through: undefined });
  assert.deepEqual(pruneCounted(ids, 'odd', 3), { ids, through: 'odd' });
});

test('a record is of the run by its id, not by the clock of the member that opened it', () => {
  assert.equal(inRun('g8-m1', 100, 'g7-m4', 500), true, 'a later leader whose clock is behind');
  assert.equal(inRun('g6-m9', 9_999, 'g7-m4', 500), false, 'an earlier run, whatever its clock said');
  assert.equal(inRun('g7-m3', 9_999, 'g7-m4', 500), false);
  assert.equal(inRun('g7-m4', 0, 'g7-m4', 500), true);
  assert.equal(inRun('other', 600, 'g7-m4', 500), true, 'no record id form: by the clock');
  assert.equal(inRun('g8-m1', 100, undefined, 500), false, 'progress without sinceId (older versions): by the clock');
});

const base: MigrationRecord = {
  id: '', vm: '', from: 'hv1', to: 'hv2', policy: 'load-aware', round: 1, step: null, status: 'started', startedAt: 0, finishedAt: null,
  totalCostBefore: 0, totalCostAfter: null, decision: null, inputs: { rates: [], weights: {}, policyKey: 0 }, error: null, connectivity: null,
};

test('leaders die at random points of a long run: the resumed count is exact and the stored list stays short', () => {
  for (const seed of [1, 2, 3]) {
    const rng = seededRng(seed);
    const store = new Map<string, MigrationRecord>();
    let stored: RunProgress = { options: { policy: 'load-aware' }, round: 1, migrations: 0, rails: null, continuous: null, counted: [], since: 0 };
    let succeeded = 0;
    let longest = 0;
    let clock = 1;
    for (let gen = 1; gen <= 12; gen++) {
      // the new leader: reconciled records are final (the agent said), then the run is resumed
      const all = [...store.values()].map((r) => (r.status === 'started' ? { ...r, ...(r.to === 'hv2' ? { status: 'succeeded' as const, step: 0, finishedAt: clock } : { status: 'failed' as const, finishedAt: clock }) } : r));
      for (const r of all) store.set(r.id, r);
      const resumed = resumeOptions(stored, [], all).resume;
      assert.ok(resumed !== undefined, 'resumed');
      assert.equal(resumed.migrations, succeeded, `seed ${seed} generation ${gen}: every succeeded migration counted once`);
      let migrations = resumed.migrations;
      let counted = { ids: [...(resumed.counted ?? [])], through: resumed.countedThrough };
      const write = (): void => {
        stored = { ...stored, migrations, counted: counted.ids, ...(counted.through === undefined ? {} : { countedThrough: counted.through }) };
        longest = Math.max(longest, counted.ids.length);
      };
      write();
      const opens = Math.floor(rng() * 1500);
      for (let seq = 1; seq <= opens; seq++) {
        const ok = rng() < 0.8;
        const id = `g${gen}-m${seq}`;
        const rec: MigrationRecord = { ...base, id, vm: `vm${seq}`, to: ok ? 'hv2' : 'hv3', startedAt: clock++ };
        store.set(id, rec);
        const dies = rng() < 0.003;
        // the migration finishes at the agent whatever happens to the leader
        succeeded += ok ? 1 : 0;
        // the final record write and the progress write are separate: either may be lost
        if (dies && rng() < 0.5) break;
        if (!dies || rng() < 0.5) store.set(id, { ...rec, status: ok ? 'succeeded' : 'declined', step: ok ? migrations + 1 : null, finishedAt: clock });
        if (!ok) continue;
        migrations += 1;
        counted = pruneCounted([...counted.ids, id], counted.through);
        if (dies) break;
        write();
      }
    }
    assert.ok(succeeded > 2 * COUNTED_KEEP, `a long run (${succeeded} migrations)`);
    assert.ok(longest <= 2 * COUNTED_KEEP, `the stored list stays short (${longest})`);
  }
});

test('resuming counts a new leader\'s migration whose clock is behind the one that started the run', () => {
  const rec = (id: string, startedAt: number): MigrationRecord => ({ ...base, id, vm: id, status: 'succeeded', step: 1, startedAt, finishedAt: startedAt + 1 });
  const p: RunProgress = { options: { policy: 'load-aware' }, round: 1, migrations: 1, rails: null, continuous: null, counted: ['g7-m4'], since: 5_000, sinceId: 'g7-m4' };
  const r = resumeOptions(p, [], [rec('g6-m9', 6_000), rec('g7-m4', 5_000), rec('g8-m1', 4_000)]).resume;
  assert.equal(r?.migrations, 2, 'g8-m1 counted, g6-m9 (an earlier run) not');
  assert.deepEqual(r?.counted, ['g7-m4', 'g8-m1']);
  assert.equal(r?.sinceId, 'g7-m4', 'kept for the next leader');
});
