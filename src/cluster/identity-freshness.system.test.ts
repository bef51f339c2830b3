// The etcd credential store when a member's copy silently goes stale, against a REAL three-node
// etcd on loopback: the follower's client reaches only etcd node m2, which is then frozen
// (SIGSTOP): its watch stream stays open and receives nothing, as on a node cut off from quorum,
// while the other two nodes keep quorum and the leader revokes a credential. The follower's lease
// is taken as alive (hand-made member), so only the heartbeat can tell it that its copy is stale.
// Then m2 is killed and started again: the watch reconnects, and the member reads every credential
// again before it accepts one.
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { systemTestGate } from '../emulation/system-gate.ts';
import { isScoreError } from '../errors/errors.ts';
import { startEtcd } from './etcd-process.ts';
import { startClusterIdentity, type ClusterIdentity, type IdentityMember } from './identity.ts';

const gate = systemTestGate({ tools: ['etcd'] });

async function until<T>(probe: () => T | undefined | false, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('etcd credential store: a member whose watch silently stalls refuses agent credentials within a TTL, the revocation answers 503 naming it; after a reconnect it reads everything again', { skip: gate.skip, timeout: 120_000 }, async () => {
  const etcd = await startEtcd({ size: 3 });
  const clients: Etcd3[] = [];
  const ids: ClusterIdentity[] = [];
  const frozen = etcd.members[2];
  assert.ok(frozen !== undefined, 'frozen !== undefined');
  let stopped = false;
  try {
    const prefix = 'score/idfresh/';
    const client = (hosts: readonly string[]): Etcd3 => {
      const c = new Etcd3({ hosts: [...hosts] });
      clients.push(c);
      return c;
    };
    const quorum = [etcd.members[0]!.clientUrl, etcd.members[1]!.clientUrl];
    const admin = client(quorum);
    const elect = async (id: string): Promise<{ key: string; createRevision: string }> => {
      const key = `${prefix}election/${id}`;
      await admin.put(key).value(JSON.stringify({ id }));
      const kv = (await admin.get(key).exec()).kvs[0];
      return { key, createRevision: kv?.create_revision ?? '0' };
    };
    const fence = await elect('lead');
    await elect('f');
    const ttlMs = 1000;
    const member = (id: string, c: Etcd3, o: Partial<IdentityMember> = {}): IdentityMember => ({ client: c, prefix, id, fence: () => undefined, inContact: () => true, ttlMs, ...o });
    const lead = await startClusterIdentity({ member: member('lead', client(quorum), { fence: () => fence }) });
    ids.push(lead);
    const fLog: string[] = [];
    const f = await startClusterIdentity({ member: member('f', client([frozen.clientUrl])), log: (_l, m) => fLog.push(m) });
    ids.push(f);
    const one = await lead.credentials.issue('hv1');
    assert.equal(f.credentials.verify(one.token)?.status, 'active');
    // heartbeats keep a healthy follower current well past one TTL
    await new Promise((r) => setTimeout(r, 2 * ttlMs));
    assert.equal(f.credentials.verify(one.token)?.status, 'active', 'a follower seeing heartbeats keeps accepting');
    assert.equal(f.available(), true);

    frozen.process.kill('SIGSTOP');
    stopped = true;
    // the revocation is committed by the two live nodes; the frozen follower never confirms it
    const t0 = Date.now();
    await assert.rejects(lead.credentials.revoke(one.credential.id), (e: unknown) => {
      assert.ok(isScoreError(e, 'CLUSTER_UNCONFIRMED'), String(e));
      assert.deepEqual((e as { details?: { members?: unknown } }).details?.members, ['f']);
      return true;
    });
    const waited = Date.now() - t0;
    assert.ok(waited >= ttlMs, `the revoke waited ${waited} ms for f`);
    assert.notEqual((await lead.credentials.list()).find((c) => c.id === one.credential.id)?.revokedAt ?? null, null, 'committed on the leader');
    // when the revoke answered, f (watch open, lease "alive", copy stale) refuses the credential
    assert.throws(() => f.credentials.verify(one.token), (e: unknown) => isScoreError(e, 'CLUSTER_UNAVAILABLE'), 'a stale member must not accept the revoked credential');
    assert.equal(f.available(), false);

    // back in contact: it catches up through the watch, and the revocation is confirmed on asking again
    frozen.process.kill('SIGCONT');
    stopped = false;
    await until(() => {
      try {
        return f.credentials.verify(one.token)?.status === 'revoked';
      } catch {
        return false;
      }
    }, 'f to see the revocation');
    const again = await lead.credentials.revoke(one.credential.id);
    assert.notEqual(again.revokedAt, null);

    // f's etcd node is killed and started again (same data dir): f's watch drops and reconnects;
    // meanwhile f refuses, and once back it reads every credential again before it accepts one
    const two = await lead.credentials.issue('hv2');
    assert.equal(f.credentials.verify(two.token)?.status, 'active');
    const [cmd, ...args] = frozen.process.spawnargs;
    await new Promise<void>((resolve) => {
      frozen.process.once('exit', () => resolve());
      frozen.process.kill('SIGKILL');
    });
    await until(() => !f.available(), 'f to notice its watch is down', 5_000);
    assert.throws(() => f.credentials.verify(two.token), (e: unknown) => isScoreError(e, 'CLUSTER_UNAVAILABLE'));
    await assert.rejects(lead.credentials.revoke(two.credential.id), (e: unknown) => isScoreError(e, 'CLUSTER_UNCONFIRMED'));
    frozen.process = spawn(cmd as string, args, { stdio: 'ignore' });
    await until(() => f.available(), 'f back with a current copy', 30_000);
    assert.equal(f.credentials.verify(two.token)?.status, 'revoked', 'the revocation made while it was away');
    assert.ok(fLog.some((l) => /agent credentials read again from etcd/.test(l)), fLog.join('\n'));
  } finally {
    if (stopped) frozen.process.kill('SIGCONT');
    for (const i of ids) await i.close().catch(() => undefined);
    for (const c of clients) c.close();
    await etcd.stop();
  }
});
