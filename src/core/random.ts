/**
 * A small seeded PRNG (SplitMix32-style mixing of a Weyl sequence). The core takes randomness as
 * an argument; this makes "the same seed gives the same run" hold byte for byte.
 */
export type Rng = () => number;

export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 0x100000000;
  };
}

export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}
