import { checkUint, malformed, need, put16, u16, u8 } from './bytes.ts';
import { ETHERTYPE, buildEthernet, type VlanTag } from './ethernet.ts';
import { IPV4_ANY, ipv4FromBytes, ipv4ToBytes, type Ipv4Address } from './ipv4-address.ts';
import { BROADCAST_MAC, ZERO_MAC, macFromBytes, macToBytes, type MacAddress } from './mac.ts';

/** RFC 826 and RFC 903 operation codes. */
export const ARP_OP = {
  REQUEST: 1,
  REPLY: 2,
  RARP_REQUEST: 3,
  RARP_REPLY: 4,
} as const;

export const ARP_LENGTH = 28;

/**
 * An ARP or RARP body for Ethernet/IPv4, the only combination a data-centre controller meets.
 * The same shape serves both EtherTypes (0x0806, 0x8035): RFC 903 reuses the ARP format.
 */
export interface ArpPacket {
  /** see ARP_OP; other values are kept as they are */
  readonly op: number;
  readonly senderMac: MacAddress;
  readonly senderIp: Ipv4Address;
  readonly targetMac: MacAddress;
  readonly targetIp: Ipv4Address;
}

export function decodeArp(bytes: Uint8Array): ArpPacket {
  need(bytes, 0, ARP_LENGTH, 'ARP');
  const htype = u16(bytes, 0);
  const ptype = u16(bytes, 2);
  const hlen = u8(bytes, 4);
  const plen = u8(bytes, 5);
  if (htype !== 1 || ptype !== ETHERTYPE.IPV4 || hlen !== 6 || plen !== 4) {
    const got = `htype ${htype}, ptype 0x${ptype.toString(16)}, hlen ${hlen}, plen ${plen}`;
    throw malformed(`ARP: not Ethernet/IPv4 (${got})`, {
      layer: 'ARP',
      htype,
      ptype,
      hlen,
      plen,
    });
  }
  // Bytes past 28 are Ethernet padding, not part of the packet.
  return {
    op: u16(bytes, 6),
    senderMac: macFromBytes(bytes, 8),
    senderIp: ipv4FromBytes(bytes, 14),
    targetMac: macFromBytes(bytes, 18),
    targetIp: ipv4FromBytes(bytes, 24),
  };
}

export function encodeArp(arp: ArpPacket): Uint8Array {
  checkUint(arp.op, 16, 'arp.op');
  const out = new Uint8Array(ARP_LENGTH);
  put16(out, 0, 1);
  put16(out, 2, ETHERTYPE.IPV4);
  out[4] = 6;
  out[5] = 4;
  put16(out, 6, arp.op);
  out.set(macToBytes(arp.senderMac), 8);
  out.set(ipv4ToBytes(arp.senderIp), 14);
  out.set(macToBytes(arp.targetMac), 18);
  out.set(ipv4ToBytes(arp.targetIp), 24);
  return out;
}

/**
 * A host announcing (or defending) its own address: sender and target IP equal and not 0.0.0.0.
 * Covers the RFC 5227 announcement (request) and the older gratuitous reply. An RFC 5227 probe
 * has sender IP 0.0.0.0 and is deliberately excluded: the prober does not own the address yet.
 */
export function isGratuitousArp(arp: ArpPacket): boolean {
  return (
    (arp.op === ARP_OP.REQUEST || arp.op === ARP_OP.REPLY) && arp.senderIp === arp.targetIp && arp.senderIp !== IPV4_ANY
  );
}

/**
 * A RARP request names its sender as its own target (RFC 903), so it pins that MAC to the port it
 * arrived on whatever the IP fields say; QEMU's post-migration announcement is exactly this with
 * both IPs 0.0.0.0, but requiring the zeros would only miss other hypervisors' announcements.
 */
export function isRarpAnnouncement(arp: ArpPacket): boolean {
  return arp.op === ARP_OP.RARP_REQUEST && arp.senderMac === arp.targetMac;
}

interface Tagging {
  readonly vlans?: readonly VlanTag[];
}

/** Who-has `targetIp`, broadcast. */
export function buildArpRequest(
  args: { senderMac: MacAddress; senderIp: Ipv4Address; targetIp: Ipv4Address } & Tagging,
): Uint8Array {
  const arp = {
    op: ARP_OP.REQUEST,
    senderMac: args.senderMac,
    senderIp: args.senderIp,
    targetMac: ZERO_MAC,
    targetIp: args.targetIp,
  };
  const addressing = { src: args.senderMac, dst: BROADCAST_MAC, vlans: args.vlans ?? [] };
  return buildEthernet(addressing, ETHERTYPE.ARP, encodeArp(arp));
}

/** `senderIp` is-at `senderMac`, unicast to the asker. */
export function buildArpReply(
  args: { senderMac: MacAddress; senderIp: Ipv4Address; targetMac: MacAddress; targetIp: Ipv4Address } & Tagging,
): Uint8Array {
  const arp = { op: ARP_OP.REPLY, ...pick(args) };
  const addressing = { src: args.senderMac, dst: args.targetMac, vlans: args.vlans ?? [] };
  return buildEthernet(addressing, ETHERTYPE.ARP, encodeArp(arp));
}

function pick(a: Omit<ArpPacket, 'op'>): Omit<ArpPacket, 'op'> {
  return { senderMac: a.senderMac, senderIp: a.senderIp, targetMac: a.targetMac, targetIp: a.targetIp };
}

/** RFC 5227 ARP announcement: a broadcast request for one's own address. */
export function buildGratuitousArp(args: { mac: MacAddress; ip: Ipv4Address } & Tagging): Uint8Array {
  const arp = { op: ARP_OP.REQUEST, senderMac: args.mac, senderIp: args.ip, targetMac: ZERO_MAC, targetIp: args.ip };
  return buildEthernet({ src: args.mac, dst: BROADCAST_MAC, vlans: args.vlans ?? [] }, ETHERTYPE.ARP, encodeArp(arp));
}

/**
 * Byte-for-byte the frame QEMU sends after a live migration (net/announce.c, announce_self_create):
 * broadcast, source = VM MAC, RARP request with sender = target = VM MAC, IPs 0.0.0.0, zero-padded
 * to 60 bytes. Used by the simulated data plane and tests to stand in for a real hypervisor.
 */
export function buildRarpAnnouncement(mac: MacAddress, options: Tagging = {}): Uint8Array {
  const arp = { op: ARP_OP.RARP_REQUEST, senderMac: mac, senderIp: IPV4_ANY, targetMac: mac, targetIp: IPV4_ANY };
  return buildEthernet({ src: mac, dst: BROADCAST_MAC, vlans: options.vlans ?? [] }, ETHERTYPE.RARP, encodeArp(arp), {
    pad: true,
  });
}
