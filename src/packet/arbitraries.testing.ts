// Shared fast-check generators for the packet tests. Each produces values in the normalised
// form decoders emit (lower-case MACs, plain Uint8Arrays, absent optional keys), so that
// "encode then decode" can be compared with deepStrictEqual.
import fc from 'fast-check';
import type { ArpPacket } from './arp.ts';
import type { EthernetFrame, VlanTag } from './ethernet.ts';
import type { IcmpMessage } from './icmp.ts';
import { ipv4FromBytes } from './ipv4-address.ts';
import type { Ipv4Fields } from './ipv4.ts';
import type { LldpPacket, LldpTlv } from './lldp.ts';
import { macFromBytes } from './mac.ts';
import type { TcpSegment } from './tcp.ts';
import type { UdpDatagram } from './udp.ts';

export const bytes = (maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength, maxLength }).map((b) => Uint8Array.from(b));

export const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => macFromBytes(b));
export const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ipv4FromBytes(b));
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u8 = fc.integer({ min: 0, max: 0xff });
// fast-check builds null-prototype records by default; decoders return ordinary objects and
// deepStrictEqual compares prototypes.
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const words = (maxWords: number): fc.Arbitrary<Uint8Array> =>
  fc.integer({ min: 0, max: maxWords }).chain((n) => bytes(4 * n, 4 * n));

export const vlanTag: fc.Arbitrary<VlanTag> = record({
  tpid: fc.constantFrom(0x8100 as const, 0x88a8 as const),
  pcp: fc.integer({ min: 0, max: 7 }),
  dei: fc.boolean(),
  vid: fc.integer({ min: 0, max: 4095 }),
});

export const vlans = fc.array(vlanTag, { maxLength: 3 });

export const ethernet: fc.Arbitrary<EthernetFrame> = record({
  dst: mac,
  src: mac,
  vlans,
  ethertype: u16.filter((t) => t !== 0x8100 && t !== 0x88a8),
  payload: bytes(64),
});

export const arp: fc.Arbitrary<ArpPacket> = record({
  op: fc.oneof(fc.constantFrom(1, 2, 3, 4), u16),
  senderMac: mac,
  senderIp: ipv4,
  targetMac: mac,
  targetIp: ipv4,
});

export const ipv4Fields: fc.Arbitrary<Ipv4Fields> = record({
  dscp: fc.integer({ min: 0, max: 63 }),
  ecn: fc.integer({ min: 0, max: 3 }),
  identification: u16,
  reservedFlag: fc.boolean(),
  dontFragment: fc.boolean(),
  moreFragments: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 8191 }),
  ttl: u8,
  protocol: u8,
  src: ipv4,
  dst: ipv4,
  options: words(10),
  payload: bytes(80),
});

export const tcp: fc.Arbitrary<TcpSegment> = record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xfff }),
  window: u16,
  checksum: u16,
  urgentPointer: u16,
  options: words(10),
  payload: bytes(64),
});

export const udp: fc.Arbitrary<UdpDatagram> = record({
  srcPort: u16,
  dstPort: u16,
  checksum: u16,
  payload: bytes(64),
});

export const icmp: fc.Arbitrary<IcmpMessage> = fc.oneof(
  record({
    kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const),
    code: u8,
    identifier: u16,
    sequence: u16,
    data: bytes(56),
  }),
  record({
    kind: fc.constant('other' as const),
    type: u8.filter((t) => t !== 0 && t !== 8),
    code: u8,
    rest: bytes(40),
  }),
);

const lldpId = record({ subtype: u8, id: bytes(255, 1) });
const extraTlv: fc.Arbitrary<LldpTlv> = fc.oneof(
  record({ type: fc.oneof(fc.constant(4), fc.integer({ min: 6, max: 126 })), value: bytes(40) }),
  // Organisation-specific TLVs from other vendors (real OUIs have the U/L bit clear).
  record({
    type: fc.constant(127),
    value: fc.tuple(u8.map((b) => b & 0xfd), bytes(40, 3)).map(([first, rest]) => Uint8Array.of(first, ...rest)),
  }),
);
export const nonce = bytes(8, 8);
export const dpid = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });

export const lldp: fc.Arbitrary<LldpPacket> = fc.record(
  {
    chassisId: lldpId,
    portId: lldpId,
    ttl: u16,
    systemName: fc
      .string({ unit: 'grapheme', maxLength: 24 })
      .filter((s) => new TextEncoder().encode(s).length <= 255),
    probe: record({ nonce, dpid, port: u32 }),
    extraTlvs: fc.array(extraTlv, { maxLength: 4 }),
  },
  { noNullPrototype: true, requiredKeys: ['chassisId', 'portId', 'ttl', 'extraTlvs'] },
);

/** Hex with optional whitespace, for writing byte vectors the way a capture prints them. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex vector: ${text}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}
