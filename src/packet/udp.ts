import { checkUint, malformed, need, put16, u16, view } from './bytes.ts';
import { transportChecksum } from './checksum.ts';
import { IP_PROTOCOL } from './ipv4.ts';
import type { PseudoHeader } from './tcp.ts';

export const UDP_HEADER = 8;

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  /** as received; 0 means the sender did not compute one */
  readonly checksum: number;
  /** up to the UDP length field, so trailing bytes are not mistaken for data */
  readonly payload: Uint8Array;
}

export function decodeUdp(bytes: Uint8Array): UdpDatagram {
  need(bytes, 0, UDP_HEADER, 'UDP header');
  const length = u16(bytes, 4);
  if (length < UDP_HEADER) throw malformed(`UDP: length ${length} below 8`, { layer: 'UDP', length });
  need(bytes, 0, length, 'UDP datagram');
  return {
    srcPort: u16(bytes, 0),
    dstPort: u16(bytes, 2),
    checksum: u16(bytes, 6),
    payload: view(bytes, UDP_HEADER, length),
  };
}

/** Without `pseudo` the datagram's own checksum field is written unchanged. */
export function encodeUdp(d: UdpDatagram, pseudo?: PseudoHeader): Uint8Array {
  checkUint(d.srcPort, 16, 'udp.srcPort');
  checkUint(d.dstPort, 16, 'udp.dstPort');
  checkUint(d.checksum, 16, 'udp.checksum');
  const length = UDP_HEADER + d.payload.length;
  checkUint(length, 16, 'udp.length');
  const out = new Uint8Array(length);
  put16(out, 0, d.srcPort);
  put16(out, 2, d.dstPort);
  put16(out, 4, length);
  out.set(d.payload, UDP_HEADER);
  if (pseudo) {
    // RFC 768: a computed zero is sent as all ones, because zero on the wire means "no checksum".
    put16(out, 6, transportChecksum(pseudo.src, pseudo.dst, IP_PROTOCOL.UDP, out) || 0xffff);
  } else {
    put16(out, 6, d.checksum);
  }
  return out;
}
