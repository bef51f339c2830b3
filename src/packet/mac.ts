import { malformed, need } from './bytes.ts';

/** Always the normalised form `aa:bb:cc:dd:ee:ff` (lower-case, colons) when produced here. */
export type MacAddress = string;

export const BROADCAST_MAC: MacAddress = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC: MacAddress = '00:00:00:00:00:00';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The value of one hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  const l = c | 0x20; // A-F -> a-f
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * Octet `i` of a MAC written `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (either case), or -1 when
 * `text` is not one. Colon or dash separated, as printed by ip(8), ovs-ofctl and Windows
 * respectively; mixed separators are rejected because they are always a typo. By hand rather than
 * by a regular expression: the controller checks the MACs of every packet-in.
 */
function octet(text: string, i: number): number {
  const hi = hexDigit(text.charCodeAt(i * 3));
  const lo = hexDigit(text.charCodeAt(i * 3 + 1));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

export function isValidMac(text: string): boolean {
  if (typeof text !== 'string' || text.length !== 17) return false;
  const sep = text.charCodeAt(2);
  if (sep !== 0x3a && sep !== 0x2d) return false; // ':' or '-'
  for (let i = 0; i < 6; i++) {
    if (octet(text, i) < 0) return false;
    if (i < 5 && text.charCodeAt(i * 3 + 2) !== sep) return false;
  }
  return true;
}

function invalid(mac: unknown): never {
  throw malformed(`not a MAC address: ${JSON.stringify(mac)}`, { field: 'mac', value: mac });
}

export function macToBytes(mac: string): Uint8Array {
  if (!isValidMac(mac)) invalid(mac);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = octet(mac, i);
  return out;
}

/**
 * The last MAC strings made, in a direct-mapped table of `MAC_SLOTS` slots: per slot a 48-bit
 * value (a double holds it exactly) and its string. A packet-in's two MACs are nearly always
 * hosts seen before. Returning the string made then, not a new one, saves its eleven
 * concatenations, and the host and path tables, whose keys are those very strings, find them by
 * identity with their hash already computed (a new string is flattened and hashed at each lookup).
 * Bounded: a flood of new MACs only overwrites slots (64 Ki slots; about 9 MiB with every slot filled, measured, the strings being kept as built).
 */
const MAC_SLOTS = 1 << 16;
const slotValue = new Float64Array(MAC_SLOTS).fill(-1);
const slotText: MacAddress[] = new Array<MacAddress>(MAC_SLOTS).fill('');

export function macFromBytes(bytes: Uint8Array, offset = 0): MacAddress {
  need(bytes, offset, 6, 'MAC address');
  const hi = ((bytes[offset] as number) << 16) | ((bytes[offset + 1] as number) << 8) | (bytes[offset + 2] as number);
  const lo = ((bytes[offset + 3] as number) << 16) | ((bytes[offset + 4] as number) << 8) | (bytes[offset + 5] as number);
  const value = hi * 0x1000000 + lo;
  // hosts often differ in the last octets only: mix both halves so they spread over the slots
  const slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 16;
  if (slotValue[slot] === value) return slotText[slot] as MacAddress;
  let s = HEX[bytes[offset] ?? 0] ?? '';
  for (let i = 1; i < 6; i++) s += ':' + (HEX[bytes[offset + i] ?? 0] ?? '');
  slotValue[slot] = value;
  slotText[slot] = s;
  return s;
}

/** Already `aa:bb:cc:dd:ee:ff` with lower-case digits (what every MAC made here looks like). */
function isNormal(mac: string): boolean {
  for (let i = 0; i < 17; i++) {
    const c = mac.charCodeAt(i);
    if (i % 3 === 2 ? c !== 0x3a : !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

export function normalizeMac(mac: string): MacAddress {
  if (!isValidMac(mac)) invalid(mac);
  return isNormal(mac) ? mac : macFromBytes(macToBytes(mac));
}

function firstOctet(mac: string): number {
  if (!isValidMac(mac)) invalid(mac);
  return octet(mac, 0);
}

/** The I/G bit: set for group (multicast) addresses, which includes broadcast. */
export function isMulticastMac(mac: string): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

export function isBroadcastMac(mac: string): boolean {
  if (!isValidMac(mac)) invalid(mac);
  for (let i = 0; i < 6; i++) if (octet(mac, i) !== 0xff) return false;
  return true;
}

/** Individual (not group), not all-zero: the only kind a host or VM may own. */
export function isUnicastMac(mac: string): boolean {
  if (isMulticastMac(mac)) return false;
  for (let i = 0; i < 6; i++) if (octet(mac, i) !== 0) return true;
  return false;
}

/** The U/L bit: set for addresses assigned locally rather than from an IEEE OUI. */
export function isLocallyAdministeredMac(mac: string): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}
