/**
 * Cost samples while a migration settles (issue 15). When a VM moves, its old flows leave the
 * rate window before its new ones fill it, so for a while the measured total cost drops by the
 * moving VM's traffic: a saving that did not happen (the paced Load-Aware demo showed
 * 7000 -> 3000 -> 6000 while the steps were 7000 -> 6000).
 *
 * The rule: a sample is *settling* while (a) a migration is in flight or finished less than
 * `settleMs` ago (the period the orchestrator waits before deciding again), or (b) a VM pair
 * measured in the last settled sample is not measured now (a migration changes paths, never who
 * talks to whom; (b) also covers a move whose start event has not arrived yet), for at most
 * `10 × settleMs` in a row, so a pair that really stopped cannot freeze the history. A settling sample repeats the last settled sample's cost and layers,
 * carries `settling: true` and keeps what was measured in `measuredCost`. The service also takes a
 * sample the moment the orchestrator's settle period ends, before it moves the next VM, so each
 * step's settled cost is recorded even when polls fall only inside migrations. The history moves
 * in the steps the migrations really made. Deterministic: events, times and pairs in, state out.
 */
import type { Cost, NorthEvent } from '../api/contract.ts';

export interface SettlingTracker {
  /** feed every north-bound event (migration-started / migration-finished are the ones used) */
  onEvent(e: NorthEvent): void;
  /**
   * The sample to record for a raw measurement taken at raw.at; `pairs` are the VM pairs
   * (`src>dst`) with a measured rate in it.
   */
  sample(raw: Cost, pairs: Iterable<string>): Cost;
  /** the orchestrator's settle period is over (its onSettled): (a) holds from now on */
  settled(): void;
}

export function settlingTracker(settleMs: number): SettlingTracker {
  const inFlight = new Set<string>();
  let settleUntil = -Infinity;
  let missingSince: number | null = null;
  let lastSettled: { sample: Cost; pairs: ReadonlySet<string> } | undefined;
  return {
    onEvent(e) {
      if (e.type === 'migration-started') inFlight.add(String(e.data.id));
      else if (e.type === 'migration-finished') {
        inFlight.delete(String(e.data.id));
        settleUntil = Math.max(settleUntil, e.at + settleMs);
      }
    },
    settled() {
      settleUntil = -Infinity;
    },
    sample(raw, pairs) {
      const now = new Set(pairs);
      const missing = lastSettled !== undefined && [...lastSettled.pairs].some((p) => !now.has(p));
      if (!missing) missingSince = null;
      else missingSince ??= raw.at;
      const settling = inFlight.size > 0 || raw.at < settleUntil || (missingSince !== null && raw.at - missingSince < 10 * settleMs);
      if (!settling || lastSettled === undefined) {
        lastSettled = { sample: raw, pairs: now };
        missingSince = null;
        return raw;
      }
      return { at: raw.at, cost: lastSettled.sample.cost, layers: lastSettled.sample.layers, settling: true, measuredCost: raw.cost };
    },
  };
}
