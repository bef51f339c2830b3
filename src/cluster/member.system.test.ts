// Leader election, generation ids and fenced writes against a REAL etcd (one member on loopback,
// its own data dir; src/cluster/etcd-process.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { isScoreError } from '../errors/errors.ts';
import { systemTestGate } from '../emulation/system-gate.ts';
import { etcdStore } from '../store/etcd.ts';
import { startEtcd } from './etcd-process.ts';
import { ClusterMember, parseClusterUrl } from './member.ts';
import { clusterAuditLog } from './audit.ts';
import type { MigrationRecord } from '../api/contract.ts';

const gate = systemTestGate({ tools: ['etcd'] });

async function until<T>(probe: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('parseClusterUrl: etcd://HOST:PORT[,...] to client URLs; anything else is CLI_USAGE', () => {
  assert.deepEqual(parseClusterUrl('etcd://127.0.0.1:2379,localhost:2479'), ['http://127.0.0.1:2379', 'http://localhost:2479']);
  assert.throws(() => parseClusterUrl('http://127.0.0.1:2379'), (e: unknown) => isScoreError(e, 'CLI_USAGE'));
  assert.throws(() => parseClusterUrl('etcd://127.0.0.1'), (e: unknown) => isScoreError(e, 'CLI_USAGE'));
});

test('real etcd: one leader, growing generation ids, fenced store writes, takeover after the lease runs out', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const members: ClusterMember[] = [];
  try {
    const mk = (id: string): ClusterMember => {
      const m = new ClusterMember({ endpoints: etcd.endpoints, info: { id, apiUrl: `http://127.0.0.1:1/${id}` }, cluster: 't', ttlSec: 2 });
      members.push(m);
      return m;
    };
    const a = mk('a');
    await a.start();
    const genA = await new Promise<bigint>((resolve) => (a.generation !== undefined ? resolve(a.generation) : a.once('elected', resolve)));
    const b = mk('b');
    const c = mk('c');
    await b.start();
    await c.start();
    await until(() => b.leader?.id === 'a' && c.leader?.id === 'a', 'followers see a as leader');
    assert.equal(b.role, 'follower');
    assert.equal(b.leader?.generation, genA);
    assert.equal(b.leader?.apiUrl, 'http://127.0.0.1:1/a');

    const storeA = etcdStore(a.client, { prefix: `${a.prefix}state/`, fence: () => a.fence() });
    const storeB = etcdStore(b.client, { prefix: `${b.prefix}state/`, fence: () => b.fence() });
    await storeA.put('weights/overrides', { l1: 3 });
    assert.deepEqual(await storeB.get('weights/overrides'), { l1: 3 }, 'a follower reads the leader\'s state');
    await assert.rejects(storeB.put('weights/overrides', { l1: 4 }), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER'));
    const fenceA = a.fence();
    assert.ok(fenceA !== undefined, 'fenceA !== undefined');

    // a stops renewing (as if killed or cut off): it steps down by itself before the lease can
    // expire, and b (next in line) takes over once etcd revokes the lease
    const steppedDown = new Promise<number>((resolve) => a.once('stepped-down', () => resolve(Date.now())));
    const cutAt = Date.now();
    a.abandon();
    const bElected = new Promise<bigint>((resolve) => b.once('elected', resolve));
    const downAt = await steppedDown;
    const genB = await bElected;
    const takeoverMs = (b.electedAt ?? 0) - cutAt;
    assert.ok(downAt < (b.electedAt ?? 0), `the old leader stepped down (${downAt - cutAt} ms) before the new one was elected (${takeoverMs} ms)`);
    assert.ok(genB > genA, `generation grows: ${genA} -> ${genB}`);
    assert.ok(takeoverMs < 2_000 + 3_000, `takeover ${takeoverMs} ms: within 3 s of the 2 s lease expiring`);
    await until(() => c.leader?.id === 'b', 'c sees b as leader');
    assert.equal(c.leader?.generation, genB);

    // the old leader's writes are refused: locally (no fence), and by etcd even with its old fence
    await assert.rejects(storeA.put('weights/overrides', { l1: 5 }), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER'));
    const stale = etcdStore(a.client, { prefix: `${a.prefix}state/`, fence: () => fenceA });
    await assert.rejects(stale.put('weights/overrides', { l1: 6 }), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER') && /leadership was lost/.test(e.message));
    const storeB2 = etcdStore(b.client, { prefix: `${b.prefix}state/`, fence: () => b.fence() });
    await storeB2.put('weights/overrides', { l1: 7 });
    assert.deepEqual(await storeB2.get('weights/overrides'), { l1: 7 });
    assert.deepEqual((await storeB2.list('weights/')).map((e) => e.key), ['weights/overrides']);

    // a clean stop resigns at once: c takes over without waiting for a TTL
    const cElected = new Promise<bigint>((resolve) => c.once('elected', resolve));
    const stopAt = Date.now();
    await b.stop();
    const genC = await cElected;
    assert.ok(genC > genB, 'genC > genB');
    assert.ok(Date.now() - stopAt < 1500, `resign hands over in ${Date.now() - stopAt} ms`);
    console.log(`# election: lease cut -> old leader stepped down ${downAt - cutAt} ms, new leader ${takeoverMs} ms (ttl 2 s); resign handover ${(c.electedAt ?? 0) - stopAt} ms`);
  } finally {
    for (const m of members) await m.stop().catch(() => undefined);
    await etcd.stop();
  }
});

test('real etcd: migration records are stored per leader generation, loaded after a restart, unfinished ones reported failed', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const members: ClusterMember[] = [];
  try {
    const mk = async (id: string): Promise<ClusterMember> => {
      const m = new ClusterMember({ endpoints: etcd.endpoints, info: { id }, cluster: 'audit', ttlSec: 2 });
      members.push(m);
      await m.start();
      return m;
    };
    const a = await mk('a');
    await until(() => a.role === 'leader', 'a leads');
    const b = await mk('b');
    const logs: string[] = [];
    const log = (_l: string, msg: string): void => void logs.push(msg);
    const storeA = etcdStore(a.client, { prefix: `${a.prefix}state/`, fence: () => a.fence() });
    const storeB = etcdStore(b.client, { prefix: `${b.prefix}state/`, fence: () => b.fence() });
    const auditA = await clusterAuditLog({ store: storeA, member: a }, log);
    const rec = (id: string, status: 'started' | 'succeeded', finishedAt: number | null): MigrationRecord => ({
      id, vm: 'vm1', from: 'hv1', to: 'hv2', policy: 'load-aware', round: 1, step: 1, status, startedAt: 1, finishedAt,
      totalCostBefore: 10, totalCostAfter: finishedAt === null ? null : 5, decision: null, inputs: { rates: [], weights: {}, policyKey: 0 }, error: null,
    });
    void auditA.append(rec('m1', 'started', null));
    void auditA.append(rec('m1', 'succeeded', 2));
    void auditA.append(rec('m2', 'started', null)); // a dies during this one
    await until(() => undefined, 'nothing', 300).catch(() => undefined);
    // a follower's audit log writes nothing
    const auditB = await clusterAuditLog({ store: storeB, member: b }, log);
    void auditB.append(rec('m1', 'started', null));
    assert.ok(logs.some((l) => l.includes('not the leader')), logs.join('\n'));

    const genA = a.generation as bigint;
    const bElected = new Promise<bigint>((resolve) => b.once('elected', resolve));
    await a.stop();
    const genB = await bElected;
    // the new leader's restart view: a's records, ids prefixed by a's generation; m2 interrupted
    const reloaded = (await clusterAuditLog({ store: storeB, member: b }, log)).load();
    assert.deepEqual(reloaded.map((r) => [r.id, r.status, r.error?.code ?? null]).sort(), [
      [`g${genA}-m1`, 'succeeded', null],
      [`g${genA}-m2`, 'failed', 'MIGRATION_TIMEOUT'],
    ]);
    // b's own m1 does not overwrite a's m1
    const auditB2 = await clusterAuditLog({ store: storeB, member: b }, log);
    void auditB2.append(rec('m1', 'started', null));
    await until(() => undefined, 'nothing', 300).catch(() => undefined);
    const keys = (await storeB.list('migrations/')).map((e) => e.key);
    assert.deepEqual(keys.sort(), [`migrations/g${genA}-m1`, `migrations/g${genA}-m2`, `migrations/g${genB}-m1`].sort());
  } finally {
    for (const m of members) await m.stop().catch(() => undefined);
    await etcd.stop();
  }
});

test('real etcd: a follower whose lease is lost or runs out steps down and says so (stepped-down), as a leader does', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const members: ClusterMember[] = [];
  const admin = new Etcd3({ hosts: [...etcd.endpoints] });
  try {
    const mk = (id: string): ClusterMember => {
      const m = new ClusterMember({ endpoints: etcd.endpoints, info: { id }, cluster: 'fs', ttlSec: 1 });
      members.push(m);
      return m;
    };
    const a = mk('a');
    await a.start();
    await until(() => a.role === 'leader', 'a to lead');
    const b = mk('b');
    const c = mk('c');
    await b.start();
    await c.start();
    assert.equal(b.role, 'follower');
    const bDown = new Promise<string>((resolve) => b.once('stepped-down', resolve));
    const cDown = new Promise<string>((resolve) => c.once('stepped-down', resolve));
    // b's lease revoked behind its back (as etcd does when it expired): b leaves the election
    const bLease = b.leaseId();
    assert.ok(bLease !== undefined, 'bLease !== undefined');
    await admin.leaseClient.leaseRevoke({ ID: bLease });
    const bReason = await Promise.race([bDown, new Promise<string>((_r, reject) => setTimeout(() => reject(new Error('b never stepped down')), 5_000))]);
    assert.equal(b.role, 'stepped-down');
    assert.equal(b.inContact(), false);
    // c stops renewing (cut off from etcd): it steps down once its lease may have run out
    c.abandon();
    const cReason = await Promise.race([cDown, new Promise<string>((_r, reject) => setTimeout(() => reject(new Error('c never stepped down')), 5_000))]);
    assert.match(cReason, /lease not renewed|lease lost/);
    assert.equal(a.role, 'leader', 'the leader is not affected');
    console.log(`# follower step-down: revoked lease -> "${bReason}"; abandoned lease -> "${cReason}"`);
  } finally {
    for (const m of members) await m.stop().catch(() => undefined);
    admin.close();
    await etcd.stop();
  }
});
