import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectQmp, parseQmpLines } from './qmp.ts';
import { isScoreError } from '../errors/errors.ts';
import { figuresOf } from './fleet.ts';

test('QMP framing: greeting, returns, errors and events; a partial line waits for the rest', () => {
  const { messages, rest } = parseQmpLines(
    '{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}\r\n{"return": {}, "id": 1}\r\n{"error": {"class": "GenericError", "desc": "no"}, "id": 2}\r\n' +
      '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "MIGRATION", "data": {"status": "active"}}\r\n{"return": {"sta',
  );
  assert.deepEqual(messages.map((m) => m.kind), ['greeting', 'return', 'error', 'event']);
  assert.deepEqual(messages[2], { kind: 'error', id: 2, class: 'GenericError', desc: 'no' });
  assert.equal(messages[3]?.kind === 'event' ? messages[3].event.data?.status : null, 'active');
  assert.equal(rest, '{"return": {"sta');
  assert.throws(() => parseQmpLines('not json\n'), (e) => isScoreError(e, 'QMP_PROTOCOL'));
  assert.throws(() => parseQmpLines('{"what": 1}\n'), (e) => isScoreError(e, 'QMP_PROTOCOL'));
});

test('QMP client against a fake monitor: capabilities first, ids matched, errors typed, events delivered, close rejects', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qmp-test-'));
  const path = join(dir, 'qmp.sock');
  const seen: string[] = [];
  const server = createServer((s) => {
    s.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl)) as { execute: string; id: number; arguments?: unknown };
        buf = buf.slice(nl + 1);
        seen.push(req.execute);
        if (req.execute === 'bad') s.write(`{"error": {"class": "CommandNotFound", "desc": "The command bad has not been found"}, "id": ${req.id}}\r\n`);
        else if (req.execute === 'hang') s.end();
        else {
          // the event first, in the same chunk, then the answer split across two writes
          s.write(`{"event": "STOP", "timestamp": {"seconds": 0, "microseconds": 0}}\r\n{"return": {"echo": ${JSON.stringify(req.arguments ?? null)}`);
          setTimeout(() => s.write(`}, "id": ${req.id}}\r\n`), 5);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const q = await connectQmp(path);
    const events: string[] = [];
    q.onEvent((e) => events.push(e.event));
    assert.deepEqual(await q.execute('query-status', { a: 1 }), { echo: { a: 1 } });
    await assert.rejects(q.execute('bad'), (e: unknown) => isScoreError(e, 'QMP_PROTOCOL') && e.details.class === 'CommandNotFound');
    assert.deepEqual(seen, ['qmp_capabilities', 'query-status', 'bad']);
    assert.ok(events.includes('STOP'), 'events.includes(\'STOP\')');
    await assert.rejects(q.execute('hang'), (e: unknown) => isScoreError(e, 'QMP_PROTOCOL') && /closed/.test(e.message));
    await q.closed;
    await assert.rejects(q.execute('query-status'), (e: unknown) => isScoreError(e, 'QMP_PROTOCOL'));
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(connectQmp(join(dir, 'nothing.sock'), 500), (e: unknown) => isScoreError(e, 'QMP_PROTOCOL'));
});

test("migration figures are QEMU's query-migrate counters, null where QEMU gave none", () => {
  assert.deepEqual(figuresOf({ status: 'completed', 'total-time': 620, downtime: 1, 'setup-time': 3, ram: { transferred: 90_000_000, total: 134_610_944, 'dirty-pages-rate': 12 } }), {
    source: 'qemu',
    totalTimeMs: 620,
    downtimeMs: 1,
    setupTimeMs: 3,
    transferredBytes: 90_000_000,
    dirtyPagesRate: 12,
    memoryBytes: 134_610_944,
  });
  assert.deepEqual(figuresOf({ status: 'completed' }), { source: 'qemu', totalTimeMs: 0, downtimeMs: null, setupTimeMs: null, transferredBytes: 0, dirtyPagesRate: null, memoryBytes: null });
});
