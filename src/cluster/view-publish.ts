/**
 * The leader's published view in the store, in pieces small enough for etcd.
 *
 * etcd refuses a request over `--max-request-bytes` (1.5 MiB by default): one document holding
 * every routed direction (~41 bytes of JSON each) passed that at ~35,000 directions, and then the
 * whole view went stale, the switch and link counts a new leader's readiness waits for included.
 * So the summary (`view/summary`: switches, link count, and one reference per list) stays small,
 * and each long list (`pairs`, `hosts`) is stored in chunks of at most CHUNK_BYTES under its own
 * version: `view/<list>/<version>/<index>`, every chunk naming its version and index. A list of at
 * most INLINE_BYTES stays in the summary (one write a second for a small data centre).
 *
 * Write order (each write fenced, src/store/etcd.ts): a changed list's chunks under a new
 * version, then the summary pointing at that version, then the older versions' chunks deleted.
 * The publisher takes a version as the stored one only once that summary was put; chunks no
 * summary names (the older versions', or a publish's whose summary put failed) wait in a set
 * that each publish after a summary put deletes from, so a failed put or delete leaks nothing. A
 * list that did not change keeps its version and is not written again. A publish that fails half
 * way leaves the summary pointing at the last complete version. A reader takes the summary, then
 * the chunks it names, and checks every chunk's version, index and the total count: a chunk
 * deleted by a newer publish between the two reads (or one of another version) makes it start
 * over from the newer summary, so it never mixes two versions nor returns part of one.
 */
import { ScoreError } from '../errors/errors.ts';
import type { Store } from '../store/store.ts';

/** etcd's default request limit (`--max-request-bytes`, 1.5 MiB), bytes */
export const ETCD_REQUEST_LIMIT_BYTES = 1.5 * 1024 * 1024;
/** the most JSON bytes of list items in one chunk: far below the limit, whatever the key and fence add */
export const CHUNK_BYTES = 256 * 1024;
/**
 * a list whose JSON is at most this long stays in the summary itself (bytes): one put a second, as
 * before, for a data centre of this size; two such lists keep the summary far below the limit
 */
export const INLINE_BYTES = 64 * 1024;
/** a reader starts over at most this many times when publishes keep replacing what it reads */
const READ_ATTEMPTS = 5;

/** A list's current version in the summary. */
export interface ListRef {
  readonly version: string;
  readonly chunks: number;
  /** items in all chunks together */
  readonly count: number;
}

/** A stored chunk. */
interface Chunk<T> {
  readonly version: string;
  readonly index: number;
  readonly items: readonly T[];
}

export interface PublishedHost {
  readonly mac: string;
  readonly dpid: string;
  readonly port: number;
}

/** The view a leader publishes (and its successor reads), lists included. */
export interface PublishedView {
  readonly leader?: string;
  readonly generation?: string;
  readonly at?: string;
  readonly switches?: readonly string[];
  readonly links?: number;
  readonly hosts?: readonly PublishedHost[];
  /** the directions it routed (source MAC, destination MAC) */
  readonly pairs?: readonly (readonly [string, string])[];
}

type Lists = { readonly pairs: readonly (readonly [string, string])[]; readonly hosts: readonly PublishedHost[] };
const LIST_NAMES = ['pairs', 'hosts'] as const;
type ListName = (typeof LIST_NAMES)[number];

export const SUMMARY_KEY = 'view/summary';
const chunkKey = (list: ListName, version: string, index: number): string => `view/${list}/${version}/${index}`;

/**
 * Pure: the items split into runs whose JSON (items and commas) is at most `maxBytes` each; an
 * item larger than that alone makes one run. `texts[i]` is items[i]'s JSON.
 */
export function chunkBounds(texts: readonly string[], maxBytes: number): number[] {
  const starts: number[] = [];
  let size = Infinity;
  for (let i = 0; i < texts.length; i++) {
    const n = Buffer.byteLength(texts[i] as string) + 1;
    if (size + n > maxBytes) {
      starts.push(i);
      size = 0;
    }
    size += n;
  }
  return starts;
}

