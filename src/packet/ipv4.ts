import { checkMaxLength, checkUint, malformed, need, put16, u16, u8, view } from './bytes.ts';
import { internetChecksum } from './checksum.ts';
import { ipv4FromBytes, ipv4ToBytes, type Ipv4Address } from './ipv4-address.ts';

export const IP_PROTOCOL = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
} as const;

export const IPV4_MIN_HEADER = 20;
export const IPV4_MAX_OPTIONS = 40;

/** What an encoder needs; the checksum is always computed, never taken from the caller. */
export interface Ipv4Fields {
  /** differentiated services code point, 0..63 */
  readonly dscp: number;
  /** explicit congestion notification, 0..3 */
  readonly ecn: number;
  readonly identification: number;
  /** the first flag bit, reserved (RFC 3514's "evil bit"); kept so re-encoding is byte-exact */
  readonly reservedFlag: boolean;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** in 8-byte units, 0..8191 */
  readonly fragmentOffset: number;
  readonly ttl: number;
  /** see IP_PROTOCOL */
  readonly protocol: number;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** raw option bytes, a multiple of 4 and at most 40; [] almost always */
  readonly options: Uint8Array;
  /** the bytes after the header up to the total length (link-layer padding excluded) */
  readonly payload: Uint8Array;
}

export interface Ipv4Packet extends Ipv4Fields {
  /** the header checksum as received */
  readonly checksum: number;
  /** false for a corrupted header; such packets are still decoded so the caller can choose */
  readonly checksumValid: boolean;
}

export function isFragment(p: Ipv4Fields): boolean {
  return p.moreFragments || p.fragmentOffset !== 0;
}

const NO_OPTIONS: Uint8Array = Object.freeze(new Uint8Array(0));

export function decodeIpv4(bytes: Uint8Array): Ipv4Packet {
  need(bytes, 0, IPV4_MIN_HEADER, 'IPv4 header');
  const vihl = u8(bytes, 0);
  const version = vihl >>> 4;
  const headerLength = (vihl & 0x0f) * 4;
  if (version !== 4) throw malformed(`IPv4: version ${version}`, { layer: 'IPv4', version });
  if (headerLength < IPV4_MIN_HEADER) {
    throw malformed(`IPv4: header length ${headerLength} below 20`, { layer: 'IPv4', headerLength });
  }
  const totalLength = u16(bytes, 2);
  if (totalLength < headerLength) {
    throw malformed(`IPv4: total length ${totalLength} below header length ${headerLength}`, {
      layer: 'IPv4',
      totalLength,
      headerLength,
    });
  }
  // A total length past the frame means truncation (e.g. a packet-in cut at miss_send_len):
  // decoding the fraction would hand upper layers a payload that lies about its size.
  need(bytes, 0, totalLength, 'IPv4 packet');
  const tos = u8(bytes, 1);
  const flagsFrag = u16(bytes, 6);
  const checksum = u16(bytes, 10);
  return {
    dscp: tos >>> 2,
    ecn: tos & 0x03,
    identification: u16(bytes, 4),
    reservedFlag: (flagsFrag & 0x8000) !== 0,
    dontFragment: (flagsFrag & 0x4000) !== 0,
    moreFragments: (flagsFrag & 0x2000) !== 0,
    fragmentOffset: flagsFrag & 0x1fff,
    ttl: u8(bytes, 8),
    protocol: u8(bytes, 9),
    src: ipv4FromBytes(bytes, 12),
    dst: ipv4FromBytes(bytes, 16),
    // no options (nearly every header): one shared empty array, not a view per packet
    options: headerLength === IPV4_MIN_HEADER ? NO_OPTIONS : view(bytes, IPV4_MIN_HEADER, headerLength),
    payload: view(bytes, headerLength, totalLength),
    checksum,
    checksumValid: internetChecksum(bytes, 0, 0, headerLength) === 0,
  };
}

export function encodeIpv4(p: Ipv4Fields): Uint8Array {
  checkUint(p.dscp, 6, 'ipv4.dscp');
  checkUint(p.ecn, 2, 'ipv4.ecn');
  checkUint(p.identification, 16, 'ipv4.identification');
  checkUint(p.fragmentOffset, 13, 'ipv4.fragmentOffset');
  checkUint(p.ttl, 8, 'ipv4.ttl');
  checkUint(p.protocol, 8, 'ipv4.protocol');
  checkMaxLength(p.options, IPV4_MAX_OPTIONS, 'ipv4.options');
  if (p.options.length % 4 !== 0) {
    throw malformed(`cannot encode ipv4.options: ${p.options.length} bytes is not a multiple of 4`, {
      field: 'ipv4.options',
    });
  }
  const headerLength = IPV4_MIN_HEADER + p.options.length;
  const totalLength = headerLength + p.payload.length;
  if (totalLength > 0xffff) {
    throw malformed(`cannot encode IPv4: total length ${totalLength} above 65535`, { field: 'ipv4.payload' });
  }
  const out = new Uint8Array(totalLength);
  out[0] = 0x40 | (headerLength / 4);
  out[1] = (p.dscp << 2) | p.ecn;
  put16(out, 2, totalLength);
  put16(out, 4, p.identification);
  put16(
    out,
    6,
    (p.reservedFlag ? 0x8000 : 0) | (p.dontFragment ? 0x4000 : 0) | (p.moreFragments ? 0x2000 : 0) | p.fragmentOffset,
  );
  out[8] = p.ttl;
  out[9] = p.protocol;
  out.set(ipv4ToBytes(p.src), 12);
  out.set(ipv4ToBytes(p.dst), 16);
  out.set(p.options, IPV4_MIN_HEADER);
  put16(out, 10, internetChecksum(out.subarray(0, headerLength)));
  out.set(p.payload, headerLength);
  return out;
}
