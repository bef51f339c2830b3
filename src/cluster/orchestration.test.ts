import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MigrationRecord, NorthEvent } from '../api/contract.ts';
import type { Service } from '../service/service.ts';
import type { Runtime } from '../runtime/controller-runtime.ts';
import type { StartOptions } from '../orchestrator/orchestrator.ts';
import { memoryStore } from '../store/store.ts';
import { RECONCILE_MS, reconciled, resumeOptions, shareOrchestration } from './orchestration.ts';
import { agentChanges, loadAgents } from './agents.ts';
import { forwardsToLeader } from './api.ts';
import { recordKey } from './audit.ts';
import { createContinuousState, continuousConfig } from '../orchestrator/continuous.ts';
import { createRailState, recordMigration } from '../core/rails.ts';
import { railSnapshot } from '../orchestrator/orchestrator.ts';
import { type PreviousView, readPreviousView, viewPublisher } from './view-publish.ts';

const started: MigrationRecord = {
  id: 'g7-m3', vm: 'vm6', from: 'hv17', to: null, policy: 'load-aware', round: 1, step: null, status: 'started', startedAt: 1000, finishedAt: null,
  totalCostBefore: 100, totalCostAfter: null, decision: null, inputs: { rates: [], weights: {}, policyKey: 0 }, error: null, connectivity: null,
};

test('reconciling a migration the old leader left in flight: the agent says what happened, the record is finished once', () => {
  const ok = reconciled(started, { id: 'g7-m3', vm: 'vm6', from: 'hv17', to: 'hv16', state: 'succeeded', error: null }, 2, 5000);
  assert.deepEqual([ok.status, ok.to, ok.step, ok.finishedAt, ok.id], ['succeeded', 'hv16', 2, 5000, 'g7-m3']);
  const failed = reconciled(started, { id: 'g7-m3', vm: 'vm6', from: 'hv17', to: 'hv16', state: 'failed', error: { code: 'MIGRATION_FAILED', message: 'disk' } }, 2, 5000);
  assert.deepEqual([failed.status, failed.error?.code], ['failed', 'MIGRATION_FAILED']);
  assert.equal(reconciled(started, { id: 'g7-m3', vm: 'vm6', from: 'hv17', to: null, state: 'declined', error: null }, 2, 5000).status, 'declined');
  // never received: nothing moved
  const never = reconciled(started, null, 2, 5000);
  assert.deepEqual([never.status, never.to, never.error?.code], ['failed', null, 'MIGRATION_FAILED']);
  assert.match(never.error?.message ?? '', /stayed on hv17/);
  // still running after the wait: not claimed either way
  assert.equal(reconciled(started, { id: 'g7-m3', vm: 'vm6', from: 'hv17', to: 'hv16', state: 'running', error: null }, 2, 5000).error?.code, 'MIGRATION_TIMEOUT');
  assert.equal(reconciled(started, null, 2, 5000, 'connection refused').error?.code, 'AGENT_UNREACHABLE');
});

test('resuming: the recorded progress plus a reconciled migration (count, cooldown, no-return, continuous state)', () => {
  const rails = createRailState({ cooldownRounds: 2 });
  recordMigration(rails, 'vm3', 'hv16', 'hv23', 1);
  const done = { ...started, status: 'succeeded' as const, to: 'hv16', finishedAt: 2000 };
  const r = resumeOptions({ options: { policy: 'load-aware', rails: { cooldownRounds: 2 } }, round: 1, migrations: 1, rails: railSnapshot(rails), continuous: null }, [done, { ...started, id: 'x', status: 'failed', finishedAt: 2000 }]);
  assert.equal(r.policy, 'load-aware');
  assert.equal(r.resume?.migrations, 2);
  assert.equal(r.resume?.round, 1);
  assert.deepEqual(new Map(r.resume?.rails?.lastMoved), new Map([['vm3', 1], ['vm6', 1]]));
  const cfg = continuousConfig({ everyMs: 1000 });
  const st = createContinuousState(cfg);
  st.period = 4;
  const c = resumeOptions({ options: { policy: 'load-aware', continuous: cfg }, round: 4, migrations: 0, rails: null, continuous: st }, [done]);
  assert.equal(c.resume?.continuous?.migrations, 1);
  assert.deepEqual(c.resume?.continuous?.left.vm6?.map((l) => l.host), ['hv17']);
  assert.equal(st.migrations, 0, 'the recorded state is not changed');
});

