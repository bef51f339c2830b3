import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';
import { systemTestGate } from '../emulation/system-gate.ts';
import { checkedNice, niceMechanism, parseAutogroup, setCpuNice } from './sched.ts';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof ScoreError ? e.code : 'not a ScoreError';
  }
  return undefined;
};

test('checkedNice takes integers -20..19 and rejects the rest with SCENARIO_INVALID', () => {
  assert.deepEqual([-20, -10, 0, 19].map(checkedNice), [-20, -10, 0, 19]);
  for (const bad of [-21, 20, 1.5, Number.NaN]) assert.equal(code(() => checkedNice(bad)), 'SCENARIO_INVALID', String(bad));
});

test('niceMechanism: autogroup only when the kernel says 1', () => {
  assert.equal(niceMechanism('1\n'), 'autogroup');
  assert.equal(niceMechanism('0\n'), 'threads');
  assert.equal(niceMechanism(undefined), 'threads');
});

test('parseAutogroup reads /proc/PID/autogroup', () => {
  assert.equal(parseAutogroup('/autogroup-3246 nice -10\n'), -10);
  assert.equal(parseAutogroup('/autogroup-12 nice 0\n'), 0);
  assert.equal(parseAutogroup(undefined), undefined);
  assert.equal(parseAutogroup('garbage'), undefined);
});

test('setCpuNice writes the autogroup file when autogroup is on (a fake /proc)', () => {
  const root = mkdtempSync(join(tmpdir(), 'score-sched-'));
  try {
    mkdirSync(join(root, 'sys/kernel'), { recursive: true });
    mkdirSync(join(root, '4242'));
    writeFileSync(join(root, 'sys/kernel/sched_autogroup_enabled'), '1\n');
    assert.equal(setCpuNice(4242, -7, root), 'autogroup');
    assert.equal(readFileSync(join(root, '4242/autogroup'), 'utf8'), '-7');
    // a process that is gone: the kernel's refusal becomes EMULATION_COMMAND
    assert.equal(code(() => setCpuNice(4343, -7, root)), 'EMULATION_COMMAND');
    assert.equal(code(() => setCpuNice(4242, 25, root)), 'SCENARIO_INVALID');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// the real kernel: a detached child leads its own session, so its autogroup is its own
test('setCpuNice on a real detached process: its autogroup (or its threads) take the nice', { skip: systemTestGate({ root: true }).skip }, () => {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  try {
    const pid = child.pid!;
    const how = setCpuNice(pid, -5);
    if (how === 'autogroup') {
      assert.equal(parseAutogroup(readFileSync(`/proc/${pid}/autogroup`, 'utf8')), -5);
      // not ours: this process's session keeps its own weight
      assert.notEqual(readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0], readFileSync('/proc/self/autogroup', 'utf8').split(' ')[0]);
    } else {
      assert.equal(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]), -5);
    }
  } finally {
    child.kill('SIGKILL');
  }
});
