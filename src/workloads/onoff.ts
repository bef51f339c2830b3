import type { DirectedFlow } from '../core/cost.ts';
import type { Rng } from '../core/random.ts';
import { ScoreError } from '../errors/errors.ts';
import { lognormal, lognormalMean } from './distributions.ts';
import type { Pair } from './models.ts';

/**
 * Benson et al. (IMC 2010): at the edge, traffic is ON/OFF with heavy-tailed (lognormal-fitting)
 * ON and OFF period lengths. Each communicating pair here is an alternating renewal process:
 * while ON it sends at its peak rate, while OFF nothing. The matrix the simulator sees for an
 * epoch is each pair's peak × (time ON within the epoch's window) / window, i.e. the mean rate
 * the controller's counters would show over that window.
 * Each pair starts OFF `burnInCycles` mean cycles before time 0, so at time 0 the processes are
 * close to stationary (the ON probability is then ≈ E[ON] / (E[ON] + E[OFF])).
 */
export interface OnOffTiming {
  /** ln of the median ON period, seconds */
  readonly onMu: number;
  readonly onSigma: number;
  /** ln of the median OFF period, seconds */
  readonly offMu: number;
  readonly offSigma: number;
  /** seconds over which one epoch's rates are averaged */
  readonly windowSec: number;
  /** mean ON+OFF cycles simulated and discarded before time 0 */
  readonly burnInCycles: number;
}

/** Long-run fraction of time a pair is ON. */
export function onFraction(t: OnOffTiming): number {
  const on = lognormalMean(t.onMu, t.onSigma);
  return on / (on + lognormalMean(t.offMu, t.offSigma));
}

function checkTiming(t: OnOffTiming): void {
  for (const [k, v] of Object.entries(t) as [string, number][]) {
    if (!Number.isFinite(v)) throw new ScoreError('WORKLOAD_INVALID', `${k} must be finite, got ${v}`, { [k]: v });
  }
  if (!(t.windowSec > 0)) throw new ScoreError('WORKLOAD_INVALID', `windowSec must be > 0, got ${t.windowSec}`, {});
  if (t.onSigma < 0 || t.offSigma < 0 || t.burnInCycles < 0) throw new ScoreError('WORKLOAD_INVALID', 'onSigma, offSigma and burnInCycles must be >= 0', {});
}

/**
 * Rates per epoch: result[e][i] is pair i's mean rate over epoch e's window (0 when it was OFF
 * throughout). Epoch e is simulated only after e-1 for every pair, with one rng, so the first
 * epochs do not depend on how many are asked for.
 */
export function onOffRates(peaks: readonly number[], t: OnOffTiming, epochs: number, rng: Rng): number[][] {
  checkTiming(t);
  if (!Number.isInteger(epochs) || epochs < 1) throw new ScoreError('WORKLOAD_INVALID', `epochs must be a positive integer, got ${epochs}`, { epochs });
  const n = peaks.length;
  const on = new Uint8Array(n);
  const rem = new Float64Array(n);
  const period = (isOn: boolean): number => (isOn ? lognormal(rng, t.onMu, t.onSigma) : lognormal(rng, t.offMu, t.offSigma));
  const burnIn = t.burnInCycles * (lognormalMean(t.onMu, t.onSigma) + lognormalMean(t.offMu, t.offSigma));
  const advance = (i: number, span: number): number => {
    let onTime = 0;
    let left = span;
    let isOn = on[i] === 1;
    let r = rem[i]!;
    while (r <= left) {
      if (isOn) onTime += r;
      left -= r;
      isOn = !isOn;
      r = period(isOn);
    }
    if (isOn) onTime += left;
    rem[i] = r - left;
    on[i] = isOn ? 1 : 0;
    return onTime;
  };
  for (let i = 0; i < n; i++) {
    rem[i] = period(false);
    advance(i, burnIn);
  }
  const out: number[][] = [];
  for (let e = 0; e < epochs; e++) {
    const row = new Array<number>(n);
    for (let i = 0; i < n; i++) row[i] = Math.round((peaks[i]! * advance(i, t.windowSec)) / t.windowSec);
    out.push(row);
  }
  return out;
}

export function epochFlows(vms: readonly string[], pairs: readonly Pair[], rates: readonly number[]): DirectedFlow[] {
  const flows: DirectedFlow[] = [];
  pairs.forEach((p, i) => {
    const rate = rates[i]!;
    if (rate > 0) flows.push({ src: vms[p.a]!, dst: vms[p.b]!, rate });
  });
  return flows;
}
