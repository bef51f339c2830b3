import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAgent } from './agent.ts';
import { controllerApi, type ControllerApi } from './api-client.ts';
import type { MigrationDriver } from './drivers/driver.ts';
import { buildAgentServer, agentCaller, agentMigrationOutcome, controllerVerifier, verifierOf } from './server.ts';
import { isScoreError, ScoreError } from '../errors/errors.ts';
import type { VmTraffic } from '../api/contract.ts';
import { emulatedDriver } from './drivers/emulated.ts';
import type { Model } from '../scenario/model.ts';
import type { DataCentre, MoveOptions } from '../emulation/datacentre.ts';

// vm1 on hv1 talks to vm2 on hv2 (500 B/s); hv1-hv2 cost 2
function fakeApi(done: unknown[]): ControllerApi {
  const traffic: VmTraffic = {
    vm: 'vm1',
    mac: '00:00:00:00:00:01',
    hypervisor: 'hv1',
    cost: 1000,
    peers: [{ vm: 'vm2', mac: '00:00:00:00:00:02', hypervisor: 'hv2', outBytesPerSecond: 500, inBytesPerSecond: 0, lambda: 500, pathCost: 2, ageMs: 100 }],
  };
  return {
    vmTraffic: (vm) => (vm === 'vm1' ? Promise.resolve(traffic) : Promise.reject(new ScoreError('UNKNOWN_VM', vm))),
    costMatrix: () => Promise.resolve({ hypervisors: ['hv1', 'hv2'], cost: [[0, 2], [2, 0]] }),
    hypervisors: () =>
      Promise.resolve([
        { name: 'hv1', dpid: '1', capacity: 5, vms: ['vm1'], agent: null },
        { name: 'hv2', dpid: '2', capacity: 5, vms: ['vm2'], agent: null },
      ]),
    register: () => Promise.reject(new Error('unused')),
    migrationDone: (vm, hv, id, port) => {
      done.push({ vm, hv, id, port });
      return Promise.resolve({ vm, mac: '', ip: null, hypervisor: hv, port: port ?? 0 });
    },
  };
}

function driver(fail = false, delayMs = 0): MigrationDriver & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: 'test',
    calls,
    async migrate(vm, from, to) {
      calls.push(`${vm}:${from}->${to}`);
      await new Promise((r) => setTimeout(r, delayMs));
      if (fail) throw new ScoreError('MIGRATION_FAILED', 'disk full');
      return { port: 7 };
    },
  };
}

test('agent: Algorithm 1 from API data; migrates through the driver and reports the new port', async () => {
  const done: unknown[] = [];
  const d = driver();
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi(done), driver: d });
  assert.deepEqual(await a.cost('vm1'), { vm: 'vm1', hypervisor: 'hv1', cost: 1000 });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm1' });
  assert.equal(r.migrated, true);
  assert.equal(r.decision.to, 'hv2');
  assert.equal(r.decision.costAfter, 0);
  assert.deepEqual(d.calls, ['vm1:hv1->hv2']);
  assert.deepEqual(done, [{ vm: 'vm1', hv: 'hv2', id: 'm1', port: 7 }]);
});

test('agent: plan mode (migrate=false) never calls the driver', async () => {
  const done: unknown[] = [];
  const d = driver();
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi(done), driver: d });
  const r = await a.decide({ vm: 'vm1', migrate: false, migrationId: 'p1' });
  assert.equal(r.decision.to, 'hv2');
  assert.equal(r.migrated, false);
  assert.deepEqual(d.calls, []);
  assert.equal(a.driverCalls(), 0);
  assert.deepEqual(done, []);
});

test('agent: a failing driver reports MIGRATION_FAILED and claims nothing', async () => {
  const done: unknown[] = [];
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi(done), driver: driver(true) });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm2' });
  assert.equal(r.migrated, false);
  assert.equal(r.error?.code, 'MIGRATION_FAILED');
  assert.deepEqual(done, []);
});

test('agent: a second migration of the same VM cannot start while one runs; foreign VMs are refused', async () => {
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: driver(false, 50) });
  const first = a.decide({ vm: 'vm1', migrate: true, migrationId: 'a' });
  await assert.rejects(a.decide({ vm: 'vm1', migrate: true, migrationId: 'b' }), (e) => isScoreError(e, 'MIGRATION_IN_PROGRESS'));
  await first;
  const other = createAgent({ hypervisor: 'hv9', api: fakeApi([]), driver: driver() });
  await assert.rejects(other.decide({ vm: 'vm1', migrate: false, migrationId: 'c' }), (e) => isScoreError(e, 'UNKNOWN_VM'));
});

