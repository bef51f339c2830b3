import { firstMoveSeenLate, runToEnd } from './run-to-end.testing.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { runPolicy, type PolicyName } from '../core/policies.ts';
import { decide } from '../core/decision.ts';
import type { RailConfig } from '../core/rails.ts';
import { totalCost } from '../core/cost.ts';
import { createOrchestrator, type OrchestratorDeps } from './orchestrator.ts';
import { virtualClock } from '../runtime/clock.ts';
import type { AgentDecideResult, NorthEvent } from '../api/contract.ts';
import { ScoreError } from '../errors/errors.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { auditFile } from '../service/audit-file.ts';
import { decisionRail } from '../agent/agent.ts';

/** A fake network + agents: decisions by the core, a "driver" that moves the VM in the tracker. */
function fakeWorld(opts: { driverFails?: (vm: string) => boolean; neverConfirm?: boolean; agentDies?: (vm: string) => boolean; warns?: (vm: string) => string | undefined; answerLost?: (vm: string) => 'succeeded' | 'running' | undefined } = {}) {
  const { model } = loadScenarioFile('paper');
  const tracker = new Map(model.placement);
  const clock = virtualClock();
  let driverCalls = 0;
  const events: NorthEvent[] = [];
  const deps: OrchestratorDeps = {
    clock,
    settleMs: 1000,
    confirmMs: 500,
    snapshot: () => ({ vms: model.vms, placement: new Map(tracker), traffic: model.traffic, oracle: model.oracle, rank: model.rank, rates: [], weights: {} }),
    hypervisorOf: (vm) => tracker.get(vm),
    emit: (e) => events.push(e),
    decide(hv, body): Promise<AgentDecideResult> {
      if (tracker.get(body.vm) !== hv) return Promise.reject(new ScoreError('UNKNOWN_VM', 'wrong agent'));
      if (opts.agentDies?.(body.vm)) return Promise.reject(new ScoreError('AGENT_UNREACHABLE', 'agent died mid-migration'));
      const load = new Map<string, number>();
      for (const h of tracker.values()) load.set(h, (load.get(h) ?? 0) + 1);
      // the agent's own reading of blocked/only (agent.ts)
      const { rail } = decisionRail(body);
      const d = decide({ vm: body.vm, placement: tracker, traffic: model.traffic, oracle: model.oracle, capacity: model.capacity, load, rank: model.rank, migrationCost: 0, mode: body.mode ?? 'first', rail });
      const decision = { ...d, candidates: [...d.candidates] };
      if (!body.migrate || d.to === null) return Promise.resolve({ decision, migrated: false, error: null });
      driverCalls += 1;
      if (opts.driverFails?.(body.vm)) return Promise.resolve({ decision, migrated: false, error: { code: 'MIGRATION_FAILED', message: 'driver failed' } });
      const lost = opts.answerLost?.(body.vm);
      if (lost !== undefined) {
        // the agent moved it (or is still moving it) and said so on its status, but the answer never came
        if (lost === 'succeeded') tracker.set(body.vm, d.to);
        return Promise.reject(new ScoreError(lost === 'succeeded' ? 'AGENT_UNREACHABLE' : 'MIGRATION_TIMEOUT', `answer lost (${lost})`, { agentState: lost, to: d.to }));
      }
      if (!opts.neverConfirm) tracker.set(body.vm, d.to);
      const warning = opts.warns?.(body.vm);
      return Promise.resolve({ decision, migrated: true, error: null, ...(warning !== undefined ? { warnings: [warning] } : {}) });
    },
  };
  return { model, tracker, clock, deps, events, driverCalls: () => driverCalls };
}

function runPolicyLive(w: ReturnType<typeof fakeWorld>, policy: PolicyName, plan = false, rails?: RailConfig) {
  return runToEnd(w, { policy, plan, ...(rails ? { rails } : {}) });
}

