import { checkMaxLength, checkUint, concat, malformed, need, put16, put32, u16, u32, view } from './bytes.ts';
import { transportChecksum } from './checksum.ts';
import type { Ipv4Address } from './ipv4-address.ts';
import { IP_PROTOCOL } from './ipv4.ts';

export const TCP_FLAG = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  NS: 0x100,
} as const;

export const TCP_MIN_HEADER = 20;

export interface TcpSegment {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /**
   * The 12 bits after the data offset: TCP_FLAG bits plus the three reserved bits, which are
   * kept so that a decoded segment re-encodes byte-exactly.
   */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgentPointer: number;
  /** raw option bytes, a multiple of 4 and at most 40 */
  readonly options: Uint8Array;
  readonly payload: Uint8Array;
}

/** The IPv4 addresses the checksum covers; with them, encoders compute the checksum. */
export interface PseudoHeader {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
}

export function decodeTcp(bytes: Uint8Array): TcpSegment {
  need(bytes, 0, TCP_MIN_HEADER, 'TCP header');
  const offFlags = u16(bytes, 12);
  const headerLength = (offFlags >>> 12) * 4;
  if (headerLength < TCP_MIN_HEADER) {
    throw malformed(`TCP: data offset ${headerLength} below 20`, { layer: 'TCP', headerLength });
  }
  need(bytes, 0, headerLength, 'TCP options');
  return {
    srcPort: u16(bytes, 0),
    dstPort: u16(bytes, 2),
    seq: u32(bytes, 4),
    ack: u32(bytes, 8),
    flags: offFlags & 0x0fff,
    window: u16(bytes, 14),
    checksum: u16(bytes, 16),
    urgentPointer: u16(bytes, 18),
    options: view(bytes, TCP_MIN_HEADER, headerLength),
    payload: view(bytes, headerLength),
  };
}

/** Without `pseudo` the segment's own checksum field is written unchanged. */
export function encodeTcp(seg: TcpSegment, pseudo?: PseudoHeader): Uint8Array {
  checkUint(seg.srcPort, 16, 'tcp.srcPort');
  checkUint(seg.dstPort, 16, 'tcp.dstPort');
  checkUint(seg.seq, 32, 'tcp.seq');
  checkUint(seg.ack, 32, 'tcp.ack');
  checkUint(seg.flags, 12, 'tcp.flags');
  checkUint(seg.window, 16, 'tcp.window');
  checkUint(seg.checksum, 16, 'tcp.checksum');
  checkUint(seg.urgentPointer, 16, 'tcp.urgentPointer');
  checkMaxLength(seg.options, 40, 'tcp.options');
  if (seg.options.length % 4 !== 0) {
    throw malformed(`cannot encode tcp.options: ${seg.options.length} bytes is not a multiple of 4`, {
      field: 'tcp.options',
    });
  }
  const headerLength = TCP_MIN_HEADER + seg.options.length;
  const header = new Uint8Array(headerLength);
  put16(header, 0, seg.srcPort);
  put16(header, 2, seg.dstPort);
  put32(header, 4, seg.seq);
  put32(header, 8, seg.ack);
  put16(header, 12, ((headerLength / 4) << 12) | seg.flags);
  put16(header, 14, seg.window);
  put16(header, 16, pseudo ? 0 : seg.checksum);
  put16(header, 18, seg.urgentPointer);
  header.set(seg.options, TCP_MIN_HEADER);
  const out = concat([header, seg.payload]);
  if (pseudo) put16(out, 16, transportChecksum(pseudo.src, pseudo.dst, IP_PROTOCOL.TCP, out));
  return out;
}
