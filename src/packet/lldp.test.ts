import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { parseFrame } from './frame.ts';
import { isLocallyAdministeredMac } from './mac.ts';
import {
  LLDP_MULTICAST_MAC,
  SCORE_LLDP_OUI,
  buildLldpProbe,
  decodeLldp,
  encodeLldp,
  verifyLldpProbe,
  type LldpPacket,
} from './lldp.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const NONCE = arb.hex('0102030405060708');

// buildLldpProbe for dpid 1, port 2, written out TLV by TLV from IEEE 802.1AB-2016 clause 8.
// TLV header = 7-bit type, 9-bit length.
const PROBE = arb.hex(`
  0180c200000e 020000000001 88cc
  0216 07 6470 6964 3a 3030303030303030303030303030 3031
  0402 07 32
  0602 0078
  fe18 025343 01 0102030405060708 0000000000000001 00000002
  0000`);

// What a Linux lldpd-style neighbour sends: MAC chassis ID, interface-name port ID, port
// description, system name, capabilities (bridge+router) and an IEEE 802.1 port VLAN ID TLV.
const FOREIGN = arb.hex(`
  0180c200000e 001b21aabbcc 88cc
  0207 04 001b21aabbcc
  0405 05 65746830
  0602 0078
  0806 75706c696e6b
  0a04 746f7231
  0e04 0014 0014
  fe06 0080c2 01 0001
  0000
  00000000`);