test('agent HTTP API: token required, bad bodies are 400, decide works over real HTTP', async (t) => {
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: driver() });
  const app = buildAgentServer(a, controllerVerifier(verifierOf('secret')));
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const noAuth = await fetch(`${url}/agent/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(noAuth.status, 401);
  assert.equal(((await noAuth.json()) as { error: { code: string } }).error.code, 'API_UNAUTHORIZED');
  const bad = await fetch(`${url}/agent/v1/decide`, { method: 'POST', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: '{"vm": 3}' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'API_BAD_REQUEST');
  const r = await agentCaller('secret')(url, { vm: 'vm1', migrate: false, migrationId: 'x' });
  assert.equal(r.decision.to, 'hv2');
  const unknown = await fetch(`${url}/agent/v1/cost`, { method: 'POST', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: '{"vm":"vm7"}' });
  assert.equal(unknown.status, 404);
  await assert.rejects(agentCaller('secret', 1000)('http://127.0.0.1:1', { vm: 'vm1', migrate: false, migrationId: 'y' }), (e) => isScoreError(e, 'AGENT_UNREACHABLE'));
});

test('agent HTTP API: an agent that cannot reach the controller answers 502 CONTROLLER_UNREACHABLE, and the orchestrator keeps that code', async (t) => {
  // the agent's real client to a controller that is not there
  const a = createAgent({ hypervisor: 'hv1', api: controllerApi('http://127.0.0.1:1', 'ag', 1000), driver: driver() });
  const app = buildAgentServer(a, controllerVerifier(verifierOf('secret')));
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const raw = await fetch(`${url}/agent/v1/decide`, { method: 'POST', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: '{"vm":"vm1","migrate":false,"migrationId":"u"}' });
  assert.equal(raw.status, 502);
  assert.equal(((await raw.json()) as { error: { code: string } }).error.code, 'CONTROLLER_UNREACHABLE');
  await assert.rejects(agentCaller('secret')(url, { vm: 'vm1', migrate: false, migrationId: 'u2' }), (e) => isScoreError(e, 'CONTROLLER_UNREACHABLE') && /unreachable/.test(e.message));
});

test('agent: remembers what became of each migration by the orchestrator id (a new cluster leader reconciles from it)', async () => {
  const done: unknown[] = [];
  const slow = driver(false, 50);
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi(done), driver: slow });
  assert.equal(a.outcome('g3-m1'), undefined);
  const p = a.decide({ vm: 'vm1', migrate: true, migrationId: 'g3-m1' });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(a.outcome('g3-m1')?.state, 'running');
  await p;
  assert.deepEqual(a.outcome('g3-m1'), { id: 'g3-m1', vm: 'vm1', from: 'hv1', to: 'hv2', state: 'succeeded', error: null });
  // the driver fails: the VM stayed, said so
  const b = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: driver(true) });
  await b.decide({ vm: 'vm1', migrate: true, migrationId: 'g3-m2' });
  assert.equal(b.outcome('g3-m2')?.state, 'failed');
  assert.equal(b.outcome('g3-m2')?.error?.code, 'MIGRATION_FAILED');
  // Algorithm 1's inputs fail: nothing moved
  await assert.rejects(b.decide({ vm: 'vm9', migrate: true, migrationId: 'g3-m3' }));
  assert.equal(b.outcome('g3-m3')?.state, 'failed');
  // a plan (no migrate) is not an outcome
  await b.decide({ vm: 'vm1', migrate: false, migrationId: 'g3-m4' });
  assert.equal(b.outcome('g3-m4'), undefined);
  // over HTTP, with the controller's credential only
  const verifier = controllerVerifier(verifierOf('ctl'));
  const app = buildAgentServer(a, verifier);
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const addr = app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
    assert.equal((await agentMigrationOutcome(url, 'g3-m1', 'ctl'))?.state, 'succeeded');
    assert.equal(await agentMigrationOutcome(url, 'g9-m9', 'ctl'), null);
    await assert.rejects(agentMigrationOutcome(url, 'g3-m1', 'wrong'), (e: unknown) => isScoreError(e, 'AGENT_UNREACHABLE'));
  } finally {
    await app.close();
  }
});

test('agent: after a failed switch-over the report back to the source is retried until it lands (it has no later report to make up for it)', async () => {
  const done: { vm: string; hv: string; id: string; port?: number }[] = [];
  const api = fakeApi(done);
  let refusals = 2;
  const flaky: ControllerApi = {
    ...api,
    // a leader change: the first reports back to the source get 503
    migrationDone: (vm, hv, id, port) => (hv === 'hv1' && refusals-- > 0 ? Promise.reject(new ScoreError('CLUSTER_UNCONFIRMED', 'no leader')) : api.migrationDone(vm, hv, id, port)),
  };
  const d: MigrationDriver = {
    name: 'switch-over fails',
    async migrate(_vm, from, to, hooks) {
      await hooks?.onSwitchover?.(to, 9);
      await hooks?.onSwitchover?.(from, 3);
      throw new ScoreError('MIGRATION_FAILED', 'destination died after the switch-over');
    },
  };
  const a = createAgent({ hypervisor: 'hv1', api: flaky, driver: d, correctionBackoffMs: [1, 1, 1] });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm1' });
  assert.equal(r.migrated, false);
  assert.equal(r.error?.code, 'MIGRATION_FAILED');
  assert.deepEqual(done, [{ vm: 'vm1', hv: 'hv2', id: 'm1', port: 9 }, { vm: 'vm1', hv: 'hv1', id: 'm1', port: 3 }]);
  assert.equal(refusals, -1, 'two refused, the third landed');

  // a correction refused every time is given up after the backoff list, and the result still comes
  const done2: typeof done = [];
  const never: ControllerApi = { ...fakeApi(done2), migrationDone: () => Promise.reject(new ScoreError('CLUSTER_UNCONFIRMED', 'no leader')) };
  const b = createAgent({ hypervisor: 'hv1', api: never, driver: d, correctionBackoffMs: [1, 1] });
  assert.equal((await b.decide({ vm: 'vm1', migrate: true, migrationId: 'm2' })).error?.code, 'MIGRATION_FAILED');
});

test('agent: in cluster mode the switch-over waits for a ready leader, and the claim is the early report to it', async () => {
  const done: { vm: string; hv: string; id: string; port?: number }[] = [];
  const answers = [false, false, true];
  const asked: boolean[] = [];
  const api: ControllerApi = {
    ...fakeApi(done),
    controlReady: () => {
      const ready = answers.shift() ?? true;
      asked.push(ready);
      return Promise.resolve({ cluster: true, ready, reason: ready ? '' : 'electing' });
    },
  };
  const d: MigrationDriver = {
    name: 'paused move',
    async migrate(_vm, _from, to, hooks) {
      const claim = await hooks?.awaitControl?.();
      assert.ok(claim !== undefined, 'a claim in cluster mode');
      await claim(to, 11);
      return { port: 11 };
    },
  };
  const a = createAgent({ hypervisor: 'hv1', api, driver: d, controlPollMs: 1 });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm1' });
  assert.equal(r.migrated, true);
  assert.deepEqual(asked, [false, false, true], 'asked until ready');
  // the claim, then the final report
  assert.deepEqual(done, [{ vm: 'vm1', hv: 'hv2', id: 'm1', port: 11 }, { vm: 'vm1', hv: 'hv2', id: 'm1', port: 11 }]);
});

test('agent: a claim no leader takes rejects CLUSTER_NOT_LEADER; no ready leader within the wait fails SWITCHOVER_NO_LEADER, nothing moved', async () => {
  const done: unknown[] = [];
  const base = fakeApi(done);
  const noLeader: ControllerApi = { ...base, migrationDone: () => Promise.reject(new ScoreError('CLUSTER_UNAVAILABLE', 'the leader did not answer')), controlReady: () => Promise.resolve({ cluster: true, ready: true, reason: '' }) };
  let claimError: unknown;
  const d1: MigrationDriver = {
    name: 'claim refused',
    async migrate(_vm, _from, to, hooks) {
      const claim = await hooks?.awaitControl?.();
      claimError = await claim?.(to, 11).then(() => undefined, (e: unknown) => e);
      throw new ScoreError('MIGRATION_FAILED', 'put back');
    },
  };
  await createAgent({ hypervisor: 'hv1', api: noLeader, driver: d1 }).decide({ vm: 'vm1', migrate: true, migrationId: 'm1' });
  assert.ok(isScoreError(claimError, 'CLUSTER_NOT_LEADER'), String(claimError));

  const never: ControllerApi = { ...base, controlReady: () => Promise.resolve({ cluster: true, ready: false, reason: 'no leader' }) };
  const moved: string[] = [];
  const d2: MigrationDriver = {
    name: 'waits',
    async migrate(vm, _from, to, hooks) {
      await hooks?.awaitControl?.();
      moved.push(`${vm}->${to}`);
      return { port: 1 };
    },
  };
  const a = createAgent({ hypervisor: 'hv1', api: never, driver: d2, switchoverWaitMs: 30, controlPollMs: 5 });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm2' });
  assert.equal(r.migrated, false);
  assert.equal(r.error?.code, 'MIGRATION_FAILED');
  assert.match(r.error?.message ?? '', /no controller leader ready/);
  assert.equal(a.outcome('m2')?.error?.code, 'SWITCHOVER_NO_LEADER', 'the stable code in the outcome a new leader reconciles from');
  assert.deepEqual(moved, []);
  assert.deepEqual(done, []);

  // not a cluster: no wait, no claim
  const single: ControllerApi = { ...base, controlReady: () => Promise.resolve({ cluster: false, ready: true, reason: 'not a cluster' }) };
  let got: unknown = 'unset';
  const d3: MigrationDriver = {
    name: 'single',
    async migrate(_vm, _from, _to, hooks) {
      got = await hooks?.awaitControl?.();
      return { port: 1 };
    },
  };
  assert.equal((await createAgent({ hypervisor: 'hv1', api: single, driver: d3 }).decide({ vm: 'vm1', migrate: true, migrationId: 'm3' })).migrated, true);
  assert.equal(got, undefined);
});

// vm1 on hv1, no peers (no probes); the data centre is a fake that pauses, calls the claim and
// puts the VM back on its source when the claim rejects, as pausedMove does
const emuModel = { vmInfo: new Map([['vm1', { ip: '10.0.0.1' }]]), traffic: { peers: new Map() } } as unknown as Model;

function fakeDc(): { dc: DataCentre; moves: string[]; at: () => string } {
  let at = 'hv1';
  const moves: string[] = [];
  const dc = {
    hypervisorOf: () => at,
    vmNamespace: () => 'ns',
    async moveVm(vm: string, to: string, mo: MoveOptions = {}) {
      moves.push(`${vm}->${to}`);
      // a guard against an endless loop: the test fails instead of hanging
      if (moves.length > 50) throw new Error('more than 50 paused moves');
      await mo.beforePlug?.(7); // rejects: the fake's back() is "stay at the source"
      at = to;
      return { node: to, bridge: 'b', port: 7, iface: 'i' };
    },
  } as unknown as DataCentre;
  return { dc, moves, at: () => at };
}

function api(migrationDone: ControllerApi['migrationDone']): ControllerApi {
  return { ...fakeApi([]), migrationDone, controlReady: () => Promise.resolve({ cluster: true, ready: true, reason: '' }) };
}

test('agent + emulated driver: a permanent refusal of the claim (404 UNKNOWN_VM) fails the migration once with that code, the VM at its source', async () => {
  const f = fakeDc();
  let reports = 0;
  const a = createAgent({
    hypervisor: 'hv1',
    api: api(() => {
      reports++;
      return Promise.reject(new ScoreError('UNKNOWN_VM', 'controller API POST /agents/migration-done: 404 no VM', { status: 404 }));
    }),
    driver: emulatedDriver({ model: emuModel, prefix: 't', dc: f.dc, probeAfterMs: 0 }),
    controlPollMs: 1,
  });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm1' });
  assert.equal(r.migrated, false);
  assert.deepEqual(f.moves, ['vm1->hv2'], 'one paused move, no retry of a permanent refusal');
  assert.equal(reports, 1);
  assert.equal(f.at(), 'hv1');
  assert.equal(a.outcome('m1')?.error?.code, 'UNKNOWN_VM', 'the controller\'s code, not CLUSTER_NOT_LEADER');
});

test('agent + emulated driver: claims no leader takes (503) are retried, but at most maxClaims times, then SWITCHOVER_NO_LEADER', async () => {
  const f = fakeDc();
  const a = createAgent({
    hypervisor: 'hv1',
    api: api(() => Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', '503 electing', { status: 503 }))),
    driver: emulatedDriver({ model: emuModel, prefix: 't', dc: f.dc, probeAfterMs: 0 }),
    controlPollMs: 1,
    maxClaims: 3,
  });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm2' });
  assert.equal(r.migrated, false);
  assert.equal(f.moves.length, 3);
  assert.equal(f.at(), 'hv1');
  assert.equal(a.outcome('m2')?.error?.code, 'SWITCHOVER_NO_LEADER');
});

test('agent: after a claim no leader took, the next round waits anew, so a round longer than the wait (QEMU re-copies the memory) still migrates', async () => {
  const done: { vm: string; hv: string; id: string; port?: number }[] = [];
  let reports = 0;
  const base = fakeApi(done);
  const api: ControllerApi = {
    ...base,
    migrationDone: (vm, hv, id, port) => {
      reports++;
      // the first claim lands on a leader that just died
      if (reports === 1) return Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', '503 electing', { status: 503 }));
      return base.migrationDone(vm, hv, id, port);
    },
    controlReady: () => Promise.resolve({ cluster: true, ready: true, reason: '' }),
  };
  let rounds = 0;
  const d: MigrationDriver = {
    name: 'slow pre-copy',
    async migrate(_vm, _from, to, hooks) {
      for (;;) {
        const claim = await hooks?.awaitControl?.();
        rounds++;
        // each round's copy takes longer than the whole wait for a leader
        await new Promise((r) => setTimeout(r, 60));
        try {
          await claim?.(to, 11);
          return { port: 11 };
        } catch (e) {
          if (isScoreError(e, 'CLUSTER_NOT_LEADER')) continue;
          throw e;
        }
      }
    },
  };
  const a = createAgent({ hypervisor: 'hv1', api, driver: d, switchoverWaitMs: 30, controlPollMs: 1 });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'm1' });
  assert.equal(r.migrated, true, `migrated: ${JSON.stringify(r.error)}`);
  assert.equal(rounds, 2, 'a second round after the claim no leader took');
  assert.equal(a.outcome('m1')?.state, 'succeeded');
});

test('agent: once the driver moved the VM, the final report is retried and never turns the result into a failure', async () => {
  // a leader change: two refusals, then the report lands
  const done: unknown[] = [];
  const base = fakeApi(done);
  let refusals = 2;
  const flaky: ControllerApi = { ...base, migrationDone: (vm, hv, id, port) => (refusals-- > 0 ? Promise.reject(new ScoreError('CLUSTER_UNCONFIRMED', 'no leader')) : base.migrationDone(vm, hv, id, port)) };
  const a = createAgent({ hypervisor: 'hv1', api: flaky, driver: driver(), correctionBackoffMs: [1, 1, 1] });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'f1' });
  assert.equal(r.migrated, true, 'the VM moved');
  assert.equal(r.error, null, 'no error for a VM that moved');
  assert.equal(done.length, 1, 'the third attempt landed');
  assert.equal(a.outcome('f1')?.state, 'succeeded', 'the outcome a new leader reads says it moved');

  // refused for good (a definite answer): logged once, not retried, still migrated
  const lines: string[] = [];
  let attempts = 0;
  const refusing: ControllerApi = { ...base, migrationDone: () => ((attempts += 1), Promise.reject(new ScoreError('AGENT_VM_NOT_OURS', 'no running migration'))) };
  const b = createAgent({ hypervisor: 'hv1', api: refusing, driver: driver(), correctionBackoffMs: [1, 1, 1], log: (l) => lines.push(l) });
  const rb = await b.decide({ vm: 'vm1', migrate: true, migrationId: 'f2' });
  assert.equal(rb.migrated, true, 'the VM moved although the report was refused');
  assert.equal(rb.error, null, 'no error');
  assert.equal(attempts, 1, 'a definite refusal is not retried');
  assert.equal(lines.length, 1, 'said once');
  assert.match(lines[0]!, /vm1 runs on hv2 \(migration f2\).*AGENT_VM_NOT_OURS|vm1 runs on hv2 \(migration f2\).*no running migration/);
});

test('agentCaller: a migration longer than the check period is waited for while the agent says it runs; a silent or forgetful agent, a large body, a bound', async (t) => {
  const serve = async (d: MigrationDriver): Promise<string> => {
    const a = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: d });
    const app = buildAgentServer(a, controllerVerifier(verifierOf('secret')));
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => app.close());
    const addr = app.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  };
  // 600 ms of migration against a 150 ms check period: three or four status checks, then the answer
  const url = await serve(driver(false, 600));
  const r = await agentCaller('secret', { checkMs: 150 })(url, { vm: 'vm1', migrate: true, migrationId: 'long-1' });
  assert.equal(r.migrated, true, 'the call waited for the migration');
  assert.equal(r.decision.to, 'hv2');
  // the same with a bound shorter than the migration: MIGRATION_TIMEOUT, not "unreachable"
  const url2 = await serve(driver(false, 900));
  await assert.rejects(agentCaller('secret', { checkMs: 100, maxMs: 250 })(url2, { vm: 'vm1', migrate: true, migrationId: 'long-2' }), (e) => isScoreError(e, 'MIGRATION_TIMEOUT'));
  // a decide-only call still gives up after one period
  const hang: MigrationDriver = { name: 'hang', migrate: () => new Promise(() => undefined) };
  const url3 = await serve(hang);
  // an agent that accepts the connection but never answers nor knows the id: a raw server
  const { createServer } = await import('node:net');
  const silent = createServer(() => undefined);
  await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
  t.after(() => silent.close());
  const sa = silent.address();
  const silentUrl = `http://127.0.0.1:${typeof sa === 'object' && sa ? sa.port : 0}`;
  await assert.rejects(agentCaller('secret', { checkMs: 100 })(silentUrl, { vm: 'vm1', migrate: true, migrationId: 's-1' }), (e) => isScoreError(e, 'AGENT_UNREACHABLE') && /nor say how it stands/.test(e.message));
  // the blocked list the contract allows fits the agent's body limit (16 KiB once refused 160 entries)
  const blocked = Array.from({ length: 2000 }, (_, i) => ({ hypervisor: `hv-${i}`, rail: 'stable' as const, reason: 'x'.repeat(100) }));
  const big = await agentCaller('secret', { checkMs: 2000 })(url3, { vm: 'vm1', migrate: false, migrationId: 'b-1', blocked });
  assert.equal(big.migrated, false, 'a plan-only call answered');
});

