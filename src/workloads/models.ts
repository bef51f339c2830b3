import type { DirectedFlow } from '../core/cost.ts';
import type { Rng } from '../core/random.ts';
import { randomInt } from '../core/random.ts';
import { ScoreError } from '../errors/errors.ts';
import { lognormal, poisson, shuffle } from './distributions.ts';
import type { AppLayout } from './layout.ts';

/**
 * Who talks to whom, on the application layout (see layout.ts). Every model draws, for each VM, a
 * number of partners per locality class and then pairs those "stubs" up at random within the
 * class (a configuration model): so a VM's realised partner count is the count it drew, rather
 * than its draw plus whoever happened to pick it. Classes:
 *   rack    the same logical rack
 *   pod     the same logical pod, another rack
 *   remote  another pod (on a topology with a single pod: another rack)
 * Stubs that cannot be paired (a VM alone in its rack, a pod of one rack, the last odd stub) are
 * dropped, except that unpaired pod stubs are tried again as remote ones; self-pairs and
 * duplicate pairs are never formed. Pairs are unordered; `a < b` are VM indices.
 */
export type PairClass = 'rack' | 'pod' | 'remote';

export interface Pair {
  readonly a: number;
  readonly b: number;
  readonly cls: PairClass;
}

/** How far ahead the matcher looks for a compatible stub before dropping one. */
const MATCH_WINDOW = 256;

function matchStubs(stubs: number[], rng: Rng, ok: (a: number, b: number) => boolean, seen: Set<number>, n: number, cls: PairClass, out: Pair[]): number[] {
  shuffle(rng, stubs);
  const used = new Uint8Array(stubs.length);
  const left: number[] = [];
  for (let i = 0; i < stubs.length; i++) {
    if (used[i] === 1) continue;
    const a = stubs[i]!;
    let paired = false;
    for (let j = i + 1; j < stubs.length && j <= i + MATCH_WINDOW; j++) {
      if (used[j] === 1) continue;
      const b = stubs[j]!;
      if (a === b || !ok(a, b)) continue;
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const key = lo * n + hi;
      if (seen.has(key)) continue;
      seen.add(key);
      used[j] = 1;
      out.push({ a: lo, b: hi, cls });
      paired = true;
      break;
    }
    if (!paired) left.push(a);
  }
  return left;
}

/** Pairs from per-VM stub counts: `draw(i)` gives VM i's [rack, pod, remote] partner counts. */
export function pairStubs(layout: AppLayout, rng: Rng, draw: (i: number) => readonly [number, number, number]): Pair[] {
  const n = layout.vms.length;
  const racks = layout.rackStart.length - 1;
  const pods = layout.podStart.length - 1;
  const rackStubs: number[][] = Array.from({ length: racks }, () => []);
  const podStubs: number[][] = Array.from({ length: pods }, () => []);
  const remoteStubs: number[] = [];
  for (let i = 0; i < n; i++) {
    const [r, p, x] = draw(i);
    for (let k = 0; k < r; k++) rackStubs[layout.rack[i]!]!.push(i);
    for (let k = 0; k < p; k++) podStubs[layout.pod[i]!]!.push(i);
    for (let k = 0; k < x; k++) remoteStubs.push(i);
  }
  const { rack, pod } = layout;
  const seen = new Set<number>();
  const out: Pair[] = [];
  for (const s of rackStubs) matchStubs(s, rng, () => true, seen, n, 'rack', out);
  const otherRack = (a: number, b: number): boolean => rack[a] !== rack[b];
  for (const s of podStubs) remoteStubs.push(...matchStubs(s, rng, otherRack, seen, n, 'pod', out));
  const otherPod = pods > 1 ? (a: number, b: number): boolean => pod[a] !== pod[b] : otherRack;
  matchStubs(remoteStubs, rng, otherPod, seen, n, 'remote', out);
  // A stable order that does not depend on the class matching order: by a, then b.
  return out.sort((x, y) => x.a - y.a || x.b - y.b);
}

export interface RateParams {
  /** ln of the median pair rate in bytes/s */
  readonly rateMu: number;
  /** lognormal shape: larger is heavier-tailed */
  readonly rateSigma: number;
  /** in-rack pairs' rates are this many times larger (Kandula et al.: in-rack servers exchange more); default 1 */
  readonly rackRateFactor?: number;
}

/** Kandula et al. (IMC 2009): a median of 2 in-rack and 4 out-of-rack correspondents per server. */
export interface PartnerParams extends RateParams {
  /** in-rack partners per VM ~ Poisson(this); an integer mean is also the median */
  readonly inRackMedian: number;
  /** out-of-rack partners per VM ~ Poisson(this) */
  readonly outOfRackMedian: number;
  /** probability that an out-of-rack partner is in the same pod (else in another pod) */
  readonly podProbability: number;
}

export const PARTNER_DEFAULTS: PartnerParams = {
  inRackMedian: 2,
  outOfRackMedian: 4,
  podProbability: 0.5,
  rateMu: Math.log(100_000),
  rateSigma: 2,
  rackRateFactor: 1,
};

