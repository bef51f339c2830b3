import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { runPolicy } from '../core/policies.ts';
import { decide } from '../core/decision.ts';
import { totalCost, trafficMatrix, vmCost, type DirectedFlow } from '../core/cost.ts';
import { createOrchestrator, LATE_WATCH_CONFIRMS, type OrchestratorDeps } from './orchestrator.ts';
import { virtualClock } from '../runtime/clock.ts';
import type { AgentDecideResult, NorthEvent } from '../api/contract.ts';
import { isScoreError, ScoreError } from '../errors/errors.ts';
import { flowsAt, type Timeline } from '../scenario/timeline.ts';
import { minimumMigrationsToColocate } from '../sim/phased.ts';
import { firstMoveSeenLate } from './run-to-end.testing.ts';
import type { PathOracle } from '../core/paths.ts';
import { decisionRail } from '../agent/agent.ts';
import {
  continuousConfig,
  countOscillations,
  createContinuousState,
  declineCode,
  declineStands,
  DECLINE_RETRY_PERIODS,
  emptyPeriodSummary,
  endPeriod,
  idleReason,
  holdOffReason,
  noteChoice,
  noteDecline,
  noteMigration,
  pickTarget,
  pricingFn,
  type ContinuousRequest,
  type NetworkSignals,
} from './continuous.ts';

const QUIET: NetworkSignals = { lastChangeAt: null, lastChange: null, switchesDown: [], linksDown: [], inFlight: [] };

/**
 * A fake network and agents whose traffic follows a timeline (or a function of the clock): the
 * snapshot gives the rates of now, agents decide with the core, a "driver" moves the VM.
 */
function world(o: { scenario?: string; traffic?: (tSec: number) => readonly DirectedFlow[]; network?: (now: number) => NetworkSignals; agentDown?: (hv: string) => boolean; refuseAt?: (tSec: number) => boolean } = {}) {
  const { model } = loadScenarioFile(o.scenario ?? 'paper');
  const tl: Timeline = model.timeline;
  const trafficAt = o.traffic ?? ((t: number) => flowsAt(tl, t));
  const tracker = new Map(model.placement);
  const clock = virtualClock();
  const events: NorthEvent[] = [];
  let decideCalls = 0;
  const deps: OrchestratorDeps = {
    clock,
    settleMs: 1000,
    confirmMs: 500,
    snapshot: () => ({ vms: model.vms, placement: new Map(tracker), traffic: trafficMatrix(trafficAt(clock.now() / 1000)), oracle: model.oracle, rank: model.rank, rates: [], weights: {} }),
    hypervisorOf: (vm) => tracker.get(vm),
    emit: (e) => events.push(e),
    ...(o.network ? { network: () => o.network!(clock.now()) } : {}),
    decide(hv, body): Promise<AgentDecideResult> {
      decideCalls += 1;
      if (o.agentDown?.(hv)) return Promise.reject(new ScoreError('NO_AGENT', `no agent is registered for hypervisor ${hv}`));
      assert.equal(tracker.get(body.vm), hv, 'the orchestrator asks the agent of the VM\'s hypervisor');
      const load = new Map<string, number>();
      for (const h of tracker.values()) load.set(h, (load.get(h) ?? 0) + 1);
      // the agent's own reading of blocked/only (agent.ts)
      const { rail } = decisionRail(body);
      const traffic = trafficMatrix(trafficAt(clock.now() / 1000));
      // `refuseAt`: asked to migrate, the agent finds every hypervisor full (its own capacity check, e.g. memory the controller does not see)
      const capacity = body.migrate && o.refuseAt?.(clock.now() / 1000) === true ? new Map([...model.capacity.keys()].map((h) => [h, 0])) : model.capacity;
      const d = decide({ vm: body.vm, placement: tracker, traffic, oracle: model.oracle, capacity, load, rank: model.rank, migrationCost: body.migrationCost ?? 0, mode: body.mode ?? 'first', rail });
      const decision = { ...d, candidates: [...d.candidates] };
      if (!body.migrate || d.to === null) return Promise.resolve({ decision, migrated: false, error: null });
      tracker.set(body.vm, d.to);
      return Promise.resolve({ decision, migrated: true, error: null });
    },
  };
  const cost = () => totalCost(tracker, trafficMatrix(trafficAt(clock.now() / 1000)), model.oracle);
  return { model, tracker, clock, deps, events, cost, trafficAt, decideCalls: () => decideCalls };
}

