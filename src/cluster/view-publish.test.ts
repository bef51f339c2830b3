import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScoreError } from '../errors/errors.ts';
import { type Store, encodeValue, memoryStore } from '../store/store.ts';
import { ETCD_REQUEST_LIMIT_BYTES, SUMMARY_KEY, chunkBounds, readPreviousView, readView, viewPublisher } from './view-publish.ts';

/** A memory store that refuses, as etcd does, a put whose request is over its limit; counts puts. */
function limitedStore(): Store & { puts: string[]; largest: number; hook?: (key: string) => Promise<void> } {
  const inner = memoryStore();
  const s: Store & { puts: string[]; largest: number; hook?: (key: string) => Promise<void> } = {
    puts: [],
    largest: 0,
    async get(key) {
      await s.hook?.(key);
      return inner.get(key);
    },
    async put(key, value) {
      const bytes = Buffer.byteLength(encodeValue(key, value)) + Buffer.byteLength(key);
      if (bytes > ETCD_REQUEST_LIMIT_BYTES) throw new ScoreError('CLUSTER_UNAVAILABLE', `etcdserver: request is too large (${key}, ${bytes} bytes)`, {});
      s.largest = Math.max(s.largest, bytes);
      s.puts.push(key);
      return inner.put(key, value);
    },
    delete: (key) => inner.delete(key),
    list: () => Promise.reject(new Error('the publisher lists keys only: values of every chunk at once pass a response limit')),
    keys: (prefix) => inner.keys(prefix),
  };
  return s;
}

