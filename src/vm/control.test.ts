import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlSocketOf, sendSchedule } from './qemu.ts';
import { isScoreError } from '../errors/errors.ts';

/** A stand-in for a guest's ttyS1 (QEMU's chardev socket): records what the host writes, answers or not. */
async function fakeGuest(answer: boolean, fn: (g: { place: { netns: string; tap: string; dir: string; tag: string }; spec: { vm: string; image: { kernel: string; initrd: string }; mac: string; cidr: string } }, heard: () => string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'score-control-'));
  const g = { place: { netns: 'n', tap: 't', dir, tag: 'h1-0' }, spec: { vm: 'vm1', image: { kernel: '/k', initrd: '/i' }, mac: '02:00:00:00:00:01', cidr: '10.0.0.1/24' } };
  let got = '';
  const server = createServer((s: Socket) => {
    s.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      const n = got.split('\n').filter((l) => l.startsWith('seg ')).length;
      if (answer && got.includes('\ngo ')) s.write(`score-guest: go ${n}\n`);
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
