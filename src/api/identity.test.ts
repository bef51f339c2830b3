import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMigrationDone, checkRegister, refusalLog, type Refusal } from './identity.ts';
import type { Principal } from './auth.ts';
import type { Host, MigrationRecord } from './contract.ts';
import { isScoreError } from '../errors/errors.ts';

const agent = (hypervisor: string | null): Principal => ({ role: 'agent', name: hypervisor === null ? 'shared-agent-token' : `${hypervisor}/cred-000000000001`, hypervisor, credential: null });
const host = (vm: string, hypervisor: string): Host => ({ vm, mac: `02:00:00:00:00:0${vm.slice(2)}`, ip: null, hypervisor, port: 1 });
const record = (vm: string, from: string, status: MigrationRecord['status'], to: string | null = null): MigrationRecord => ({
  id: `m-${vm}-${status}`,
  vm,
  from,
  to,
  policy: 'load-aware',
  round: 1,
  step: null,
  status,
  startedAt: 0,
  finishedAt: null,
  totalCostBefore: 0,
  totalCostAfter: null,
  decision: null,
  inputs: { rates: [], weights: {}, policyKey: 0 },
  error: null,
});

test('register: an agent credential only as its own hypervisor; the shared token and the operator as any', () => {
  checkRegister(agent('hv16'), 'hv16');
  assert.throws(() => checkRegister(agent('hv16'), 'hv17'), (e) => isScoreError(e, 'AGENT_IDENTITY_MISMATCH') && /hv16\/cred-000000000001/.test(e.message));
  checkRegister(agent(null), 'hv17');
  checkRegister({ role: 'operator', name: 'operator' }, 'hv17');
});

test('migration-done: a VM arriving at this hypervisor, or the target of a running migration it is the source of; nothing else', () => {
  const hosts = [host('vm1', 'hv16'), host('vm2', 'hv18'), host('vm3', 'hv18')];
  type Claim = { vm: string; hypervisor: string; migrationId?: string };
  const ok = (p: Principal, claim: Claim, migrations: MigrationRecord[] = []) => checkMigrationDone(p, claim, { hosts, migrations });
  const refused = (p: Principal, claim: Claim, migrations: MigrationRecord[] = []) => assert.throws(() => ok(p, claim, migrations), (e) => isScoreError(e, 'AGENT_VM_NOT_OURS'));
  const hv16 = agent('hv16');
  ok(hv16, { vm: 'vm1', hypervisor: 'hv16' });
  ok(hv16, { vm: hosts[0]!.mac, hypervisor: 'hv16' });
  // its own VM, but to another hypervisor without a running record of that move
  refused(hv16, { vm: 'vm1', hypervisor: 'hv17' });
  refused(hv16, { vm: 'vm1', hypervisor: 'hv17', migrationId: 'forged' });
  refused(hv16, { vm: 'vm2', hypervisor: 'hv16' });
  refused(hv16, { vm: 'vm9', hypervisor: 'hv16' });
  // the source reports the move it made: the record's id, and its target if decided
  const out = record('vm2', 'hv16', 'started');
  ok(hv16, { vm: 'vm2', hypervisor: 'hv19', migrationId: out.id }, [out]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv19', migrationId: 'forged' }, [out]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv19' }, [out]);
  const decided = record('vm2', 'hv16', 'started', 'hv19');
  ok(hv16, { vm: 'vm2', hypervisor: 'hv19', migrationId: decided.id }, [decided]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv17', migrationId: decided.id }, [decided]);
  // a switch-over reported and then failed: the source says the VM runs on with it
  ok(hv16, { vm: 'vm2', hypervisor: 'hv16', migrationId: decided.id }, [decided]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv16', migrationId: 'forged' }, [decided]);
  // a record of another VM does not lend its id
  refused(hv16, { vm: 'vm3', hypervisor: 'hv19', migrationId: out.id }, [out]);
  // the target side: the VM arriving at it, never elsewhere
  const incoming = record('vm2', 'hv18', 'started', 'hv16');
  ok(hv16, { vm: 'vm2', hypervisor: 'hv16', migrationId: incoming.id }, [incoming]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv17', migrationId: incoming.id }, [incoming]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv16' }, [record('vm2', 'hv18', 'started', 'hv17')]);
  // a running record whose target is not decided yet lends nothing to a third hypervisor: while
  // hv18's migration of vm2 is being decided, hv16 cannot claim vm2 arrived at it, with or
  // without the record's id (only the source reports such a move, as above)
  const undecided = record('vm2', 'hv18', 'started');
  refused(hv16, { vm: 'vm2', hypervisor: 'hv16' }, [undecided]);
  refused(hv16, { vm: 'vm2', hypervisor: 'hv16', migrationId: undecided.id }, [undecided]);
  // records that are over, or of another VM or hypervisor, do not count
  for (const r of [record('vm2', 'hv16', 'succeeded'), record('vm2', 'hv16', 'failed'), record('vm3', 'hv16', 'started'), record('vm2', 'hv17', 'started')]) {
    refused(hv16, { vm: 'vm2', hypervisor: 'hv19', migrationId: r.id }, [r]);
  }
  ok(agent(null), { vm: 'vm2', hypervisor: 'hv17' });
  ok({ role: 'operator', name: 'operator' }, { vm: 'vm2', hypervisor: 'hv17' });
});

