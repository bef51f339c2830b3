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
