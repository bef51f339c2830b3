import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { runStrategy } from '../core/baselines.ts';
import { rankOf } from '../core/policies.ts';
import { SMALL_TOPOLOGIES } from '../core/test-instances.ts';
import { virtualClock } from '../runtime/clock.ts';
import type { AgentDecideResult, MigrationRecord } from '../api/contract.ts';
import { ScoreError } from '../errors/errors.ts';
import type { OrchestratorDeps } from './orchestrator.ts';
import { runToEnd } from './run-to-end.testing.ts';

/**
 * Every hypervisor of the three-tier 2x2x2 has two slots. a-b and c-d talk heavily, each pair
 * split over two full hypervisors next to VMs they do not talk to; two hypervisors are empty.
 * No single move has room, so Algorithm 1 (and the gain order) moves nothing; the look-ahead
 * moves pairs together or makes room. Fake agents only honour `target` legs (the look-ahead
 * never asks them to decide) and the tracker counts how far a hypervisor ever went over.
 */
function world(o: { failLeg?: number } = {}) {
  const b = SMALL_TOPOLOGIES[0]!;
  const [h1, h2, h3, h4, h5, h6] = [...b.topology.hypervisors].sort() as [string, string, string, string, string, string];
  const tracker = new Map([['a', h1], ['p', h1], ['b', h3], ['q', h3], ['c', h2], ['r', h2], ['d', h5], ['s', h5], ['t', h4], ['u', h4], ['v', h6], ['w', h6]]);
  const capacity = new Map(b.topology.hypervisors.map((h) => [h, 2]));
  const traffic = trafficMatrix([
    { src: 'a', dst: 'b', rate: 100 },
    { src: 'c', dst: 'd', rate: 80 },
    { src: 'p', dst: 't', rate: 1 },
  ]);
  const vms = [...tracker.keys()].sort();
  const rank = rankOf(vms);
  const clock = virtualClock();
  let over = 0;
  let legs = 0;
  const asked: string[] = [];
  const deps: OrchestratorDeps = {
    clock,
    settleMs: 1000,
    confirmMs: 500,
    snapshot: () => ({ vms, placement: new Map(tracker), traffic, oracle: b.oracle, rank, rates: [], weights: {}, capacity }),
    hypervisorOf: (vm) => tracker.get(vm),
    emit: () => {},
    decide(hv, body): Promise<AgentDecideResult> {
      if (tracker.get(body.vm) !== hv) return Promise.reject(new ScoreError('UNKNOWN_VM', 'wrong agent'));
      if (body.target === undefined) {
        asked.push(body.vm);
        return Promise.reject(new Error('the look-ahead asked an agent to decide'));
      }
      legs += 1;
      const decision = { vm: body.vm, from: hv, to: body.target, costBefore: 0, costAfter: 0, migrationCost: 0, mode: 'first', candidates: [], reason: 'leg' };
      if (legs === o.failLeg) return Promise.resolve({ decision, migrated: false, error: { code: 'MIGRATION_FAILED', message: 'driver failed' } });
      tracker.set(body.vm, body.target);
      const n = new Map<string, number>();
      for (const h of tracker.values()) n.set(h, (n.get(h) ?? 0) + 1);
      for (const [h, k] of n) over = Math.max(over, k - capacity.get(h)!);
      return Promise.resolve({ decision, migrated: true, error: null });
    },
  };
  const input = { vms, placement: new Map(tracker), traffic, oracle: b.oracle, capacity, rank, migrationCost: 0 };
  return { deps, clock, tracker, traffic, oracle: b.oracle, input, over: () => over, asked };
}

test('live look-ahead: where no single move has room, the planner\'s pair actions (exchanges, ejections, pair moves) go as confirmed target legs, never over capacity, explained in the audit log, to the simulated look-ahead\'s cost', async () => {
  const plain = world();
  assert.equal(runStrategy('gain-order', plain.input).steps.length, 0, 'Algorithm 1 in gain order moves nothing here');
  const sim = runStrategy('lookahead', plain.input);
  assert.ok(sim.finalCost < sim.initialCost, 'sim.finalCost < sim.initialCost');

  const w = world();
  const o = await runToEnd(w, { policy: 'gain-order', lookahead: true });
  const done = o.records.filter((r) => r.status === 'succeeded');
  assert.deepEqual(w.asked, [], 'no agent was asked to decide');
  assert.ok(done.length >= 2, 'done.length >= 2');
  assert.equal(w.over(), 0, 'never over capacity');
  assert.equal(totalCost(w.tracker, w.traffic, w.oracle), sim.finalCost, 'the simulated look-ahead\'s final cost');
  assert.equal(totalCost(w.tracker, w.traffic, w.oracle), 0);
  // every migration's record explains the action it belongs to, and the steps count up
  for (const r of done) assert.match(r.decision?.reason ?? '', /^largest gain first( \(look-ahead\))?: .* C_A drops by [\d.]+ > c_m of (both|its \d migrations) 0.* \[migration \d of \d\]$/);
  assert.deepEqual(done.map((r) => r.step), done.map((_, i) => i + 1));
  assert.equal(o.status().converged, true);
  assert.equal(o.status().migrations, done.length);
});

test('live look-ahead: a leg that fails stops its action there; the VM stays where the network sees it and the run does not claim a fixed point', async () => {
  const w = world({ failLeg: 2 });
  const o = await runToEnd(w, { policy: 'gain-order', lookahead: true, maxRounds: 1 });
  const failed = o.records.filter((r) => r.status === 'failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.error?.code, 'MIGRATION_FAILED');
  assert.equal(w.tracker.get(failed[0]!.vm), failed[0]!.from, 'the failed leg\'s VM is where it was');
  assert.equal(o.status().converged, false);
  assert.equal(w.over(), 0);
});

test('live look-ahead: a leg is asked of its agent only once its started record is stored, and that record already names its target and the planner\'s decision', async () => {
  const w = world();
  let legsAsked = 0;
  const decide = w.deps.decide.bind(w.deps);
  const stored: MigrationRecord[] = [];
  const deps: OrchestratorDeps = {
    ...w.deps,
    decide: (hv, body) => {
      if (body.target !== undefined) legsAsked += 1;
      return decide(hv, body);
    },
    // a cluster leader that lost its lease: started records are refused
    onRecord: (r) => {
      stored.push(structuredClone(r));
      return r.status === 'started' && r.finishedAt === null ? Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', 'fenced')) : undefined;
    },
  };
  const before = new Map(w.tracker);
  const o = await runToEnd({ ...w, deps }, { policy: 'gain-order', lookahead: true, maxRounds: 1 });
  assert.equal(legsAsked, 0, 'no leg asked without its stored record');
  assert.deepEqual(w.tracker, before);
  assert.ok(o.records.length > 0 && o.records.every((r) => r.status === 'failed' && r.error?.code === 'CLUSTER_NOT_LEADER'), 'o.records.length > 0 && o.records.every((r) => r.status === \'failed\' && r.error?.code =...');
  const started = stored.filter((r) => r.status === 'started');
  assert.ok(started.length > 0, 'started.length > 0');
  for (const r of started) {
    assert.notEqual(r.to, null, 'the started record names its target');
    assert.match(r.decision?.reason ?? '', /^largest gain first/, 'and carries the planner\'s decision');
  }
});