export interface ViewPublisher {
  /**
   * Writes the view: changed lists under new versions, then the summary, then the older versions
   * gone. Rejects (CLUSTER_NOT_LEADER, CLUSTER_UNAVAILABLE) with the summary still naming complete
   * lists. Not reentrant: the caller waits for one publish before the next.
   */
  publish(view: PublishedView & Lists): Promise<void>;
}

/**
 * A publisher for one leader term (`term`: e.g. its generation id, so two terms never write the
 * same version). Its first publish also deletes every list version a predecessor left.
 */
export function viewPublisher(store: Store, term: string, chunkBytes = CHUNK_BYTES, inlineBytes = INLINE_BYTES): ViewPublisher {
  let seq = 0;
  /** per list, the version the stored summary names (set only once that summary was put) */
  const last = new Map<ListName, { text: string; ref: ListRef }>();
  /** chunk keys no summary names any more (or never did), deleted after the next summary put until they are gone */
  const pending = new Set<string>();
  let swept = false;
  return {
    async publish(view) {
      const refs: Partial<Record<ListName, ListRef>> = {};
      const inline: Partial<Record<ListName, readonly unknown[]>> = {};
      // what `last` becomes once the summary is put (undefined: the list went inline)
      const next = new Map<ListName, { text: string; ref: ListRef } | undefined>();
      const written: string[] = [];
      const chunksOf = (name: ListName, ref: ListRef): string[] => Array.from({ length: ref.chunks }, (_, c) => chunkKey(name, ref.version, c));
      try {
        for (const name of LIST_NAMES) {
          const items: readonly unknown[] = view[name];
          const texts = items.map((x) => JSON.stringify(x));
          const text = texts.join(',');
          const prev = last.get(name);
          if (Buffer.byteLength(text) <= inlineBytes) {
            inline[name] = items;
            next.set(name, undefined);
            continue;
          }
          if (prev !== undefined && prev.text === text) {
            refs[name] = prev.ref;
            continue;
          }
          seq += 1;
          const version = `${term}-${seq}`;
          const starts = chunkBounds(texts, chunkBytes);
          for (let c = 0; c < starts.length; c++) {
            const chunk: Chunk<unknown> = { version, index: c, items: items.slice(starts[c], starts[c + 1] ?? items.length) };
            written.push(chunkKey(name, version, c));
            await store.put(chunkKey(name, version, c), chunk);
          }
          const ref: ListRef = { version, chunks: starts.length, count: items.length };
          refs[name] = ref;
          next.set(name, { text, ref });
        }
        const { pairs: _pairs, hosts: _hosts, ...rest } = view;
        await store.put(SUMMARY_KEY, { ...rest, ...inline, lists: refs });
      } catch (e) {
        // no summary names this publish's chunks: they go with the next publish that lands
        for (const k of written) pending.add(k);
        throw e;
      }
      // the summary names the new versions now: the ones it named before are stale
      for (const [name, now] of next) {
        const prev = last.get(name);
        if (prev !== undefined) for (const k of chunksOf(name, prev.ref)) pending.add(k);
        if (now === undefined) last.delete(name);
        else last.set(name, now);
      }
      const current = new Set<string>();
      for (const name of LIST_NAMES) {
        const r = refs[name];
        if (r !== undefined) for (const k of chunksOf(name, r)) current.add(k);
      }
      if (!swept) {
        // what earlier terms left (their summary no longer names it): once per term
        for (const name of LIST_NAMES) {
          // keys only: the values of a large list's chunks together pass a response limit (4 MiB in etcd3's gRPC)
          for (const k of await store.keys(`view/${name}/`)) if (!current.has(k)) pending.add(k);
        }
        swept = true;
      }
      // every stale key is tried each publish until it is gone (a failed delete is not lost)
      let failed: Error | undefined;
      for (const k of [...pending]) {
        if (current.has(k)) {
          pending.delete(k);
          continue;
        }
        try {
          await store.delete(k);
          pending.delete(k);
        } catch (e) {
          failed ??= e instanceof Error ? e : new Error(String(e));
        }
      }
      if (failed !== undefined) throw failed;
    },
  };
}

