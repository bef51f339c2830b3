/**
 * OXM match fields (OpenFlow 1.3 section 7.2.3). Basic-class fields are typed; every other class
 * (Nicira NXM, experimenter, basic fields newer than 1.3) is kept as raw payload bytes so a
 * message from a switch that speaks extensions still decodes and re-encodes byte for byte.
 */
import { ScoreError } from '../errors/errors.ts';
import * as K from './constants.ts';
import { type Reader, type Writer } from './bytes.ts';
import * as bytesMod from './bytes.ts';

// Under tsx (esbuild), every use of an imported binding is a getter call; the hot paths read
// module-local copies instead.
const { badLength, formatIpv4, formatIpv6, formatMac, parseIpv4, parseIpv6Into, parseMacInto } = bytesMod;
const { OFPMT_OXM, OFPXMC } = K;

type Kind = 'uint' | 'u64' | 'mac' | 'ipv4' | 'ipv6';

const FIELD_DEFS = [
  ['in_port', 4, 'uint'],
  ['in_phy_port', 4, 'uint'],
  ['metadata', 8, 'u64'],
  ['eth_dst', 6, 'mac'],
  ['eth_src', 6, 'mac'],
  ['eth_type', 2, 'uint'],
  ['vlan_vid', 2, 'uint'],
  ['vlan_pcp', 1, 'uint'],
  ['ip_dscp', 1, 'uint'],
  ['ip_ecn', 1, 'uint'],
  ['ip_proto', 1, 'uint'],
  ['ipv4_src', 4, 'ipv4'],
  ['ipv4_dst', 4, 'ipv4'],
  ['tcp_src', 2, 'uint'],
  ['tcp_dst', 2, 'uint'],
  ['udp_src', 2, 'uint'],
  ['udp_dst', 2, 'uint'],
  ['sctp_src', 2, 'uint'],
  ['sctp_dst', 2, 'uint'],
  ['icmpv4_type', 1, 'uint'],
  ['icmpv4_code', 1, 'uint'],
  ['arp_op', 2, 'uint'],
  ['arp_spa', 4, 'ipv4'],
  ['arp_tpa', 4, 'ipv4'],
  ['arp_sha', 6, 'mac'],
  ['arp_tha', 6, 'mac'],
  ['ipv6_src', 16, 'ipv6'],
  ['ipv6_dst', 16, 'ipv6'],
  ['ipv6_flabel', 4, 'uint'],
  ['icmpv6_type', 1, 'uint'],
  ['icmpv6_code', 1, 'uint'],
  ['ipv6_nd_target', 16, 'ipv6'],
  ['ipv6_nd_sll', 6, 'mac'],
  ['ipv6_nd_tll', 6, 'mac'],
  ['mpls_label', 4, 'uint'],
  ['mpls_tc', 1, 'uint'],
  ['mpls_bos', 1, 'uint'],
  ['pbb_isid', 3, 'uint'],
  ['tunnel_id', 8, 'u64'],
  ['ipv6_exthdr', 2, 'uint'],
] as const satisfies readonly (readonly [string, number, Kind])[];

type FieldDef = (typeof FIELD_DEFS)[number];
export type OxmFieldName = FieldDef[0];
type ValueOfKind<K extends Kind> = K extends 'u64' ? bigint : K extends 'uint' ? number : string;
type DefOf<N extends OxmFieldName> = Extract<FieldDef, readonly [N, ...unknown[]]>;
export type OxmValueOf<N extends OxmFieldName> = ValueOfKind<DefOf<N>[2]>;

/** A basic-class field: numbers for integers, bigint for 64-bit ones, strings for addresses. */
export type OxmBasic = {
  [N in OxmFieldName]: { field: N; value: OxmValueOf<N>; mask?: OxmValueOf<N> };
}[OxmFieldName];

/** Any other OXM TLV, kept as its payload (value, mask and, for class 0xffff, experimenter id). */
export interface OxmRaw {
  field: 'raw';
  oxmClass: number;
  oxmField: number;
  hasMask: boolean;
  payload: Uint8Array;
}

export type OxmField = OxmBasic | OxmRaw;
export type Match = OxmField[];

interface Spec {
  readonly name: OxmFieldName;
  readonly code: number;
  readonly size: number;
  readonly kind: Kind;
}

export const OXM_FIELDS: readonly Spec[] = FIELD_DEFS.map(([name, size, kind], code) => ({ name, size, kind, code }));
const BY_NAME = new Map<string, Spec>(OXM_FIELDS.map((s) => [s.name, s]));
/** Indexed by field number; holes for unassigned numbers. */
const BY_CODE: (Spec | undefined)[] = [];
for (const s of OXM_FIELDS) BY_CODE[s.code] = s;

export function oxmSpec(name: string): Spec | undefined {
  return BY_NAME.get(name);
}