/** Runs continuous mode for `seconds` of virtual time, then stops it. */
async function runFor(w: ReturnType<typeof world>, req: ContinuousRequest, seconds: number, policy: 'load-aware' | 'round-robin' | 'gain-order' = 'load-aware', at?: (tSec: number) => void) {
  const o = createOrchestrator(w.deps);
  o.start({ policy, continuous: continuousConfig(req) });
  const end = w.clock.now() + seconds * 1000;
  while (w.clock.now() < end) {
    await w.clock.advance(250);
    await new Promise((r) => setImmediate(r));
    at?.(w.clock.now() / 1000);
  }
  const stopping = o.stop();
  while (o.status().state !== 'idle') {
    await w.clock.advance(250);
    await new Promise((r) => setImmediate(r));
  }
  await stopping;
  const moves = o.records.filter((r) => r.status === 'succeeded').map((r) => ({ vm: r.vm, from: r.from, to: r.to!, period: r.round, at: r.startedAt }));
  return { o, moves };
}

test('continuous config: defaults, and out-of-range options are refused with CONTINUOUS_INVALID', () => {
  const c = continuousConfig({ everyMs: 5000 });
  assert.equal(c.stableRounds, 3);
  assert.equal(c.pricing.kind, 'precopy');
  assert.equal(continuousConfig({ everyMs: 5000, migrationCost: 7 }).pricing.kind, 'fixed');
  for (const bad of [{ everyMs: 10 }, { everyMs: 1000, stableRounds: 0 }, { everyMs: 1000, maxPerPeriod: 1.5 }, { everyMs: 1000, precopy: { bandwidthBytesPerSec: 0 } }, { everyMs: 1000, migrationCost: -1 }]) {
    assert.throws(() => continuousConfig(bad), (e: unknown) => isScoreError(e) && e.code === 'CONTINUOUS_INVALID', JSON.stringify(bad));
  }
});

test('continuous pricing defaults to QEMU\'s stop-copy threshold (bandwidth × 6 ms), following the bandwidth unless set', () => {
  const oracle: PathOracle = { cost: (a, b) => (a === b ? 0 : 2), path: () => [] };
  const priced = (precopy: ContinuousRequest['precopy']): { stop: number; cm: number } => {
    const c = continuousConfig({ everyMs: 5000, ...(precopy === undefined ? {} : { precopy }) });
    assert.equal(c.pricing.kind, 'precopy');
    return { stop: c.pricing.kind === 'precopy' ? c.pricing.stopCopyBytes : NaN, cm: pricingFn(c, oracle)('vm', 'a', 'b') };
  };
  // 1 Gb/s: 125 MB/s × 6 ms
  const d = priced(undefined);
  assert.ok(Math.abs(d.stop - 750_000) < 1e-6, String(d.stop));
  // the default VM (4 GiB, 10 MB/s dirtied): each round leaves r = 10/125 of the last; 4 GiB × r³ = 2.2 MB is
  // above 0.75 MB, 4 GiB × r⁴ = 0.18 MB is not: four rounds and the stop-copy, over path weight 2 and 300 s
  const m = 4 * 2 ** 30;
  const r = 10e6 / 125e6;
  assert.ok(Math.abs(d.cm / ((m * (1 + r + r ** 2 + r ** 3 + r ** 4) * 2) / 300) - 1) < 1e-12, String(d.cm));
  // a request with another bandwidth gets that bandwidth's threshold; an explicit threshold is kept
  assert.ok(Math.abs(priced({ bandwidthBytesPerSec: 12.5e6 }).stop - 75_000) < 1e-6, `threshold at 12.5 MB/s: ${priced({ bandwidthBytesPerSec: 12.5e6 }).stop}, expected 75 kB`);
  const fixed = priced({ stopCopyBytes: 50e6 });
  assert.equal(fixed.stop, 50e6);
  // the old fixed 50 MB stops after two rounds (4 GiB × r² = 27.5 MB left): fewer bytes by 4 GiB × (r³ + r⁴)
  assert.ok(Math.abs(fixed.cm / ((m * (1 + r + r ** 2) * 2) / 300) - 1) < 1e-12, String(fixed.cm));
});

