// The published view in chunks against a REAL etcd (one member on loopback, its own data dir;
// src/cluster/etcd-process.ts): etcd refuses the view as one document, takes it in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { isScoreError } from '../errors/errors.ts';
import { systemTestGate } from '../emulation/system-gate.ts';
import { etcdStore } from '../store/etcd.ts';
import { startEtcd } from './etcd-process.ts';
import { readView, viewPublisher } from './view-publish.ts';

const gate = systemTestGate({ tools: ['etcd'] });

const mac = (i: number): string =>
  [0x02, (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 0x01].map((b) => b.toString(16).padStart(2, '0')).join(':');

test('real etcd: a view of 100,000 directions is refused as one document and stored and read back whole in chunks', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  try {
    const store = etcdStore(client, { prefix: 'score/view-test/state/' });
    const hosts = Array.from({ length: 20_000 }, (_, i) => ({ mac: mac(i), dpid: (1 + (i % 3)).toString(16), port: 1 + (i % 40) }));
    const pairs = Array.from({ length: 100_000 }, (_, i): [string, string] => [mac(i % 20_000), mac((i * 7 + 1) % 20_000)]);
    const view = { leader: 'c1', generation: '7', switches: ['1', '2', '3'], links: 2, hosts, pairs };
    await assert.rejects(store.put('view/whole', view), (e: unknown) => isScoreError(e, 'CLUSTER_UNAVAILABLE') && /too large/i.test(e.message), 'etcd refuses the one document');
    await viewPublisher(store, '7').publish(view);
    const back = await readView(store);
    assert.equal(back?.pairs?.length, 100_000);
    assert.deepEqual(back?.pairs, pairs);
    assert.deepEqual(back?.hosts, hosts);
    assert.equal(back?.links, 2);
  } finally {
    client.close();
    await etcd.stop();
  }
});
