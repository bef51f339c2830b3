import {
  checkMaxLength,
  checkUint,
  checkUint64,
  concat,
  malformed,
  need,
  put16,
  put32,
  put64,
  u16,
  u32,
  u64,
  u8,
  view,
} from './bytes.ts';
import { ETHERTYPE, buildEthernet } from './ethernet.ts';
import type { MacAddress } from './mac.ts';

/**
 * Nearest-bridge group address: 802.1D bridges never forward it, so a probe seen on a port
 * crossed exactly one link, even past a non-OpenFlow learning switch that would flood others.
 */
export const LLDP_MULTICAST_MAC: MacAddress = '01:80:c2:00:00:0e';

export const LLDP_TLV = {
  END: 0,
  CHASSIS_ID: 1,
  PORT_ID: 2,
  TTL: 3,
  PORT_DESCRIPTION: 4,
  SYSTEM_NAME: 5,
  SYSTEM_DESCRIPTION: 6,
  SYSTEM_CAPABILITIES: 7,
  MANAGEMENT_ADDRESS: 8,
  ORGANIZATION_SPECIFIC: 127,
} as const;

export const LLDP_CHASSIS_SUBTYPE = { MAC_ADDRESS: 4, NETWORK_ADDRESS: 5, INTERFACE_NAME: 6, LOCAL: 7 } as const;
export const LLDP_PORT_SUBTYPE = { MAC_ADDRESS: 3, NETWORK_ADDRESS: 4, INTERFACE_NAME: 5, LOCAL: 7 } as const;

/**
 * The OUI of S-CORE's organisation-specific TLV. Its first octet has the U/L bit set, so it can
 * never be an IEEE-assigned OUI (those have the bit clear), and its low nibble is not 0xA, so it
 * is not a CID either: it is private by construction and cannot collide with any registered
 * vendor's TLV. Another private user could pick the same value; the nonce covers that case.
 */
export const SCORE_LLDP_OUI = 0x025343;
export const SCORE_LLDP_SUBTYPE_PROBE = 1;
export const LLDP_NONCE_LENGTH = 8;
/** 3 OUI + 1 subtype + 8 nonce + 8 dpid + 4 port */
const PROBE_TLV_LENGTH = 24;
/** The IEEE 802.1AB default: 4 x the 30 s transmit interval. */
export const LLDP_DEFAULT_TTL = 120;

export interface LldpId {
  readonly subtype: number;
  /** 1..255 bytes */
  readonly id: Uint8Array;
}

export interface LldpTlv {
  /** 4..126, or 127 for an organisation-specific TLV other than S-CORE's probe */
  readonly type: number;
  /** 0..511 bytes */
  readonly value: Uint8Array;
}

export interface LldpProbeInfo {
  readonly nonce: Uint8Array;
  /** OpenFlow datapath id, 64 bits */
  readonly dpid: bigint;
  /** OpenFlow 1.3 port number, 32 bits */
  readonly port: number;
}

export interface LldpPacket {
  readonly chassisId: LldpId;
  readonly portId: LldpId;
  /** seconds */
  readonly ttl: number;
  readonly systemName?: string;
  /** present when the frame carries S-CORE's probe TLV, whoever sent it */
  readonly probe?: LldpProbeInfo;
  /** every other optional TLV, in frame order */
  readonly extraTlvs: readonly LldpTlv[];
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw malformed(`LLDP: ${message}`, { layer: 'LLDP', ...details });
}

interface RawTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

function readTlv(bytes: Uint8Array, offset: number): RawTlv {
  need(bytes, offset, 2, 'LLDP TLV header');
  const head = u16(bytes, offset);
  const length = head & 0x01ff;
  need(bytes, offset + 2, length, 'LLDP TLV value');
  return { type: head >>> 9, value: view(bytes, offset + 2, offset + 2 + length) };
}

function readId(tlv: RawTlv, expected: number, name: string): LldpId {
  if (tlv.type !== expected) fail(`expected ${name} TLV (type ${expected}), found type ${tlv.type}`);
  if (tlv.value.length < 2 || tlv.value.length > 256) fail(`${name} length ${tlv.value.length} outside 2..256`);
  return { subtype: u8(tlv.value, 0), id: view(tlv.value, 1) };
}

function isProbeTlv(tlv: RawTlv): boolean {
  return (
    tlv.type === LLDP_TLV.ORGANIZATION_SPECIFIC &&
    tlv.value.length >= 4 &&
    ((u16(tlv.value, 0) << 8) | u8(tlv.value, 2)) === SCORE_LLDP_OUI &&
    u8(tlv.value, 3) === SCORE_LLDP_SUBTYPE_PROBE
  );
}

