import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { OfStreamParser, encodeMessage, type OfMessage, type StreamItem } from './index.ts';
import * as arb from './arbitraries.testing.ts';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(prev, p));
    prev = p;
  }
  return out;
}

const messagesOf = (items: StreamItem[]): OfMessage[] =>
  items.map((i) => {
    assert.equal(i.kind, 'message');
    return (i as { message: OfMessage }).message;
  });

test('the stream parser gives the same messages for any split of the byte stream', () => {
  fc.assert(
    fc.property(fc.array(arb.message, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
      const stream = concat(msgs.map(encodeMessage));
      const p = new OfStreamParser();
      const got: StreamItem[] = [];
      for (const chunk of split(stream, cuts)) got.push(...p.push(chunk));
      assert.deepStrictEqual(messagesOf(got), msgs);
      assert.equal(p.buffered, 0);
      assert.deepStrictEqual(p.finish(), []);
    }),
    { numRuns: 500 },
  );
});

test('byte-at-a-time delivery', () => {
  const msgs: OfMessage[] = [
    { type: 'ECHO_REQUEST', xid: 1, data: Uint8Array.of(1, 2, 3) },
    { type: 'BARRIER_REPLY', xid: 2 },
  ];
  const stream = concat(msgs.map(encodeMessage));
  const p = new OfStreamParser();
  const got: StreamItem[] = [];
  for (const b of stream) got.push(...p.push(Uint8Array.of(b)));
  assert.deepStrictEqual(messagesOf(got), msgs);
});

test('a malformed message is reported and parsing continues with the next one', () => {
  const good = encodeMessage({ type: 'BARRIER_REQUEST', xid: 9 });
  const bad = encodeMessage({ type: 'ECHO_REQUEST', xid: 8, data: new Uint8Array(4) });
  bad[1] = 200; // unknown type
  const p = new OfStreamParser();
  const items = p.push(concat([bad, good]));
  assert.equal(items.length, 2);
  const [first, second] = items;
  assert.ok(first?.kind === 'error' && isScoreError(first.error, 'OF_UNKNOWN_TYPE') && first.xid === 8 && first.msgType === 200, 'first?.kind === \'error\' && isScoreError(first.error, \'OF_UNKNOWN_TYPE\') && first.xid ==...');
  assert.equal(first.raw.length, bad.length);
  assert.deepStrictEqual(second, { kind: 'message', message: { type: 'BARRIER_REQUEST', xid: 9 } });
});

test('a length below the header is fatal: reported once, then nothing', () => {
  const p = new OfStreamParser();
  const items = p.push(Uint8Array.of(4, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 8, 0, 0, 0, 0));
  assert.equal(items.length, 1);
  assert.ok(items[0]?.kind === 'fatal' && isScoreError(items[0].error, 'OF_BAD_LENGTH'), 'items[0]?.kind === \'fatal\' && isScoreError(items[0].error, \'OF_BAD_LENGTH\')');
  assert.ok(p.failed, 'p.failed');
  assert.deepStrictEqual(p.push(encodeMessage({ type: 'BARRIER_REQUEST', xid: 1 })), []);
});

test('bytes left when the stream ends are a truncated message', () => {
  const p = new OfStreamParser();
  const b = encodeMessage({ type: 'ECHO_REQUEST', xid: 1, data: new Uint8Array(10) });
  assert.deepStrictEqual(p.push(b.subarray(0, 12)), []);
  assert.equal(p.buffered, 12);
  const end = p.finish();
  assert.ok(end[0]?.kind === 'fatal' && isScoreError(end[0].error, 'OF_TRUNCATED'), 'end[0]?.kind === \'fatal\' && isScoreError(end[0].error, \'OF_TRUNCATED\')');
});

test('decoded messages do not alias the parser buffer', () => {
  const p = new OfStreamParser();
  const b = encodeMessage({ type: 'ECHO_REQUEST', xid: 1, data: Uint8Array.of(7, 7, 7) });
  const [item] = p.push(b);
  p.push(encodeMessage({ type: 'ECHO_REQUEST', xid: 2, data: Uint8Array.of(9, 9, 9) }));
  assert.ok(item?.kind === 'message' && item.message.type === 'ECHO_REQUEST', 'item?.kind === \'message\' && item.message.type === \'ECHO_REQUEST\'');
  assert.deepStrictEqual([...item.message.data], [7, 7, 7]);
});