test('the stable rule, no-return and the price: pure decisions', () => {
  const s = createContinuousState(continuousConfig({ everyMs: 1000, stableRounds: 3, noReturnRounds: 5 }));
  s.period = 1;
  assert.deepEqual(noteChoice(s, 'a', 'h2'), { stable: false, count: 1 });
  s.period = 2;
  assert.deepEqual(noteChoice(s, 'a', 'h2'), { stable: false, count: 2 });
  s.period = 3;
  assert.deepEqual(noteChoice(s, 'a', 'h3'), { stable: false, count: 1 }, 'another target starts over');
  s.period = 5;
  assert.deepEqual(noteChoice(s, 'a', 'h3'), { stable: false, count: 1 }, 'a gap starts over');
  s.period = 6;
  noteChoice(s, 'a', 'h3');
  s.period = 7;
  assert.deepEqual(noteChoice(s, 'a', 'h3'), { stable: true, count: 3 });
  noteMigration(s, 'a', 'h1', 'h3');
  const cands = [
    { hypervisor: 'h1', costThere: 0, verdict: 'improves' },
    { hypervisor: 'h2', costThere: 40, verdict: 'improves' },
    { hypervisor: 'h4', costThere: null, verdict: 'full' },
  ];
  // h1 is the best but a's no-return bars it; h2 saves 60 - 40 = 20, more than c_m 10
  assert.deepEqual(pickTarget(s, 'a', 'h3', 60, cands, () => 10), { to: 'h2', costAfter: 40, migrationCost: 10, net: 10 });
  assert.equal(pickTarget(s, 'a', 'h3', 60, cands, () => 25), null, 'not worth its migration traffic');
  s.period = 13;
  assert.equal(pickTarget(s, 'a', 'h3', 60, cands, () => 10)?.to, 'h1', 'no-return lapses after R periods');
  assert.equal(countOscillations([{ vm: 'a', from: 'h1', to: 'h2', period: 1 }, { vm: 'a', from: 'h2', to: 'h1', period: 4 }], 3), 1);
  assert.equal(countOscillations([{ vm: 'a', from: 'h1', to: 'h2', period: 1 }, { vm: 'a', from: 'h2', to: 'h1', period: 5 }], 3), 0);
});

test('a saving above c_m by no more than the sums\' rounding noise is no pick: the agent\'s Eq. 3 (worthMigrating) would decline it', () => {
  const s = createContinuousState(continuousConfig({ everyMs: 1000 }));
  const cands = [{ hypervisor: 'h2', costThere: 0, verdict: 'improves' }];
  // the demo's `--cm 5999.9999999` on the paper scenario: vm3 -> hv23 saves 500 B/s × 12 = 6000
  assert.equal(pickTarget(s, 'vm3', 'h1', 6000, cands, () => 5999.9999999), null, 'within 1e-9 × C_A(u) of c_m');
  assert.equal(pickTarget(s, 'vm3', 'h1', 6000, cands, () => 5999.99)?.to, 'h2', 'a real saving is still a pick');
});

test('a declined move stands until its saving changes by more than 10 %, the target has more room, or 20 periods passed', () => {
  const s = createContinuousState(continuousConfig({ everyMs: 1000 }));
  const d = { from: 'h1', to: 'h2', code: 'full', reason: 'every candidate hypervisor is full', saving: 1000, free: 0 };
  const fresh = (): void => {
    s.period = 1;
    noteDecline(s, 'a', d);
  };
  fresh();
  s.period = 2;
  assert.equal(declineStands(s, 'a', 'h1', { to: 'h2', saving: 1090 }, () => 0)?.code, 'full', 'same move, saving within 10 %, no more room');
  assert.equal(declineStands(s, 'a', 'h1', { to: 'h2', saving: 1000 }, () => -1)?.to, 'h2', 'less room changes nothing');
  assert.equal(declineStands(s, 'a', 'h1', { to: 'h2', saving: 1200 }, () => 0), null, 'the traffic changed');
  assert.equal(s.declined?.['a'], undefined, 'a lapsed decline is forgotten');
  for (const [why, check] of [
    ['more room at the target', () => declineStands(s, 'a', 'h1', { to: 'h2', saving: 1000 }, () => 1)],
    ['another target', () => declineStands(s, 'a', 'h1', { to: 'h3', saving: 1000 }, () => 0)],
    ['nothing to move', () => declineStands(s, 'a', 'h1', null, () => 0)],
    ['the VM is elsewhere', () => declineStands(s, 'a', 'h4', { to: 'h2', saving: 1000 }, () => 0)],
  ] as const) {
    fresh();
    assert.equal(check(), null, why);
  }
  fresh();
  s.period = 1 + DECLINE_RETRY_PERIODS - 1;
  assert.ok(declineStands(s, 'a', 'h1', { to: 'h2', saving: 1000 }, () => 0) !== null, 'stands for DECLINE_RETRY_PERIODS - 1 periods');
  s.period = 1 + DECLINE_RETRY_PERIODS;
  assert.equal(declineStands(s, 'a', 'h1', { to: 'h2', saving: 1000 }, () => 0), null, 'asked again after DECLINE_RETRY_PERIODS');
  fresh();
  s.period = 2;
  endPeriod(s, emptyPeriodSummary(2), false);
  assert.equal(s.declined?.['a'], undefined, 'a decline the period did not see stand (its VM not asked) is forgotten');
  fresh();
  s.period = 2;
  declineStands(s, 'a', 'h1', { to: 'h2', saving: 1000 }, () => 0);
  endPeriod(s, emptyPeriodSummary(2), false);
  const kept = (): string | undefined => s.declined?.['a']?.to;
  assert.equal(kept(), 'h2', 'one that stood is kept');
  fresh();
  noteMigration(s, 'a', 'h1', 'h2');
  assert.equal(s.declined?.['a'], undefined, 'a VM that moved has no decline');
  assert.equal(declineCode([{ hypervisor: 'h2', verdict: 'no-gain' }], 'h2'), 'no-gain');
  assert.equal(declineCode([{ hypervisor: 'h2', verdict: 'rail', rail: 'stable' }], 'h2'), 'stable');
  assert.equal(declineCode([], 'h2'), 'not-a-candidate');
  const summary = { ...emptyPeriodSummary(3), asked: 3, pricedOut: 2, declined: 1 };
  assert.match(idleReason(s, summary, true) ?? '', /^every move not declined by its agent \(1 declined: continuous\.declined\) is priced out: 2 of 3/, 'a declined move is not said to be priced out');
  assert.match(idleReason(s, { ...summary, declined: 0 }, true) ?? '', /^every move is priced out: 2 of 3/);
});