function isRef(x: unknown): x is ListRef {
  const r = x as ListRef | undefined;
  return typeof r === 'object' && r !== null && typeof r.version === 'string' && Number.isInteger(r.chunks) && Number.isInteger(r.count);
}

async function readList(store: Store, name: ListName, ref: ListRef): Promise<unknown[] | 'torn'> {
  const out: unknown[] = [];
  for (let c = 0; c < ref.chunks; c++) {
    const chunk = (await store.get(chunkKey(name, ref.version, c))) as Chunk<unknown> | undefined;
    if (chunk === undefined || chunk.version !== ref.version || chunk.index !== c || !Array.isArray(chunk.items)) return 'torn';
    for (const x of chunk.items) out.push(x);
  }
  return out.length === ref.count ? out : 'torn';
}

/**
 * The last published view with its lists, or undefined when none was published. A summary of an
 * older version that holds its lists inline is read as it is.
 * @throws ScoreError CLUSTER_UNAVAILABLE (store unreachable, or the lists kept changing under
 *   READ_ATTEMPTS reads)
 */
export async function readView(store: Store): Promise<PublishedView | undefined> {
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    const summary = (await store.get(SUMMARY_KEY)) as (PublishedView & { lists?: Record<string, unknown> }) | undefined;
    if (summary === undefined) return undefined;
    const view: Record<string, unknown> = { ...summary };
    delete view.lists;
    let torn = false;
    for (const name of LIST_NAMES) {
      const ref = summary.lists?.[name];
      if (!isRef(ref)) continue; // inline (older publisher) or absent
      const items = await readList(store, name, ref);
      if (items === 'torn') {
        torn = true;
        break;
      }
      view[name] = items;
    }
    if (!torn) return view;
  }
  throw new ScoreError('CLUSTER_UNAVAILABLE', `the published view kept changing while it was read (${READ_ATTEMPTS} attempts)`, {});
}

/**
 * What a new leader knows of its predecessor's view: `read` (the view), `none` (nothing was
 * published: a first leader), or `unread` (the store did not answer within the bound). `unread` is
 * not `none`: a view that was published but not read lists directions whose rules still forward.
 */
export type PreviousView =
  | { readonly state: 'read'; readonly view: PublishedView }
  | { readonly state: 'none' }
  | { readonly state: 'unread'; readonly error: string; readonly attempts: number };

/**
 * `readView`, tried again after a failure with a doubling wait (firstWaitMs, 2×, ... at most
 * 1 s) as long as the next try starts within `boundMs` of the first (a new leader's catch-up
 * bound) and `wanted()` (still this term's leader). Never throws: a store that kept failing is
 * `unread` with the last error. `now`/`sleep` are injectable for tests (ms).
 */
export async function readPreviousView(
  store: Store,
  boundMs: number,
  o: { readonly firstWaitMs?: number; readonly wanted?: () => boolean; readonly now?: () => number; readonly sleep?: (ms: number) => Promise<void> } = {},
): Promise<PreviousView> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms)));
  const start = now();
  let wait = o.firstWaitMs ?? 100;
  for (let attempts = 1; ; attempts++) {
    try {
      const view = await readView(store);
      return view === undefined ? { state: 'none' } : { state: 'read', view };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      if (now() + wait - start > boundMs || (o.wanted !== undefined && !o.wanted())) return { state: 'unread', error, attempts };
      await sleep(wait);
      wait = Math.min(1_000, wait * 2);
    }
  }
}