/** Builds an LLDPDU from [type, value] pairs, with no validation, for malformed cases. */
function rawLldp(...tlvs: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array {
  const out: number[] = [];
  for (const [type, value] of tlvs) out.push(((type << 1) | (value.length >> 8)) & 0xff, value.length & 0xff, ...value);
  return Uint8Array.from(out);
}
const CHASSIS = [1, Uint8Array.of(7, 0x41)] as const;
const PORT = [2, Uint8Array.of(7, 0x31)] as const;
const TTL = [3, Uint8Array.of(0, 120)] as const;
const END = [0, new Uint8Array(0)] as const;

describe('LLDP', () => {
  it('uses a private OUI: U/L bit set, so no IEEE assignment can collide', () => {
    const first = SCORE_LLDP_OUI >>> 16;
    assert.equal(isLocallyAdministeredMac(`${first.toString(16).padStart(2, '0')}:00:00:00:00:00`), true);
    assert.notEqual(first & 0x0f, 0x0a); // not a CID either
  });

  it('builds the probe frame byte for byte', () => {
    const frame = buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: 1n, port: 2, nonce: NONCE });
    assert.deepEqual(frame, PROBE);
  });

  it('parses the probe and accepts it with the right nonce', () => {
    const f = parseFrame(PROBE, { lldpNonce: NONCE });
    assert.equal(f.eth.dst, LLDP_MULTICAST_MAC);
    assert.equal(f.net.type, 'lldp');
    if (f.net.type !== 'lldp') return;
    assert.deepEqual(f.net.probe, { accepted: true, dpid: 1n, port: 2 });
    assert.deepEqual(f.net.lldp.chassisId, { subtype: 7, id: text('dpid:0000000000000001') });
    assert.deepEqual(f.net.lldp.portId, { subtype: 7, id: text('2') });
    assert.equal(f.net.lldp.ttl, 120);
    assert.deepEqual(f.net.lldp.extraTlvs, []);
  });

  it('rejects the same probe under another nonce, and says why', () => {
    const other = NONCE.slice();
    other[7] = 9;
    const f = parseFrame(PROBE, { lldpNonce: other });
    assert.ok(f.net.type === 'lldp', 'f.net.type === \'lldp\'');
    assert.deepEqual(f.net.probe, { accepted: false, reason: 'nonce-mismatch' });
    // no nonce given: no verdict, the probe data is still there
    const plain = parseFrame(PROBE);
    assert.ok(plain.net.type === 'lldp', 'plain.net.type === \'lldp\'');
    assert.equal(plain.net.probe, undefined);
    assert.equal(plain.net.lldp.probe?.dpid, 1n);
  });

  it('decodes a foreign neighbour and rejects it as not ours', () => {
    const f = parseFrame(FOREIGN, { lldpNonce: NONCE });
    assert.ok(f.net.type === 'lldp', 'f.net.type === \'lldp\'');
    assert.deepEqual(f.net.probe, { accepted: false, reason: 'no-probe-tlv' });
    const expected: LldpPacket = {
      chassisId: { subtype: 4, id: arb.hex('001b21aabbcc') },
      portId: { subtype: 5, id: text('eth0') },
      ttl: 120,
      systemName: 'tor1',
      extraTlvs: [
        { type: 4, value: text('uplink') },
        { type: 7, value: arb.hex('00140014') },
        { type: 127, value: arb.hex('0080c2010001') },
      ],
    };
    assert.deepEqual(f.net.lldp, expected);
    // encodeLldp emits the system name before other optional TLVs, so compare decoded forms
    assert.deepEqual(decodeLldp(encodeLldp(expected)), expected);
  });

  it('accepts exactly the nonce it was built with, for any probe', () => {
    fc.assert(
      fc.property(arb.nonce, arb.nonce, arb.dpid, arb.u32, arb.mac, (mine, theirs, dpid, port, srcMac) => {
        const f = parseFrame(buildLldpProbe({ srcMac, dpid, port, nonce: theirs }), { lldpNonce: mine });
        assert.ok(f.net.type === 'lldp', 'f.net.type === \'lldp\'');
        const same = arb.toHex(mine) === arb.toHex(theirs);
        assert.deepEqual(f.net.probe, same ? { accepted: true, dpid, port } : { accepted: false, reason: 'nonce-mismatch' });
        assert.deepEqual(verifyLldpProbe(f.net.lldp, theirs), { accepted: true, dpid, port });
      }),
    );
  });

  it('round-trips any LLDPDU', () => {
    fc.assert(fc.property(arb.lldp, (p) => assert.deepEqual(decodeLldp(encodeLldp(p)), p)));
  });

  it('carries the system name when given one', () => {
    const frame = buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: 0xfedcba9876543210n, port: 0xfffffffe, nonce: NONCE, systemName: 's-core' });
    const lldp = decodeLldp(parseFrame(frame).eth.payload);
    assert.equal(lldp.systemName, 's-core');
    assert.deepEqual(lldp.chassisId.id, text('dpid:fedcba9876543210'));
    assert.deepEqual(verifyLldpProbe(lldp, NONCE), { accepted: true, dpid: 0xfedcba9876543210n, port: 0xfffffffe });
  });

  it('rejects LLDPDUs that break the mandatory structure', () => {
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      'no End': rawLldp(CHASSIS, PORT, TTL),
      'End with a length': rawLldp(CHASSIS, PORT, TTL, [0, Uint8Array.of(0)]),
      'port before chassis': rawLldp(PORT, CHASSIS, TTL, END),
      'TTL missing': rawLldp(CHASSIS, PORT, END),
      'TTL of 3 bytes': rawLldp(CHASSIS, PORT, [3, Uint8Array.of(0, 0, 120)], END),
      'chassis ID without id': rawLldp([1, Uint8Array.of(7)], PORT, TTL, END),
      'second chassis ID': rawLldp(CHASSIS, PORT, TTL, CHASSIS, END),
      'second system name': rawLldp(CHASSIS, PORT, TTL, [5, text('a')], [5, text('b')], END),
      'org TLV shorter than OUI+subtype': rawLldp(CHASSIS, PORT, TTL, [127, Uint8Array.of(0, 0x80, 0xc2)], END),
      'probe TLV of wrong length': rawLldp(CHASSIS, PORT, TTL, [127, Uint8Array.of(0x02, 0x53, 0x43, 1, 0)], END),
      'TLV length past the end': Uint8Array.of(...rawLldp(CHASSIS, PORT, TTL), 0x0a, 0x10, 0x41),
    };
    for (const [name, bytes] of Object.entries(cases)) assert.throws(() => decodeLldp(bytes), malformed, name);
    // the same minimal frame with End is fine, so the cases above fail for their stated reason
    assert.equal(decodeLldp(rawLldp(CHASSIS, PORT, TTL, END)).ttl, 120);
  });

  it('rejects a duplicated probe TLV rather than picking one', () => {
    const probeTlv = PROBE.subarray(14 + 24 + 4 + 4 + 2, 14 + 24 + 4 + 4 + 26);
    assert.throws(() => decodeLldp(rawLldp(CHASSIS, PORT, TTL, [127, probeTlv], [127, probeTlv], END)), malformed);
    assert.equal(decodeLldp(rawLldp(CHASSIS, PORT, TTL, [127, probeTlv], END)).probe?.port, 2);
  });

  it('refuses to encode what would not decode back', () => {
    const base: LldpPacket = { chassisId: { subtype: 7, id: text('a') }, portId: { subtype: 7, id: text('1') }, ttl: 1, extraTlvs: [] };
    assert.throws(() => encodeLldp({ ...base, chassisId: { subtype: 7, id: new Uint8Array(0) } }), malformed);
    assert.throws(() => encodeLldp({ ...base, ttl: 65536 }), malformed);
    assert.throws(() => encodeLldp({ ...base, systemName: 'x'.repeat(256) }), malformed);
    for (const type of [0, 1, 2, 3, 5, 128]) {
      assert.throws(() => encodeLldp({ ...base, extraTlvs: [{ type, value: new Uint8Array(4) }] }), malformed, `type ${type}`);
    }
    assert.throws(() => encodeLldp({ ...base, extraTlvs: [{ type: 127, value: Uint8Array.of(0x02, 0x53, 0x43, 1) }] }), malformed);
    assert.throws(() => encodeLldp({ ...base, extraTlvs: [{ type: 9, value: new Uint8Array(512) }] }), malformed);
    assert.throws(() => buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: 1n << 64n, port: 1, nonce: NONCE }), malformed);
    assert.throws(() => buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: 1n, port: 2 ** 32, nonce: NONCE }), malformed);
    assert.throws(() => buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: 1n, port: 1, nonce: new Uint8Array(7) }), malformed);
    assert.throws(() => verifyLldpProbe(base, new Uint8Array(9)), malformed);
  });
});