const mac = (i: number): string =>
  [0x02, (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 0x01].map((b) => b.toString(16).padStart(2, '0')).join(':');

function bigView(directions: number, hosts: number) {
  return {
    leader: 'c1',
    generation: '7',
    switches: ['1', '2', '3'],
    links: 2,
    hosts: Array.from({ length: hosts }, (_, i) => ({ mac: mac(i), dpid: (1 + (i % 3)).toString(16), port: 1 + (i % 40) })),
    pairs: Array.from({ length: directions }, (_, i): [string, string] => [mac(i % hosts), mac((i * 7 + 1) % hosts)]),
  };
}

test('the published view of 100,000 directions and 20,000 hosts fits etcd request by request (one document did not) and reads back whole', async () => {
  const view = bigView(100_000, 20_000);
  // the former design: everything in one document, over the limit (the whole view went stale)
  assert.ok(Buffer.byteLength(JSON.stringify(view)) > ETCD_REQUEST_LIMIT_BYTES, 'Buffer.byteLength(JSON.stringify(view)) > ETCD_REQUEST_LIMIT_BYTES');
  const store = limitedStore();
  await viewPublisher(store, '7').publish(view);
  assert.ok(store.largest < ETCD_REQUEST_LIMIT_BYTES / 4, `largest request ${store.largest} bytes`);
  const summaryBytes = Buffer.byteLength(JSON.stringify(await store.get(SUMMARY_KEY)));
  assert.ok(summaryBytes < 1024, `summary ${summaryBytes} bytes`);
  assert.equal(store.puts.at(-1), SUMMARY_KEY, 'the summary is written after every chunk it names');
  const back = await readView(store);
  assert.deepEqual(back?.pairs, view.pairs);
  assert.deepEqual(back?.hosts, view.hosts);
  assert.deepEqual(back?.switches, view.switches);
  assert.equal(back?.links, 2);
});

test('an unchanged list is not written again; a changed one gets a new version and the old chunks go', async () => {
  const store = limitedStore();
  const p = viewPublisher(store, '7', 1024, 0);
  const view = bigView(200, 50);
  await p.publish(view);
  const first = await store.keys('view/pairs/');
  assert.ok(first.length > 1, 'several chunks');
  store.puts.length = 0;
  await p.publish({ ...view, links: 3 });
  assert.deepEqual(store.puts, [SUMMARY_KEY], 'only the summary when the lists did not change');
  await p.publish({ ...view, pairs: view.pairs.slice(1) });
  const second = await store.keys('view/pairs/');
  assert.ok(second.every((k) => !first.includes(k)), 'the old version is deleted');
  assert.deepEqual((await readView(store))?.pairs, view.pairs.slice(1));
});

test('a new term deletes the list versions its predecessor left', async () => {
  const store = limitedStore();
  await viewPublisher(store, '7', 1024, 0).publish(bigView(200, 50));
  await viewPublisher(store, '9', 1024, 0).publish(bigView(100, 50));
  const keys = [...(await store.keys('view/pairs/')), ...(await store.keys('view/hosts/'))];
  assert.ok(keys.length > 0 && keys.every((k) => /^view\/(pairs|hosts)\/9-/.test(k)), keys.join(' '));
});

test('a publish that fails half way (fenced) leaves the previous complete view readable', async () => {
  const store = limitedStore();
  const p = viewPublisher(store, '7', 1024, 0);
  const v1 = bigView(200, 50);
  await p.publish(v1);
  let n = 0;
  const put = store.put.bind(store);
  store.put = (key, value) => {
    if ((n += 1) === 2) return Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', 'fenced', {}));
    return put(key, value);
  };
  await assert.rejects(p.publish(bigView(300, 50)), /fenced/);
  assert.deepEqual((await readView(store))?.pairs, v1.pairs);
});

test('a reader never mixes two versions: chunks replaced between its summary and chunk reads make it start over', async () => {
  const store = limitedStore();
  const p = viewPublisher(store, '7', 1024, 0);
  const v1 = bigView(200, 50);
  const v2 = { ...v1, pairs: v1.pairs.map(([a, b]): [string, string] => [b, a]) };
  await p.publish(v1);
  let swapped = false;
  store.hook = async (key) => {
    // after the reader got the first pairs chunk of v1, a new publish replaces every chunk
    if (!swapped && key.startsWith('view/pairs/') && key.endsWith('/1')) {
      swapped = true;
      store.hook = undefined;
      await p.publish(v2);
    }
  };
  const back = await readView(store);
  assert.ok(swapped, 'swapped');
  assert.deepEqual(back?.pairs, v2.pairs);
});

test('a summary of the former inline shape is read as it is; none published reads as undefined', async () => {
  const store = memoryStore();
  assert.equal(await readView(store), undefined);
  await store.put(SUMMARY_KEY, { switches: ['1'], links: 0, hosts: [{ mac: mac(1), dpid: '1', port: 2 }], pairs: [[mac(1), mac(2)]] });
  assert.deepEqual((await readView(store))?.pairs, [[mac(1), mac(2)]]);
});

test('chunkBounds: runs of at most maxBytes; an oversized item alone', () => {
  assert.deepEqual(chunkBounds(['aaaa', 'bb', 'cc', 'dddddddddd', 'e'], 8), [0, 2, 3, 4]);
  assert.deepEqual(chunkBounds([], 8), []);
});

test('small lists stay in the summary (one put a publish); a list that grows past the bound moves to chunks and back', async () => {
  const store = limitedStore();
  const p = viewPublisher(store, '7', 1024, 4096);
  const small = bigView(20, 10);
  await p.publish(small);
  assert.deepEqual(store.puts, [SUMMARY_KEY]);
  assert.deepEqual(((await store.get(SUMMARY_KEY)) as { pairs: unknown }).pairs, small.pairs);
  const big = bigView(400, 10);
  await p.publish(big);
  assert.ok((await store.keys('view/pairs/')).length > 1, '(await store.keys(\'view/pairs/\')).length > 1');
  assert.deepEqual((await readView(store))?.pairs, big.pairs);
  await p.publish(small);
  assert.deepEqual(await store.keys('view/pairs/'), [], 'the chunks go once the list is inline again');
  assert.deepEqual((await readView(store))?.pairs, small.pairs);
});

test('readPreviousView: a store that fails is read again with a doubling wait up to the bound; "not read" stays apart from "none published"', async () => {
  const store = limitedStore();
  let failures = 3;
  store.hook = () => (failures-- > 0 ? Promise.reject(new ScoreError('CLUSTER_UNAVAILABLE', 'etcd down', {})) : Promise.resolve());
  let t = 0;
  const waits: number[] = [];
  const clock = { now: () => t, sleep: (ms: number) => ((t += ms), waits.push(ms), Promise.resolve()) };
  assert.deepEqual(await readPreviousView(store, 5_000, clock), { state: 'none' }, 'nothing published, read on the 4th try');
  assert.deepEqual(waits, [100, 200, 400]);
  await viewPublisher(store, '7').publish({ switches: ['1'], links: 2, hosts: [], pairs: [['02:00:00:00:00:01', '02:00:00:00:00:02']] });
  failures = 1;
  const read = await readPreviousView(store, 5_000, clock);
  assert.equal(read.state, 'read');
  assert.deepEqual(read.state === 'read' ? read.view.pairs : null, [['02:00:00:00:00:01', '02:00:00:00:00:02']]);
  // down for good: unread after the bound, never mistaken for an empty view
  failures = Infinity;
  t = 0;
  waits.length = 0;
  const down = await readPreviousView(store, 5_000, clock);
  assert.equal(down.state, 'unread');
  assert.ok(down.state === 'unread' && /etcd down/.test(down.error) && down.attempts === waits.length + 1, JSON.stringify(down));
  assert.ok(t <= 5_000 && waits.at(-1) === 1_000, `waited ${t} ms: ${waits.join(', ')}`);
  // no longer wanted (leadership gone): stops at once
  t = 0;
  assert.equal((await readPreviousView(store, 5_000, { ...clock, wanted: () => false })).state, 'unread');
  assert.equal(t, 0);
});

test('a failed summary put or delete leaks no chunk: the stale versions are deleted by the next publish that lands', async () => {
  const store = limitedStore();
  const p = viewPublisher(store, '7', 1024, 0);
  const v0 = bigView(200, 50);
  const v1 = { ...v0, pairs: v0.pairs.map(([a, b]): [string, string] => [b, a]) };
  const v2 = { ...v0, pairs: v0.pairs.slice(1) };
  const versions = async (): Promise<string[]> => [...new Set((await store.keys('view/pairs/')).map((k) => k.split('/')[2] as string))].sort();
  await p.publish(v0);
  const put = store.put.bind(store);
  // the summary put fails: v1's chunks are written but never named
  store.put = (key, value) => (key === SUMMARY_KEY ? Promise.reject(new ScoreError('CLUSTER_UNAVAILABLE', 'etcd put failed', {})) : put(key, value));
  await assert.rejects(p.publish(v1), /etcd put failed/);
  assert.deepEqual((await readView(store))?.pairs, v0.pairs, 'the summary still names v0, whole');
  store.put = put;
  await p.publish(v1);
  assert.deepEqual((await readView(store))?.pairs, v1.pairs);
  assert.equal((await versions()).length, 1, `only the named version is left: ${(await versions()).join(' ')}`);
  // a delete fails: retried by the next publish, even one that changes nothing
  const del = store.delete.bind(store);
  store.delete = () => Promise.reject(new ScoreError('CLUSTER_UNAVAILABLE', 'etcd delete failed', {}));
  await assert.rejects(p.publish(v2), /etcd delete failed/);
  assert.equal((await versions()).length, 2);
  store.delete = del;
  await p.publish(v2);
  const named = ((await store.get(SUMMARY_KEY)) as { lists: { pairs: { version: string } } }).lists.pairs.version;
  assert.deepEqual(await versions(), [named], 'v1 and the failed v1 attempt are gone');
  assert.deepEqual((await readView(store))?.pairs, v2.pairs);
});