test('a stable move the agent declines is recorded once, not asked again, and does not keep converged false', async () => {
  const w = world({ traffic: () => [{ src: 'vm1', dst: 'vm6', rate: 500 }], refuseAt: () => true });
  // 18 periods: fewer than DECLINE_RETRY_PERIODS
  const { o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 90);
  const declined = o.records.filter((r) => r.status === 'declined');
  assert.deepEqual(declined.map((r) => r.vm).sort(), ['vm1', 'vm6'], `one record per VM: ${declined.map((r) => `${r.vm}@${r.round}`).join(' ')}`);
  assert.ok(declined.every((r) => r.decision?.reason === 'every candidate hypervisor is full'), 'the record carries the agent\'s reason');
  assert.equal(o.records.filter((r) => r.status === 'succeeded').length, 0, 'nothing moved');
  const s = o.status();
  assert.equal(s.converged, true, `settled: ${JSON.stringify(s.continuous?.lastPeriod)}`);
  assert.equal(s.continuous?.lastPeriod?.declined, 2, JSON.stringify(s.continuous?.lastPeriod));
  assert.equal(s.continuous?.lastPeriod?.heldBack, 0, JSON.stringify(s.continuous?.lastPeriod));
  assert.deepEqual(
    s.continuous?.declined?.map((d) => [d.vm, d.to, d.code]).sort(),
    [
      ['vm1', 'hv17', 'full'],
      ['vm6', 'hv16', 'full'],
    ],
    'GET /orchestration says which moves are set aside, and why',
  );
});

test('a declined move is asked again once the traffic changed beyond 10 %, and after 20 periods', async () => {
  // doubled rates at 60 s; the agents refuse until 100 s
  const w = world({ traffic: (t) => [{ src: 'vm1', dst: 'vm6', rate: t < 60 ? 500 : 1000 }], refuseAt: (t) => t < 100 });
  const { o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 200);
  const asked = o.records.filter((r) => r.vm === 'vm1' && (r.status === 'declined' || r.status === 'succeeded')).map((r) => [r.round, r.status]);
  // period k starts at 5(k - 1) s: stable in period 2; the change, seen in period 13 (60 s), is
  // stable in 14; 20 periods later (34) the decline lapses, the choice is new again and stable
  // (stableRounds 2) in 35, when the agent, no longer refusing, moves it
  assert.deepEqual(asked, [
    [2, 'declined'],
    [14, 'declined'],
    [14 + DECLINE_RETRY_PERIODS + 1, 'succeeded'],
  ]);
  assert.equal(o.status().converged, true, JSON.stringify(o.status().continuous?.lastPeriod));
});

