/**
 * The controller's shared state, behind one small interface so a feature can keep its state
 * without knowing whether one controller runs (memory) or a cluster (etcd, src/store/etcd.ts).
 *
 * Keys are `/`-separated paths below a namespace the caller picks, e.g. `weights/overrides`,
 * `orchestration/state`, `migrations/<id>`, `audit/<seq>`, `agents/<hypervisor>`,
 * `rails/cooldowns`. Values are JSON documents (bigints must be converted by the caller).
 *
 * Writes are fenced in a cluster: only the leader's writes land, and a leader that lost its
 * lease gets CLUSTER_NOT_LEADER instead of overwriting what the new leader wrote.
 */
import { ScoreError } from '../errors/errors.ts';

export interface StoreEntry {
  readonly key: string;
  readonly value: unknown;
  /** store revision of the last write of this key (etcd mod revision; a counter in memory) */
  readonly revision: bigint;
}

export interface Store {
  /** @returns the JSON value, or undefined when the key does not exist */
  get(key: string): Promise<unknown>;
  /**
   * Writes a JSON value.
   * @throws ScoreError CLUSTER_NOT_LEADER (fenced: this writer is no longer the leader),
   *   CLUSTER_UNAVAILABLE (store unreachable)
   */
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** every key starting with `prefix`, in key order */
  list(prefix: string): Promise<StoreEntry[]>;
  /** the keys only (no values: a large prefix read whole may exceed a response limit), in key order */
  keys(prefix: string): Promise<string[]>;
}

export function assertKey(key: string): void {
  if (!/^[A-Za-z0-9._:-]+(\/[A-Za-z0-9._:-]+)*$/.test(key) || key.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new ScoreError('INTERNAL', `bad store key ${JSON.stringify(key)}: want path segments of [A-Za-z0-9._:-] joined by /`, { key });
  }
}

/** JSON text of a value, refusing what JSON cannot carry faithfully (bigint, undefined). */
export function encodeValue(key: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new ScoreError('INTERNAL', `store value for ${key} is not JSON: ${String(e)}`, { key }, { cause: e });
  }
  if (text === undefined) throw new ScoreError('INTERNAL', `store value for ${key} is not JSON (undefined or a function)`, { key });
  return text;
}

/** The single-controller store: a map in this process, lost with it (as the state always was). */
export function memoryStore(): Store {
  const data = new Map<string, { text: string; revision: bigint }>();
  let revision = 0n;
  return {
    get(key) {
      assertKey(key);
      const e = data.get(key);
      return Promise.resolve(e === undefined ? undefined : (JSON.parse(e.text) as unknown));
    },
    put(key, value) {
      assertKey(key);
      revision += 1n;
      data.set(key, { text: encodeValue(key, value), revision });
      return Promise.resolve();
    },
    delete(key) {
      assertKey(key);
      data.delete(key);
      return Promise.resolve();
    },
    list(prefix) {
      const out = [...data]
        .filter(([k]) => k.startsWith(prefix))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, e]) => ({ key, value: JSON.parse(e.text) as unknown, revision: e.revision }));
      return Promise.resolve(out);
    },
    keys(prefix) {
      return Promise.resolve([...data.keys()].filter((k) => k.startsWith(prefix)).sort());
    },
  };
}
