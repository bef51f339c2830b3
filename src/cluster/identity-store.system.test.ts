// The etcd credential store's own rules against a REAL etcd (one member on loopback), with members
// made by hand (election keys, fences and "in contact" set by the test): a change answers only once
// every live member applied it, or after the lease TTL when one does not; a member out of contact
// refuses agent credentials; only the leader writes; the controller key is created once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { systemTestGate } from '../emulation/system-gate.ts';
import { isScoreError } from '../errors/errors.ts';
import type { Credential } from '../api/credential-store.ts';
import { startEtcd } from './etcd-process.ts';
import { sharedControllerKey, startClusterIdentity, type ClusterIdentity, type IdentityMember } from './identity.ts';

const gate = systemTestGate({ tools: ['etcd'] });

test('etcd credential store: acknowledged changes, fail-closed members, leader-only writes, one controller key', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const clients: Etcd3[] = [];
  const ids: ClusterIdentity[] = [];
  try {
    const prefix = 'score/idstore/';
    const client = (): Etcd3 => {
      const c = new Etcd3({ hosts: [...etcd.endpoints] });
      clients.push(c);
      return c;
    };
    const admin = client();
    const elect = async (id: string): Promise<{ key: string; createRevision: string }> => {
      const key = `${prefix}election/${id}`;
      await admin.put(key).value(JSON.stringify({ id }));
      const kv = (await admin.get(key).exec()).kvs[0];
      return { key, createRevision: kv?.create_revision ?? '0' };
    };
    const leaderFence = await elect('lead');
    await elect('f');
    let fInContact = true;
    const warnings: string[] = [];
    const member = (id: string, o: { fence?: () => ReturnType<IdentityMember['fence']>; inContact?: () => boolean }): IdentityMember => ({
      client: client(),
      prefix,
      id,
      fence: o.fence ?? (() => undefined),
      inContact: o.inContact ?? (() => true),
      ttlMs: 1000,
    });
    // a record that is not a credential: ignored, with a warning, by every member
    await admin.put(`${prefix}state/identity/credentials/cred-00000000000x`).value('{"not":"a credential"}');
    const lead = await startClusterIdentity({ member: member('lead', { fence: () => leaderFence }), log: (_l, m) => warnings.push(m) });
    ids.push(lead);
    const f = await startClusterIdentity({ member: member('f', { inContact: () => fInContact }), log: (_l, m) => warnings.push(m) });
    ids.push(f);
    assert.ok(warnings.some((w) => w.includes('is not a credential record')), warnings.join('\n'));
    assert.deepEqual(Buffer.from(lead.controllerKey), Buffer.from(f.controllerKey), 'one key for every member');
    assert.deepEqual(Buffer.from(await sharedControllerKey(admin, prefix)), Buffer.from(lead.controllerKey), 'created once, never replaced');
    assert.equal(lead.controllerKey.length, 32);

    const revokedOnF: Credential[] = [];
    f.credentials.onRevoke((c) => revokedOnF.push(c));

    // both members acknowledge: the issue answers quickly, and the follower knows it when it does
    let t0 = Date.now();
    const one = await lead.credentials.issue('hv16');
    const quick = Date.now() - t0;
    assert.ok(quick < 700, `issue took ${quick} ms with every member acknowledging`);
    assert.equal(f.credentials.verify(one.token)?.status, 'active', 'the follower accepts it when the issue answers');
    assert.equal(f.credentials.verify(`${one.credential.id}.wrong`), null);
    assert.equal(f.credentials.verify('cred-00000000000x.anything'), null);
    assert.deepEqual((await f.credentials.list()).map((c) => c.id), [one.credential.id]);

    // only the leader writes (followers forward the request over HTTP instead)
    await assert.rejects(f.credentials.issue('hv17'), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER'));
    await assert.rejects(f.credentials.revoke(one.credential.id), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER'));
    await assert.rejects(lead.credentials.revoke('cred-0123456789ab'), (e: unknown) => isScoreError(e, 'UNKNOWN_CREDENTIAL'));

    // a live member that never acknowledges ("ghost": an election key, no store): the change
    // answers after the TTL, and says which member did not follow
    await elect('ghost');
    t0 = Date.now();
    const two = await lead.credentials.issue('hv17');
    const slow = Date.now() - t0;
    assert.ok(slow >= 1000, `waited for the ghost for the TTL (${slow} ms)`);
    assert.ok(warnings.some((w) => /not acknowledged by ghost within the lease TTL/.test(w)), warnings.join('\n'));
    await admin.delete().key(`${prefix}election/ghost`);

    // revoked on the leader: refused on the follower when the revoke answers; its listeners ran once
    const revoked = await lead.credentials.revoke(two.credential.id);
    assert.equal(typeof revoked.revokedAt, 'number');
    assert.equal(f.credentials.verify(two.token)?.status, 'revoked');
    assert.deepEqual(revokedOnF.map((c) => c.id), [two.credential.id]);
    assert.deepEqual(await lead.credentials.revoke(two.credential.id), revoked, 'revoking twice answers the same record');
    assert.equal(revokedOnF.length, 1, 'no second notification');
    assert.equal(f.credentials.verify(one.token)?.status, 'active');

    // a record written behind the leader's back that un-revokes: no member's copy goes back to active
    const twoKey = `${prefix}state/identity/credentials/${two.credential.id}`;
    const rogue = JSON.parse((await admin.get(twoKey).string()) ?? '{}') as Record<string, unknown>;
    const put = await admin.put(twoKey).value(JSON.stringify({ ...rogue, revokedAt: null })).exec();
    const rogueRev = BigInt(put.header.revision);
    const deadline = Date.now() + 5000;
    while (f.appliedRevision() < rogueRev && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(f.appliedRevision() >= rogueRev, 'f applied the rogue record');
    assert.equal(f.credentials.verify(two.token)?.status, 'revoked', 'a revocation is never undone');
    assert.ok(warnings.some((w) => /stays revoked/.test(w)), warnings.join('\n'));
    // (a member that loads it fresh could not know: put the revoked record back for the ones below)
    await admin.put(twoKey).value(JSON.stringify(rogue));

    // a member out of contact with etcd refuses agent credentials, whatever its copy says
    fInContact = false;
    assert.throws(() => f.credentials.verify(one.token), (e: unknown) => isScoreError(e, 'CLUSTER_UNAVAILABLE'));
    assert.equal(f.credentials.verify('cred-000000000000.unknown'), null, 'an unknown token is still just unknown');
    fInContact = true;
    assert.equal(f.credentials.verify(one.token)?.status, 'active');

    // a member that starts later loads everything, revocations included
    const late = await startClusterIdentity({ member: member('late', {}) });
    ids.push(late);
    assert.equal(late.credentials.verify(one.token)?.status, 'active');
    assert.equal(late.credentials.verify(two.token)?.status, 'revoked');
    assert.ok(late.appliedRevision() > 0n, 'late.appliedRevision() > 0n');
  } finally {
    for (const i of ids) await i.close().catch(() => undefined);
    for (const c of clients) c.close();
    await etcd.stop();
  }
});
