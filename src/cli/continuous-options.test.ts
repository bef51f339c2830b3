import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continuousStart, parseBytes, parseDuration } from './continuous-options.ts';
import { isScoreError } from '../errors/errors.ts';

const usage = (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE';

test('--orchestrate/--every become a continuous start body; bad values are CLI_USAGE', () => {
  assert.equal(continuousStart({}), null);
  assert.deepEqual(continuousStart({ orchestrate: 'la', every: '5s' }), { policy: 'la', continuous: { everyMs: 5000 } });
  assert.deepEqual(continuousStart({ orchestrate: 'rr', every: '1m', stableRounds: '2', maxPerPeriod: '8', quiet: '30s', cm: '0', vmMemory: '64KiB' }), {
    policy: 'rr',
    migrationCost: 0,
    continuous: { everyMs: 60_000, stableRounds: 2, maxPerPeriod: 8, quietMs: 30_000, memoryBytes: 65536 },
  });
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
