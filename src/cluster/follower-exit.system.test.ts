// `score controller --cluster` as a follower that leaves the election (its lease revoked behind its
// back, as etcd does when it expired): the process exits 75 so systemd restarts it as a fresh
// standby, instead of staying up refusing every agent (docs/cluster.md). Real etcd, real process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { systemTestGate } from '../emulation/system-gate.ts';
import { freePorts, startEtcd } from './etcd-process.ts';
import { killAll, spawnController, waitFor, type ControllerProcess } from './cluster.testing.ts';

const gate = systemTestGate({ tools: ['etcd'] });

test('score controller --cluster: a follower whose lease is lost exits 75', { skip: gate.skip, timeout: 90_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const admin = new Etcd3({ hosts: [...etcd.endpoints] });
  const procs: ControllerProcess[] = [];
  try {
    // a leader that never goes away (a key without a lease, created first): the controller follows it
    await admin.put('score/default/election/0').value(JSON.stringify({ id: 'ghost-leader' }));
    const [ofPort, apiPort] = (await freePorts(2)) as [number, number];
    const c = spawnController({ id: 'f1', ofPort, apiPort, endpoints: etcd.endpoints, extra: ['--lease-ttl', '1'] });
    procs.push(c);
    const exit = new Promise<number | null>((resolve) => c.child.once('exit', (code) => resolve(code)));
    await waitFor(() => c.lines.some((l) => /cluster member f1 \(follower\)/.test(l.text)), 'f1 up as a follower', 30_000);
    const mine = await waitFor(
      async () => Object.entries(await admin.getAll().prefix('score/default/election/').strings()).find(([k, v]) => k !== 'score/default/election/0' && v.includes('"f1"')),
      'f1 election key',
      10_000,
    );
    const leaseId = mine[0].slice('score/default/election/'.length);
    await admin.leaseClient.leaseRevoke({ ID: leaseId });
    const code = await Promise.race([exit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
    assert.equal(code, 75, c.lines.map((l) => l.text).join('\n'));
    assert.ok(c.lines.some((l) => /left the election \(lease lost/.test(l.text)), c.lines.map((l) => l.text).join('\n'));
  } finally {
    await killAll(procs);
    admin.close();
    await etcd.stop();
  }
});
