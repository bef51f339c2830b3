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

test('migration-done: a VM on this hypervisor, or in a running migration from or to it; nothing else', () => {
  const hosts = [host('vm1', 'hv16'), host('vm2', 'hv18'), host('vm3', 'hv18')];
  const ok = (p: Principal, vm: string, migrations: MigrationRecord[] = []) => checkMigrationDone(p, vm, { hosts, migrations });
  const refused = (p: Principal, vm: string, migrations: MigrationRecord[] = []) => assert.throws(() => ok(p, vm, migrations), (e) => isScoreError(e, 'AGENT_VM_NOT_OURS'));
  ok(agent('hv16'), 'vm1');
  ok(agent('hv16'), hosts[0]!.mac, []);
  refused(agent('hv16'), 'vm2');
  refused(agent('hv16'), 'vm9');
  // the network already sees vm2 at its target while the source agent reports the move it made
  ok(agent('hv16'), 'vm2', [record('vm2', 'hv16', 'started')]);
  ok(agent('hv16'), 'vm2', [record('vm2', 'hv18', 'started', 'hv16')]);
  // records that are over, or of another VM or hypervisor, do not count
  for (const r of [record('vm2', 'hv16', 'succeeded'), record('vm2', 'hv16', 'failed'), record('vm3', 'hv16', 'started'), record('vm2', 'hv17', 'started')]) refused(agent('hv16'), 'vm2', [r]);
  ok(agent(null), 'vm2');
  ok({ role: 'operator', name: 'operator' }, 'vm2');
});

test('refusal log: keeps the last ones, and a failing sink does not lose them', () => {
  const seen: Refusal[] = [];
  const log = refusalLog({ limit: 2, sink: (r) => { seen.push(r); if (r.at === 2) throw new Error('disk full'); } });
  for (const at of [1, 2, 3]) log.record({ kind: 'refusal', at, credential: 'hv16/cred-000000000001', code: 'API_FORBIDDEN', method: 'GET', route: '/api/v1/migrations', message: 'm' });
  assert.deepEqual(log.recent().map((r) => r.at), [2, 3]);
  assert.equal(seen.length, 3);
});