test('agent: `only` leaves Algorithm 1 one target; every other candidate is skipped with its rail and reason', async () => {
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: driver() });
  const r = await a.decide({ vm: 'vm1', migrate: false, migrationId: 'o-1', mode: 'best', only: { hypervisor: 'hv3', rail: 'plan', reason: 'approved hv3 only' } });
  assert.equal(r.decision.to, null, 'hv2 is the only improving target and it is not the one allowed');
  const c = r.decision.candidates.find((x) => x.hypervisor === 'hv2');
  assert.ok(c !== undefined, 'hv2 is listed');
  assert.match(JSON.stringify(c), /approved hv3 only/);
  const ok = await a.decide({ vm: 'vm1', migrate: false, migrationId: 'o-2', only: { hypervisor: 'hv2', rail: 'plan', reason: 'approved hv2 only' } });
  assert.equal(ok.decision.to, 'hv2', 'the allowed target is chosen');
  await assert.rejects(a.decide({ vm: 'vm1', migrate: false, migrationId: 'o-3', swaps: true, only: { hypervisor: 'hv2', rail: 'plan', reason: 'x' } }), (e) => isScoreError(e, 'API_BAD_REQUEST'));
});

test("agent: a driver's warnings (the migration did not depend on them) come back with the result, for the migration record", async () => {
  const warned: MigrationDriver = { name: 'warns', migrate: () => Promise.resolve({ port: 7, warnings: ['vm1 moved to hv2 port 7, but its announcement failed'] }) };
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: warned });
  const r = await a.decide({ vm: 'vm1', migrate: true, migrationId: 'w-1' });
  assert.equal(r.migrated, true);
  assert.deepEqual(r.warnings, ['vm1 moved to hv2 port 7, but its announcement failed']);
  const quiet = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: driver() });
  assert.equal((await quiet.decide({ vm: 'vm1', migrate: true, migrationId: 'w-2' })).warnings, undefined, 'none when there are none');
});

