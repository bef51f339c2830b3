/**
 * Framing for a byte stream (a TCP connection): push chunks as they arrive, get whole messages
 * however the bytes were split. Pure: it never reads a socket or a clock.
 *
 * Two kinds of failure are kept apart because the connection must react differently:
 * - a message whose framing is sound but whose content is malformed is reported as
 *   `{ kind: 'error' }` and parsing continues with the next message (the switch can be told
 *   with an OFPT_ERROR);
 * - a length field below 8 makes the rest of the stream unreadable: `{ kind: 'fatal' }` is
 *   reported once and every later push returns nothing; the connection should close.
 */
import { ScoreError, isScoreError } from '../errors/errors.ts';
import { OFP_HEADER_LEN } from './constants.ts';
import { decodeMessage } from './decode.ts';
import type { OfMessage } from './messages.ts';

export type StreamItem =
  | { kind: 'message'; message: OfMessage }
  | { kind: 'error'; error: ScoreError; raw: Uint8Array; xid: number; msgType: number }
  | { kind: 'fatal'; error: ScoreError };

export class OfStreamParser {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private dead = false;

  /** Bytes received that do not yet form a whole message. */
  get buffered(): number {
    return this.end - this.start;
  }

  get failed(): boolean {
    return this.dead;
  }

  push(chunk: Uint8Array): StreamItem[] {
    const out: StreamItem[] = [];
    if (this.dead || chunk.length === 0) return out;
    this.append(chunk);
    while (this.end - this.start >= OFP_HEADER_LEN) {
      const b = this.buf;
      const length = ((b[this.start + 2] as number) << 8) | (b[this.start + 3] as number);
      if (length < OFP_HEADER_LEN) {
        this.dead = true;
        out.push({
          kind: 'fatal',
          error: new ScoreError('OF_BAD_LENGTH', `message length ${length} is below the 8-byte header; stream lost`, {
            length,
            type: b[this.start + 1],
          }),
        });
        this.buf = new Uint8Array(0);
        this.start = this.end = 0;
        return out;
      }
      if (this.end - this.start < length) break;
      const frame = b.subarray(this.start, this.start + length);
      this.start += length;
      try {
        out.push({ kind: 'message', message: decodeMessage(frame) });
      } catch (e) {
        const error = isScoreError(e)
          ? e
          : new ScoreError('INTERNAL', 'decoder threw a non-ScoreError', { cause: String(e) }, { cause: e });
        const xid = new DataView(frame.buffer, frame.byteOffset, OFP_HEADER_LEN).getUint32(4);
        out.push({ kind: 'error', error, raw: frame.slice(), xid, msgType: frame[1] as number });
      }
    }
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  /** Call when the stream closes: leftover bytes are a truncated message. */
  finish(): StreamItem[] {
    if (this.dead || this.end === this.start) return [];
    const left = this.end - this.start;
    this.dead = true;
    return [
      {
        kind: 'fatal',
        error: new ScoreError('OF_TRUNCATED', `stream ended inside a message (${left} bytes left)`, { available: left }),
      },
    ];
  }

  private append(chunk: Uint8Array): void {
    const have = this.end - this.start;
    if (this.buf.length - this.end >= chunk.length) {
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      return;
    }
    if (have + chunk.length <= this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      let size = Math.max(4096, this.buf.length);
      while (size < have + chunk.length) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
    }
    this.start = 0;
    this.end = have;
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
}