test('agent registrations in the store: what to write and delete; a new leader registers what is stored', async () => {
  assert.deepEqual(agentChanges(new Map([['hv1', 'u1'], ['hv2', 'u2']]), new Map([['hv1', 'u1'], ['hv2', 'u9'], ['hv3', 'u3']])), { put: [['hv2', 'u9'], ['hv3', 'u3']], del: [] });
  assert.deepEqual(agentChanges(new Map([['hv1', 'u1']]), new Map()), { put: [], del: ['hv1'] });
  const store = memoryStore();
  await store.put('agents/hv1', { url: 'http://127.0.0.1:1', at: 'x' });
  await store.put('agents/hv2', { nope: 1 });
  await store.put('agents/hvX', { url: 'http://127.0.0.1:3', at: 'x' });
  const got: string[] = [];
  const warnings: string[] = [];
  const n = await loadAgents(store, {
    hypervisors: () => [],
    registerAgent: (hv, url) => {
      if (hv === 'hvX') throw new Error('unknown hypervisor');
      got.push(`${hv} ${url}`);
    },
  }, (_l, m) => warnings.push(m));
  assert.equal(n, 1);
  assert.deepEqual(got, ['hv1 http://127.0.0.1:1']);
  assert.equal(warnings.length, 2);
});

test('followers forward writes and reads of the leader\'s state, and keep their own for the rest', () => {
  for (const [m, u] of [['POST', '/api/v1/orchestration/start'], ['GET', '/api/v1/vms/vm1/traffic'], ['GET', '/api/v1/paths/matrix'], ['GET', '/api/v1/hypervisors?x=1'], ['GET', '/api/v1/migrations'], ['GET', '/api/v1/weights/layers/1']] as const) {
    assert.equal(forwardsToLeader(m, u), true, `${m} ${u}`);
  }
  for (const [m, u] of [['GET', '/api/v1/cluster'], ['GET', '/api/v1/cluster/events'], ['GET', '/api/v1/events'], ['GET', '/api/v1/health'], ['GET', '/api/v1/credentials'], ['GET', '/metrics'], ['GET', '/dashboard/']] as const) {
    assert.equal(forwardsToLeader(m, u), false, `${m} ${u}`);
  }
});

test('record keys: ids that name their generation are kept, older ones get the writer\'s', () => {
  assert.equal(recordKey('g7-m3', 9n), 'migrations/g7-m3');
  assert.equal(recordKey('m3', 9n), 'migrations/g9-m3');
});

/**
 * shareOrchestration on a memory store with a fake service and runtime (no agents called).
 * `elect` reads the previous view as attach.ts does at an election, then runs `afterRead` (e.g.
 * this leader's first publish), then hands the snapshot to the takeover.
 */
