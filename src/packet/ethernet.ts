import { checkUint, concat, malformed, need, put16, u16, view } from './bytes.ts';
import { BROADCAST_MAC, macFromBytes, macToBytes, type MacAddress } from './mac.ts';

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  IPV6: 0x86dd,
  LLDP: 0x88cc,
} as const;

/** Type/length values below this are IEEE 802.3 lengths, not EtherTypes. */
export const ETHERTYPE_MIN = 0x0600;

/** Shortest frame on the wire without its FCS; NICs pad to it, so received frames may carry padding. */
export const ETHERNET_MIN_FRAME = 60;

export const ETHERNET_HEADER_LENGTH = 14;

export type VlanTpid = typeof ETHERTYPE.VLAN | typeof ETHERTYPE.QINQ;

export interface VlanTag {
  /** 0x8100 (C-tag) or 0x88a8 (S-tag, the outer tag of QinQ). */
  readonly tpid: VlanTpid;
  /** priority code point, 0..7 */
  readonly pcp: number;
  /** drop eligible indicator (formerly CFI) */
  readonly dei: boolean;
  /** VLAN id, 0..4095; 0 means priority-tagged only */
  readonly vid: number;
}

export interface EthernetFrame {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  /** outermost first; [] for an untagged frame */
  readonly vlans: readonly VlanTag[];
  /** the EtherType after all tags; below 0x0600 it is an 802.3 length and the payload is LLC */
  readonly ethertype: number;
  /** everything after the header, including any padding the sender added (a view, not a copy) */
  readonly payload: Uint8Array;
}

export interface EncodeEthernetOptions {
  /** pad with zeros to 60 bytes, as a NIC would; off by default so encode/decode round-trips */
  readonly pad?: boolean;
}

function isTpid(type: number): type is VlanTpid {
  return type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ;
}

const NO_VLANS: readonly VlanTag[] = Object.freeze([]);

export function decodeEthernet(bytes: Uint8Array): EthernetFrame {
  need(bytes, 0, ETHERNET_HEADER_LENGTH, 'Ethernet header');
  const dst = macFromBytes(bytes, 0);
  const src = macFromBytes(bytes, 6);
  // an untagged frame (nearly all) shares one frozen empty list
  let vlans: readonly VlanTag[] = NO_VLANS;
  let off = 12;
  let type = u16(bytes, off);
  // Any stack of C- and S-tags is accepted; the frame length bounds the loop.
  while (isTpid(type)) {
    need(bytes, off + 2, 4, 'VLAN tag');
    const tci = u16(bytes, off + 2);
    if (vlans === NO_VLANS) vlans = [];
    (vlans as VlanTag[]).push({ tpid: type, pcp: tci >>> 13, dei: ((tci >>> 12) & 1) === 1, vid: tci & 0x0fff });
    off += 4;
    type = u16(bytes, off);
  }
  return { dst, src, vlans, ethertype: type, payload: view(bytes, off + 2) };
}

/**
 * The EtherType after any VLAN tags, read without decoding the frame (no allocation), or
 * undefined when the header or a tag is cut short (decodeEthernet would throw). Lets a caller
 * that wants one kind of frame (LLDP) skip decoding all the others.
 */
export function ethertypeOf(bytes: Uint8Array): number | undefined {
  if (bytes.length < ETHERNET_HEADER_LENGTH) return undefined;
  let off = 12;
  let type = u16(bytes, off);
  while (isTpid(type)) {
    if (bytes.length < off + 6) return undefined;
    off += 4;
    type = u16(bytes, off);
  }
  return type;
}

export function encodeEthernet(frame: EthernetFrame, options: EncodeEthernetOptions = {}): Uint8Array {
  checkUint(frame.ethertype, 16, 'ethertype');
  if (isTpid(frame.ethertype)) {
    // Would decode as one more VLAN tag, so the frame could not round-trip.
    throw malformed(`cannot encode ethertype 0x${frame.ethertype.toString(16)}: it is a VLAN TPID, use vlans`, {
      field: 'ethertype',
    });
  }
  const header = new Uint8Array(12 + 4 * frame.vlans.length + 2);
  header.set(macToBytes(frame.dst), 0);
  header.set(macToBytes(frame.src), 6);
  let off = 12;
  for (const tag of frame.vlans) {
    if (!isTpid(tag.tpid)) throw malformed(`cannot encode VLAN TPID ${String(tag.tpid)}`, { field: 'vlan.tpid' });
    checkUint(tag.pcp, 3, 'vlan.pcp');
    checkUint(tag.vid, 12, 'vlan.vid');
    put16(header, off, tag.tpid);
    put16(header, off + 2, (tag.pcp << 13) | (tag.dei ? 0x1000 : 0) | tag.vid);
    off += 4;
  }
  put16(header, off, frame.ethertype);
  const out = concat([header, frame.payload]);
  if (options.pad === true && out.length < ETHERNET_MIN_FRAME) {
    const padded = new Uint8Array(ETHERNET_MIN_FRAME);
    padded.set(out);
    return padded;
  }
  return out;
}

export interface FrameAddressing {
  readonly src: MacAddress;
  readonly dst?: MacAddress;
  readonly vlans?: readonly VlanTag[];
}

/** Wraps an upper-layer payload; the default destination is broadcast. */
export function buildEthernet(
  addressing: FrameAddressing,
  ethertype: number,
  payload: Uint8Array,
  options: EncodeEthernetOptions = {},
): Uint8Array {
  return encodeEthernet(
    { dst: addressing.dst ?? BROADCAST_MAC, src: addressing.src, vlans: addressing.vlans ?? [], ethertype, payload },
    options,
  );
}