test('hold-off reasons: migration in flight, switch reconnecting, link down, a recent change; a long outage is the new normal', () => {
  assert.equal(holdOffReason(QUIET, 1000, 10_000), null);
  assert.match(holdOffReason({ ...QUIET, inFlight: ['m3 (vm1)'] }, 0, 10_000)!, /in flight: m3/);
  assert.match(holdOffReason({ ...QUIET, switchesDown: [{ name: 't1', since: 0 }] }, 5000, 10_000)!, /reconnecting: t1/);
  assert.match(holdOffReason({ ...QUIET, linksDown: [{ id: 'a1:1-t1:3', since: 0 }] }, 5000, 10_000)!, /link\(s\) down: a1:1-t1:3/);
  assert.equal(holdOffReason({ ...QUIET, linksDown: [{ id: 'a1:1-t1:3', since: 0 }] }, 60_001, 10_000), null);
  assert.match(holdOffReason({ ...QUIET, lastChangeAt: 1000, lastChange: 'link-added x' }, 4000, 10_000)!, /link-added x 3\.0 s ago/);
  // a path a switch refused and not installed since: its packets go through the controller
  assert.match(holdOffReason({ ...QUIET, pathsRejected: [{ id: 'vm1->vm2', since: 0 }] }, 5000, 10_000)!, /refused by a switch, not installed yet: vm1->vm2/);
  assert.equal(holdOffReason({ ...QUIET, pathsRejected: [{ id: 'vm1->vm2', since: 0 }] }, 60_001, 10_000), null, 'refused for 6 quiet periods: the network as it is');
  assert.equal(holdOffReason({ ...QUIET, pathsRejected: [] }, 5000, 10_000), null);
});

test('stationary traffic: continuous mode makes no more migrations than one-shot, and none after it converged', async () => {
  for (const policy of ['load-aware', 'round-robin'] as const) {
    const w = world();
    const oneShot = runPolicy({ policy, vms: w.model.vms, placement: w.model.placement, traffic: w.model.traffic, oracle: w.model.oracle, capacity: w.model.capacity, rank: w.model.rank, migrationCost: 0 });
    // 40 periods of 5 s; c_m = 0 so the price does not do the work the rules must do
    const { moves, o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 200, policy);
    assert.ok(moves.length > 0, 'moves.length > 0');
    assert.ok(moves.length <= oneShot.steps.length, `${policy}: continuous ${moves.length} vs one-shot ${oneShot.steps.length}`);
    assert.ok(Math.abs(w.cost()) < 1e-9, 'it reaches cost 0 as the one-shot run does');
    const lastMove = Math.max(...moves.map((m) => m.period));
    assert.ok(o.continuousState()!.period > lastMove + 20, 'many quiet periods after the last move');
    assert.equal(countOscillations(moves, 1000), 0);
  }
  // with the default pre-copy pricing (4 GiB VMs) the paper's 500 B/s flows never pay for a move
  const w = world();
  const { moves, o } = await runFor(w, { everyMs: 5000 }, 60);
  assert.equal(moves.length, 0);
  assert.ok(o.continuousState()!.period >= 10, 'o.continuousState()!.period >= 10');
});

test('a move the network confirms only after the wait is noted when seen: counted, no-return from its source, no oscillation', async () => {
  const w = world();
  const initial = w.cost();
  // seen there only after the next period began (a quiet VM): still at its source then
  const { deps, first } = firstMoveSeenLate(w, 7000);
  w.deps = deps;
  const { moves, o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 200);
  const late = first();
  assert.ok(late !== null, 'a migration happened');
  const { vm, from, to } = late;
  const rec = o.records.find((r) => r.vm === vm && r.to === to && r.from === from)!;
  assert.equal(rec.status, 'succeeded', `was ${rec.status}`);
  assert.ok(rec.confirmedLateAt !== undefined && rec.confirmedLateAt > rec.finishedAt!, 'confirmed after the wait');
  assert.equal(o.continuousState()!.migrations, moves.length, 'counted in the continuous state');
  assert.ok(o.continuousState()!.moves.some((m) => m.vm === vm && m.from === from && m.to === to), 'in the move history the no-return rule reads');
  assert.equal(countOscillations(moves, 1000), 0, JSON.stringify(moves));
  // the late move changes the order the others move in; without exchanges that order can end above 0 (3,000 here)
  assert.ok(w.cost() < initial, `cost ${w.cost()} at the end, ${initial} at the start`);
});

