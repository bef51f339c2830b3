import { malformed, need } from './bytes.ts';

/** Dotted-quad without leading zeros, e.g. `10.0.0.1`, when produced here. */
export type Ipv4Address = string;

export const IPV4_ANY: Ipv4Address = '0.0.0.0';

// Leading zeros are refused: inet_aton reads "010" as octal 8, so accepting it would make the
// same text mean different addresses to us and to system tools.
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function isValidIpv4(text: string): boolean {
  return typeof text === 'string' && IPV4_RE.test(text);
}

export function ipv4ToBytes(ip: string): Uint8Array {
  const m = typeof ip === 'string' ? IPV4_RE.exec(ip) : null;
  if (!m) throw malformed(`not an IPv4 address: ${JSON.stringify(ip)}`, { field: 'ipv4', value: ip });
  return Uint8Array.from(m.slice(1, 5), (o) => Number(o));
}

/**
 * The last address strings made, in a direct-mapped table of `IPV4_SLOTS` slots: per slot the
 * 32-bit address and its string (-1: empty). Every IPv4 packet-in reads two addresses, nearly
 * always of hosts seen before: the string made then is returned, so the host table's IP lookups
 * find it by identity with its hash computed, and no new string is formatted. Bounded (64 Ki
 * slots): new addresses only overwrite slots.
 */
const IPV4_SLOTS = 1 << 16;
const slotValue = new Float64Array(IPV4_SLOTS).fill(-1);
const slotText: Ipv4Address[] = new Array<Ipv4Address>(IPV4_SLOTS).fill('');

export function ipv4FromBytes(bytes: Uint8Array, offset = 0): Ipv4Address {
  need(bytes, offset, 4, 'IPv4 address');
  const value = ((bytes[offset] as number) * 0x1000000 + (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number)));
  const slot = Math.imul(value | 0, 0x9e3779b1) >>> 16;
  if (slotValue[slot] === value) return slotText[slot] as Ipv4Address;
  const text = `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
  slotValue[slot] = value;
  slotText[slot] = text;
  return text;
}

/** As an unsigned 32-bit number, for prefix arithmetic and OpenFlow match fields. */
export function ipv4ToNumber(ip: string): number {
  const b = ipv4ToBytes(ip);
  return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
}

export function ipv4FromNumber(n: number): Ipv4Address {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw malformed(`not an unsigned 32-bit IPv4 address: ${String(n)}`, { field: 'ipv4', value: n });
  }
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}
