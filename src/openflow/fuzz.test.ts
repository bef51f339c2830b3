// Fuzzing: random and mutated inputs (bit flips, byte overwrites, truncation, corrupted length
// fields, splices) built from the golden vectors and from generated messages. decodeMessage
// must never throw anything but a ScoreError with an OF_* code, and whatever it accepts must
// re-encode stably. Inputs come from a small PRNG seeded by fast-check, so a failure reports a
// reproducible seed. SCORE_FUZZ_RUNS scales it (CI default: 1,000,000 inputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ScoreError } from '../errors/errors.ts';
import { OfStreamParser, decodeMessage, encodeMessage } from './index.ts';
import * as arb from './arbitraries.testing.ts';

const TOTAL = Number(process.env.SCORE_FUZZ_RUNS ?? (process.env.CI === 'true' ? 1_000_000 : 100_000));
const BATCH = 1000;
const OF_CODES = new Set(['OF_TRUNCATED', 'OF_BAD_LENGTH', 'OF_BAD_VERSION', 'OF_UNKNOWN_TYPE', 'OF_BAD_VALUE', 'OF_ENCODE']);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// The Ryu vectors the repository carries (src/openflow/vectors/ryu/SOURCES.md).
const PACKETS = fileURLToPath(new URL('./vectors/ryu/packet_data/', import.meta.url));
const vectors = readdirSync(PACKETS)
  .filter((f) => f.endsWith('.packet'))
  .map((f) => new Uint8Array(readFileSync(PACKETS + f)));
const generated = fc.sample(arb.message, { numRuns: 300, seed: 0x5c0e }).map(encodeMessage);
const corpus = [...vectors, ...generated];

/** xorshift32: cheap, seeded, good enough to pick mutations. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

function setLength(b: Uint8Array): Uint8Array {
  if (b.length >= 4 && b.length <= 0xffff) {
    b[2] = b.length >>> 8;
    b[3] = b.length & 0xff;
  }
  return b;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mutate(r: (n: number) => number): Uint8Array {
  const seed = corpus[r(corpus.length)] as Uint8Array;
  const kind = r(9);
  // Copy only when the mutation writes in place.
  const b = kind === 2 || kind === 8 ? seed : seed.slice();
  switch (kind) {
    case 0: // bit flips
      for (let i = 1 + r(4); i > 0; i--) if (b.length > 0) b[r(b.length)]! ^= 1 << r(8);
      return b;
    case 1: // random bytes overwritten
      for (let i = 1 + r(4); i > 0; i--) if (b.length > 0) b[r(b.length)] = r(256);
      return b;
    case 2: // truncation, header length left as is (plain truncation)
      return b.subarray(0, r(b.length + 1));
    case 3: // truncation with the header length made consistent, so the body parsers see it
      return setLength(b.slice(0, r(b.length + 1)));
    case 4: // header length corrupted
      if (b.length >= 4) {
        b[2] = r(256);
        b[3] = r(256);
      }
      return b;
    case 5: {
      // an inner 16-bit word (often a length field) set to a small, boundary or random value
      if (b.length >= 10) {
        const at = 8 + 2 * r((b.length - 8) >>> 1);
        const v = [0, 1, 4, 7, 8, 9, 15, 16, 17, 0xffff, r(0x10000), r(64)][r(12)] as number;
        b[at] = v >>> 8;
        if (at + 1 < b.length) b[at + 1] = v & 0xff;
      }
      return b;
    }
    case 6: {
      // bytes inserted or deleted in the middle, header length fixed up
      const at = r(b.length + 1);
      if (r(2) === 0 && b.length > 8) return setLength(join(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r(8)))));
      const ins = Uint8Array.from({ length: 1 + r(8) }, () => r(256));
      return setLength(join(b.subarray(0, at), ins, b.subarray(at)));
    }
    case 7: {
      // random body behind a plausible header
      const n = 8 + r(200);
      const out = new Uint8Array(n);
      for (let i = 8; i < n; i++) out[i] = r(256);
      out[0] = r(16) === 0 ? r(256) : 4;
      out[1] = r(32);
      return setLength(out);
    }
    default: {
      // splice: the head of one input and the tail of another
      const other = corpus[r(corpus.length)] as Uint8Array;
      return setLength(join(b.subarray(0, r(b.length + 1)), other.subarray(r(other.length + 1))));
    }
  }
}

function check(input: Uint8Array): boolean {
  let m;
  try {
    m = decodeMessage(input);
  } catch (e) {
    if (!(e instanceof ScoreError) || !OF_CODES.has(e.code)) {
      assert.fail(`decodeMessage threw ${String(e)} (${e instanceof ScoreError ? e.code : 'not a ScoreError'}) on ${hex(input)}`);
    }
    return false;
  }
  // Accepted input must re-encode, and that encoding must be a fixed point. (It may differ from
  // the input: padding bytes are not kept.) Names that are not UTF-8 may not fit once replaced.
  let once: Uint8Array;
  try {
    once = encodeMessage(m);
  } catch (e) {
    if (e instanceof ScoreError && e.code === 'OF_ENCODE') return true;
    assert.fail(`encodeMessage threw ${String(e)} on a message decoded from ${hex(input)}`);
  }
  const twice = encodeMessage(decodeMessage(once));
  if (!sameBytes(once, twice)) assert.fail(`re-encoding is not stable for ${hex(input)}`);
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

test(`fuzz: ${TOTAL} random and mutated inputs never throw anything but an OF_* ScoreError`, () => {
  assert.ok(vectors.length > 100, 'golden vectors are needed as fuzz seeds');
  let count = 0;
  let accepted = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffffffff }), (seed) => {
      const r = rng(seed);
      for (let i = 0; i < BATCH; i++) {
        const input = mutate(r);
        if (check(input)) accepted++;
        count++;
      }
    }),
    { numRuns: Math.ceil(TOTAL / BATCH) },
  );
  assert.ok(count >= TOTAL, 'count >= TOTAL');
  // Sanity: the mix must reach both the accepting and the rejecting paths.
  console.log(`# fuzz: ${count} inputs, ${accepted} accepted`);
  assert.ok(accepted > count * 0.05 && accepted < count * 0.95, `accepted ${accepted} of ${count}`);
});

test('fuzz: the stream parser never throws on mutated streams', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.array(fc.nat(), { maxLength: 10 }), (seed, cuts) => {
      const r = rng(seed);
      const parts = Array.from({ length: 1 + r(6) }, () => mutate(r));
      const stream = join(...parts);
      const p = new OfStreamParser();
      let prev = 0;
      for (const c of [...new Set(cuts.map((x) => x % (stream.length + 1)))].sort((a, b) => a - b).concat(stream.length)) {
        for (const item of p.push(stream.subarray(prev, c))) {
          if (item.kind !== 'message') assert.ok(OF_CODES.has(item.error.code), item.error.code);
        }
        prev = c;
      }
      p.finish();
    }),
    { numRuns: 2000 },
  );
});