test('a move the network never confirms holds continuous mode off for a bounded time only, then it plans again', async () => {
  const w = world();
  // the agent says it moved the VM; the network goes on seeing it at its source
  const { deps, first } = firstMoveSeenLate(w, null);
  w.deps = deps;
  const { o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 200);
  const lost = first();
  assert.ok(lost !== null, 'a migration happened');
  const { vm } = lost;
  const timedOut = o.records.find((r) => r.vm === vm && r.status === 'timeout');
  assert.ok(timedOut !== undefined, 'its record stays timeout');
  assert.ok(o.records.some((r) => r.error?.code === 'HOLD_OFF' && /in flight/.test(r.error.message) && r.error.message.includes(timedOut.id)), 'held off while it was watched');
  const window = Math.max(LATE_WATCH_CONFIRMS * w.deps.confirmMs!, 2 * 5000);
  const later = o.records.filter((r) => r.status === 'succeeded' && r.startedAt > timedOut.finishedAt! + window);
  assert.ok(later.length > 0, 'moves again once the watch ended');
  assert.equal(o.continuousState()!.holdOff, null, 'not held off at the end');
});

test('paper-phases: after the pairs change partners, continuous mode re-converges to cost 0 alone, with the fewest migrations', async () => {
  const w = world({ scenario: 'paper-phases' });
  let atChange: Map<string, string> | null = null;
  const { moves, o } = await runFor(w, { everyMs: 5000, stableRounds: 3, precopy: { memoryBytes: 64 * 1024, dirtyRateBytesPerSec: 0 } }, 300, 'load-aware', (t) => {
    if (atChange === null && t >= 120) atChange = new Map(w.tracker);
  });
  assert.equal(o.status().lastError, null);
  const before = moves.filter((m) => m.at < 120_000);
  const after = moves.filter((m) => m.at >= 120_000);
  assert.equal(before.length, 6, 'the first phase converges as the paper does');
  const newFlows = flowsAt(w.model.timeline, 200);
  const min = minimumMigrationsToColocate(atChange!, newFlows);
  assert.ok(min > 0, 'min > 0');
  assert.equal(after.length, min, `after the change: ${after.map((m) => `${m.vm}:${m.from}->${m.to}`).join(' ')}`);
  assert.ok(Math.abs(w.cost()) < 1e-9, `cost after the change ${w.cost()}`);
  // no VM returns within the no-return window (vm3 may go home 23 periods later: the traffic changed)
  assert.equal(countOscillations(moves, 20), 0, moves.map((m) => `${m.vm}:${m.from}->${m.to}@${m.period}`).join(' '));
  // every stable-rule hold is in the audit log with its reason
  assert.ok(o.records.some((r) => r.status === 'held' && r.error?.code === 'RAIL_HELD' && r.error.message.startsWith('stable:')), 'o.records.some((r) => r.status === \'held\' && r.error?.code === \'RAIL_HELD\' && r.error.m...');
});

test('never ping-pong: traffic that flips faster than N periods moves nothing; slower flips never send a VM back', async () => {
  const { model } = loadScenarioFile('paper');
  const a = [{ src: 'vm1', dst: 'vm6', rate: 500 }];
  const b = [{ src: 'vm1', dst: 'vm23', rate: 500 }];
  // flips every period (5 s): vm1 never chooses one target in 3 consecutive periods
  const fast = world({ traffic: (t) => (Math.floor(t / 5) % 2 === 0 ? a : b) });
  const r1 = await runFor(fast, { everyMs: 5000, migrationCost: 0, stableRounds: 3 }, 200);
  assert.equal(r1.moves.length, 0);
  // flips every 30 s: moves happen, but never back to a hypervisor left within the no-return window
  const slow = world({ traffic: (t) => (Math.floor(t / 30) % 2 === 0 ? a : b) });
  const r2 = await runFor(slow, { everyMs: 5000, migrationCost: 0, stableRounds: 2, noReturnRounds: 20 }, 300);
  assert.ok(r2.moves.length >= 1, 'r2.moves.length >= 1');
  assert.equal(countOscillations(r2.moves, 20), 0, JSON.stringify(r2.moves));
  assert.ok(r2.moves.every((m) => m.vm === 'vm1' || model.vms.includes(m.vm)), 'r2.moves.every((m) => m.vm === \'vm1\' || model.vms.includes(m.vm))');
});

