import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continuousStart, parseBytes, parseDuration, pricedOutLine } from './continuous-options.ts';
import { isScoreError } from '../errors/errors.ts';

const usage = (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE';

test('--orchestrate/--every become a continuous start body; bad values are CLI_USAGE', () => {
  assert.equal(continuousStart({}), null);
  assert.deepEqual(continuousStart({ orchestrate: 'la', every: '5s' }), { policy: 'la', continuous: { everyMs: 5000 } });
  assert.deepEqual(continuousStart({ orchestrate: 'rr', every: '1m', stableRounds: '2', maxPerPeriod: '8', quiet: '30s', vmMemory: '64KiB' }), {
    policy: 'rr',
    continuous: { everyMs: 60_000, stableRounds: 2, maxPerPeriod: 8, quietMs: 30_000, memoryBytes: 65536 },
  });
  assert.deepEqual(continuousStart({ orchestrate: 'gain', cm: '0' }), { policy: 'gain', migrationCost: 0, continuous: { everyMs: 10_000 } });
  // a fixed c_m and the pre-copy price's VM memory: one of them would be ignored
  assert.throws(() => continuousStart({ orchestrate: 'rr', cm: '0', vmMemory: '64KiB' }), (e: unknown) => usage(e) && /--cm and --vm-memory/.test((e as Error).message));
  assert.equal(continuousStart({ orchestrate: 'la' })!.continuous!.everyMs, 10_000);
  assert.throws(() => continuousStart({ every: '5s' }), (e: unknown) => usage(e) && (e as Error).message.includes('--every needs --orchestrate'));
  assert.throws(() => continuousStart({ orchestrate: 'best' }), usage);
  assert.throws(() => continuousStart({ orchestrate: 'la', every: '50ms' }), usage);
  assert.throws(() => continuousStart({ orchestrate: 'la', stableRounds: '0' }), usage);
  assert.throws(() => continuousStart({ orchestrate: 'la', cm: '-1' }), usage);
  assert.equal(parseDuration('--every', '250ms'), 250);
  assert.equal(parseDuration('--every', '1.5'), 1500);
  assert.equal(parseDuration('--every', '2h'), 7_200_000);
  assert.throws(() => parseDuration('--every', 'soon'), usage);
  assert.equal(parseBytes('--vm-memory', '4GiB'), 4 * 1024 ** 3);
  assert.throws(() => parseBytes('--vm-memory', '4 lots'), usage);
});

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('score controller --orchestrate la --every 1s runs continuous mode from the start, visible over the API', { timeout: 60_000 }, async () => {
  const bin = fileURLToPath(new URL('../../bin/score.js', import.meta.url));
  const env = { ...process.env, SCORE_OPERATOR_TOKEN: 'op-token-for-test-0123456789', SCORE_AGENT_TOKEN: 'agent-token-for-test-012345678' };
  const child = spawn(process.execPath, [bin, 'controller', '--port', '0', '--host', '127.0.0.1', '--api-port', '0', '--scenario', 'paper', '--orchestrate', 'la', '--every', '1s'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!/continuous orchestration \(la\) every 1000 ms/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const api = /API at (http:\/\/127\.0\.0\.1:\d+\/api\/v1)/.exec(out)?.[1];
    assert.ok(api !== undefined, out);
    await new Promise((r) => setTimeout(r, 2500));
    const res = await fetch(`${api}/orchestration`, { headers: { authorization: `Bearer ${env.SCORE_OPERATOR_TOKEN}` } });
    assert.equal(res.status, 200);
    const o = (await res.json()) as { state: string; policy: string; continuous?: { everyMs: number; period: number } };
    assert.equal(o.state, 'running');
    assert.equal(o.policy, 'load-aware');
    assert.equal(o.continuous?.everyMs, 1000);
    assert.ok((o.continuous?.period ?? 0) >= 2, JSON.stringify(o));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});

test('score controller --help offers the policies --orchestrate takes (gain among them)', async () => {
  const bin = fileURLToPath(new URL('../../bin/score.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'controller', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((r) => child.once('exit', r));
  // commander wraps help lines: read it as one line
  const help = out.replace(/\s+/g, ' ');
  assert.match(help, /--orchestrate <policy>\s+run continuous orchestration from the start: rr, la or gain/, help);
  for (const p of ['rr', 'la', 'gain']) assert.ok(continuousStart({ orchestrate: p }) !== null, `--orchestrate ${p} is accepted as the help says`);
});

test('score controller --orchestrate gain keeps running with no agents (was: idle at once, lastError without a code)', { timeout: 60_000 }, async () => {
  const bin = fileURLToPath(new URL('../../bin/score.js', import.meta.url));
  const env = { ...process.env, SCORE_OPERATOR_TOKEN: 'op-token-for-test-0123456789' };
  const child = spawn(process.execPath, [bin, 'controller', '--port', '0', '--host', '127.0.0.1', '--api-port', '0', '--scenario', 'paper', '--orchestrate', 'gain', '--every', '500ms'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!/continuous orchestration \(gain\) every 500 ms/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const api = /API at (http:\/\/127\.0\.0\.1:\d+\/api\/v1)/.exec(out)?.[1];
    assert.ok(api !== undefined, out);
    await new Promise((r) => setTimeout(r, 2000));
    const res = await fetch(`${api}/orchestration`, { headers: { authorization: `Bearer ${env.SCORE_OPERATOR_TOKEN}` } });
    const o = (await res.json()) as { state: string; policy: string; lastError: string | null; continuous?: { period: number } };
    assert.equal(o.lastError, null, JSON.stringify(o));
    assert.equal(o.state, 'running', JSON.stringify(o));
    assert.equal(o.policy, 'gain-order');
    assert.ok((o.continuous?.period ?? 0) >= 2, JSON.stringify(o));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});

test('the console says when continuous mode is stuck on the price, with the largest saving against its c_m', () => {
  const base = { state: 'running' as const, policy: 'load-aware', plan: false, round: 9, migrations: 0, converged: true, lastError: null };
  const lastPeriod = { period: 9, asked: 6, moved: 0, pricedOut: 6, waitingStable: 0, heldBack: 0, errors: 0, largestSaving: { vm: 'vm3', to: 'hv23', saving: 6000, migrationCost: 186737096.6 } };
  const line = pricedOutLine({ ...base, continuous: { everyMs: 5000, period: 9, migrations: 0, holdOff: null, lastPeriod } });
  assert.match(line ?? '', /moves nothing: 6 of 6 VM\(s\) would save.*vm3 -> hv23: 6000 against c_m 186737097.*--vm-memory/);
  assert.equal(pricedOutLine({ ...base, converged: false, continuous: { everyMs: 5000, period: 9, migrations: 0, holdOff: null, lastPeriod } }), null, 'not while moves are pending');
  assert.equal(pricedOutLine({ ...base, continuous: { everyMs: 5000, period: 9, migrations: 0, holdOff: null, lastPeriod: { ...lastPeriod, pricedOut: 0, largestSaving: null } } }), null, 'converged at cost 0');
  assert.equal(pricedOutLine(base), null, 'one-shot runs');
});