test('migration-done: the source\'s late report of a migration this leader finished by reconciling it still counts, for that record\'s VM, source and target only', () => {
  const hosts = [host('vm1', 'hv16'), host('vm2', 'hv19')];
  const hv16 = agent('hv16');
  type Claim = { vm: string; hypervisor: string; migrationId?: string };
  const check = (claim: Claim, migrations: MigrationRecord[], reconciled: string[]) => () => checkMigrationDone(hv16, claim, { hosts, migrations, reconciled: new Set(reconciled) });
  const notOurs = (e: unknown) => isScoreError(e, 'AGENT_VM_NOT_OURS');
  // reconcile polled between the agent noting success and its final report: the record is over
  const won = record('vm1', 'hv16', 'succeeded', 'hv19');
  check({ vm: 'vm1', hypervisor: 'hv19', migrationId: won.id }, [won], [won.id])();
  assert.throws(check({ vm: 'vm1', hypervisor: 'hv19', migrationId: won.id }, [won], []), notOurs, 'finished, but not by this leader\'s reconciliation');
  assert.throws(check({ vm: 'vm1', hypervisor: 'hv17', migrationId: won.id }, [won], [won.id]), notOurs, 'another target');
  assert.throws(check({ vm: 'vm2', hypervisor: 'hv19', migrationId: won.id }, [won], [won.id]), notOurs, 'another VM');
  assert.throws(check({ vm: 'vm1', hypervisor: 'hv19', migrationId: 'forged' }, [won], [won.id]), notOurs);
  assert.throws(() => checkMigrationDone(agent('hv17'), { vm: 'vm1', hypervisor: 'hv19', migrationId: won.id }, { hosts, migrations: [won], reconciled: new Set([won.id]) }), notOurs, 'not its source');
  // reconcile gave up waiting (MIGRATION_TIMEOUT, no target known): the source's final word, either way
  const late = record('vm2', 'hv16', 'failed');
  check({ vm: 'vm2', hypervisor: 'hv18', migrationId: late.id }, [late], [late.id])();
  check({ vm: 'vm2', hypervisor: 'hv16', migrationId: late.id }, [late], [late.id])();
});

test('refusal messages quote caller-supplied values, so a newline cannot forge a log line', () => {
  assert.throws(
    () => checkRegister(agent('hv16'), 'hv17\nWARN forged'),
    (e) => isScoreError(e, 'AGENT_IDENTITY_MISMATCH') && !e.message.includes('\n') && e.message.includes(String.raw`"hv17\nWARN forged"`),
  );
  assert.throws(
    () => checkMigrationDone(agent('hv16'), { vm: 'vm2\r\nx', hypervisor: 'hv16', migrationId: 'a\nb' }, { hosts: [], migrations: [] }),
    (e) => isScoreError(e, 'AGENT_VM_NOT_OURS') && !/[\r\n]/.test(e.message),
  );
});

test('refusal log: keeps the last ones, and a failing sink does not lose them', async () => {
  const seen: Refusal[] = [];
  const log = refusalLog({ limit: 2, sink: (r) => { seen.push(r); if (r.at === 2000) throw new Error('disk full'); } });
  for (const at of [1000, 2000, 3000]) log.record({ kind: 'refusal', at, credential: 'hv16/cred-000000000001', code: 'API_FORBIDDEN', method: 'GET', route: '/api/v1/migrations', message: 'm' });
  assert.deepEqual(log.recent().map((r) => r.at), [2000, 3000]);
  await log.flush();
  assert.equal(seen.length, 3);
});

test('refusal log: at most N lines per credential and second, the rest counted on its next line; writes leave the caller at once', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const written: Refusal[] = [];
  const log = refusalLog({ perCredentialPerSecond: 3, sink: async (r) => { await gate; written.push(r); } });
  const refuse = (credential: string, at: number): void => log.record({ kind: 'refusal', at, credential, code: 'API_FORBIDDEN', method: 'GET', route: '/api/v1/migrations', message: 'm' });
  for (let i = 0; i < 100; i++) refuse('hv16/cred-000000000001', 5000 + i);
  refuse('hv17/cred-000000000002', 5500);
  // nothing is written while the sink is blocked, yet record() returned for all 101
  assert.equal(written.length, 0);
  assert.deepEqual(log.recent().map((r) => r.credential), ['hv16/cred-000000000001', 'hv16/cred-000000000001', 'hv16/cred-000000000001', 'hv17/cred-000000000002']);
  refuse('hv16/cred-000000000001', 6001);
  const last = log.recent().at(-1)!;
  assert.deepEqual([last.at, last.suppressed], [6001, 97]);
  release();
  await log.flush();
  assert.equal(written.length, 5);
  assert.equal(written.filter((r) => r.suppressed !== undefined).length, 1);
});
