import { runToEnd } from './run-to-end.testing.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalCost, trafficMatrix } from '../core/cost.ts';
import { rankOf, type PolicyName } from '../core/policies.ts';
import { decideWithSwap } from '../core/swap.ts';
import { SMALL_TOPOLOGIES } from '../core/test-instances.ts';
import { virtualClock } from '../runtime/clock.ts';
import type { AgentDecideResult, MigrationRecord } from '../api/contract.ts';
import { ScoreError } from '../errors/errors.ts';
import type { OrchestratorDeps } from './orchestrator.ts';

/**
 * a and b talk heavily from two full hypervisors, each with a VM that talks to c, itself on a full
 * hypervisor (with z, who talks to nobody): no single move has room. Two other hypervisors have one
 * free slot each. Fake agents decide with the core (exchanges on) and
 * honour `target` legs; the tracker is the only placement and counts how far any hypervisor ever
 * went over its capacity.
 */
function world(o: { failLeg?: number } = {}) {
  const b = SMALL_TOPOLOGIES[0]!;
  const [h1, h2, h3, h4, h5] = b.topology.hypervisors as [string, string, string, string, string];
  const tracker = new Map([['a', h1], ['x', h1], ['b', h5], ['y', h5], ['c', h3], ['z', h3]]);
  const capacity = new Map(b.topology.hypervisors.map((h) => [h, h === h2 || h === h4 ? 1 : 2]));
  const traffic = trafficMatrix([{ src: 'a', dst: 'b', rate: 100 }, { src: 'y', dst: 'c', rate: 100 }, { src: 'x', dst: 'c', rate: 1 }]);
  const vms = ['a', 'b', 'c', 'x', 'y', 'z'];
  const rank = rankOf(vms);
  const clock = virtualClock();
  let over = 0;
  let legs = 0;
  const initial = totalCost(tracker, traffic, b.oracle);
  const deps: OrchestratorDeps = {
    clock,
    settleMs: 1000,
    confirmMs: 500,
    snapshot: () => ({ vms, placement: new Map(tracker), traffic, oracle: b.oracle, rank, rates: [], weights: {}, capacity }),
    hypervisorOf: (vm) => tracker.get(vm),
    emit: () => {},
    decide(hv, body): Promise<AgentDecideResult> {
      if (tracker.get(body.vm) !== hv) return Promise.reject(new ScoreError('UNKNOWN_VM', 'wrong agent'));
      if (body.target !== undefined) {
        legs += 1;
        const decision = { vm: body.vm, from: hv, to: body.target, costBefore: 0, costAfter: 0, migrationCost: 0, mode: 'first', candidates: [], reason: `leg of ${body.exchange ?? '?'}` };
        if (legs === o.failLeg) return Promise.resolve({ decision, migrated: false, error: { code: 'MIGRATION_FAILED', message: 'driver failed' } });
        tracker.set(body.vm, body.target);
        const n = new Map<string, number>();
        for (const h of tracker.values()) n.set(h, (n.get(h) ?? 0) + 1);
        for (const [h, k] of n) over = Math.max(over, k - capacity.get(h)!);
        return Promise.resolve({ decision, migrated: true, error: null });
      }
      const load = new Map<string, number>();
      const members = new Map<string, string[]>();
      for (const [vm, h] of tracker) {
        load.set(h, (load.get(h) ?? 0) + 1);
        members.set(h, [...(members.get(h) ?? []), vm]);
      }
      const input = { vm: body.vm, placement: tracker, traffic, oracle: b.oracle, capacity, load, rank, migrationCost: 0, mode: body.mode ?? ('first' as const), members };
      const d = body.swaps === true ? decideWithSwap(input) : decideWithSwap({ ...input, members: new Map() });
      const decision = { ...d, candidates: [...d.candidates] };
      if (!body.migrate || d.to === null || d.swap !== undefined) return Promise.resolve({ decision, migrated: false, error: null });
      tracker.set(body.vm, d.to);
      return Promise.resolve({ decision, migrated: true, error: null });
    },
  };
  return { deps, clock, tracker, traffic, oracle: b.oracle, initial, over: () => over, hosts: { h1, h5 } };
}

