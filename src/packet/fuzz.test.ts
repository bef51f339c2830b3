// Robustness: parseFrame sits directly behind PACKET_IN, where any byte string can arrive. The
// contract is that it returns a result or throws ScoreError('PACKET_MALFORMED'); anything else
// (RangeError, TypeError, a hang) would take the controller down. 160k inputs in three shapes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { buildArpReply, buildGratuitousArp, buildRarpAnnouncement } from './arp.ts';
import { ETHERTYPE, encodeEthernet } from './ethernet.ts';
import { parseFrame, type ParsedFrame } from './frame.ts';
import { encodeIcmp } from './icmp.ts';
import { IP_PROTOCOL, encodeIpv4 } from './ipv4.ts';
import { buildLldpProbe, encodeLldp } from './lldp.ts';
import { encodeTcp } from './tcp.ts';
import { encodeUdp } from './udp.ts';
import * as arb from './arbitraries.testing.ts';

const NONCE = arb.hex('a1a2a3a4a5a6a7a8');

let decoded = 0;
let rejected = 0;

function survives(bytes: Uint8Array): void {
  let result: ParsedFrame;
  try {
    result = parseFrame(bytes, { lldpNonce: NONCE });
  } catch (e) {
    if (!isScoreError(e, 'PACKET_MALFORMED')) {
      assert.fail(`escaped: ${String(e)} for ${arb.toHex(bytes)}`);
    }
    // parseFrame's last-resort wrapper marks errors no decoder anticipated; in production they
    // are contained, here they are a missing length check.
    if (e.details['bug'] === true) assert.fail(`unanticipated: ${e.message} for ${arb.toHex(bytes)}`);
    rejected++;
    return;
  }
  decoded++;
  // A successful parse never reads outside the input.
  const p = result.eth.payload;
  assert.ok(p.buffer === bytes.buffer && p.byteOffset + p.length <= bytes.byteOffset + bytes.length, 'p.buffer === bytes.buffer && p.byteOffset + p.length <= bytes.byteOffset + bytes.length');
}

const macBytes = fc.uint8Array({ minLength: 12, maxLength: 12 });
const knownType = fc.constantFrom(
  ETHERTYPE.IPV4,
  ETHERTYPE.ARP,
  ETHERTYPE.RARP,
  ETHERTYPE.LLDP,
  ETHERTYPE.VLAN,
  ETHERTYPE.QINQ,
);

/** Valid frames of every kind parseFrame decodes, to be damaged. */
const validFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(arb.mac, arb.ipv4).map(([mac, ip]) => buildGratuitousArp({ mac, ip })),
  fc.tuple(arb.arp, arb.vlans).map(([a, vlans]) => buildArpReply({ ...a, vlans })),
  arb.mac.map((m) => buildRarpAnnouncement(m)),
  fc.tuple(arb.mac, arb.dpid, arb.u32, arb.nonce).map(([srcMac, dpid, port, nonce]) => buildLldpProbe({ srcMac, dpid, port, nonce })),
  fc.tuple(arb.ethernet, arb.lldp).map(([eth, l]) => encodeEthernet({ ...eth, ethertype: ETHERTYPE.LLDP, payload: encodeLldp(l) })),
  fc
    .tuple(
      arb.ethernet,
      arb.ipv4Fields,
      fc.oneof(
        arb.tcp.map((t) => [IP_PROTOCOL.TCP, encodeTcp(t)] as const),
        arb.udp.map((u) => [IP_PROTOCOL.UDP, encodeUdp(u)] as const),
        arb.icmp.map((m) => [IP_PROTOCOL.ICMP, encodeIcmp(m)] as const),
      ),
    )
    .map(([eth, ip, [protocol, payload]]) =>
      encodeEthernet({
        ...eth,
        ethertype: ETHERTYPE.IPV4,
        payload: encodeIpv4({ ...ip, moreFragments: false, fragmentOffset: 0, protocol, payload }),
      }),
    ),
);

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; extra: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  // 0x00 and 0xff are the values that most often turn a length field into a lie.
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 0xff), arb.u8) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), extra: arb.bytes(16, 1) }),
);

function mutate(frame: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = frame.slice();
  for (const m of mutations) {
    if (m.kind === 'append') {
      b = Uint8Array.of(...b, ...m.extra);
    } else if (b.length > 0) {
      const at = m.at % b.length;
      if (m.kind === 'flip') b[at]! ^= 1 << m.bit;
      else if (m.kind === 'set') b[at] = m.value;
      else b = b.slice(0, at);
    }
  }
  return b;
}

describe('parseFrame robustness', () => {
  it('survives 40k random byte strings', () => {
    fc.assert(fc.property(arb.bytes(128), (b) => survives(b)), { numRuns: 40_000 });
  });

  it('survives 50k random bodies behind a valid header with a known EtherType', () => {
    fc.assert(
      fc.property(macBytes, knownType, arb.bytes(120), (macs, type, body) => {
        survives(Uint8Array.of(...macs, type >>> 8, type & 0xff, ...body));
      }),
      { numRuns: 50_000 },
    );
  });

  it('survives 70k damaged valid frames, and at least some damage is still rejected', () => {
    decoded = 0;
    rejected = 0;
    fc.assert(
      fc.property(validFrame, fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, ms) => survives(mutate(frame, ms))),
      { numRuns: 70_000 },
    );
    // Guards the fuzzer itself: if every input were rejected early (or none were), it would be
    // exercising only one path.
    assert.ok(decoded > 10_000, `decoded ${decoded}`);
    assert.ok(rejected > 10_000, `rejected ${rejected}`);
  });

  it('decodes every undamaged valid frame', () => {
    fc.assert(fc.property(validFrame, (frame) => assert.doesNotThrow(() => parseFrame(frame))), { numRuns: 5_000 });
  });

  it('survives a Buffer slice in the middle of a larger buffer', () => {
    const pool = Buffer.alloc(256, 0x88);
    const frame = buildRarpAnnouncement('00:00:00:00:00:01');
    pool.set(frame, 100);
    const f = parseFrame(pool.subarray(100, 100 + frame.length));
    assert.equal(f.net.type, 'rarp');
    // and a cut one sees nothing of the bytes that follow it in the pool
    assert.throws(() => parseFrame(pool.subarray(100, 120)), (e) => isScoreError(e, 'PACKET_MALFORMED'));
  });
});