function fakeMember(o: { stored?: unknown; cli?: boolean; warmMs?: number; afterRead?: (store: ReturnType<typeof memoryStore>) => Promise<void> }) {
  const store = memoryStore();
  const listeners = new Set<(e: NorthEvent) => void>();
  const started: StartOptions[] = [];
  let cliStarts = 0;
  let elected: ((previous: Promise<PreviousView>) => void) | undefined;
  const logs: string[] = [];
  let leader = false;
  const status = { state: 'idle', policy: null, plan: false, round: 0, migrations: 0, converged: false, lastError: null };
  const records: MigrationRecord[] = [];
  const service = {
    subscribe: (l: (e: NorthEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    orchestrator: {
      records,
      status: () => status,
      progress: () => ({ options: { policy: 'load-aware' as const }, round: 2, migrations: 3, rails: null, continuous: null }),
      start: (s: StartOptions) => {
        started.push(s);
        return status;
      },
    },
    hypervisors: () => [],
    hosts: () => [],
    hypervisorOf: () => undefined,
    registerAgent: () => undefined,
    reconciled: new Set<string>(),
  };
  const runtime = { controller: { disc: { switches: new Map(), links: new Map() }, hosts: { byMac: new Map() } }, apply: () => undefined };
  const share = shareOrchestration({
    store,
    service: service as unknown as Service,
    runtime: runtime as unknown as Runtime,
    audit: { load: () => [], append: () => undefined },
    memberId: 'c2',
    isLeader: () => leader,
    onElected: (fn) => (elected = fn),
    agentToken: () => 't',
    ...(o.cli === true ? { cliStart: () => void (cliStarts += 1) } : {}),
    log: (_level, message) => logs.push(message),
    warmMs: o.warmMs ?? 100,
    rateWindowMs: 0,
    agentWaitMs: 50,
  });
  return {
    store,
    service,
    runtime,
    logs,
    share,
    started,
    cliStarts: () => cliStarts,
    emit: (e: NorthEvent) => listeners.forEach((l) => l(e)),
    async elect() {
      if (o.stored !== undefined) await store.put('orchestration/state', o.stored);
      leader = true;
      const previous = readPreviousView(store, 100);
      await previous;
      await o.afterRead?.(store);
      elected?.(previous);
      await share.takeover();
    },
    setLeader: (v: boolean) => (leader = v),
  };
}

const running = { status: { state: 'running', policy: 'load-aware', plan: false, round: 2, migrations: 3, converged: false, lastError: null }, progress: { options: { policy: 'load-aware', rails: { cooldownRounds: 1 } }, round: 2, migrations: 3, rails: null, continuous: null }, by: 'c1', at: 'x' };

test('takeover: a recorded running run continues; an ended one does not; continuous mode from the command line starts only on a leader of a cluster with no recorded run', async () => {
  const a = fakeMember({ stored: running, cli: true });
  await a.elect();
  assert.equal(a.started.length, 1);
  assert.deepEqual(a.started[0]?.resume, { round: 2, migrations: 3, rails: null, continuous: null });
  assert.deepEqual(a.started[0]?.rails, { cooldownRounds: 1 });
  assert.equal(a.cliStarts(), 0, 'the recorded run wins over --orchestrate');

  const b = fakeMember({ stored: { ...running, status: { ...running.status, state: 'idle' } }, cli: true });
  await b.elect();
  assert.deepEqual([b.started.length, b.cliStarts()], [0, 0], 'an ended or stopped run stays ended');

  const c = fakeMember({ cli: true });
  // a standby given --orchestrate does nothing until elected
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(c.cliStarts(), 0);
  await c.elect();
  assert.deepEqual([c.started.length, c.cliStarts()], [0, 1]);
});

test('the leader records the orchestration state on each orchestration event; a follower, or a member stopping on purpose, does not', async () => {
  const m = fakeMember({});
  const ev = (state: string): NorthEvent => ({ type: 'orchestration', at: 1, data: { state, policy: 'load-aware', plan: false, round: 2, migrations: 3, converged: false, lastError: null } });
  m.emit(ev('running'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await m.store.get('orchestration/state'), undefined, 'a follower writes nothing');
  m.setLeader(true);
  m.emit(ev('running'));
  await new Promise((r) => setTimeout(r, 20));
  const got = (await m.store.get('orchestration/state')) as { status: { state: string }; progress: { migrations: number }; by: string };
  assert.deepEqual([got.status.state, got.progress.migrations, got.by], ['running', 3, 'c2']);
  m.share.quiesce();
  m.emit(ev('stopping'));
  m.emit(ev('idle'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(((await m.store.get('orchestration/state')) as { status: { state: string } }).status.state, 'running', 'a shutdown does not record the run as stopped');
});

test('takeover: the old leader\'s records are loaded before the wait for its switches, and a record finished by reconciling is named for the agents\' late reports', async () => {
  const m = fakeMember({ warmMs: 400 });
  // what this process loaded at its start: the record as interrupted
  m.service.orchestrator.records.push({ ...started, status: 'failed', finishedAt: 1, error: { code: 'INTERRUPTED', message: 'x' } });
  await m.store.put(recordKey(started.id, 7n), started);
  await m.store.put('view/summary', { switches: ['1'], links: 0, hosts: [] });
  m.service.reconciled.add('stale-from-an-earlier-leadership');
  m.setLeader(true);
  const done = m.elect();
  await new Promise((r) => setTimeout(r, 100));
  // still waiting for the switch: the agents' reports are already checked against the store's records
  assert.deepEqual(m.service.orchestrator.records.map((r) => [r.id, r.status]), [[started.id, 'started']]);
  assert.equal(m.service.reconciled.size, 0, 'a new leadership starts with none reconciled');
  await done;
  assert.deepEqual(m.service.orchestrator.records.map((r) => [r.id, r.status]), [[started.id, 'failed']]);
  assert.deepEqual([...m.service.reconciled], [started.id]);
});

test('takeover: the warm-up waits for the switches of the view read at the election, though this leader published its own before the warm-up ran', async () => {
  const m = fakeMember({
    stored: running,
    warmMs: 5_000,
    // this leader's first publish (it has one switch so far) replaces the previous leader's view in the store
    afterRead: (store) => viewPublisher(store, '8').publish({ leader: 'c2', switches: ['1'], links: 0, hosts: [], pairs: [] }),
  });
  await viewPublisher(m.store, '7').publish({ leader: 'c1', switches: ['1', '2', '3'], links: 0, hosts: [], pairs: [] });
  const switches = m.runtime.controller.disc.switches as Map<bigint, unknown>;
  switches.set(1n, {});
  const t0 = Date.now();
  const back = setTimeout(() => {
    switches.set(2n, {});
    switches.set(3n, {});
  }, 300);
  try {
    await m.elect();
  } finally {
    clearTimeout(back);
  }
  const took = Date.now() - t0;
  assert.equal(((await m.store.get('view/summary')) as { leader: string }).leader, 'c2', "the store holds this leader's view by then");
  assert.ok(took >= 280, `the warm-up waited for the previous leader's 3 switches (took ${took} ms)`);
  assert.ok(took < 4_000, `it stopped waiting once they were back, not at its deadline (took ${took} ms)`);
  assert.ok(m.logs.some((l) => l.includes('warm-up: 3 switches')), m.logs.join('\n'));
  assert.equal(m.started.length, 1, 'the recorded run continues');
});

test('reconciling waits longer than the QEMU driver may take (120 s migration timeout + 30 s for the destination, vm/fleet.ts)', () => {
  assert.ok(RECONCILE_MS >= 120_000 + 30_000 + 30_000, String(RECONCILE_MS));
});

test('resuming with the counted record ids: a migration is counted once, whichever of its record and the progress reached the store last', () => {
  const rec = (id: string, vm: string, startedAt: number, step: number | null, to = 'hv16'): MigrationRecord => ({ ...started, id, vm, to, status: 'succeeded', startedAt, finishedAt: startedAt + 1, step });
  const a = rec('g7-m1', 'vm1', 1000, 1);
  const b = rec('g7-m2', 'vm2', 2000, 2);
  const before = rec('g6-m9', 'vm9', 10, 4);
  const pair = rec('g7-m3', 'vm3', 3000, null);
  const options = { policy: 'load-aware' as const, rails: { cooldownRounds: 2 } };
  const railsWith = (...moves: [string, number][]) => {
    const st = createRailState(options.rails);
    for (const [vm, round] of moves) recordMigration(st, vm, 'hv17', 'hv16', round);
    return railSnapshot(st);
  };
  // the progress counting b landed, b's final record did not: reconciled as succeeded, not counted again
  const twice = resumeOptions({ options, round: 1, migrations: 2, rails: railsWith(['vm1', 1], ['vm2', 1]), continuous: null, counted: [a.id, b.id], since: 500 }, [b], [before, a, b, pair]);
  assert.equal(twice.resume?.migrations, 2);
  assert.deepEqual(twice.resume?.counted, [a.id, b.id]);
  // b's final record landed, the progress counting it did not: counted now (count and rails), records of earlier runs and an exchange's pair record not
  const missed = resumeOptions({ options, round: 1, migrations: 1, rails: railsWith(['vm1', 1]), continuous: null, counted: [a.id], since: 500 }, [], [before, a, b, pair]);
  assert.equal(missed.resume?.migrations, 2);
  assert.deepEqual(new Map(missed.resume?.rails?.lastMoved), new Map([['vm1', 1], ['vm2', 1]]));
  assert.deepEqual(missed.resume?.counted, [a.id, b.id]);
  assert.equal(missed.resume?.since, 500);
});

test('the orchestration state is stored as it was at the event, not as the run changed it before the write', async () => {
  const m = fakeMember({});
  const live = { options: { policy: 'load-aware' as const }, round: 2, migrations: 3, rails: null, continuous: null, counted: ['g7-m1'] };
  (m.service.orchestrator as { progress: () => unknown }).progress = () => live;
  m.setLeader(true);
  m.emit({ type: 'orchestration', at: 1, data: { state: 'running', policy: 'load-aware', plan: false, round: 2, migrations: 3, converged: false, lastError: null } });
  live.migrations = 4;
  live.counted.push('g7-m2');
  await new Promise((r) => setTimeout(r, 20));
  const got = (await m.store.get('orchestration/state')) as { progress: { migrations: number; counted: string[] } };
  assert.deepEqual([got.progress.migrations, got.progress.counted], [3, ['g7-m1']]);
});
