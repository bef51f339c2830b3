import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_UNIX_SOCKET_PATH, controlSocketOf, sendSchedule, startGuest } from './qemu.ts';
import { isScoreError } from '../errors/errors.ts';

/**
 * A stand-in for a guest's ttyS1 (QEMU's chardev socket): records what the host writes, answers
 * with the number of seg lines it read (true), not at all (false) or with a given count (number).
 */
async function fakeGuest(answer: boolean | number, fn: (g: { place: { netns: string; tap: string; dir: string; tag: string }; spec: { vm: string; image: { kernel: string; initrd: string }; mac: string; cidr: string } }, heard: () => string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'score-control-'));
  const g = { place: { netns: 'n', tap: 't', dir, tag: 'h1-0' }, spec: { vm: 'vm1', image: { kernel: '/k', initrd: '/i' }, mac: '02:00:00:00:00:01', cidr: '10.0.0.1/24' } };
  let got = '';
  const server = createServer((s: Socket) => {
    s.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      const n = got.split('\n').filter((l) => l.startsWith('seg ')).length;
      if (answer !== false && got.includes('\ngo ')) s.write(`score-guest: go ${answer === true ? n : answer}\n`);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(controlSocketOf(g), r));
  try {
    await fn(g, () => got);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

test('sendSchedule writes the segments and go with the ms elapsed since the common start, and waits for the guest\'s answer', async () => {
  await fakeGuest(true, async (g, heard) => {
    const startedAt = Date.now() - 1500;
    await sendSchedule(g, [{ startSec: 0, flows: [{ dst: '10.0.0.6', packetBytes: 50, pps: 10 }] }, { startSec: 120, flows: [] }], startedAt);
    const lines = heard().trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), ['seg 0 10.0.0.6,22,0.1', 'seg 120000']);
    const elapsed = Number(/^go (\d+)$/.exec(lines[2]!)![1]);
    assert.ok(elapsed >= 1500 && elapsed < 3000, `elapsed ${elapsed}`);
  });
});

test('a guest that does not answer, or no channel at all, is VM_BOOT; a bad schedule is SCENARIO_INVALID before anything is sent', async () => {
  await fakeGuest(false, async (g, heard) => {
    await assert.rejects(sendSchedule(g, [{ startSec: 0, flows: [] }], Date.now(), 300), (e) => isScoreError(e, 'VM_BOOT'));
    await assert.rejects(sendSchedule(g, [{ startSec: 5, flows: [] }], Date.now(), 300), (e) => isScoreError(e, 'SCENARIO_INVALID'));
    // only the first call wrote anything
    assert.match(heard(), /^seg 0\ngo \d+\n$/);
  });
  const none = { place: { netns: 'n', tap: 't', dir: '/nonexistent-score-dir', tag: 'x' }, spec: { vm: 'vm1', image: { kernel: '/k', initrd: '/i' }, mac: '02:00:00:00:00:01', cidr: '10.0.0.1/24' } };
  await assert.rejects(sendSchedule(none, [{ startSec: 0, flows: [] }], Date.now(), 300), (e) => isScoreError(e, 'VM_BOOT'));
});

test('a guest that counted another number of segments than were sent is VM_BOOT naming the VM and both counts', async () => {
  await fakeGuest(1, async (g) => {
    await assert.rejects(sendSchedule(g, [{ startSec: 0, flows: [] }, { startSec: 10, flows: [] }], Date.now(), 2000), (e) => {
      assert.ok(isScoreError(e, 'VM_BOOT'), 'isScoreError(e, \'VM_BOOT\')');
      assert.match(e.message, /guest vm1 .*counted 1 segments, the host sent 2/);
      assert.deepEqual(e.details, { vm: 'vm1', sent: 2, counted: 1 });
      return true;
    });
  });
  // segments closer than 1 ms are sent as one line: the guest's count of 1 is right
  await fakeGuest(true, async (g, heard) => {
    await sendSchedule(g, [{ startSec: 0, flows: [] }, { startSec: 0.0004, flows: [] }], Date.now(), 2000);
    assert.match(heard(), /^seg 0\ngo \d+\n$/);
  });
});

test('a socket path longer than a unix socket takes is VM_BOOT before anything is created', async () => {
  const dir = join(tmpdir(), `score-long-${'d'.repeat(MAX_UNIX_SOCKET_PATH)}`);
  const spec = { vm: 'vm1', image: { kernel: '/k', initrd: '/i' }, mac: '02:00:00:00:00:01', cidr: '10.0.0.1/24' };
  await assert.rejects(startGuest(spec, { netns: 'n', tap: 't', dir, tag: 'h1-0' }), (e) => {
    assert.ok(isScoreError(e, 'VM_BOOT'), 'isScoreError(e, \'VM_BOOT\')');
    assert.match(e.message, /vm1 .*bytes, unix sockets take at most 107/);
    return true;
  });
  assert.ok(!existsSync(dir), '!existsSync(dir)');
});