test("agentCaller: the call's connection drops, the status says how it ended (carried in the error); one failed status check is a blip, not the end", async (t) => {
  const { createServer } = await import('node:http');
  const { agentReportOf } = await import('./server.ts');
  // an agent whose decide connection dies; its status: running twice, then succeeded to hv2
  const states = ['running', 'running', 'succeeded'];
  let gets = 0;
  const srv = createServer((req, res) => {
    if (req.method === 'POST') {
      req.socket.destroy();
      return;
    }
    gets += 1;
    if (gets === 1) {
      res.writeHead(500).end('{}'); // a blip
      return;
    }
    const state = states.shift() ?? 'succeeded';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'd-1', vm: 'vm1', from: 'hv1', to: 'hv2', state, error: null }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const err = await agentCaller('secret', { checkMs: 100 })(url, { vm: 'vm1', migrate: true, migrationId: 'd-1' }).then(
    () => assert.fail('no answer came, the call cannot succeed'),
    (e: unknown) => e,
  );
  assert.ok(isScoreError(err, 'AGENT_UNREACHABLE'), String(err));
  assert.deepEqual(agentReportOf(err), { agentState: 'succeeded', to: 'hv2' }, 'what the agent said travels with the error');
  assert.ok(gets >= 4, `the blip did not end the wait (${gets} status checks)`);
});

test('agentCaller: an agent lost after saying its migration runs: the error still carries that report (the orchestrator keeps a watched timeout)', async (t) => {
  const { createServer } = await import('node:http');
  const { agentReportOf } = await import('./server.ts');
  let gets = 0;
  const srv = createServer((req, res) => {
    if (req.method === 'POST') return; // never answered
    gets += 1;
    if (gets <= 2) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'l-1', vm: 'vm1', from: 'hv1', to: 'hv2', state: 'running', error: null }));
    else res.writeHead(503).end('{}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const err = await agentCaller('secret', { checkMs: 100 })(url, { vm: 'vm1', migrate: true, migrationId: 'l-1' }).then(
    () => assert.fail('no answer came'),
    (e: unknown) => e,
  );
  assert.ok(isScoreError(err, 'AGENT_UNREACHABLE') && /nor say how it stands/.test(err.message), String(err));
  assert.deepEqual(agentReportOf(err), { agentState: 'running', to: 'hv2' });
});

