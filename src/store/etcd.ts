/**
 * The cluster store: the Store interface on etcd (npm etcd3, gRPC v3 API).
 *
 * Every write is one etcd transaction guarded by the writer's election key: it lands only while
 * that key still exists with the create revision it had when this controller was elected. A
 * leader whose lease expired (killed, paused, cut off) has lost that key, so its late writes fail
 * with CLUSTER_NOT_LEADER instead of overwriting what the new leader wrote: the same fencing the
 * switches apply with the generation id (docs/cluster.md).
 */
import type { Etcd3 } from 'etcd3';
import { ScoreError } from '../errors/errors.ts';
import { type Store, type StoreEntry, assertKey, encodeValue } from './store.ts';

/** The election key that must still hold for a write to land. */
export interface Fence {
  /** full etcd key of the writer's election entry */
  readonly key: string;
  /** its create revision when the writer was elected (decimal string, etcd int64) */
  readonly createRevision: string;
}

export interface EtcdStoreOptions {
  /** key prefix of this cluster's state, e.g. `score/<cluster>/state/` */
  readonly prefix: string;
  /**
   * The fence for writes; undefined from it means "not the leader now" (CLUSTER_NOT_LEADER).
   * Without this option writes are not fenced (a tool writing outside any election).
   */
  readonly fence?: () => Fence | undefined;
  /** entries per range request of `list` at first (default LIST_PAGE) */
  readonly listPage?: number;
}

/**
 * Entries per range request of `list`, at first. etcd3's gRPC client refuses a response over
 * 4 MiB ("received message larger than max"): one range over a prefix of large values (migration
 * records carry every measured pair's rate, ~30 KB each at scale) passed it at ~140 records. A
 * refused page is asked again at half the size, down to one entry (a value is at most etcd's
 * 1.5 MiB request limit, so one always fits).
 */
export const LIST_PAGE = 32;

/** The first key after every key starting with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}

const tooLarge = (e: unknown): boolean => /larger than max|RESOURCE_EXHAUSTED|too large/i.test(e instanceof Error ? e.message : String(e));

function unavailable(what: string, e: unknown): ScoreError {
  return new ScoreError('CLUSTER_UNAVAILABLE', `etcd ${what} failed: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
}

export function etcdStore(client: Etcd3, o: EtcdStoreOptions): Store {
  const full = (key: string): string => {
    assertKey(key);
    return `${o.prefix}${key}`;
  };
  const fenced = async (key: string, op: 'put' | 'delete', text?: string): Promise<void> => {
    const k = full(key);
    const fence = o.fence?.();
    if (o.fence !== undefined && fence === undefined) {
      throw new ScoreError('CLUSTER_NOT_LEADER', `${op} ${key}: this controller is not the cluster leader`, { key });
    }
    const write = op === 'put' ? client.put(k).value(text as string) : client.delete().key(k);
    let ok: boolean;
    try {
      if (fence === undefined) {
        await write.exec();
        ok = true;
      } else {
        const r = await client.if(fence.key, 'Create', '==', fence.createRevision).then(write).commit();
        ok = r.succeeded;
      }
    } catch (e) {
      throw unavailable(`${op} ${key}`, e);
    }
    if (!ok) {
      throw new ScoreError('CLUSTER_NOT_LEADER', `${op} ${key}: refused, the election key ${fence?.key ?? ''} (revision ${fence?.createRevision ?? ''}) is gone: leadership was lost`, {
        key,
        fence: fence?.key,
      });
    }
  };
  return {
    async get(key) {
      let text: string | null;
      try {
        text = await client.get(full(key)).string();
      } catch (e) {
        if (e instanceof ScoreError) throw e;
        throw unavailable(`get ${key}`, e);
      }
      return text === null ? undefined : (JSON.parse(text) as unknown);
    },
    put: (key, value) => fenced(key, 'put', encodeValue(key, value)),
    delete: (key) => fenced(key, 'delete'),
    async list(prefix) {
      // paged (LIST_PAGE): no response holds the whole prefix; every page at the first page's
      // revision, so the pages are one snapshot
      const first = Buffer.from(`${o.prefix}${prefix}`);
      const end = prefixEnd(first);
      let start = first;
      let page = Math.max(1, o.listPage ?? LIST_PAGE);
      let revision: string | undefined;
      const out: StoreEntry[] = [];
      for (;;) {
        let r;
        try {
          const q = client.getAll().inRange({ start, end }).sort('Key', 'Ascend').limit(page);
          r = await (revision === undefined ? q : q.revision(revision)).exec();
        } catch (e) {
          if (page > 1 && tooLarge(e)) {
            page = Math.max(1, Math.floor(page / 2));
            continue;
          }
          throw unavailable(`list ${prefix}`, e);
        }
        revision ??= r.header.revision;
        for (const kv of r.kvs) {
          out.push({ key: kv.key.toString().slice(o.prefix.length), value: JSON.parse(kv.value.toString()) as unknown, revision: BigInt(kv.mod_revision) });
        }
        const last = r.kvs.at(-1);
        if (!r.more || last === undefined) return out;
        start = Buffer.concat([last.key, Buffer.from([0])]); // the next key after the last one
      }
    },
    async keys(prefix) {
      let keys: string[];
      try {
        keys = await client.getAll().prefix(`${o.prefix}${prefix}`).sort('Key', 'Ascend').keys();
      } catch (e) {
        throw unavailable(`keys ${prefix}`, e);
      }
      return keys.map((k) => k.slice(o.prefix.length));
    },
  };
}