function runSwaps(w: ReturnType<typeof world>, opts: { policy: PolicyName; swaps: boolean; overcommit?: number }) {
  return runToEnd(w, { policy: opts.policy, swaps: opts.swaps, ...(opts.overcommit === undefined ? {} : { overcommit: opts.overcommit }) });
}

test('live exchange: without swaps nothing can move; with swaps the pair goes through a free slot in 3 confirmed migrations, never over capacity, and the audit log explains the pair', async () => {
  const plain = world();
  const o0 = await runSwaps(plain, { policy: 'load-aware', swaps: false });
  assert.equal(o0.records.filter((r) => r.status === 'succeeded').length, 0);
  assert.ok(o0.records.some((r) => r.decision?.reason === 'every candidate hypervisor is full'), 'o0.records.some((r) => r.decision?.reason === \'every candidate hypervisor is full\')');

  const w = world();
  const o = await runSwaps(w, { policy: 'load-aware', swaps: true });
  const pairs = o.records.filter((r) => r.decision?.swap !== undefined);
  assert.ok(pairs.length >= 1, 'pairs.length >= 1');
  for (const pair of pairs) {
    assert.equal(pair.status, 'succeeded');
    assert.match(pair.decision!.reason, /^exchange with [a-z]: .* is full/);
  }
  // every exchange is 3 confirmed migrations, numbered in order
  const legs = o.records.filter((r) => r.step !== null);
  assert.deepEqual(legs.map((r) => r.step), Array.from({ length: 3 * pairs.length }, (_, i) => i + 1));
  assert.ok(legs.every((r) => r.status === 'succeeded' && /leg/.test(r.decision!.reason)), 'legs.every((r) => r.status === \'succeeded\' && /leg/.test(r.decision!.reason))');
  assert.equal(w.over(), 0);
  assert.equal(w.tracker.get('a'), w.tracker.get('b'));
  assert.ok(totalCost(w.tracker, w.traffic, w.oracle) < w.initial, 'totalCost(w.tracker, w.traffic, w.oracle) < w.initial');
  assert.equal(o.status().migrations, 3 * pairs.length);
});

test('live exchange with a declared overcommit of 1: 2 migrations, at most one VM over on one hypervisor', async () => {
  const w = world();
  const o = await runSwaps(w, { policy: 'load-aware', swaps: true, overcommit: 1 });
  const pairs = o.records.filter((r) => r.decision?.swap !== undefined && r.status === 'succeeded').length;
  assert.ok(pairs >= 1, 'pairs >= 1');
  assert.deepEqual(o.records.filter((r) => r.step !== null).map((r) => r.step), Array.from({ length: 2 * pairs }, (_, i) => i + 1));
  assert.equal(w.over(), 1);
  assert.equal(w.tracker.get('a'), w.tracker.get('b'));
});

test('live exchange: a failed leg stops the exchange with every VM where the tracker sees it', async () => {
  const w = world({ failLeg: 2 });
  const o = await runSwaps(w, { policy: 'load-aware', swaps: true });
  const pair = o.records.find((r) => r.decision?.swap !== undefined);
  assert.ok(pair !== undefined, 'pair !== undefined');
  assert.equal(pair.status, 'failed');
  assert.match(pair.error!.message, /stopped after 1 of 3 migrations/);
  // each VM in exactly one place, within capacity
  assert.equal(new Set(w.tracker.keys()).size, 6);
  assert.equal(w.over(), 0);
});

