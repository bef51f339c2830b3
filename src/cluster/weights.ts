/**
 * Operator weight overrides shared through the cluster store (`weights/overrides`): the leader
 * records every weight change it makes (from its `weight-changed` events), and a member that
 * becomes leader applies the recorded overrides before anything else, so paths keep the weights
 * the operator chose. Stored as the operations in order, one per link or layer (the last value
 * wins; a link set after its layer keeps its own weight, as on the old leader).
 */
import type { NorthEvent } from '../api/contract.ts';
import type { OfLog } from '../openflow/connection/index.ts';
import type { Store } from '../store/store.ts';

export interface WeightOverride {
  readonly kind: 'link' | 'layer';
  readonly target: string;
  readonly weight: number;
}

const KEY = 'weights/overrides';

/** The overrides after one more change: the target moves to the end with its new weight. */
export function withOverride(list: readonly WeightOverride[], next: WeightOverride): WeightOverride[] {
  return [...list.filter((o) => !(o.kind === next.kind && o.target === next.target)), next];
}

export function overrideOf(e: NorthEvent): WeightOverride | undefined {
  if (e.type !== 'weight-changed') return undefined;
  const d = e.data as { link?: unknown; layer?: unknown; weight?: unknown };
  if (typeof d.weight !== 'number') return undefined;
  if (typeof d.link === 'string') return { kind: 'link', target: d.link, weight: d.weight };
  if (typeof d.layer === 'number') return { kind: 'layer', target: String(d.layer), weight: d.weight };
  return undefined;
}

function isOverride(x: unknown): x is WeightOverride {
  const o = x as Partial<WeightOverride> | null;
  return typeof o === 'object' && o !== null && (o.kind === 'link' || o.kind === 'layer') && typeof o.target === 'string' && typeof o.weight === 'number';
}

export interface WeightService {
  subscribe(listener: (e: NorthEvent) => void): () => void;
  setLinkWeight(link: string, weight: number): unknown;
  setLayerWeight(layer: number, weight: number): unknown;
}

/**
 * Records the leader's weight changes, and on election applies what is recorded.
 * @returns unsubscribe
 */
export function shareWeights(o: { store: Store; service: WeightService; isLeader: () => boolean; onElected: (fn: () => void) => void; log: OfLog }): () => void {
  let list: WeightOverride[] = [];
  let chain: Promise<void> = Promise.resolve();
  const unsubscribe = o.service.subscribe((e) => {
    const next = overrideOf(e);
    if (next === undefined || !o.isLeader()) return;
    list = withOverride(list, next);
    const snapshot = list;
    chain = chain.then(() => o.store.put(KEY, snapshot)).catch((err: unknown) => o.log('warn', `cluster: weight overrides not stored: ${err instanceof Error ? err.message : String(err)}`));
  });
  o.onElected(() => {
    void (async () => {
      let stored: WeightOverride[] = [];
      try {
        const raw = await o.store.get(KEY);
        stored = Array.isArray(raw) ? raw.filter(isOverride) : [];
        if (raw !== undefined && (!Array.isArray(raw) || stored.length !== raw.length)) o.log('warn', `cluster: ${KEY} holds entries that are not weight overrides; they are ignored`);
      } catch (e) {
        o.log('warn', `cluster: weight overrides not read: ${e instanceof Error ? e.message : String(e)}`);
      }
      list = stored;
      for (const w of stored) {
        try {
          if (w.kind === 'link') o.service.setLinkWeight(w.target, w.weight);
          else o.service.setLayerWeight(Number(w.target), w.weight);
        } catch (e) {
          o.log('warn', `cluster: weight override ${w.kind} ${w.target}=${w.weight} not applied: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (stored.length > 0) o.log('info', `cluster: applied ${stored.length} weight override(s) from the store`);
    })();
  });
  return unsubscribe;
}