function readValue(r: Reader, spec: Spec): number | bigint | string {
  switch (spec.kind) {
    case 'uint':
      return spec.size === 1 ? r.u8() : spec.size === 2 ? r.u16() : spec.size === 3 ? r.u24() : r.u32();
    case 'u64':
      return r.u64();
    case 'mac': {
      const s = formatMac(r.buf, r.pos);
      r.pos += 6;
      return s;
    }
    case 'ipv4':
      return formatIpv4(r.u32());
    case 'ipv6': {
      const s = formatIpv6(r.buf, r.pos);
      r.pos += 16;
      return s;
    }
  }
}

function badValue(spec: Spec, v: unknown): ScoreError {
  return new ScoreError('OF_ENCODE', `OXM ${spec.name}: bad value`, {
    field: spec.name,
    value: typeof v === 'bigint' ? v.toString() : v,
  });
}

function writeValue(w: Writer, spec: Spec, v: unknown): void {
  switch (spec.kind) {
    case 'uint':
      if (typeof v !== 'number') throw badValue(spec, v);
      if (spec.size === 1) w.u8(v, spec.name);
      else if (spec.size === 2) w.u16(v, spec.name);
      else if (spec.size === 3) w.u24(v, spec.name);
      else w.u32(v, spec.name);
      return;
    case 'u64':
      w.u64(v as bigint, spec.name);
      return;
    case 'mac':
      w.ensure(6);
      if (!parseMacInto(v as string, w.buf, w.pos)) throw badValue(spec, v);
      w.pos += 6;
      return;
    case 'ipv4': {
      const n = parseIpv4(v as string);
      if (n < 0) throw badValue(spec, v);
      w.u32(n, spec.name);
      return;
    }
    case 'ipv6':
      w.ensure(16);
      if (!parseIpv6Into(v as string, w.buf, w.pos)) throw badValue(spec, v);
      w.pos += 16;
      return;
  }
}

/** One OXM TLV at the reader's position. */
export function readOxm(r: Reader): OxmField {
  r.need(4, 'oxm header');
  const oxmClass = r.u16();
  const fh = r.u8();
  const len = r.u8();
  const oxmField = fh >>> 1;
  const hasMask = (fh & 1) === 1;
  r.need(len, 'oxm payload');
  const spec = oxmClass === OFPXMC.OPENFLOW_BASIC ? BY_CODE[oxmField] : undefined;
  if (spec === undefined) {
    return { field: 'raw', oxmClass, oxmField, hasMask, payload: r.bytes(len) };
  }
  if (len !== (hasMask ? 2 * spec.size : spec.size)) {
    throw badLength(`oxm ${spec.name}`, len, { expected: hasMask ? 2 * spec.size : spec.size });
  }
  const value = readValue(r, spec);
  if (hasMask) return { field: spec.name, value, mask: readValue(r, spec) } as OxmBasic;
  return { field: spec.name, value } as OxmBasic;
}

export function writeOxm(w: Writer, f: OxmField): void {
  if (f.field === 'raw') {
    w.u16(f.oxmClass, 'oxm class');
    w.u8(((f.oxmField << 1) | (f.hasMask ? 1 : 0)) & 0xff, 'oxm field');
    if (f.oxmField > 0x7f || f.oxmField < 0) throw new ScoreError('OF_ENCODE', 'oxm field number over 127', { oxmField: f.oxmField });
    w.u8(f.payload.length, 'oxm length');
    w.bytes(f.payload, 'oxm payload');
    return;
  }
  const spec = BY_NAME.get(f.field);
  if (spec === undefined) throw new ScoreError('OF_ENCODE', `unknown OXM field ${String(f.field)}`, { field: f.field });
  const hasMask = f.mask !== undefined;
  w.ensure(4 + 2 * spec.size);
  // class, field, has-mask bit and length in one 32-bit word
  w.dv.setUint32(w.pos, ((OFPXMC.OPENFLOW_BASIC << 16) | (spec.code << 9) | (hasMask ? 0x100 : 0) | (hasMask ? 2 * spec.size : spec.size)) >>> 0);
  w.pos += 4;
  writeValue(w, spec, f.value);
  if (hasMask) writeValue(w, spec, f.mask);
}

/** ofp_match (type OXM): fields until its length, then padding to 8. */
export function readMatch(r: Reader): Match {
  r.need(4, 'match header');
  const start = r.pos;
  const type = r.u16();
  const len = r.u16();
  if (type !== OFPMT_OXM) {
    throw new ScoreError('OF_UNKNOWN_TYPE', `match type ${type} is not OXM`, { matchType: type, offset: start });
  }
  if (len < 4) throw badLength('match', len);
  const padded = (len + 7) & ~7;
  r.need(padded - 4, 'match');
  const fields: Match = [];
  const savedEnd = r.end;
  r.end = start + len;
  while (r.pos < r.end) fields.push(readOxm(r));
  r.end = savedEnd;
  r.pos = start + padded;
  return fields;
}

export function writeMatch(w: Writer, m: Match): void {
  const start = w.pos;
  w.ensure(4);
  w.u16(OFPMT_OXM, 'match type');
  w.u16(0, 'match length');
  for (let i = 0; i < m.length; i++) writeOxm(w, m[i] as OxmField);
  w.patch16(start + 2, w.pos - start, 'match length');
  w.pad8(start);
}
