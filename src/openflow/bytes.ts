/**
 * Byte reader and writer for the codec. The reader checks bounds once per fixed-size structure
 * (`need`) and then reads without checks, so malformed input becomes an OF_TRUNCATED ScoreError
 * instead of a RangeError. A Reader serves one decodeMessage call and is dropped on the first
 * error, so nested bounds are narrowed and restored without try/finally. The writer grows a single buffer and back-patches length fields, so
 * encoding never needs a sizing pass.
 */
import { ScoreError } from '../errors/errors.ts';

export class Reader {
  readonly buf: Uint8Array;
  readonly dv: DataView;
  pos: number;
  /** Exclusive bound of the structure being read; nested structures narrow it. */
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      throw new ScoreError('OF_TRUNCATED', `${what}: need ${n} bytes, ${this.end - this.pos} left`, {
        structure: what,
        offset: this.pos,
        needed: n,
        available: this.end - this.pos,
      });
    }
  }

  u8(): number {
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    const v = this.dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    const v = ((this.buf[this.pos] as number) << 16) | this.dv.getUint16(this.pos + 1);
    this.pos += 3;
    return v;
  }
  u32(): number {
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    // zero (a PACKET_IN's cookie from the table-miss rule, most masks) without a new BigInt
    if (this.dv.getUint32(this.pos) === 0 && this.dv.getUint32(this.pos + 4) === 0) {
      this.pos += 8;
      return 0n;
    }
    const v = this.dv.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  skip(n: number): void {
    this.pos += n;
  }
  /**
   * A copy, so decoded messages never alias a buffer the caller may reuse. Up to SLAB_MAX_RESULT
   * bytes the copy goes into the slab Writer.result uses too (as Node's Buffer pool does), not a
   * new array of its own.
   * A PACKET_IN's frame is this copy, and every layer of its parse is a view of it: a small
   * array of its own is allocated inside V8's heap, and the first view of it (its `.buffer`)
   * moves it out again, a second allocation and copy. Each copy is its own range of the slab;
   * a slab lives as long as any copy in it.
   */
  bytes(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const out = copyOut(this.buf, this.pos, n);
    this.pos += n;
    return out;
  }
  rest(): Uint8Array {
    return this.bytes(this.end - this.pos);
  }
  /** A fixed-size, NUL-padded UTF-8 string field. */
  str(n: number): string {
    const start = this.pos;
    let stop = start;
    const limit = start + n;
    while (stop < limit && this.buf[stop] !== 0) stop++;
    this.pos = limit;
    let ascii = true;
    for (let i = start; i < stop; i++) if ((this.buf[i] as number) > 0x7f) ascii = false;
    if (ascii) {
      let s = '';
      for (let i = start; i < stop; i++) s += String.fromCharCode(this.buf[i] as number);
      return s;
    }
    return textDecoder.decode(this.buf.subarray(start, stop));
  }

  /**
   * Reads a sub-structure whose own header says `len` bytes starting at `start`: narrows the
   * bound, runs `fn`, restores the bound and moves past the structure.
   */
  within<T>(start: number, len: number, what: string, fn: () => T): T {
    if (start + len > this.end) {
      throw new ScoreError('OF_BAD_LENGTH', `${what}: length ${len} runs past its container`, {
        structure: what,
        offset: start,
        length: len,
        available: this.end - start,
      });
    }
    // No try/finally: a throw abandons the whole Reader, so there is no state to restore, and
    // every finally would rethrow (a rethrow costs about as much as the throw).
    const saved = this.end;
    this.end = start + len;
    const value = fn();
    this.end = saved;
    this.pos = start + len;
    return value;
  }
}

// Empty byte fields are common (ids in table features, empty data); a zero-length array cannot
// be written to, so one frozen instance serves them all.
const EMPTY: Uint8Array = Object.freeze(new Uint8Array(0));

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

export function badLength(what: string, length: number, details: Record<string, unknown> = {}): ScoreError {
  return new ScoreError('OF_BAD_LENGTH', `${what}: impossible length ${length}`, { structure: what, length, ...details });
}

function encodeError(what: string, value: unknown): ScoreError {
  return new ScoreError('OF_ENCODE', `${what}: value out of range or of the wrong type`, {
    field: what,
    value: typeof value === 'bigint' ? value.toString() : value,
  });
}

export class Writer {
  buf: Uint8Array;
  dv: DataView;
  pos = 0;

