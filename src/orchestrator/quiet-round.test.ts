import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trafficMatrix } from '../core/cost.ts';
import { rankOf } from '../core/policies.ts';
import { SMALL_TOPOLOGIES } from '../core/test-instances.ts';
import { virtualClock } from '../runtime/clock.ts';
import type { AgentDecideResult, MigrationRecord } from '../api/contract.ts';
import { ScoreError } from '../errors/errors.ts';
import type { OrchestratorDeps, StartOptions } from './orchestrator.ts';
import { runToEnd } from './run-to-end.testing.ts';

/**
 * Every slot of the three-tier 2x2x2 is filled (two VMs on each of six hypervisors, the others
 * take none). a-b and c-d talk heavily from full hypervisors: moves would pay, none has room, and
 * an exchange has no free slot to pass through. Fake agents answer a decision with "stay" (every
 * candidate full) and honour `target` legs.
 */
function world(o: { rate?: number } = {}) {
  const b = SMALL_TOPOLOGIES[0]!;
  const [h1, h2, h3, h4, h5, h6] = [...b.topology.hypervisors].sort() as [string, string, string, string, string, string];
  const tracker = new Map([['a', h1], ['p', h1], ['b', h3], ['q', h3], ['c', h2], ['r', h2], ['d', h5], ['s', h5], ['t', h4], ['u', h4], ['v', h6], ['w', h6]]);
  const used = new Set(tracker.values());
  const capacity = new Map(b.topology.hypervisors.map((h) => [h, used.has(h) ? 2 : 0]));
  const rate = o.rate ?? 100;
  const traffic = trafficMatrix(rate === 0 ? [] : [{ src: 'a', dst: 'b', rate }, { src: 'c', dst: 'd', rate: rate * 0.8 }, { src: 'p', dst: 't', rate: 1 }]);
  const vms = [...tracker.keys()].sort();
  const clock = virtualClock();
  const deps: OrchestratorDeps = {
    clock,
    settleMs: 1000,
    confirmMs: 500,
    snapshot: () => ({ vms, placement: new Map(tracker), traffic, oracle: b.oracle, rank: rankOf(vms), rates: [], weights: {}, capacity }),
    hypervisorOf: (vm) => tracker.get(vm),
    emit: () => {},
    decide(hv, body): Promise<AgentDecideResult> {
      if (tracker.get(body.vm) !== hv) return Promise.reject(new ScoreError('UNKNOWN_VM', 'wrong agent'));
      if (body.target === undefined) return Promise.resolve({ decision: { vm: body.vm, from: hv, to: null, costBefore: 0, costAfter: 0, migrationCost: 0, mode: 'first', candidates: [], reason: 'every candidate hypervisor is full' }, migrated: false, error: null });
      const decision = { vm: body.vm, from: hv, to: body.target, costBefore: 0, costAfter: 0, migrationCost: 0, mode: 'first', candidates: [], reason: 'leg' };
      tracker.set(body.vm, body.target);
      return Promise.resolve({ decision, migrated: true, error: null });
    },
  };
  return { deps, clock, tracker };
}

async function quiet(start: StartOptions, o: { rate?: number } = {}) {
  const w = world(o);
  const before = new Map(w.tracker);
  const stored = new Map<string, MigrationRecord>();
  const orch = await runToEnd({ ...w, deps: { ...w.deps, onRecord: (r) => void stored.set(r.id, structuredClone(r)) } }, start);
  assert.deepEqual(w.tracker, before, 'nothing moved');
  assert.equal(orch.status().converged, true);
  assert.equal(orch.records.length, 1, `one record for the round: ${JSON.stringify(orch.records.map((r) => r.error))}`);
  const r = orch.records[0]!;
  assert.equal(r.vm, '*');
  assert.equal(r.status, 'held');
  assert.notEqual(r.finishedAt, null, 'the record is final');
  assert.deepEqual([...stored.keys()], [r.id], 'the record is in the audit log');
  assert.deepEqual(stored.get(r.id)?.error, r.error, 'the audit log has it as it ended');
  return r;
}

test('quiet round: the look-ahead with every slot filled says why nothing moved, once, and that a temporary overcommit would allow exchanges', async () => {
  const r = await quiet({ policy: 'gain-order', lookahead: true });
  assert.equal(r.error?.code, 'NO_ROOM');
  assert.match(r.error.message, /12 VM\(s\) looked at with the look-ahead/);
  assert.match(r.error.message, /but every candidate hypervisor is full/);
  assert.match(r.error.message, /a temporary overcommit \(overcommit: 1\) would allow exchanges \(first: largest gain first: exchange /);
});

test('quiet round: a gain-order run that asks nobody says why (no room; exchanges not looked at)', async () => {
  const r = await quiet({ policy: 'gain-order' });
  assert.equal(r.error?.code, 'NO_ROOM');
  assert.match(r.error.message, /every candidate hypervisor is full .*; exchanges are not looked at/);
});

test('quiet round: with nothing that pays the record says so (NOTHING_PAYS), with the look-ahead and without', async () => {
  for (const start of [{ policy: 'gain-order' as const, lookahead: true }, { policy: 'gain-order' as const }]) {
    const r = await quiet(start, { rate: 0 });
    assert.equal(r.error?.code, 'NOTHING_PAYS', JSON.stringify(start));
    assert.match(r.error.message, /no move pays \(no VM saves anything/);
  }
});

test('quiet round: swaps with the gain order (which asks no VM here) do not claim an agent was asked; a dry run says exchanges are not planned', async () => {
  const gain = await quiet({ policy: 'gain-order', swaps: true });
  assert.equal(gain.error?.code, 'NO_ROOM');
  assert.doesNotMatch(gain.error.message, /no agent proposed/, 'the gain order asked no agent');
  assert.match(gain.error.message, /exchanges are not looked at/);
  // a dry run is never "converged": its one record is all that is asserted here
  const plan = await runToEnd(world(), { policy: 'gain-order', plan: true });
  assert.equal(plan.records.length, 1, 'one record for the dry run');
  assert.match(plan.records[0]!.error?.message ?? '', /a dry run \(plan\) lists single moves only: exchanges are not planned/);
});

test('quiet round: a resumed run (its earlier rounds in the history) writes no quiet record', async () => {
  const w = world();
  const orch = await runToEnd(w, { policy: 'gain-order', resume: { round: 2, migrations: 3, rails: null, continuous: null } });
  assert.equal(orch.status().converged, true);
  assert.deepEqual(orch.records.map((r) => r.error?.code ?? r.status), [], 'the resumed run is explained by the records it had');
});
