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
 * version, then the summary pointing at that version, then the older versions' chunks deleted. A
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
  const last = new Map<ListName, { text: string; ref: ListRef }>();
  let swept = false;
  return {
    async publish(view) {
      const refs: Partial<Record<ListName, ListRef>> = {};
      const inline: Partial<Record<ListName, readonly unknown[]>> = {};
      const stale: string[] = [];
      for (const name of LIST_NAMES) {
        const items: readonly unknown[] = view[name];
        const texts = items.map((x) => JSON.stringify(x));
        const text = texts.join(',');
        const prev = last.get(name);
        if (Buffer.byteLength(text) <= inlineBytes) {
          inline[name] = items;
          if (prev !== undefined) for (let c = 0; c < prev.ref.chunks; c++) stale.push(chunkKey(name, prev.ref.version, c));
          last.delete(name);
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
          await store.put(chunkKey(name, version, c), chunk);
        }
        const ref: ListRef = { version, chunks: starts.length, count: items.length };
        refs[name] = ref;
        if (prev !== undefined) for (let c = 0; c < prev.ref.chunks; c++) stale.push(chunkKey(name, prev.ref.version, c));
        last.set(name, { text, ref });
      }
      const { pairs: _pairs, hosts: _hosts, ...rest } = view;
      await store.put(SUMMARY_KEY, { ...rest, ...inline, lists: refs });
      if (!swept) {
        // what earlier terms left (their summary no longer names it): once per term
        for (const name of LIST_NAMES) {
          const current = refs[name]?.version;
          // keys only: the values of a large list's chunks together pass a response limit (4 MiB in etcd3's gRPC)
          for (const k of await store.keys(`view/${name}/`)) {
            if (current === undefined || !k.startsWith(`view/${name}/${current}/`)) stale.push(k);
          }
        }
        swept = true;
      }
      for (const k of new Set(stale)) await store.delete(k);
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