/** Spread models: a number of peers per VM, each peer's class drawn by the given fractions. */
export interface SpreadParams extends RateParams {
  /** peers per VM ~ Poisson(this), at least 1 */
  readonly meanPeers: number;
  /** fraction of a VM's peers in its rack */
  readonly rackLocalFraction: number;
  /** fraction in its pod but another rack; the rest are in other pods */
  readonly podLocalFraction: number;
}

function checkFraction(name: string, x: number): void {
  if (!(x >= 0 && x <= 1)) throw new ScoreError('WORKLOAD_INVALID', `${name} must be between 0 and 1, got ${x}`, { [name]: x });
}

function checkNonNegative(name: string, x: number): void {
  if (!(x >= 0) || !Number.isFinite(x)) throw new ScoreError('WORKLOAD_INVALID', `${name} must be a finite number >= 0, got ${x}`, { [name]: x });
}

function checkRates(p: RateParams): void {
  if (!Number.isFinite(p.rateMu)) throw new ScoreError('WORKLOAD_INVALID', `rateMu must be finite, got ${p.rateMu}`, {});
  checkNonNegative('rateSigma', p.rateSigma);
}

export function partnerPairs(layout: AppLayout, p: PartnerParams, rng: Rng): Pair[] {
  checkNonNegative('inRackMedian', p.inRackMedian);
  checkNonNegative('outOfRackMedian', p.outOfRackMedian);
  checkFraction('podProbability', p.podProbability);
  const any = p.inRackMedian + p.outOfRackMedian > 0;
  return pairStubs(layout, rng, () => {
    let inRack = 0;
    let out = 0;
    // At least one partner: a VM that talks to nobody is not part of the workload.
    do {
      inRack = poisson(rng, p.inRackMedian);
      out = poisson(rng, p.outOfRackMedian);
    } while (any && inRack + out === 0);
    let pod = 0;
    for (let k = 0; k < out; k++) if (rng() < p.podProbability) pod += 1;
    return [inRack, pod, out - pod];
  });
}

export function spreadPairs(layout: AppLayout, p: SpreadParams, rng: Rng): Pair[] {
  checkNonNegative('meanPeers', p.meanPeers);
  checkFraction('rackLocalFraction', p.rackLocalFraction);
  checkFraction('podLocalFraction', p.podLocalFraction);
  if (p.rackLocalFraction + p.podLocalFraction > 1 + 1e-12) {
    throw new ScoreError('WORKLOAD_INVALID', `rackLocalFraction + podLocalFraction must be at most 1, got ${p.rackLocalFraction + p.podLocalFraction}`, {});
  }
  return pairStubs(layout, rng, () => {
    const d = p.meanPeers > 0 ? Math.max(1, poisson(rng, p.meanPeers)) : 0;
    let r = 0;
    let q = 0;
    for (let k = 0; k < d; k++) {
      const u = rng();
      if (u < p.rackLocalFraction) r += 1;
      else if (u < p.rackLocalFraction + p.podLocalFraction) q += 1;
    }
    return [r, q, d - r - q];
  });
}

/** One lognormal rate per pair, rounded to whole bytes/s (at least 1). */
export function pairRates(pairs: readonly Pair[], p: RateParams, rng: Rng): number[] {
  checkRates(p);
  const rack = p.rackRateFactor ?? 1;
  checkNonNegative('rackRateFactor', rack);
  return pairs.map((pr) => Math.max(1, Math.round((pr.cls === 'rack' ? rack : 1) * lognormal(rng, p.rateMu, p.rateSigma))));
}

export function pairFlows(layout: AppLayout, pairs: readonly Pair[], rates: readonly number[]): DirectedFlow[] {
  const flows: DirectedFlow[] = [];
  pairs.forEach((pr, i) => {
    const rate = rates[i]!;
    if (rate > 0) flows.push({ src: layout.vms[pr.a]!, dst: layout.vms[pr.b]!, rate });
  });
  return flows;
}

/** The unstructured baseline: each VM picks `partners` peers uniformly, rates uniform in [minRate, maxRate]. */
export interface RandomParams {
  readonly partners: number;
  readonly minRate: number;
  readonly maxRate: number;
}

export const RANDOM_DEFAULTS: RandomParams = { partners: 3, minRate: 1_000, maxRate: 100_000 };

export function randomFlows(layout: AppLayout, p: RandomParams, rng: Rng): DirectedFlow[] {
  checkNonNegative('partners', p.partners);
  if (!(p.minRate > 0 && p.maxRate >= p.minRate)) throw new ScoreError('WORKLOAD_INVALID', `need 0 < minRate <= maxRate, got ${p.minRate}, ${p.maxRate}`, {});
  const n = layout.vms.length;
  const seen = new Set<number>();
  const flows: DirectedFlow[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < p.partners; k++) {
      const j = randomInt(rng, n);
      const key = Math.min(i, j) * n + Math.max(i, j);
      if (j === i || seen.has(key)) continue;
      seen.add(key);
      flows.push({ src: layout.vms[i]!, dst: layout.vms[j]!, rate: Math.round(p.minRate + rng() * (p.maxRate - p.minRate)) });
    }
  }
  return flows;
}
