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

export function ipv4FromBytes(bytes: Uint8Array, offset = 0): Ipv4Address {
  need(bytes, offset, 4, 'IPv4 address');
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
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
