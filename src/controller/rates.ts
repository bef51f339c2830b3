/**
 * Rates from cumulative switch counters. The time base is the switch's own duration for the
 * counter (flow duration, port duration), not the controller's clock, so a late reply does not
 * look like a burst. A sample whose duration or count goes backwards means the counter was reset
 * (rule reinstalled, switch restarted): it starts a new baseline instead of giving a negative or
 * absurd rate. All-ones means "not supported" in OpenFlow and is ignored.
 */
export const COUNTER_UNKNOWN = 0xffff_ffff_ffff_ffffn;

const MIN_WINDOW_S = 1e-3;

export interface CounterSample {
  readonly count: bigint;
  /** seconds, from the switch (duration_sec + duration_nsec / 1e9) */
  readonly duration: number;
}

export interface Rate {
  /** per second */
  readonly perSecond: number;
  /** controller time (ms) of the sample that gave it */
  readonly measuredAt: number;
  /** switch seconds between the two samples */
  readonly window: number;
}

export interface RateTracker<K> {
  /** newest sample per key */
  readonly last: Map<K, CounterSample>;
  readonly rates: Map<K, Rate>;
  /** samples in the averaging window, oldest first */
  readonly history: Map<K, CounterSample[]>;
  /**
   * Seconds of switch time a rate averages over (when the counter is that old). A 10 packet/s
   * flow counts 10 or 11 packets in any one second, a 10% wobble; over 5 s it is 2%.
   */
  readonly windowS: number;
}

export function createRateTracker<K>(windowS = 5): RateTracker<K> {
  return { last: new Map(), rates: new Map(), history: new Map(), windowS };
}

export type SampleOutcome = 'rate' | 'baseline' | 'reset' | 'unknown' | 'no-time';

export function addSample<K>(t: RateTracker<K>, key: K, sample: CounterSample, now: number): SampleOutcome {
  if (sample.count === COUNTER_UNKNOWN) return 'unknown';
  const prev = t.last.get(key);
  if (prev === undefined) {
    t.last.set(key, sample);
    t.history.set(key, [sample]);
    return 'baseline';
  }
  if (sample.duration < prev.duration || sample.count < prev.count) {
    t.last.set(key, sample);
    t.history.set(key, [sample]);
    t.rates.delete(key);
    return 'reset';
  }
  // Two polls closer than a millisecond of switch time say nothing about a rate.
  if (sample.duration - prev.duration < MIN_WINDOW_S) return 'no-time';
  const history = t.history.get(key) ?? [prev];
  history.push(sample);
  // keep the newest sample that is at least a window old as the base
  while (history.length > 2 && history[1]!.duration <= sample.duration - t.windowS) history.shift();
  t.history.set(key, history);
  const base = history[0]!;
  const window = sample.duration - base.duration;
  t.last.set(key, sample);
  t.rates.set(key, { perSecond: Number(sample.count - base.count) / window, measuredAt: now, window });
  return 'rate';
}

export function forget<K>(t: RateTracker<K>, key: K): void {
  t.last.delete(key);
  t.rates.delete(key);
  t.history.delete(key);
}
