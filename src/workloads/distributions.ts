import type { Rng } from '../core/random.ts';
import { seededRng } from '../core/random.ts';

/**
 * Distributions the workload models draw from, all driven by the core's seeded `Rng` so a seed
 * fixes every number. Each function consumes a fixed, documented number of draws where it can,
 * which keeps one model's stream from shifting when another option changes.
 */

/** Standard normal by Box-Muller; always consumes exactly two draws. */
export function normal(rng: Rng, mean = 0, sd = 1): number {
  // 1 - u keeps the logarithm's argument in (0, 1]: rng() may return 0 but never 1.
  const u = 1 - rng();
  const v = rng();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** exp(N(mu, sigma)): median e^mu, mean e^(mu + sigma²/2). Two draws. */
export function lognormal(rng: Rng, mu: number, sigma: number): number {
  return Math.exp(normal(rng, mu, sigma));
}

/** Mean of lognormal(mu, sigma). */
export function lognormalMean(mu: number, sigma: number): number {
  return Math.exp(mu + (sigma * sigma) / 2);
}

/** Exponential with the given mean. One draw. */
export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(1 - rng());
}

/**
 * Poisson(mean) by Knuth's product method for small means and a rounded normal approximation
 * above 30 (where the product method would need many draws and underflow risks grow).
 * For an integer mean m the median is m, which is how the partner model hits its medians.
 */
export function poisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean > 30) return Math.max(0, Math.round(normal(rng, mean, Math.sqrt(mean))));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k += 1;
    p *= rng();
  }
  return k;
}

/** Fisher-Yates in place. */
export function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs;
}

/**
 * An independent stream for one purpose (structure, placement, ON/OFF, resources) derived from
 * the workload seed, so that e.g. choosing a different placement leaves the traffic unchanged.
 */
export function streamRng(seed: number, stream: number): Rng {
  const mix = seededRng(((seed >>> 0) ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0);
  return seededRng(Math.floor(mix() * 0x100000000));
}
