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
    // its own client: the refusal opens the etcd3 client's circuit breaker, and that client then
    // refuses every call for a while (what the single-document view did to the leader's client)
    const other = new Etcd3({ hosts: [...etcd.endpoints] });
    const whole = etcdStore(other, { prefix: 'score/view-test/state/' }).put('view/whole', view);
    await assert.rejects(whole, (e: unknown) => isScoreError(e, 'CLUSTER_UNAVAILABLE') && /too large|larger than max/i.test(e.message), 'etcd refuses the one document (gRPC: "received message larger than max"; 1.5-2 MiB: "request is too large")');
    other.close();
    await viewPublisher(store, '7').publish(view);
    const back = await readView(store);
    assert.equal(back?.pairs?.length, 100_000);
    assert.deepEqual(back?.pairs, pairs);
    assert.deepEqual(back?.hosts, hosts);
    assert.equal(back?.links, 2);
    // the next term's first publish deletes what this one left (keys listed without their values)
    await viewPublisher(store, '9').publish({ ...view, pairs: pairs.slice(50_000) });
    const left = [...(await store.keys('view/pairs/')), ...(await store.keys('view/hosts/'))];
    assert.ok(left.length > 0 && left.every((k) => /^view\/(pairs|hosts)\/9-/.test(k)), left.join(' '));
    assert.equal((await readView(store))?.pairs?.length, 50_000);
  } finally {
    client.close();
    await etcd.stop();
  }
});