test('agent: stopping gives up a switch-over waiting for a leader at once (SWITCHOVER_NO_LEADER, nothing moved), not after the whole wait', async () => {
  const done: unknown[] = [];
  const never: ControllerApi = { ...fakeApi(done), controlReady: () => Promise.resolve({ cluster: true, ready: false, reason: 'controller unreachable' }) };
  const moved: string[] = [];
  let waiting = false;
  const driver: MigrationDriver = {
    name: 'waits',
    async migrate(vm, _from, to, hooks) {
      waiting = true;
      await hooks?.awaitControl?.();
      moved.push(`${vm}->${to}`);
      return { port: 1 };
    },
  };
  const a = createAgent({ hypervisor: 'hv1', api: never, driver, switchoverWaitMs: 60_000, controlPollMs: 5 });
  const t0 = Date.now();
  const pending = a.decide({ vm: 'vm1', migrate: true, migrationId: 'm9' });
  while (!waiting) await new Promise((r) => setTimeout(r, 5));
  a.stopWaiting();
  const r = await pending;
  assert.ok(Date.now() - t0 < 10_000, `given up at once, not after the 60 s wait (${Date.now() - t0} ms)`);
  assert.equal(r.migrated, false);
  assert.match(r.error?.message ?? '', /the agent is stopping/);
  assert.equal(a.outcome('m9')?.error?.code, 'SWITCHOVER_NO_LEADER', 'the VM stayed at its source, as when the wait runs out');
  assert.deepEqual(moved, [], 'nothing moved');
  assert.deepEqual(done, [], 'nothing reported');
});

test("agent: an exchange leg's reason cites the pair's record and its own id; a leg without a pair keeps the old wording", async () => {
  const a = createAgent({ hypervisor: 'hv1', api: fakeApi([]), driver: driver() });
  const leg = await a.decide({ vm: 'vm1', migrate: false, migrationId: 'm12', target: 'hv2', exchange: 'm11' });
  assert.match(leg.decision.reason, /^one leg \(m12\) of the exchange decided in m11, which the orchestrator carries out: vm1 hv1 -> hv2/);
  const alone = await a.decide({ vm: 'vm1', migrate: false, migrationId: 'm13', target: 'hv2' });
  assert.match(alone.decision.reason, /^one leg of an exchange the orchestrator carries out \(m13\): vm1 hv1 -> hv2/);
});