test('hold-off: nothing is planned while a link is down or the network just changed; the reason is audited and published', async () => {
  // link down from 0 to 40 s, then a switch reconnects at 60 s
  const net = (now: number): NetworkSignals =>
    now < 40_000
      ? { ...QUIET, linksDown: [{ id: 'hv16:1-t1:1', since: 0 }], lastChangeAt: 0, lastChange: 'link-removed hv16:1-t1:1' }
      : now < 60_000
        ? { ...QUIET, lastChangeAt: 40_000, lastChange: 'link-added hv16:1-t1:1' }
        : { ...QUIET, lastChangeAt: 60_000, lastChange: 'switch-up t2' };
  const w = world({ network: net });
  const { moves, o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 1, quietMs: 10_000 }, 120);
  const first = Math.min(...moves.map((m) => m.at));
  assert.ok(first >= 50_000, `first move at ${first} ms, while the network was changing`);
  const holds = o.records.filter((r) => r.error?.code === 'HOLD_OFF').map((r) => r.error!.message);
  assert.ok(holds.some((m) => m.startsWith('link(s) down: hv16:1-t1:1')), holds.join(' | '));
  assert.ok(holds.some((m) => m.startsWith('network changed: link-added')), holds.join(' | '));
  assert.ok(holds.some((m) => m.startsWith('network changed: switch-up t2')), holds.join(' | '));
  assert.ok(w.events.some((e) => e.type === 'orchestration' && typeof (e.data.continuous as { holdOff?: unknown } | undefined)?.holdOff === 'string'), 'w.events.some((e) => e.type === \'orchestration\' && typeof (e.data.continuous as { holdO...');
  assert.ok(Math.abs(w.cost()) < 1e-9, 'Math.abs(w.cost()) < 1e-9');
});

test('a hypervisor without an agent: its VMs get one failed record each, not one per period; the others converge', async () => {
  const w = world({ agentDown: (hv) => hv === 'hv16' });
  const { o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 1 }, 120);
  const failed = o.records.filter((r) => r.status === 'failed');
  assert.deepEqual(failed.map((r) => r.vm).sort(), ['vm1', 'vm2', 'vm3']);
  assert.ok(failed.every((r) => r.error?.code === 'NO_AGENT'), 'failed.every((r) => r.error?.code === \'NO_AGENT\')');
  assert.ok(o.continuousState()!.period >= 20, 'o.continuousState()!.period >= 20');
  assert.ok(o.records.some((r) => r.status === 'succeeded'), 'VMs elsewhere still move');
  assert.equal(o.status().lastError, null);
});

test('converged: true once the network sits at cost 0, though VMs the round no longer asks once had a choice (issue #12 trial)', async () => {
  for (const policy of ['load-aware', 'round-robin'] as const) {
    const w = world();
    const { o } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 200, policy);
    assert.ok(Math.abs(w.cost()) < 1e-9, `${policy}: cost ${w.cost()} at the end`);
    assert.equal(o.status().converged, true, `${policy}: converged at cost 0 (stale choices: ${JSON.stringify(o.continuousState()!.choices)})`);
    const last = o.status().continuous?.lastPeriod;
    assert.ok(last != null, `${policy}: GET /orchestration shows the last period`);
    assert.equal(last.moved, 0, `${policy}: the last period moved nothing`);
    assert.deepEqual(o.continuousState()!.choices, {}, `${policy}: no choice outlives the period that made it`);
  }
});

test('converged: false while a move waits for the stable rule, and true once it is done', async () => {
  const w = world({ traffic: () => [{ src: 'vm1', dst: 'vm6', rate: 500 }] });
  const o = createOrchestrator(w.deps);
  o.start({ policy: 'load-aware', continuous: continuousConfig({ everyMs: 5000, migrationCost: 0, stableRounds: 3 }) });
  const seen: { period: number; converged: boolean; waiting: number; moved: number }[] = [];
  for (let i = 0; i < 200; i++) {
    await w.clock.advance(250);
    await new Promise((r) => setImmediate(r));
    const s = o.status();
    const p = s.continuous?.lastPeriod;
    if (p != null && seen.at(-1)?.period !== p.period) seen.push({ period: p.period, converged: s.converged, waiting: p.waitingStable, moved: p.moved });
  }
  const stopping = o.stop();
  while (o.status().state !== 'idle') await w.clock.advance(250);
  await stopping;
  // vm1 and vm6 each choose the other's hypervisor; once vm1 moved, vm6 (cost 0) is no longer asked
  assert.deepEqual(seen.slice(0, 2).map((x) => [x.waiting, x.converged]), [[2, false], [2, false]], JSON.stringify(seen));
  assert.equal(seen[2]?.moved, 1, JSON.stringify(seen));
  assert.equal(seen[2]?.converged, false, 'a period that moved is not converged');
  assert.ok(seen.length > 5 && seen.slice(3).every((x) => x.converged && x.moved === 0 && x.waiting === 0), JSON.stringify(seen));
});

