// The etcd store's paged `list` against a REAL etcd (one member on loopback, its own data dir;
// src/cluster/etcd-process.ts): a prefix whose values together pass etcd3's 4 MiB response limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { systemTestGate } from '../emulation/system-gate.ts';
import { startEtcd } from '../cluster/etcd-process.ts';
import { etcdStore } from './etcd.ts';

const gate = systemTestGate({ tools: ['etcd'] });

test('real etcd: 200 records of ~30 KB (6 MB) are refused as one range and listed whole in pages', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  try {
    const prefix = 'score/list-test/state/';
    const store = etcdStore(client, { prefix });
    const rates = 'r'.repeat(30_000);
    for (let i = 0; i < 200; i++) await store.put(`migrations/${String(i).padStart(4, '0')}`, { id: i, rates });
    await store.put('migrationz', { id: -1 });
    // its own client: a refused response opens the etcd3 client's circuit breaker
    const other = new Etcd3({ hosts: [...etcd.endpoints] });
    await assert.rejects(other.getAll().prefix(`${prefix}migrations/`).exec(), /larger than max/i, 'one range over the prefix is refused');
    other.close();
    const entries = await store.list('migrations/');
    assert.deepEqual(entries.map((e) => (e.value as { id: number }).id), [...Array(200).keys()]);
    assert.ok(entries.every((e) => e.key.startsWith('migrations/') && e.revision > 0n), 'entries.every((e) => e.key.startsWith(\'migrations/\') && e.revision > 0n)');
  } finally {
    client.close();
    await etcd.stop();
  }
});
