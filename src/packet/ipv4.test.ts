import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { internetChecksum } from './checksum.ts';
import { IP_PROTOCOL, decodeIpv4, encodeIpv4, isFragment, type Ipv4Fields } from './ipv4.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');

// The worked example from RFC 1071-style tutorials (and Wikipedia's "IPv4 header checksum"):
// a UDP packet 192.168.0.1 -> 192.168.0.199, total length 115, DF, TTL 64, checksum 0xb861.
const HEADER = arb.hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
const FIELDS: Ipv4Fields = {
  dscp: 0,
  ecn: 0,
  identification: 0,
  reservedFlag: false,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: IP_PROTOCOL.UDP,
  src: '192.168.0.1',
  dst: '192.168.0.199',
  options: new Uint8Array(0),
  payload: new Uint8Array(95).fill(7),
};

describe('IPv4', () => {
  it('computes the published header checksum', () => {
    const bytes = encodeIpv4(FIELDS);
    assert.deepEqual(bytes.subarray(0, 20), HEADER);
    assert.equal(bytes.length, 115);
  });

  it('decodes the published header and finds its checksum valid', () => {
    const p = decodeIpv4(Uint8Array.of(...HEADER, ...FIELDS.payload));
    assert.deepEqual(p, { ...FIELDS, checksum: 0xb861, checksumValid: true });
  });

  it('flags (does not reject) a header whose checksum is wrong', () => {
    const bytes = Uint8Array.of(...HEADER, ...FIELDS.payload);
    bytes[11] = 0x62;
    const p = decodeIpv4(bytes);
    assert.equal(p.checksumValid, false);
    assert.equal(p.checksum, 0xb862);
    assert.equal(p.src, '192.168.0.1');
  });

  it('keeps options and counts them in the header length', () => {
    // NOP NOP NOP EOL: the smallest legal option area, one 32-bit word.
    const p = { ...FIELDS, payload: Uint8Array.of(1, 2), options: Uint8Array.of(1, 1, 1, 0) };
    const bytes = encodeIpv4(p);
    assert.equal(bytes[0], 0x46);
    assert.equal(bytes.length, 26);
    assert.deepEqual(decodeIpv4(bytes).options, Uint8Array.of(1, 1, 1, 0));
    assert.deepEqual(decodeIpv4(bytes).payload, Uint8Array.of(1, 2));
  });

  it('sums a part of the bytes given by offsets as it sums a copy of that part', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(64), fc.nat(64), fc.nat(0xffff), (bytes, a, b, initial) => {
        const start = Math.min(a, b, bytes.length);
        const end = Math.min(Math.max(a, b), bytes.length);
        assert.equal(internetChecksum(bytes, initial, start, end), internetChecksum(bytes.slice(start, end), initial));
      }),
    );
  });

  it('trims link-layer padding using the total length', () => {
    const bytes = encodeIpv4({ ...FIELDS, payload: Uint8Array.of(9) });
    const padded = Uint8Array.of(...bytes, 0, 0, 0, 0, 0);
    assert.deepEqual(decodeIpv4(padded).payload, Uint8Array.of(9));
  });

  it('round-trips any header (checksum computed on encode, valid on decode)', () => {
    fc.assert(
      fc.property(arb.ipv4Fields, (fields) => {
        const bytes = encodeIpv4(fields);
        const { checksum, checksumValid, ...rest } = decodeIpv4(bytes);
        assert.deepEqual(rest, fields);
        assert.equal(checksumValid, true);
        assert.equal(checksum, (bytes[10]! << 8) | bytes[11]!);
        assert.equal(internetChecksum(bytes.subarray(0, 20 + fields.options.length)), 0);
        // and back: re-encoding the decoded packet gives the same bytes
        assert.deepEqual(encodeIpv4(decodeIpv4(bytes)), bytes);
      }),
    );
  });

  it('detects any single-bit error in the header', () => {
    // Bytes 0 and 2-3 change the structure (version, lengths) rather than just the sum.
    const positions = [1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    fc.assert(
      fc.property(arb.ipv4Fields, fc.constantFrom(...positions), fc.integer({ min: 0, max: 7 }), (fields, pos, bit) => {
        const bytes = encodeIpv4(fields);
        bytes[pos]! ^= 1 << bit;
        assert.equal(decodeIpv4(bytes).checksumValid, false);
      }),
    );
  });

  it('says which packets are fragments', () => {
    assert.equal(isFragment(FIELDS), false);
    assert.equal(isFragment({ ...FIELDS, moreFragments: true }), true);
    assert.equal(isFragment({ ...FIELDS, fragmentOffset: 185 }), true);
  });

  it('rejects wrong versions, impossible lengths and truncation', () => {
    const good = encodeIpv4({ ...FIELDS, payload: Uint8Array.of(1, 2, 3, 4) });
    const with_ = (offset: number, value: number): Uint8Array => {
      const b = good.slice();
      b[offset] = value;
      return b;
    };
    assert.throws(() => decodeIpv4(good.subarray(0, 19)), malformed);
    assert.throws(() => decodeIpv4(with_(0, 0x65)), malformed); // version 6
    assert.throws(() => decodeIpv4(with_(0, 0x44)), malformed); // IHL 4
    assert.throws(() => decodeIpv4(with_(0, 0x47)), malformed); // IHL 7: options past total length
    assert.throws(() => decodeIpv4(with_(3, 19)), malformed); // total length < header
    assert.throws(() => decodeIpv4(good.subarray(0, 23)), malformed); // total length past the end
  });

  it('refuses to encode values its fields cannot hold', () => {
    assert.throws(() => encodeIpv4({ ...FIELDS, dscp: 64 }), malformed);
    assert.throws(() => encodeIpv4({ ...FIELDS, ttl: 256 }), malformed);
    assert.throws(() => encodeIpv4({ ...FIELDS, fragmentOffset: 8192 }), malformed);
    assert.throws(() => encodeIpv4({ ...FIELDS, options: new Uint8Array(3) }), malformed);
    assert.throws(() => encodeIpv4({ ...FIELDS, options: new Uint8Array(44) }), malformed);
    assert.throws(() => encodeIpv4({ ...FIELDS, payload: new Uint8Array(65516) }), malformed);
    assert.throws(() => encodeIpv4({ ...FIELDS, src: '10.0.0.256' }), malformed);
    assert.equal(encodeIpv4({ ...FIELDS, payload: new Uint8Array(65515) }).length, 65535);
  });
});
