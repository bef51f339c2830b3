/**
 * Pure packet codecs for the OpenFlow controller: bytes in, typed objects out, and back.
 * Every decoding failure is a ScoreError with code PACKET_MALFORMED; so is an encoder given a
 * value its field cannot hold.
 */
export {
  BROADCAST_MAC,
  ZERO_MAC,
  isBroadcastMac,
  isLocallyAdministeredMac,
  isMulticastMac,
  isUnicastMac,
  isValidMac,
  macFromBytes,
  macToBytes,
  normalizeMac,
} from './mac.ts';
export type { MacAddress } from './mac.ts';

export { IPV4_ANY, ipv4FromBytes, ipv4FromNumber, ipv4ToBytes, ipv4ToNumber, isValidIpv4 } from './ipv4-address.ts';
export type { Ipv4Address } from './ipv4-address.ts';

export { internetChecksum, transportChecksum } from './checksum.ts';

export {
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME,
  ETHERTYPE,
  ETHERTYPE_MIN,
  buildEthernet,
  decodeEthernet,
  encodeEthernet,
  ethertypeOf,
} from './ethernet.ts';
export type { EncodeEthernetOptions, EthernetFrame, FrameAddressing, VlanTag, VlanTpid } from './ethernet.ts';

export {
  ARP_LENGTH,
  ARP_OP,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildRarpAnnouncement,
  decodeArp,
  encodeArp,
  isGratuitousArp,
  isRarpAnnouncement,
} from './arp.ts';
export type { ArpPacket } from './arp.ts';

export { IPV4_MAX_OPTIONS, IPV4_MIN_HEADER, IP_PROTOCOL, decodeIpv4, encodeIpv4, isFragment } from './ipv4.ts';
export type { Ipv4Fields, Ipv4Packet } from './ipv4.ts';

export { TCP_FLAG, TCP_MIN_HEADER, decodeTcp, encodeTcp } from './tcp.ts';
export type { PseudoHeader, TcpSegment } from './tcp.ts';

export { UDP_HEADER, decodeUdp, encodeUdp } from './udp.ts';
export type { UdpDatagram } from './udp.ts';

export { ICMP_TYPE, decodeIcmp, encodeIcmp } from './icmp.ts';
export type { IcmpMessage, IcmpPacket } from './icmp.ts';

export {
  LLDP_CHASSIS_SUBTYPE,
  LLDP_DEFAULT_TTL,
  LLDP_MULTICAST_MAC,
  LLDP_NONCE_LENGTH,
  LLDP_PORT_SUBTYPE,
  LLDP_TLV,
  SCORE_LLDP_OUI,
  SCORE_LLDP_SUBTYPE_PROBE,
  buildLldpProbe,
  decodeLldp,
  encodeLldp,
  verifyLldpProbe,
} from './lldp.ts';
export type { LldpId, LldpPacket, LldpProbeInfo, LldpProbeOptions, LldpProbeVerdict, LldpTlv } from './lldp.ts';

export { announcesMac, findAnnouncement, parseFrame } from './frame.ts';
export type { MacAnnouncement, NetworkLayer, ParseOptions, ParsedFrame, TransportLayer } from './frame.ts';
