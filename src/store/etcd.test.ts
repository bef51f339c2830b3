// The etcd store's `list` against a fake etcd3 client that, as etcd3's gRPC client does, refuses a
// response over 4 MiB: a prefix of large values must be read in pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { etcdStore } from './etcd.ts';

const RESPONSE_LIMIT = 4 * 1024 * 1024;

/** The parts of etcd3's range builder the store uses, over a sorted in-memory key space. */
function fakeEtcd(data: Map<string, string>): { client: Etcd3; responses: number[]; revisions: (string | undefined)[] } {
  const responses: number[] = [];
  const revisions: (string | undefined)[] = [];
  const builder = (): Record<string, unknown> => {
    let start: Buffer = Buffer.alloc(0);
    let end: Buffer | undefined;
    let limit = 0;
    let revision: string | undefined;
    const b = {
      prefix(p: string) {
        start = Buffer.from(p);
        end = Buffer.from(p + '\uffff');
        return b;
      },
      inRange(r: { start: Buffer; end: Buffer }) {
        start = r.start;
        end = r.end;
        return b;
      },
      sort: () => b,
      limit(n: number) {
        limit = n;
        return b;
      },
      revision(r: string) {
        revision = r;
        return b;
      },
      exec() {
        revisions.push(revision);
        const keys = [...data.keys()].map((k) => Buffer.from(k)).filter((k) => Buffer.compare(k, start) >= 0 && (end === undefined || Buffer.compare(k, end) < 0)).sort((x, y) => Buffer.compare(x, y));
        const taken = limit > 0 ? keys.slice(0, limit) : keys;
        const kvs = taken.map((k) => ({ key: k, value: Buffer.from(data.get(k.toString()) as string), mod_revision: '5' }));
        const bytes = kvs.reduce((n, kv) => n + kv.key.length + kv.value.length, 0);
        if (bytes > RESPONSE_LIMIT) return Promise.reject(new Error(`8 RESOURCE_EXHAUSTED: Received message larger than max (${bytes} vs. ${RESPONSE_LIMIT})`));
        responses.push(bytes);
        return Promise.resolve({ header: { revision: '7' }, kvs, more: taken.length < keys.length, count: String(keys.length) });
      },
    };
    return b;
  };
  return { client: { getAll: builder } as unknown as Etcd3, responses, revisions };
}

test('list reads a prefix of large values in pages: no response over the 4 MiB limit, every entry once, in key order, one revision', async () => {
  const data = new Map<string, string>();
  const record = (i: number): { id: number; rates: string } => ({ id: i, rates: 'x'.repeat(30_000) }); // ~30 KB: a migration record's measured rates at scale
  for (let i = 0; i < 300; i++) data.set(`p/state/migrations/${String(i).padStart(4, '0')}`, JSON.stringify(record(i)));
  data.set('p/state/migrationz', '{}'); // past the prefix
  data.set('p/state/migrations', '{}'); // the prefix without its slash: not under it either
  const fake = fakeEtcd(data);
  const entries = await etcdStore(fake.client, { prefix: 'p/state/' }).list('migrations/');
  assert.equal(entries.length, 300);
  assert.deepEqual(entries.map((e) => (e.value as { id: number }).id), [...Array(300).keys()]);
  assert.ok(fake.responses.length > 1 && Math.max(...fake.responses) <= RESPONSE_LIMIT, fake.responses.join(', '));
  assert.deepEqual(fake.revisions.slice(1), fake.revisions.slice(1).map(() => '7'), 'later pages at the first page\'s revision');
});

test('list halves its page when a page is still refused as too large, down to one entry', async () => {
  const data = new Map<string, string>();
  for (let i = 0; i < 6; i++) data.set(`p/big/${i}`, JSON.stringify('y'.repeat(1_400_000)));
  const fake = fakeEtcd(data);
  const entries = await etcdStore(fake.client, { prefix: 'p/', listPage: 32 }).list('big/');
  assert.equal(entries.length, 6);
  assert.ok(Math.max(...fake.responses) <= RESPONSE_LIMIT, 'Math.max(...fake.responses) <= RESPONSE_LIMIT');
  assert.deepEqual(await etcdStore(fakeEtcd(new Map()).client, { prefix: 'p/' }).list('none/'), []);
});
