import { ScoreError } from '../errors/errors.ts';

/**
 * Bounds-checked reads and range-checked writes shared by every layer. Each decoder checks
 * lengths through `need` before it reads, so a short or lying frame becomes a PACKET_MALFORMED
 * error instead of a RangeError or a silently-zero field.
 *
 * Encoders reuse PACKET_MALFORMED for out-of-range input: the errors module (owned elsewhere) has
 * no packet-encode code, and a value that cannot be encoded describes a packet that cannot exist.
 */
export function malformed(message: string, details: Record<string, unknown> = {}, cause?: unknown): ScoreError {
  return new ScoreError('PACKET_MALFORMED', message, details, cause === undefined ? undefined : { cause });
}

export function need(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (offset + length > bytes.length) {
    throw malformed(`${what}: needs ${length} bytes at offset ${offset}, frame has ${bytes.length}`, {
      layer: what,
      offset,
      needed: length,
      available: bytes.length,
    });
  }
}

export function u8(bytes: Uint8Array, offset: number): number {
  return bytes[offset] ?? 0;
}

export function u16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

export function u32(bytes: Uint8Array, offset: number): number {
  return (u16(bytes, offset) * 0x10000 + u16(bytes, offset + 2)) >>> 0;
}

export function u64(bytes: Uint8Array, offset: number): bigint {
  return (BigInt(u32(bytes, offset)) << 32n) | BigInt(u32(bytes, offset + 4));
}

export function put16(out: Uint8Array, offset: number, value: number): void {
  out[offset] = (value >>> 8) & 0xff;
  out[offset + 1] = value & 0xff;
}

export function put32(out: Uint8Array, offset: number, value: number): void {
  put16(out, offset, Math.floor(value / 0x10000));
  put16(out, offset + 2, value & 0xffff);
}

export function put64(out: Uint8Array, offset: number, value: bigint): void {
  put32(out, offset, Number(value >> 32n));
  put32(out, offset + 4, Number(value & 0xffffffffn));
}

/**
 * A plain Uint8Array view (no copy) even when the input is a Node Buffer, so decoded payloads
 * compare equal to encoder input under deepStrictEqual and callers never get Buffer semantics
 * they did not ask for. Views alias the input: mutate the frame and the payload changes too.
 */
export function view(bytes: Uint8Array, start: number, end: number = bytes.length): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

export function checkUint(value: number, bits: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw malformed(`cannot encode ${field}=${String(value)}: not an unsigned ${bits}-bit integer`, { field, value });
  }
}

export function checkUint64(value: bigint, field: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) {
    throw malformed(`cannot encode ${field}=${String(value)}: not an unsigned 64-bit integer`, { field, value });
  }
}

export function checkMaxLength(bytes: Uint8Array, max: number, field: string): void {
  if (bytes.length > max) {
    throw malformed(`cannot encode ${field}: ${bytes.length} bytes, at most ${max}`, {
      field,
      length: bytes.length,
      max,
    });
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
