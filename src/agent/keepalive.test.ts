import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepRegistered } from './keepalive.ts';

const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a lost controller is retried with doubling back-off, capped, and its return is reported', async () => {
  const lines: string[] = [];
  let calls = 0;
  let down = false;
  const keep = keepRegistered({
    register: () => {
      calls++;
      return down ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve({});
    },
    log: (l) => lines.push(l),
    intervalMs: 20,
    initialMs: 100,
    maxMs: 400,
  });
  try {
    await until(() => calls >= 2, 5000);
    assert.deepEqual(lines, [], 'nothing to say while the controller answers');
    down = true;
    await until(() => keep.failures() >= 4, 10_000);
    down = false;
    await until(() => keep.failures() === 0, 10_000);
    assert.equal(lines[0], 'lost the controller (connect ECONNREFUSED); retrying in 0.1 s');
    assert.equal(lines[1], 'controller still unreachable (connect ECONNREFUSED); retrying in 0.2 s');
    assert.equal(lines[2], 'controller still unreachable (connect ECONNREFUSED); retrying in 0.4 s');
    assert.equal(lines[3], 'controller still unreachable (connect ECONNREFUSED); retrying in 0.4 s', 'capped at maxMs');
    assert.match(lines.at(-1) ?? '', /^controller reachable again after \d+ failed attempt\(s\); registered again$/);
  } finally {
    keep.stop();
  }
  const after = calls;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls, after, 'stop() ends the checks');
});

test('a final refusal (a revoked credential) ends the retries and is reported once', async () => {
  const lines: string[] = [];
  const finals: unknown[] = [];
  let calls = 0;
  const revoked = new Error('401 credential cred-1 was revoked');
  const keep = keepRegistered({
    register: () => {
      calls++;
      return calls === 1 ? Promise.resolve({}) : Promise.reject(revoked);
    },
    log: (l) => lines.push(l),
    intervalMs: 10,
    initialMs: 10,
    maxMs: 10,
    permanent: (e) => e === revoked,
    onPermanent: (e) => finals.push(e),
  });
  try {
    await until(() => finals.length === 1, 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls, 2, 'no attempt after the final refusal');
    assert.deepEqual(finals, [revoked]);
    assert.deepEqual(lines, [], 'not reported as an unreachable controller');
    assert.equal(keep.failures(), 0);
  } finally {
    keep.stop();
  }
});