const utf8 = new TextDecoder('utf-8');

/**
 * Strict about what 802.1AB makes mandatory (chassis ID, port ID, TTL first and in that order,
 * End present, no duplicate system name or probe) so that a frame decoded here is unambiguous
 * about who sent it. Bytes after End are Ethernet padding.
 */
export function decodeLldp(bytes: Uint8Array): LldpPacket {
  let off = 0;
  const next = (): RawTlv => {
    const tlv = readTlv(bytes, off);
    off += 2 + tlv.value.length;
    return tlv;
  };
  const chassisId = readId(next(), LLDP_TLV.CHASSIS_ID, 'chassis ID');
  const portId = readId(next(), LLDP_TLV.PORT_ID, 'port ID');
  const ttlTlv = next();
  if (ttlTlv.type !== LLDP_TLV.TTL) fail(`expected TTL TLV (type 3), found type ${ttlTlv.type}`);
  if (ttlTlv.value.length !== 2) fail(`TTL length ${ttlTlv.value.length}, must be 2`);
  const ttl = u16(ttlTlv.value, 0);

  let systemName: string | undefined;
  let probe: LldpProbeInfo | undefined;
  const extraTlvs: LldpTlv[] = [];
  for (;;) {
    const tlv = next();
    if (tlv.type === LLDP_TLV.END) {
      if (tlv.value.length !== 0) fail(`End TLV length ${tlv.value.length}, must be 0`);
      break;
    }
    if (tlv.type === LLDP_TLV.CHASSIS_ID || tlv.type === LLDP_TLV.PORT_ID || tlv.type === LLDP_TLV.TTL) {
      fail(`second mandatory TLV of type ${tlv.type}`);
    }
    if (tlv.type === LLDP_TLV.ORGANIZATION_SPECIFIC && tlv.value.length < 4) {
      fail(`organisation-specific TLV length ${tlv.value.length} below 4`);
    }
    if (tlv.type === LLDP_TLV.SYSTEM_NAME) {
      if (systemName !== undefined) fail('second system name TLV');
      systemName = utf8.decode(tlv.value);
    } else if (isProbeTlv(tlv)) {
      if (probe !== undefined) fail('second S-CORE probe TLV');
      if (tlv.value.length !== PROBE_TLV_LENGTH) fail(`S-CORE probe TLV length ${tlv.value.length}, must be 24`);
      probe = { nonce: view(tlv.value, 4, 12), dpid: u64(tlv.value, 12), port: u32(tlv.value, 20) };
    } else {
      extraTlvs.push({ type: tlv.type, value: tlv.value });
    }
  }
  return {
    chassisId,
    portId,
    ttl,
    ...(systemName !== undefined ? { systemName } : {}),
    ...(probe !== undefined ? { probe } : {}),
    extraTlvs,
  };
}

function tlv(type: number, value: Uint8Array): Uint8Array {
  checkMaxLength(value, 511, `LLDP TLV ${type}`);
  const out = new Uint8Array(2 + value.length);
  put16(out, 0, (type << 9) | value.length);
  out.set(value, 2);
  return out;
}

function idTlv(type: number, id: LldpId, name: string): Uint8Array {
  checkUint(id.subtype, 8, `${name}.subtype`);
  if (id.id.length < 1 || id.id.length > 255) {
    throw malformed(`cannot encode ${name}: id is ${id.id.length} bytes, must be 1..255`, { field: name });
  }
  return tlv(type, concat([Uint8Array.of(id.subtype), id.id]));
}

function checkNonce(nonce: Uint8Array): void {
  if (!(nonce instanceof Uint8Array) || nonce.length !== LLDP_NONCE_LENGTH) {
    throw malformed(`LLDP nonce must be ${LLDP_NONCE_LENGTH} bytes`, { field: 'nonce' });
  }
}

function probeValue(p: LldpProbeInfo): Uint8Array {
  checkNonce(p.nonce);
  checkUint64(p.dpid, 'probe.dpid');
  checkUint(p.port, 32, 'probe.port');
  const v = new Uint8Array(PROBE_TLV_LENGTH);
  v[0] = SCORE_LLDP_OUI >>> 16;
  v[1] = (SCORE_LLDP_OUI >>> 8) & 0xff;
  v[2] = SCORE_LLDP_OUI & 0xff;
  v[3] = SCORE_LLDP_SUBTYPE_PROBE;
  v.set(p.nonce, 4);
  put64(v, 12, p.dpid);
  put32(v, 20, p.port);
  return v;
}

