import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import {
  ipv4FromBytes,
  ipv4FromNumber,
  ipv4ToBytes,
  ipv4ToNumber,
  isValidIpv4,
} from './ipv4-address.ts';
import {
  isBroadcastMac,
  isLocallyAdministeredMac,
  isMulticastMac,
  isUnicastMac,
  isValidMac,
  macFromBytes,
  macToBytes,
  normalizeMac,
} from './mac.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');

describe('MAC addresses', () => {
  it('parses colon and dash forms in any case and prints the normalised form', () => {
    assert.deepEqual(macToBytes('00:1B:21:0a:ff:10'), Uint8Array.of(0x00, 0x1b, 0x21, 0x0a, 0xff, 0x10));
    assert.deepEqual(macToBytes('00-1b-21-0A-FF-10'), Uint8Array.of(0x00, 0x1b, 0x21, 0x0a, 0xff, 0x10));
    assert.equal(normalizeMac('AA-BB-CC-DD-EE-0F'), 'aa:bb:cc:dd:ee:0f');
    assert.equal(macFromBytes(Uint8Array.of(9, 1, 2, 3, 4, 5, 6, 7), 2), '02:03:04:05:06:07');
  });

  it('prints every MAC right however many others came between (its remembered strings share slots)', () => {
    const text = (b: Uint8Array, at: number): string => Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 50 }), (frames) => {
        // twice over, so the second pass reads what the first left in the table
        for (let pass = 0; pass < 2; pass++) for (const f of frames) assert.equal(macFromBytes(f, 2), text(f, 2));
      }),
    );
    // 70,000 hosts differing in the last octets only: more than the table's slots, so some share one
    const b = new Uint8Array(6);
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < 70_000; i++) {
        b.set([0x02, 0, 0, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff]);
        assert.equal(macFromBytes(b), text(b, 0));
      }
    }
  });

  it('rejects anything that is not six two-digit groups with one kind of separator', () => {
    for (const bad of ['', 'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa:bb-cc:dd:ee:ff', 'aabb.ccdd.eeff', 'g0:00:00:00:00:00', 'a:b:c:d:e:f', ' aa:bb:cc:dd:ee:ff']) {
      assert.equal(isValidMac(bad), false, bad);
      assert.throws(() => macToBytes(bad), malformed, bad);
    }
    assert.throws(() => macFromBytes(Uint8Array.of(1, 2, 3, 4, 5)), malformed);
  });

  it('classifies broadcast, multicast, unicast and locally administered addresses', () => {
    assert.equal(isBroadcastMac('FF:FF:FF:FF:FF:FF'), true);
    assert.equal(isMulticastMac('ff:ff:ff:ff:ff:ff'), true);
    assert.equal(isMulticastMac('01:80:c2:00:00:0e'), true);
    assert.equal(isBroadcastMac('01:80:c2:00:00:0e'), false);
    assert.equal(isMulticastMac('00:00:00:00:00:01'), false);
    assert.equal(isUnicastMac('00:00:00:00:00:01'), true);
    assert.equal(isUnicastMac('00:00:00:00:00:00'), false);
    assert.equal(isUnicastMac('33:33:00:00:00:01'), false);
    assert.equal(isLocallyAdministeredMac('02:53:43:00:00:00'), true);
    assert.equal(isLocallyAdministeredMac('00:1b:21:00:00:00'), false);
  });

  it('round-trips bytes -> text -> bytes, and text is always normalised', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (b) => {
        const text = macFromBytes(b);
        assert.match(text, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        assert.deepEqual(macToBytes(text), Uint8Array.from(b));
        assert.equal(normalizeMac(text.toUpperCase().replaceAll(':', '-')), text);
      }),
    );
  });

  it('accepts exactly what the written grammar says (the hand-written parser against a regular expression)', () => {
    const grammar = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;
    // near-MACs: two characters per group (hex digits of both cases and their neighbours in the
    // code table), separators of both kinds and others, so both verdicts come up often
    const digit = fc.constantFrom(...'0123456789abcdefABCDEF/:@G`g\u0141'.split(''));
    const near = fc
      .tuple(fc.array(digit, { minLength: 12, maxLength: 12 }), fc.array(fc.constantFrom(':', ':', ':', '-', '.'), { minLength: 5, maxLength: 5 }))
      .map(([d, sep]) => d.map((c, i) => (i % 2 === 1 && i < 11 ? c + sep[(i - 1) / 2] : c)).join(''));
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ maxLength: 20 })), (text) => {
        assert.equal(isValidMac(text), grammar.test(text), text);
        if (grammar.test(text)) assert.equal(normalizeMac(text), text.toLowerCase().replaceAll('-', ':'));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('IPv4 addresses', () => {
  it('converts known addresses', () => {
    assert.deepEqual(ipv4ToBytes('10.0.0.23'), Uint8Array.of(10, 0, 0, 23));
    assert.equal(ipv4ToNumber('192.168.0.1'), 0xc0a80001);
    assert.equal(ipv4ToNumber('255.255.255.255'), 0xffffffff);
    assert.equal(ipv4FromNumber(0x0a000001), '10.0.0.1');
  });

  it('rejects leading zeros (octal to inet_aton), out-of-range octets and wrong arity', () => {
    for (const bad of ['010.0.0.1', '256.0.0.1', '1.2.3', '1.2.3.4.5', '1.2.3.-4', '', '1.2.3.4 ']) {
      assert.equal(isValidIpv4(bad), false, bad);
      assert.throws(() => ipv4ToBytes(bad), malformed, bad);
    }
    assert.throws(() => ipv4FromNumber(2 ** 32), malformed);
    assert.throws(() => ipv4FromBytes(Uint8Array.of(1, 2, 3)), malformed);
  });

  it('prints every address right however many others came between (its remembered strings share slots)', () => {
    const b = new Uint8Array(4);
    for (let pass = 0; pass < 2; pass++) {
      // 70,000 addresses of one /8: more than the table's slots, so some share one
      for (let i = 0; i < 70_000; i++) {
        b.set([10, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff]);
        assert.equal(ipv4FromBytes(b), `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`);
      }
    }
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 50 }), (addrs) => {
        for (let pass = 0; pass < 2; pass++) for (const a of addrs) assert.equal(ipv4FromBytes(a), Array.from(a).join('.'));
      }),
    );
  });

  it('round-trips through bytes and numbers', () => {
    fc.assert(
      fc.property(arb.ipv4, (ip) => {
        assert.equal(ipv4FromBytes(ipv4ToBytes(ip)), ip);
        assert.equal(ipv4FromNumber(ipv4ToNumber(ip)), ip);
      }),
    );
  });
});