test('orchestrating through agents gives exactly the core planner\'s steps, for both policies', async () => {
  for (const policy of ['round-robin', 'load-aware'] as const) {
    const w = fakeWorld();
    const o = await runPolicyLive(w, policy);
    const core = runPolicy({ policy, vms: w.model.vms, placement: w.model.placement, traffic: w.model.traffic, oracle: w.model.oracle, capacity: w.model.capacity, rank: w.model.rank, migrationCost: 0 });
    const moved = o.records.filter((r) => r.status === 'succeeded');
    assert.deepEqual(moved.map((r) => [r.vm, r.from, r.to]), core.steps.map((s) => [s.decision.vm, s.decision.from, s.decision.to]));
    assert.deepEqual(moved.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
    assert.equal(o.status().converged, true);
    assert.equal(o.status().state, 'idle');
    // the audit log keeps every asked VM with its inputs and rejected candidates
    assert.ok(o.records.every((r) => r.decision !== null && r.inputs.policyKey >= 0), 'o.records.every((r) => r.decision !== null && r.inputs.policyKey >= 0)');
    assert.ok(w.events.some((e) => e.type === 'migration-started') && w.events.some((e) => e.type === 'migration-finished'), 'w.events.some((e) => e.type === \'migration-started\') && w.events.some((e) => e.type ===...');
  }
});

test('plan mode decides for every VM and never calls the driver', async () => {
  const w = fakeWorld();
  const o = await runPolicyLive(w, 'load-aware', true);
  assert.equal(w.driverCalls(), 0);
  assert.ok(o.records.length > 0, 'o.records.length > 0');
  assert.ok(o.records.every((r) => r.status === 'planned'), 'o.records.every((r) => r.status === \'planned\')');
  assert.ok(o.records.some((r) => r.to !== null), 'the plan proposes migrations');
  assert.deepEqual([...w.tracker], [...w.model.placement], 'nothing moved');
});

test('a failing driver leaves the VM where it was and says so', async () => {
  const w = fakeWorld({ driverFails: (vm) => vm === 'vm3' });
  const o = await runPolicyLive(w, 'load-aware');
  const failed = o.records.filter((r) => r.status === 'failed');
  assert.ok(failed.length >= 1, 'failed.length >= 1');
  assert.ok(failed.every((r) => r.vm === 'vm3' && r.error?.code === 'MIGRATION_FAILED'), 'failed.every((r) => r.vm === \'vm3\' && r.error?.code === \'MIGRATION_FAILED\')');
  assert.equal(w.tracker.get('vm3'), 'hv16');
});

test('a call that failed after the agent said how its migration stood: moved is confirmed by the network, still running is a timeout kept watched', async () => {
  const w = fakeWorld({ answerLost: (vm) => (vm === 'vm3' ? 'succeeded' : undefined) });
  const o = await runPolicyLive(w, 'load-aware');
  const r = o.records.find((x) => x.vm === 'vm3' && x.to !== null);
  assert.ok(r !== undefined, 'vm3 asked');
  assert.equal(r.status, 'succeeded', `not "failed, stayed" for a VM that moved: ${JSON.stringify(r.error)}`);
  assert.equal(w.tracker.get('vm3'), r.to);
  assert.equal(o.status().converged, true);
  const w2 = fakeWorld({ answerLost: (vm) => (vm === 'vm3' ? 'running' : undefined) });
  const o2 = await runPolicyLive(w2, 'load-aware');
  const r2 = o2.records.find((x) => x.vm === 'vm3' && x.error?.code === 'MIGRATION_TIMEOUT');
  assert.ok(r2 !== undefined, 'vm3 recorded');
  assert.equal(r2.status, 'timeout');
  assert.notEqual(r2.to, null, 'its target kept, for the late watch');
});

test("a driver's warning lands in its migration record (the audit log), the migration still succeeded", async () => {
  const w = fakeWorld({ warns: (vm) => (vm === 'vm3' ? 'vm3 moved, but its announcement failed' : undefined) });
  const o = await runPolicyLive(w, 'load-aware');
  const r = o.records.find((x) => x.vm === 'vm3' && x.status === 'succeeded');
  assert.ok(r !== undefined, 'vm3 moved');
  assert.deepEqual(r.warnings, ['vm3 moved, but its announcement failed']);
  assert.ok(o.records.filter((x) => x.vm !== 'vm3').every((x) => x.warnings === undefined), 'no warning elsewhere');
});

test('an agent that dies mid-migration: recorded as failed, the tracker stays truthful', async () => {
  const w = fakeWorld({ agentDies: (vm) => vm === 'vm1' });
  const o = await runPolicyLive(w, 'round-robin');
  const r = o.records.find((x) => x.vm === 'vm1')!;
  assert.equal(r.status, 'failed');
  assert.equal(r.error?.code, 'AGENT_UNREACHABLE');
  assert.equal(w.tracker.get('vm1'), 'hv16');
  // every other VM still converged around it
  assert.ok(o.records.some((x) => x.status === 'succeeded'), 'o.records.some((x) => x.status === \'succeeded\')');
});

test('a migration the network never confirms times out without moving the VM in the books', async () => {
  const w = fakeWorld({ neverConfirm: true });
  const o = await runPolicyLive(w, 'round-robin');
  const timeouts = o.records.filter((r) => r.status === 'timeout');
  assert.ok(timeouts.length >= 1, 'timeouts.length >= 1');
  assert.equal(timeouts[0]!.error?.code, 'MIGRATION_TIMEOUT');
  assert.equal(o.records.filter((r) => r.status === 'succeeded').length, 0);
  assert.deepEqual([...w.tracker], [...w.model.placement]);
});

test('a migration the network confirms after the wait counts once it is seen: record succeeded (confirmedLateAt), count, cooldown', async () => {
  const w = fakeWorld();
  // the VM arrived, but the network sees it only 2 s later (the wait is 500 ms)
  const { deps, first: reported } = firstMoveSeenLate(w, 2000);
  const o = await runToEnd({ ...w, deps }, { policy: 'round-robin', rails: { cooldownRounds: 2 } });
  const late = reported();
  assert.ok(late !== null, 'a migration happened');
  const { vm, to } = late;
  const first = o.records.find((r) => r.vm === vm && r.to === to)!;
  assert.equal(first.status, 'succeeded', `was ${first.status} (${first.error?.message ?? ''})`);
  assert.equal(first.error, null);
  assert.ok(first.confirmedLateAt !== undefined && first.confirmedLateAt >= first.finishedAt! + 1000, 'confirmed in a later round, after the wait');
  const succeeded = o.records.filter((r) => r.status === 'succeeded');
  assert.equal(o.status().migrations, succeeded.length, 'the late one is counted');
  assert.deepEqual([...succeeded.map((r) => r.step)].sort((a, b) => a! - b!), succeeded.map((_, i) => i + 1), 'steps stay one per migration');
  assert.ok(o.progress()?.counted?.includes(first.id), 'and listed as counted for a new leader');
  // the cooldown applies from the round it moved in: it does not move again in the next two
  for (const r of succeeded) if (r.vm === vm && r !== first) assert.ok(r.round > first.round + 2, `${vm} moved again in round ${r.round}`);
  assert.equal(totalCost(w.tracker, w.model.traffic, w.model.oracle), 0);
});

test('orchestration cannot start twice; stop ends a run', async () => {
  const w = fakeWorld();
  const o = createOrchestrator(w.deps);
  o.start({ policy: 'round-robin' });
  assert.throws(() => o.start({ policy: 'load-aware' }), (e) => e instanceof ScoreError && e.code === 'ORCHESTRATION_RUNNING');
  const stopping = o.stop();
  while (o.status().state !== 'idle') {
    await w.clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  await stopping;
  await assert.rejects(o.stop(), (e) => e instanceof ScoreError && e.code === 'ORCHESTRATION_IDLE');
});

test('the audit log survives a controller restart and stays truthful about an interrupted migration', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = auditFile(join(dir, 'audit.jsonl'));
  const w = fakeWorld();
  const first = createOrchestrator({ ...w.deps, onRecord: (r) => log.append(r) });
  first.start({ policy: 'round-robin' });
  // run until the second migration is under way, then "crash": stop pumping the clock
  while (first.records.filter((r) => r.status === 'succeeded').length < 2) {
    await w.clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  const succeededBefore = first.records.filter((r) => r.status === 'succeeded').map((r) => r.id);
  // the last line written for an unfinished record is "started": simulate the crash at that point
  void log.append({ ...first.records.at(-1)!, id: 'm999', status: 'started', finishedAt: null });
  const restored = log.load();
  assert.deepEqual(restored.filter((r) => r.status === 'succeeded').map((r) => r.id).sort(), [...succeededBefore].sort());
  const interrupted = restored.find((r) => r.id === 'm999')!;
  assert.equal(interrupted.status, 'failed');
  assert.equal(interrupted.error?.code, 'MIGRATION_TIMEOUT');
  const second = createOrchestrator({ ...w.deps, history: restored });
  assert.equal(second.records.length, restored.length);
  second.start({ policy: 'round-robin', plan: true });
  while (second.status().state !== 'idle') {
    await w.clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  const ids = second.records.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'ids stay unique after the restart');
});

async function untilIdle(w: ReturnType<typeof fakeWorld>, o: ReturnType<typeof createOrchestrator>): Promise<void> {
  while (o.status().state !== 'idle') {
    await w.clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  await o.finished();
}

test('plan review: approving carries one planned move out through the agent, skipping moves nothing', async () => {
  const w = fakeWorld();
  const o = await runPolicyLive(w, 'load-aware', true);
  const proposals = o.records.filter((r) => r.status === 'planned' && r.to !== null);
  assert.ok(proposals.length >= 2, 'the plan proposes at least two moves');
  assert.ok(proposals.every((r) => r.review === null), 'every proposal starts unreviewed');
  const [first, second] = proposals as [(typeof proposals)[0], (typeof proposals)[0]];

  const skipped = o.review(second.id, 'skip');
  assert.equal(skipped.review?.verdict, 'skipped');
  assert.equal(w.driverCalls(), 0, 'a skip never reaches the driver');
  assert.throws(() => o.review(second.id, 'approve'), (e) => e instanceof ScoreError && e.code === 'PLAN_NOT_PENDING');

  const approved = o.review(first.id, 'approve');
  assert.equal(approved.review?.verdict, 'approved');
  assert.equal(o.status().state, 'running');
  // one migration at a time: nothing else may start while the approved move runs
  assert.throws(() => o.start({ policy: 'round-robin' }), (e) => e instanceof ScoreError && e.code === 'ORCHESTRATION_RUNNING');
  await untilIdle(w, o);
  const carriedOut = o.records.find((r) => r.id === first.review?.migration);
  assert.ok(carriedOut, 'the planned record points at the record that carried it out');
  assert.equal(carriedOut.status, 'succeeded');
  assert.equal(carriedOut.vm, first.vm);
  assert.equal(w.tracker.get(first.vm), carriedOut.to);
  // on an unchanged network the agent decides as it planned
  assert.equal(carriedOut.to, first.to);
  assert.equal(w.driverCalls(), 1);
  assert.throws(() => o.review(first.id, 'approve'), (e) => e instanceof ScoreError && e.code === 'PLAN_NOT_PENDING');
  assert.ok(w.events.some((e) => e.type === 'plan-reviewed' && e.data.id === second.id && e.data.verdict === 'skipped'), 'w.events.some((e) => e.type === \'plan-reviewed\' && e.data.id === second.id && e.data.ve...');
  assert.ok(w.events.some((e) => e.type === 'migration-finished' && e.data.id === carriedOut.id), 'w.events.some((e) => e.type === \'migration-finished\' && e.data.id === carriedOut.id)');
});

test('plan review: unknown ids, non-plan records and stale plans are refused', async () => {
  const w = fakeWorld();
  const o = await runPolicyLive(w, 'round-robin', true);
  assert.throws(() => o.review('m9999', 'approve'), (e) => e instanceof ScoreError && e.code === 'UNKNOWN_MIGRATION');
  const stay = o.records.find((r) => r.status === 'planned' && r.to === null);
  if (stay !== undefined) assert.throws(() => o.review(stay.id, 'approve'), (e) => e instanceof ScoreError && e.code === 'PLAN_NOT_PENDING');
  const pendingIds = o.records.filter((r) => r.status === 'planned' && r.to !== null).map((r) => r.id);
  assert.ok(pendingIds.length > 0, 'pendingIds.length > 0');
  // a new run makes the old plan stale
  o.start({ policy: 'round-robin' });
  await untilIdle(w, o);
  for (const id of pendingIds) {
    assert.equal(o.records.find((r) => r.id === id)?.review?.verdict, 'superseded');
    assert.throws(() => o.review(id, 'approve'), (e) => e instanceof ScoreError && e.code === 'PLAN_NOT_PENDING');
  }
  const moved = o.records.find((r) => r.status === 'succeeded');
  assert.ok(moved, 'moved');
  assert.throws(() => o.review(moved.id, 'skip'), (e) => e instanceof ScoreError && e.code === 'PLAN_NOT_PENDING');
});

test('safety rails in a live run: per-round and per-hypervisor limits hold every round, held VMs are recorded, the run still reaches cost 0', async () => {
  for (const policy of ['round-robin', 'load-aware'] as const) {
    const w = fakeWorld();
    const o = await runPolicyLive(w, policy, false, { maxPerRound: 2, maxPerHypervisor: 1 });
    const moved = o.records.filter((r) => r.status === 'succeeded');
    const rounds = new Set(moved.map((r) => r.round));
    for (const round of rounds) {
      const inRound = moved.filter((r) => r.round === round);
      assert.ok(inRound.length <= 2, `${policy} round ${round}: ${inRound.length} migrations`);
      const touches = new Map<string, number>();
      for (const r of inRound) for (const h of [r.from, r.to!]) touches.set(h, (touches.get(h) ?? 0) + 1);
      assert.ok([...touches.values()].every((n) => n <= 1), `${policy} round ${round}: a hypervisor in two migrations`);
    }
    // a limit slows the run down but does not stop it
    assert.ok(rounds.size >= 3, `${policy}: ${rounds.size} rounds`);
    assert.equal(totalCost(w.tracker, w.model.traffic, w.model.oracle), 0, policy);
    assert.equal(o.status().converged, true);
    // every skip is explained: a held record, or a candidate with verdict 'rail'
    const held = o.records.filter((r) => r.status === 'held');
    const railed = o.records.filter((r) => r.decision?.candidates.some((c) => c.verdict === 'rail'));
    assert.ok(held.length + railed.length > 0, policy);
    for (const r of held) assert.match(r.error?.message ?? '', /^(max-per-round|max-per-hypervisor): /);
  }
});

test('safety rails in a live run: with a cooldown no VM migrates in consecutive rounds or returns where it was', async () => {
  const w = fakeWorld();
  const o = await runPolicyLive(w, 'round-robin', false, { cooldownRounds: 1 });
  const moved = o.records.filter((r) => r.status === 'succeeded');
  const byVm = new Map<string, typeof moved>();
  for (const r of moved) byVm.set(r.vm, [...(byVm.get(r.vm) ?? []), r]);
  for (const [vm, rs] of byVm) {
    for (let i = 1; i < rs.length; i++) {
      assert.ok(rs[i]!.round - rs[i - 1]!.round > 1, `${vm} moved in rounds ${rs[i - 1]!.round} and ${rs[i]!.round}`);
      assert.notEqual(rs[i]!.to, rs[i - 1]!.from, `${vm} went back`);
    }
  }
  assert.equal(totalCost(w.tracker, w.model.traffic, w.model.oracle), 0);
});

test('plan review: an approved move is carried out only as planned; on a changed network it declines rather than going elsewhere', async () => {
  const w = fakeWorld();
  const o = await runPolicyLive(w, 'load-aware', true);
  const plan = o.records.find((r) => r.status === 'planned' && r.vm === 'vm3' && r.to !== null)!;
  assert.equal(plan.to, w.model.placement.get('vm23'), 'the plan moves vm3 next to its peer vm23');
  // the network changes before the operator approves: vm23 moves to hv20
  w.tracker.set('vm23', 'hv20');
  o.review(plan.id, 'approve');
  await untilIdle(w, o);
  const done = o.records.find((r) => r.id === plan.review?.migration)!;
  assert.equal(done.status, 'declined', 'the approved target no longer pays, so nothing moves');
  assert.equal(w.tracker.get('vm3'), plan.from);
  const elsewhere = done.decision!.candidates.find((c) => c.hypervisor === 'hv20');
  assert.equal(elsewhere?.verdict, 'rail', 'the better target now (next to vm23) was not approved');
  assert.match(elsewhere?.railReason ?? '', /approved vm3 -> /);
});

test('a run resumed from its recorded progress (cluster takeover) ends where an uninterrupted run ends, with unique ids and steps continuing', async () => {
  // the whole run, for reference
  const ref = await runPolicyLive(fakeWorld(), 'load-aware', false, { cooldownRounds: 1 });
  const refMoves = ref.records.filter((r) => r.status === 'succeeded');
  // the first leader: stops after two migrations ("dies"), its progress recorded
  const w = fakeWorld();
  // its own clock, which stops when it "dies"
  const itsClock = virtualClock();
  const first = createOrchestrator({ ...w.deps, clock: itsClock, idPrefix: () => 'g5-' });
  first.start({ policy: 'load-aware', rails: { cooldownRounds: 1 } });
  while (first.records.filter((r) => r.status === 'succeeded').length < 2) {
    await itsClock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  const progress = first.progress();
  assert.ok(progress !== null, 'progress !== null');
  assert.equal(progress.migrations, 2);
  assert.deepEqual(progress.options, { policy: 'load-aware', rails: { cooldownRounds: 1 } });
  assert.ok(progress.rails !== null && progress.rails.lastMoved.length === 2, 'the cooldowns travel with the progress');
  const json = JSON.parse(JSON.stringify(progress)) as typeof progress;
  // the next leader: the same tracker (the network), the old records, its own id prefix
  const second = await runToEnd({ ...w, deps: { ...w.deps, history: first.records.map((r) => ({ ...r })), idPrefix: () => 'g9-' } }, { ...json.options, resume: json });
  const moves = second.records.filter((r) => r.status === 'succeeded');
  assert.deepEqual(moves.map((r) => [r.vm, r.from, r.to]), refMoves.map((r) => [r.vm, r.from, r.to]));
  assert.deepEqual(moves.map((r) => r.step), refMoves.map((r) => r.step));
  assert.ok(moves.slice(0, 2).every((r) => r.id.startsWith('g5-')) && moves.slice(2).every((r) => r.id.startsWith('g9-')), moves.map((r) => r.id).join(','));
  assert.equal(new Set(second.records.map((r) => r.id)).size, second.records.length);
  assert.equal(second.status().migrations, refMoves.length);
  assert.equal(totalCost(w.tracker, w.model.traffic, w.model.oracle), 0);
});

test('a started record that cannot be stored (a leader that lost its lease) is never sent to an agent', async () => {
  const w = fakeWorld();
  const o = await runToEnd({ ...w, deps: { ...w.deps, onRecord: (r) => (r.status === 'started' && r.finishedAt === null ? Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', 'fenced')) : undefined) } }, { policy: 'load-aware', maxRounds: 1 });
  assert.equal(w.driverCalls(), 0);
  assert.ok(o.records.length > 0 && o.records.every((r) => r.status === 'failed' && r.error?.code === 'CLUSTER_NOT_LEADER'), 'o.records.length > 0 && o.records.every((r) => r.status === \'failed\' && r.error?.code =...');
  assert.deepEqual(w.tracker, new Map(w.model.placement));
});

test('a migration that failed after its switch-over was reported, whose report back to the source was lost, is put back at its source in the controller\'s view', async () => {
  let failing: string | null = null;
  const w = fakeWorld({ driverFails: (vm) => failing === null || failing === vm ? ((failing = vm), true) : false });
  const restored: [string, string][] = [];
  const o = await runToEnd(
    {
      ...w,
      deps: {
        ...w.deps,
        async decide(hv, body) {
          const r = await w.deps.decide(hv, body);
          // the early switch-over report landed; the one back to the source did not
          if (r.error !== null && r.decision.to !== null) w.tracker.set(body.vm, r.decision.to);
          return r;
        },
        restore: (vm, from) => {
          restored.push([vm, from]);
          w.tracker.set(vm, from);
        },
      },
    },
    { policy: 'round-robin', maxRounds: 1 },
  );
  const failed = o.records.filter((r) => r.status === 'failed');
  assert.equal(failed.length, 1);
  assert.deepEqual(restored, [[failed[0]!.vm, failed[0]!.from]]);
  assert.equal(w.tracker.get(failed[0]!.vm), failed[0]!.from, 'the VM is where it runs: at its source');
  assert.match(failed[0]!.error?.message ?? '', /report back was lost\): put back at /);
  // the run goes on from the corrected view: the other VMs still move
  assert.ok(o.records.some((r) => r.status === 'succeeded'), 'o.records.some((r) => r.status === \'succeeded\')');
});

test('progress names the records it counts (a new leader counts from them), carried on by a resumed run', async () => {
  const w = fakeWorld();
  const o = await runToEnd(w, { policy: 'round-robin' });
  const p = o.progress()!;
  const moved = o.records.filter((r) => r.status === 'succeeded').map((r) => r.id);
  assert.equal(moved.length, p.migrations);
  assert.deepEqual(p.counted, moved);
  assert.equal(typeof p.since, 'number');
  const again = createOrchestrator(w.deps);
  again.start({ policy: 'round-robin', resume: { round: 1, migrations: 1, rails: null, continuous: null, counted: ['g1-m1'], since: 42 } });
  await again.stop();
  assert.deepEqual([again.progress()?.counted?.[0], again.progress()?.since], ['g1-m1', 42]);
});

test('stop() cuts a settle wait short: the run ends without the clock running out the wait, and the cut settle is not reported as settled', async () => {
  const w = fakeWorld();
  const settled: number[] = [];
  const o = createOrchestrator({ ...w.deps, settleMs: 60_000, onSettled: (k) => settled.push(k) });
  o.start({ policy: 'load-aware' });
  // run until the first migration finished: the orchestrator now waits out its 60 s settle
  for (let i = 0; i < 200 && !w.events.some((e) => e.type === 'migration-finished'); i++) {
    await w.clock.advance(50);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(w.events.some((e) => e.type === 'migration-finished'), 'a migration finished');
  const settledBefore = settled.length;
  const stopping = o.stop();
  // no clock advance: the settle must end on the stop itself
  for (let i = 0; i < 50 && o.status().state !== 'idle'; i++) await new Promise((r) => setImmediate(r));
  assert.equal(o.status().state, 'idle', 'stopped without the 60 s settle running out');
  const end = await stopping;
  assert.equal(end.migrations, 1);
  assert.equal(settled.length, settledBefore, 'the cut settle is not reported as settled');
});
