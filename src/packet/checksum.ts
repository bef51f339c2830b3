import { ipv4ToBytes, type Ipv4Address } from './ipv4-address.ts';

/**
 * RFC 1071 one's-complement sum, folded and inverted. A region that already holds its correct
 * checksum sums to 0, which is how decoders verify without zeroing the field first.
 * `initial` lets a pseudo-header sum be carried in without concatenating buffers; `start` and
 * `end` (byte offsets, end exclusive) sum a part of `data` without a view of it.
 */
export function internetChecksum(data: Uint8Array, initial = 0, start = 0, end = data.length): number {
  let sum = initial;
  const even = start + ((end - start) & ~1);
  for (let i = start; i < even; i += 2) sum += ((data[i] ?? 0) << 8) | (data[i + 1] ?? 0);
  if (even !== end) sum += (data[even] ?? 0) << 8;
  // Folding twice is enough for any input up to 2^16 words; loop anyway so no length can break it.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/**
 * TCP/UDP checksum over the IPv4 pseudo-header and the segment. Returns 0 for a segment whose
 * checksum field is already right; with the field zeroed it returns the value to write.
 */
export function transportChecksum(src: Ipv4Address, dst: Ipv4Address, protocol: number, segment: Uint8Array): number {
  const s = ipv4ToBytes(src);
  const d = ipv4ToBytes(dst);
  const pseudo =
    (((s[0] ?? 0) << 8) | (s[1] ?? 0)) +
    (((s[2] ?? 0) << 8) | (s[3] ?? 0)) +
    (((d[0] ?? 0) << 8) | (d[1] ?? 0)) +
    (((d[2] ?? 0) << 8) | (d[3] ?? 0)) +
    protocol +
    segment.length;
  return internetChecksum(segment, pseudo);
}