test('every move priced out: the last period says why (priced out, largest saving against its c_m), and the audit log says it once', async () => {
  // the paper scenario under the default pre-copy price (4 GiB VMs): c_m is millions, savings thousands
  const w = world();
  const { o, moves } = await runFor(w, { everyMs: 5000 }, 120);
  assert.equal(moves.length, 0);
  const last = o.status().continuous?.lastPeriod;
  assert.ok(last != null, 'GET /orchestration shows the last period');
  assert.ok(last.asked > 0 && last.pricedOut > 0 && last.moved === 0 && last.waitingStable === 0, JSON.stringify(last));
  const l = last.largestSaving;
  assert.ok(l !== null && l.saving > 0 && l.migrationCost > l.saving, JSON.stringify(l));
  // vm3 (hv16) talks to vm23 (hv23) across the pods: moving there saves the most
  assert.equal(l.saving, Math.max(...w.model.vms.map((vm) => vmCostNow(w, vm))), 'the largest saving is a whole VM\'s cost (its peer\'s hypervisor has room)');
  const said = o.records.filter((r) => r.error?.code === 'PRICED_OUT');
  assert.equal(said.length, 1, `one record for ${o.continuousState()!.period} periods: ${said.map((r) => r.error!.message).join(' | ')}`);
  assert.equal(said[0]!.vm, '*');
  assert.match(said[0]!.error!.message, /priced out.*largest: vm\d+ -> hv\d+ saves [\d.]+ against c_m [\d.]+.*pre-copy/);
  // nothing would move on this traffic: a fixed point, and the summary says it is the price
  assert.equal(o.status().converged, true);
});

function vmCostNow(w: ReturnType<typeof world>, vm: string): number {
  return vmCost(vm, w.tracker, trafficMatrix(w.trafficAt(w.clock.now() / 1000)), w.model.oracle);
}

test('a priced-out spell that ends and starts again is audited again; a hold-off in between is not "priced out"', async () => {
  const net = (now: number): NetworkSignals => (now >= 40_000 && now < 50_000 ? { ...QUIET, linksDown: [{ id: 'hv16:1-t1:1', since: 40_000 }], lastChangeAt: 40_000, lastChange: 'link-removed hv16:1-t1:1' } : now >= 50_000 ? { ...QUIET, lastChangeAt: 50_000, lastChange: 'link-added hv16:1-t1:1' } : QUIET);
  const w = world({ network: net });
  const { o } = await runFor(w, { everyMs: 5000, quietMs: 5000 }, 120);
  const codes = o.records.filter((r) => r.vm === '*').map((r) => r.error!.code);
  assert.deepEqual(codes, ['PRICED_OUT', 'HOLD_OFF', 'HOLD_OFF', 'PRICED_OUT'], codes.join(' '));
});

test('the gain-ordered policy runs in continuous mode (it reads the hypervisors\' capacity) and converges', async () => {
  const w = world();
  const cap = w.model.capacity;
  const deps = w.deps;
  w.deps = { ...deps, snapshot: () => ({ ...deps.snapshot(), capacity: cap }) };
  const { o, moves } = await runFor(w, { everyMs: 5000, migrationCost: 0, stableRounds: 2 }, 200, 'gain-order');
  assert.equal(o.status().lastError, null);
  assert.ok(moves.length > 0, 'it moves');
  assert.ok(Math.abs(w.cost()) < 1e-9, `cost ${w.cost()}`);
  assert.equal(o.status().converged, true);
  assert.equal(countOscillations(moves, 1000), 0);
});

test('a run that ends on an error says its code beside the message (lastErrorCode; a bug is INTERNAL)', async () => {
  for (const [thrown, code] of [[new ScoreError('UNKNOWN_VM', 'no VM "vm99"'), 'UNKNOWN_VM'], [new RangeError('a bug'), 'INTERNAL']] as const) {
    const w = world();
    w.deps = { ...w.deps, snapshot: () => { throw thrown; } };
    const o = createOrchestrator(w.deps);
    o.start({ policy: 'load-aware', continuous: continuousConfig({ everyMs: 5000 }) });
    assert.equal(o.status().lastErrorCode, null, 'a fresh run has no error');
    await o.finished();
    assert.equal(o.status().state, 'idle');
    assert.equal(o.status().lastError, thrown.message);
    assert.equal(o.status().lastErrorCode, code, thrown.message);
  }
});
