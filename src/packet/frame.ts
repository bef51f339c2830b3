import { isScoreError } from '../errors/errors.ts';
import { decodeArp, isGratuitousArp, isRarpAnnouncement, type ArpPacket } from './arp.ts';
import { malformed } from './bytes.ts';
import { ETHERTYPE, decodeEthernet, type EthernetFrame } from './ethernet.ts';
import { decodeIcmp, type IcmpPacket } from './icmp.ts';
import type { Ipv4Address } from './ipv4-address.ts';
import { IP_PROTOCOL, decodeIpv4, isFragment, type Ipv4Packet } from './ipv4.ts';
import { decodeLldp, verifyLldpProbe, type LldpPacket, type LldpProbeVerdict } from './lldp.ts';
import { normalizeMac, type MacAddress } from './mac.ts';
import { decodeTcp, type TcpSegment } from './tcp.ts';
import { decodeUdp, type UdpDatagram } from './udp.ts';

export type TransportLayer =
  | { readonly type: 'tcp'; readonly tcp: TcpSegment }
  | { readonly type: 'udp'; readonly udp: UdpDatagram }
  | { readonly type: 'icmp'; readonly icmp: IcmpPacket }
  /** a fragment: only the first carries the transport header, and not necessarily all of it */
  | { readonly type: 'fragment' }
  /** a protocol not decoded here; the bytes are `ipv4.payload` */
  | { readonly type: 'other'; readonly protocol: number };

export type NetworkLayer =
  | { readonly type: 'arp'; readonly arp: ArpPacket }
  | { readonly type: 'rarp'; readonly arp: ArpPacket }
  | { readonly type: 'ipv4'; readonly ipv4: Ipv4Packet; readonly transport: TransportLayer }
  /** `probe` is present when a nonce was given to parseFrame */
  | { readonly type: 'lldp'; readonly lldp: LldpPacket; readonly probe?: LldpProbeVerdict }
  /** an EtherType (or 802.3 length) not decoded here; the bytes are `eth.payload` */
  | { readonly type: 'other'; readonly ethertype: number };

export interface ParsedFrame {
  readonly eth: EthernetFrame;
  readonly net: NetworkLayer;
}

export interface ParseOptions {
  /**
   * this controller's 8-byte LLDP nonce; when given, LLDP results carry an accept/reject verdict
   * (a nonce of another length is a configuration bug and makes every LLDP frame throw)
   */
  readonly lldpNonce?: Uint8Array;
}

function transport(ipv4: Ipv4Packet): TransportLayer {
  if (isFragment(ipv4)) return { type: 'fragment' };
  switch (ipv4.protocol) {
    case IP_PROTOCOL.TCP:
      return { type: 'tcp', tcp: decodeTcp(ipv4.payload) };
    case IP_PROTOCOL.UDP:
      return { type: 'udp', udp: decodeUdp(ipv4.payload) };
    case IP_PROTOCOL.ICMP:
      return { type: 'icmp', icmp: decodeIcmp(ipv4.payload) };
    default:
      return { type: 'other', protocol: ipv4.protocol };
  }
}

function network(eth: EthernetFrame, options: ParseOptions): NetworkLayer {
  switch (eth.ethertype) {
    case ETHERTYPE.ARP:
      return { type: 'arp', arp: decodeArp(eth.payload) };
    case ETHERTYPE.RARP:
      return { type: 'rarp', arp: decodeArp(eth.payload) };
    case ETHERTYPE.IPV4: {
      const ipv4 = decodeIpv4(eth.payload);
      return { type: 'ipv4', ipv4, transport: transport(ipv4) };
    }
    case ETHERTYPE.LLDP: {
      const lldp = decodeLldp(eth.payload);
      return options.lldpNonce === undefined
        ? { type: 'lldp', lldp }
        : { type: 'lldp', lldp, probe: verifyLldpProbe(lldp, options.lldpNonce) };
    }
    default:
      return { type: 'other', ethertype: eth.ethertype };
  }
}

/**
 * Decodes every layer it knows. A layer it recognises but cannot decode makes the whole frame
 * PACKET_MALFORMED rather than a partial result: a controller acting on half an ARP packet is
 * worse than one that drops it. Nothing but a ScoreError ever escapes.
 */
export function parseFrame(bytes: Uint8Array, options: ParseOptions = {}): ParsedFrame {
  try {
    if (!(bytes instanceof Uint8Array)) throw malformed('frame is not a byte array', { type: typeof bytes });
    const eth = decodeEthernet(bytes);
    return { eth, net: network(eth, options) };
  } catch (e) {
    if (isScoreError(e)) throw e;
    // Decoders check every length first, so this is a bug; it is still reported as a packet
    // error (with the cause kept) because a packet-in must never take the controller down.
    throw malformed(`undecodable frame: ${e instanceof Error ? e.message : String(e)}`, { bug: true }, e);
  }
}

export interface MacAnnouncement {
  readonly mac: MacAddress;
  /** the address claimed, for a gratuitous ARP; RARP announcements carry none */
  readonly ip?: Ipv4Address;
  readonly via: 'rarp' | 'gratuitous-arp';
}

/**
 * Whether the frame is a host saying "I am here now": QEMU's post-migration RARP or a
 * gratuitous ARP. The VM tracker uses it as a hint; the agent's "migration done" stays
 * authoritative, since any host may send either.
 */
export function findAnnouncement(frame: ParsedFrame): MacAnnouncement | undefined {
  const net = frame.net;
  if (net.type === 'rarp' && isRarpAnnouncement(net.arp)) return { mac: net.arp.senderMac, via: 'rarp' };
  if (net.type === 'arp' && isGratuitousArp(net.arp)) {
    return { mac: net.arp.senderMac, ip: net.arp.senderIp, via: 'gratuitous-arp' };
  }
  return undefined;
}

export function announcesMac(frame: ParsedFrame, mac: string): boolean {
  return findAnnouncement(frame)?.mac === normalizeMac(mac);
}