test('live exchange: a leg is asked of its agent only once its started record is stored, and that record already names its target', async () => {
  const w = world();
  let legsAsked = 0;
  let fenced = false;
  const decide = w.deps.decide.bind(w.deps);
  const stored: MigrationRecord[] = [];
  const deps: OrchestratorDeps = {
    ...w.deps,
    async decide(hv, body) {
      if (body.target !== undefined) legsAsked += 1;
      const res = await decide(hv, body);
      // the leader loses its lease right after an agent proposed an exchange
      if (res.decision.swap !== undefined) fenced = true;
      return res;
    },
    onRecord: (r) => {
      stored.push(structuredClone(r));
      return fenced && r.status === 'started' && r.finishedAt === null ? Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', 'fenced')) : undefined;
    },
  };
  const before = new Map(w.tracker);
  const o = await runSwaps({ ...w, deps }, { policy: 'load-aware', swaps: true });
  assert.ok(fenced, 'an exchange was proposed');
  assert.equal(legsAsked, 0, 'no leg asked without its stored record');
  assert.deepEqual(w.tracker, before);
  const pair = o.records.find((r) => r.decision?.swap !== undefined);
  assert.equal(pair?.status, 'failed');
  const legs = stored.filter((r) => r.status === 'started' && r.id !== pair?.id && r.decision === null);
  assert.ok(legs.length > 0, 'legs.length > 0');
  for (const r of legs) assert.notEqual(r.to, null, 'the started leg record names its target');
  assert.ok(o.records.some((r) => r.status === 'failed' && r.error?.code === 'CLUSTER_NOT_LEADER'), 'o.records.some((r) => r.status === \'failed\' && r.error?.code === \'CLUSTER_NOT_LEADER\')');
});

test('live exchange: progress counts the legs by their record ids, not the pair\'s record', async () => {
  const w = world();
  const o = await runSwaps(w, { policy: 'load-aware', swaps: true });
  const legs = o.records.filter((r) => r.step !== null && r.status === 'succeeded').map((r) => r.id);
  assert.ok(legs.length >= 3, 'legs.length >= 3');
  assert.deepEqual(o.progress()?.counted, legs);
  assert.equal(o.progress()?.migrations, legs.length);
});

test('live exchange: a leg the agent moved but whose answer was lost is confirmed through the network, and the exchange goes on', async () => {
  const w = world();
  let lostOnce = false;
  const decide = w.deps.decide.bind(w.deps);
  const deps: OrchestratorDeps = {
    ...w.deps,
    async decide(hv, body) {
      const res = await decide(hv, body);
      if (body.target !== undefined && !lostOnce && res.migrated) {
        // the agent moved the VM (the tracker sees it) and said so on its status; the answer never came
        lostOnce = true;
        throw new ScoreError('AGENT_UNREACHABLE', 'answer lost', { agentState: 'succeeded', to: body.target });
      }
      return res;
    },
  };
  const o = await runSwaps({ ...w, deps }, { policy: 'load-aware', swaps: true });
  assert.ok(lostOnce, 'a leg lost its answer');
  const pair = o.records.find((r) => r.decision?.swap !== undefined);
  assert.ok(pair !== undefined, 'pair !== undefined');
  assert.notEqual(pair.status, 'failed', `not stopped by a leg that moved: ${JSON.stringify(pair.error)}`);
  assert.equal(new Set(w.tracker.keys()).size, 6);
  assert.equal(w.over(), 0);
});

test('live exchange: each leg names its pair record (exchange), is asked with it, and the pair\'s reason says how it is carried out; the audit log gets the final pair', async () => {
  for (const overcommit of [0, 1]) {
    const w = world();
    const stored = new Map<string, MigrationRecord>();
    const o = await runSwaps({ ...w, deps: { ...w.deps, onRecord: (r) => void stored.set(r.id, structuredClone(r)) } }, { policy: 'load-aware', swaps: true, overcommit });
    const pairs = o.records.filter((r) => r.decision?.swap !== undefined);
    assert.ok(pairs.length >= 1, 'an exchange was made');
    for (const pair of pairs) {
      const legs = o.records.filter((r) => r.exchange === pair.id);
      assert.equal(legs.length, overcommit === 1 ? 2 : 3, `${pair.id}: legs ${JSON.stringify(legs.map((r) => r.id))}`);
      for (const leg of legs) {
        assert.equal(leg.decision?.reason, `leg of ${pair.id}`);
        assert.equal(stored.get(leg.id)?.exchange, pair.id, 'the stored leg names its pair');
      }
      const how = overcommit === 1 ? new RegExp(`carried out by a temporary overcommit of ${pair.decision!.to!} \\(one VM over\\) in 2 migrations: `) : /carried out through the free slot on \S+ in 3 migrations: /;
      assert.match(pair.decision!.reason, how);
      assert.equal(stored.get(pair.id)?.status, 'succeeded', 'the audit log has the pair as it ended');
      assert.match(stored.get(pair.id)?.decision?.reason ?? '', how);
    }
  }
});
