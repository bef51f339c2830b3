import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { internetChecksum, transportChecksum } from './checksum.ts';
import { decodeIcmp, encodeIcmp } from './icmp.ts';
import { TCP_FLAG, decodeTcp, encodeTcp, type TcpSegment } from './tcp.ts';
import { decodeUdp, encodeUdp } from './udp.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');
const PAIR = { src: '10.0.0.1', dst: '10.0.0.6' };

// A SYN from vm1 to vm6's iperf port; the checksum was computed independently of this code.
const SYN = arb.hex('9c40 1389 1234 5678 0000 0000 5002 faf0 8875 0000');
const SYN_SEGMENT: TcpSegment = {
  srcPort: 40000,
  dstPort: 5001,
  seq: 0x12345678,
  ack: 0,
  flags: TCP_FLAG.SYN,
  window: 64240,
  checksum: 0x8875,
  urgentPointer: 0,
  options: new Uint8Array(0),
  payload: new Uint8Array(0),
};

describe('TCP', () => {
  it('decodes a SYN and verifies its checksum against the pseudo-header', () => {
    assert.deepEqual(decodeTcp(SYN), SYN_SEGMENT);
    assert.equal(transportChecksum(PAIR.src, PAIR.dst, 6, SYN), 0);
    assert.notEqual(transportChecksum(PAIR.src, '10.0.0.7', 6, SYN), 0);
  });

  it('computes the same checksum when given the pseudo-header', () => {
    assert.deepEqual(encodeTcp({ ...SYN_SEGMENT, checksum: 0 }, PAIR), SYN);
  });

  it('round-trips any segment, all 12 flag bits and options included', () => {
    fc.assert(fc.property(arb.tcp, (seg) => assert.deepEqual(decodeTcp(encodeTcp(seg)), seg)));
  });

  it('writes a checksum that verifies for any segment and address pair', () => {
    fc.assert(
      fc.property(arb.tcp, arb.ipv4, arb.ipv4, (seg, src, dst) => {
        assert.equal(transportChecksum(src, dst, 6, encodeTcp(seg, { src, dst })), 0);
      }),
    );
  });

  it('rejects data offsets below 5 or past the segment', () => {
    const low = SYN.slice();
    low[12] = 0x40;
    assert.throws(() => decodeTcp(low), malformed);
    const high = SYN.slice();
    high[12] = 0x60;
    assert.throws(() => decodeTcp(high), malformed);
    assert.throws(() => decodeTcp(SYN.subarray(0, 19)), malformed);
  });

  it('refuses to encode out-of-range fields', () => {
    assert.throws(() => encodeTcp({ ...SYN_SEGMENT, seq: 2 ** 32 }), malformed);
    assert.throws(() => encodeTcp({ ...SYN_SEGMENT, flags: 0x1000 }), malformed);
    assert.throws(() => encodeTcp({ ...SYN_SEGMENT, srcPort: -1 }), malformed);
    assert.throws(() => encodeTcp({ ...SYN_SEGMENT, options: new Uint8Array(2) }), malformed);
  });
});

describe('UDP', () => {
  const DGRAM = arb.hex('1389 1389 000e dbf7 532d 434f 5245'); // payload "S-CORE"

  it('decodes a datagram and checks against an independently computed checksum', () => {
    assert.deepEqual(decodeUdp(DGRAM), { srcPort: 5001, dstPort: 5001, checksum: 0xdbf7, payload: new TextEncoder().encode('S-CORE') });
    assert.deepEqual(encodeUdp({ srcPort: 5001, dstPort: 5001, checksum: 0, payload: new TextEncoder().encode('S-CORE') }, PAIR), DGRAM);
  });

  it('trims bytes past the UDP length and rejects impossible lengths', () => {
    assert.deepEqual(decodeUdp(Uint8Array.of(...DGRAM, 0, 0)).payload, new TextEncoder().encode('S-CORE'));
    const short = DGRAM.slice();
    short[5] = 7;
    assert.throws(() => decodeUdp(short), malformed);
    const long = DGRAM.slice();
    long[5] = 15;
    assert.throws(() => decodeUdp(long), malformed);
    assert.throws(() => decodeUdp(DGRAM.subarray(0, 7)), malformed);
  });

  it('round-trips any datagram', () => {
    fc.assert(fc.property(arb.udp, (d) => assert.deepEqual(decodeUdp(encodeUdp(d)), d)));
  });

  it('never sends a computed checksum as 0, and what it sends verifies', () => {
    fc.assert(
      fc.property(arb.udp, arb.ipv4, arb.ipv4, (d, src, dst) => {
        const bytes = encodeUdp(d, { src, dst });
        assert.notEqual(decodeUdp(bytes).checksum, 0);
        assert.equal(transportChecksum(src, dst, 17, bytes), 0);
      }),
    );
  });

  it('sends 0xffff when the sum comes out as zero', () => {
    // Pick the payload word so the one's-complement sum is exactly 0xffff.
    const base = encodeUdp({ srcPort: 1, dstPort: 2, checksum: 0, payload: Uint8Array.of(0, 0) });
    const need = transportChecksum(PAIR.src, PAIR.dst, 17, base); // the word that completes the sum
    const bytes = encodeUdp({ srcPort: 1, dstPort: 2, checksum: 0, payload: Uint8Array.of(need >>> 8, need & 0xff) }, PAIR);
    assert.equal(decodeUdp(bytes).checksum, 0xffff);
  });
});

describe('ICMP', () => {
  // Windows ping: id 1, seq 1, the familiar alphabet payload; checksum 0x4d5a as captured.
  const PING = Uint8Array.of(...arb.hex('0800 4d5a 0001 0001'), ...new TextEncoder().encode('abcdefghijklmnopqrstuvwabcdefghi'));

  it('decodes and builds the captured echo request', () => {
    const m = decodeIcmp(PING);
    assert.equal(m.kind, 'echo-request');
    assert.equal(m.checksum, 0x4d5a);
    assert.equal(m.checksumValid, true);
    assert.ok(m.kind === 'echo-request' && m.identifier === 1 && m.sequence === 1 && m.data.length === 32, 'm.kind === \'echo-request\' && m.identifier === 1 && m.sequence === 1 && m.data.length ==...');
    assert.deepEqual(encodeIcmp(m), PING);
  });

  it('flags a corrupted message', () => {
    const bad = PING.slice();
    bad[20]! ^= 0x01;
    assert.equal(decodeIcmp(bad).checksumValid, false);
  });

  it('round-trips echo and other messages with a valid checksum', () => {
    fc.assert(
      fc.property(arb.icmp, (m) => {
        const bytes = encodeIcmp(m);
        const { checksum, checksumValid, ...rest } = decodeIcmp(bytes);
        assert.deepEqual(rest, m);
        assert.equal(checksumValid, true);
        assert.equal(internetChecksum(bytes), 0);
        assert.equal(checksum, (bytes[2]! << 8) | bytes[3]!);
      }),
    );
  });

  it('rejects short messages and refuses an echo disguised as "other"', () => {
    assert.throws(() => decodeIcmp(Uint8Array.of(3, 0, 0)), malformed);
    assert.throws(() => decodeIcmp(PING.subarray(0, 7)), malformed);
    assert.throws(() => encodeIcmp({ kind: 'other', type: 8, code: 0, rest: new Uint8Array(4) }), malformed);
    assert.equal(decodeIcmp(Uint8Array.of(3, 1, 0xfc, 0xfe)).kind, 'other');
  });
});