  constructor(size = 1024) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(v: number, what: string): void {
    if (!((v & 0xff) === v)) throw encodeError(what, v);
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number, what: string): void {
    if (!((v & 0xffff) === v)) throw encodeError(what, v);
    this.ensure(2);
    this.dv.setUint16(this.pos, v);
    this.pos += 2;
  }
  u24(v: number, what: string): void {
    if (!((v & 0xffffff) === v)) throw encodeError(what, v);
    this.ensure(3);
    this.buf[this.pos] = v >>> 16;
    this.dv.setUint16(this.pos + 1, v & 0xffff);
    this.pos += 3;
  }
  u32(v: number, what: string): void {
    if (!(v >>> 0 === v)) throw encodeError(what, v);
    this.ensure(4);
    this.dv.setUint32(this.pos, v);
    this.pos += 4;
  }
  u64(v: bigint, what: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw encodeError(what, v);
    this.ensure(8);
    this.dv.setBigUint64(this.pos, v);
    this.pos += 8;
  }
  bytes(b: Uint8Array, what: string): void {
    if (!(b instanceof Uint8Array)) throw encodeError(what, typeof b);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  zeros(n: number): void {
    this.ensure(n);
    // A loop beats fill() for the few bytes of padding structures have.
    for (let i = 0; i < n; i++) this.buf[this.pos + i] = 0;
    this.pos += n;
  }
  /** Zero bytes up to the next multiple of 8 counted from `start`. */
  pad8(start: number): void {
    const over = (this.pos - start) & 7;
    if (over !== 0) this.zeros(8 - over);
  }
  /** A fixed-size field holding a UTF-8 string, NUL padded. */
  str(s: string, n: number, what: string): void {
    if (typeof s !== 'string') throw encodeError(what, s);
    this.ensure(n);
    let ascii = s.length <= n;
    if (ascii) for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f || s.charCodeAt(i) === 0) ascii = false;
    if (ascii) {
      for (let i = 0; i < s.length; i++) this.buf[this.pos + i] = s.charCodeAt(i);
      this.buf.fill(0, this.pos + s.length, this.pos + n);
    } else {
      const b = textEncoder.encode(s);
      if (b.length > n) throw encodeError(what, s);
      this.buf.set(b, this.pos);
      this.buf.fill(0, this.pos + b.length, this.pos + n);
    }
    this.pos += n;
  }
  /** Writes a 16-bit length computed after the structure was written. */
  patch16(at: number, v: number, what: string): void {
    if (v > 0xffff) throw new ScoreError('OF_ENCODE', `${what}: length ${v} does not fit in 16 bits`, { field: what, length: v });
    this.dv.setUint16(at, v);
  }
  /**
   * A copy of what was written. Small results are views into a shared slab (as Node's Buffer
   * pool does): allocating a fresh small typed array costs more than encoding a flow-mod.
   * Their `.buffer` is the slab, so use byteOffset/byteLength when going through it.
   */
  result(): Uint8Array {
    return copyOut(this.buf, 0, this.pos);
  }
}

const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_RESULT = 2048;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

/**
 * A copy of `n` bytes of `buf` from `start`: up to SLAB_MAX_RESULT bytes a range of the shared
 * slab (Reader.bytes, Writer.result), beyond it an array of its own.
 */
function copyOut(buf: Uint8Array, start: number, n: number): Uint8Array {
  if (n > SLAB_MAX_RESULT) return buf.slice(start, start + n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  out.set(buf.subarray(start, start + n));
  // 8-byte aligned, as a fresh array would be (a DataView over it reads alike either way)
  slabUsed += (n + 7) & ~7;
  return out;
}

// ---- addresses: the codec shows MACs and IPs as strings, the form operators read and type ----

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

export function formatMac(buf: Uint8Array, off: number): string {
  return `${HEX[buf[off] as number]}:${HEX[buf[off + 1] as number]}:${HEX[buf[off + 2] as number]}:${HEX[buf[off + 3] as number]}:${HEX[buf[off + 4] as number]}:${HEX[buf[off + 5] as number]}`;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Writes "aa:bb:cc:dd:ee:ff" (also '-' separated) as 6 bytes; false if it is not a MAC. */
export function parseMacInto(s: string, out: Uint8Array, off: number): boolean {
  if (typeof s !== 'string' || s.length !== 17) return false;
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(s.charCodeAt(i * 3));
    const lo = hexDigit(s.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0) return false;
    if (i < 5) {
      const sep = s.charCodeAt(i * 3 + 2);
      if (sep !== 58 && sep !== 45) return false;
    }
    out[off + i] = (hi << 4) | lo;
  }
  return true;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** The 32-bit value of a dotted quad, or -1. */
export function parseIpv4(s: string): number {
  if (typeof s !== 'string') return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return -1;
    } else return -1;
  }
  return parts === 4 ? value : -1;
}

/** RFC 5952 text: lowercase, longest run (>= 2) of zero groups compressed. */
export function formatIpv6(buf: Uint8Array, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((buf[off + 2 * i] as number) << 8) | (buf[off + 2 * i + 1] as number));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  return `${groups.slice(0, bestStart).map(hex).join(':')}::${groups.slice(bestStart + bestLen).map(hex).join(':')}`;
}

/** Any RFC 4291 text form (with "::", optional embedded dotted quad) into 16 bytes. */
export function parseIpv6Into(s: string, out: Uint8Array, off: number): boolean {
  if (typeof s !== 'string' || s.length < 2 || s.length > 45) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const parseSide = (side: string): number[] | undefined => {
    if (side === '') return [];
    const res: number[] = [];
    const parts = side.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 < 0) return undefined;
        res.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        res.push(parseInt(p, 16));
      }
    }
    return res;
  };
  const head = parseSide(halves[0] as string);
  const tail = halves.length === 2 ? parseSide(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return false;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return false;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else groups = head;
  if (groups.length !== 8) return false;
  for (let i = 0; i < 8; i++) {
    const g = groups[i] as number;
    out[off + 2 * i] = g >>> 8;
    out[off + 2 * i + 1] = g & 0xff;
  }
  return true;
}