/** The LLDPDU alone (no Ethernet header): mandatory TLVs, system name, probe, extras, End. */
export function encodeLldp(p: LldpPacket): Uint8Array {
  checkUint(p.ttl, 16, 'lldp.ttl');
  const parts = [
    idTlv(LLDP_TLV.CHASSIS_ID, p.chassisId, 'lldp.chassisId'),
    idTlv(LLDP_TLV.PORT_ID, p.portId, 'lldp.portId'),
    tlv(LLDP_TLV.TTL, Uint8Array.of(p.ttl >>> 8, p.ttl & 0xff)),
  ];
  if (p.systemName !== undefined) {
    const name = new TextEncoder().encode(p.systemName);
    checkMaxLength(name, 255, 'lldp.systemName');
    parts.push(tlv(LLDP_TLV.SYSTEM_NAME, name));
  }
  if (p.probe !== undefined) parts.push(tlv(LLDP_TLV.ORGANIZATION_SPECIFIC, probeValue(p.probe)));
  for (const extra of p.extraTlvs) {
    checkUint(extra.type, 7, 'lldp.extraTlvs.type');
    // These would decode into the typed fields (or end the LLDPDU early), not back into extraTlvs.
    const reserved =
      extra.type <= LLDP_TLV.TTL ||
      extra.type === LLDP_TLV.SYSTEM_NAME ||
      (extra.type === LLDP_TLV.ORGANIZATION_SPECIFIC && (extra.value.length < 4 || isProbeTlv(extra)));
    if (reserved) {
      throw malformed(`cannot encode LLDP TLV type ${extra.type} as an extra TLV`, { field: 'lldp.extraTlvs' });
    }
    parts.push(tlv(extra.type, extra.value));
  }
  parts.push(tlv(LLDP_TLV.END, new Uint8Array(0)));
  return concat(parts);
}

export interface LldpProbeOptions {
  /** the sending port's own MAC, from the switch's port description */
  readonly srcMac: MacAddress;
  readonly dpid: bigint;
  readonly port: number;
  /** the controller's per-run secret, 8 bytes, so it can tell its own probes from anyone else's */
  readonly nonce: Uint8Array;
  readonly systemName?: string;
  readonly ttl?: number;
  /** further TLVs after the probe TLV, e.g. the controller's authenticator */
  readonly extraTlvs?: readonly LldpTlv[];
}

function hex16(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}

/**
 * A complete Ethernet frame for packet-out on (dpid, port). Chassis and port IDs follow the
 * usual OpenFlow-controller convention ("dpid:<16 hex>" and the port number, both locally
 * assigned) so Wireshark and `ovs-ofctl` users can read them; only the probe TLV is trusted.
 */
export function buildLldpProbe(o: LldpProbeOptions): Uint8Array {
  checkUint64(o.dpid, 'probe.dpid');
  checkUint(o.port, 32, 'probe.port');
  const text = new TextEncoder();
  const lldp: LldpPacket = {
    chassisId: { subtype: LLDP_CHASSIS_SUBTYPE.LOCAL, id: text.encode(`dpid:${hex16(o.dpid)}`) },
    portId: { subtype: LLDP_PORT_SUBTYPE.LOCAL, id: text.encode(String(o.port)) },
    ttl: o.ttl ?? LLDP_DEFAULT_TTL,
    ...(o.systemName !== undefined ? { systemName: o.systemName } : {}),
    probe: { nonce: o.nonce, dpid: o.dpid, port: o.port },
    extraTlvs: o.extraTlvs ?? [],
  };
  return buildEthernet({ src: o.srcMac, dst: LLDP_MULTICAST_MAC }, ETHERTYPE.LLDP, encodeLldp(lldp), { pad: true });
}

export type LldpProbeVerdict =
  | { readonly accepted: true; readonly dpid: bigint; readonly port: number }
  | { readonly accepted: false; readonly reason: 'no-probe-tlv' | 'nonce-mismatch' };

/**
 * Accepts only probes carrying this controller's nonce. The nonce is not a secret against an
 * attacker on the wire (it travels in clear); it keeps another controller's probes, or our own
 * from a previous run, from being taken as links of this topology.
 */
export function verifyLldpProbe(lldp: LldpPacket, nonce: Uint8Array): LldpProbeVerdict {
  checkNonce(nonce);
  const probe = lldp.probe;
  if (probe === undefined) return { accepted: false, reason: 'no-probe-tlv' };
  let diff = probe.nonce.length ^ nonce.length;
  for (let i = 0; i < nonce.length; i++) diff |= (probe.nonce[i] ?? 0) ^ (nonce[i] ?? 0);
  if (diff !== 0) return { accepted: false, reason: 'nonce-mismatch' };
  return { accepted: true, dpid: probe.dpid, port: probe.port };
}
