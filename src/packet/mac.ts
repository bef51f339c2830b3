import { malformed, need } from './bytes.ts';

/** Always the normalised form `aa:bb:cc:dd:ee:ff` (lower-case, colons) when produced here. */
export type MacAddress = string;

export const BROADCAST_MAC: MacAddress = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC: MacAddress = '00:00:00:00:00:00';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
// Colon or dash separated, as printed by ip(8), ovs-ofctl and Windows respectively; mixed
// separators are rejected because they are always a typo.
const MAC_RE = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;

export function isValidMac(text: string): boolean {
  return typeof text === 'string' && MAC_RE.test(text);
}

export function macToBytes(mac: string): Uint8Array {
  const m = typeof mac === 'string' ? MAC_RE.exec(mac) : null;
  if (!m) throw malformed(`not a MAC address: ${JSON.stringify(mac)}`, { field: 'mac', value: mac });
  return Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]], (h) => parseInt(h ?? '', 16));
}

export function macFromBytes(bytes: Uint8Array, offset = 0): MacAddress {
  need(bytes, offset, 6, 'MAC address');
  let s = HEX[bytes[offset] ?? 0] ?? '';
  for (let i = 1; i < 6; i++) s += ':' + (HEX[bytes[offset + i] ?? 0] ?? '');
  return s;
}

export function normalizeMac(mac: string): MacAddress {
  return macFromBytes(macToBytes(mac));
}

function firstOctet(mac: string): number {
  return macToBytes(mac)[0] ?? 0;
}

/** The I/G bit: set for group (multicast) addresses, which includes broadcast. */
export function isMulticastMac(mac: string): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

export function isBroadcastMac(mac: string): boolean {
  return normalizeMac(mac) === BROADCAST_MAC;
}

/** Individual (not group), not all-zero: the only kind a host or VM may own. */
export function isUnicastMac(mac: string): boolean {
  return !isMulticastMac(mac) && normalizeMac(mac) !== ZERO_MAC;
}

/** The U/L bit: set for addresses assigned locally rather than from an IEEE OUI. */
export function isLocallyAdministeredMac(mac: string): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}
