import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EpochResult } from '../sim/epochs.ts';
import { epochScale, epochSummaryRows, scaleText } from './epochs.ts';

const result = (totals: Record<string, number>): EpochResult =>
  ({
    strategies: Object.entries(totals).map(([strategy, total]) => ({ strategy, total, costIntegral: total / 2, migrationWeighted: total / 2, migrations: 1, vmsMovedMoreThanOnce: 0, oscillations: 0, perEpoch: [] })),
  }) as unknown as EpochResult;

test('the summary shows totals in 1e12, or in the largest power of 1,000 not above a smaller largest total', () => {
  assert.equal(epochScale(result({ never: 19.4e12, 'one-shot': 5.8e12 })), 1e12);
  // docs/scale.md's fat-tree(16) run: still in 1e12, not 1e15 (4.4 would hide the comparison)
  assert.equal(epochScale(result({ never: 4398.8e12, 'one-shot': 1824.4e12 })), 1e12);
  assert.equal(epochScale(result({ never: 3.2e7 })), 1e6);
  assert.equal(epochScale(result({ never: 999 })), 1);
  assert.equal(epochScale(result({ never: 0 })), 1);
  assert.equal(scaleText(1e12), '1e12');
  assert.equal(scaleText(1), '1');
  const rows = epochSummaryRows(result({ never: 3.2e7, 'one-shot': 1.6e7, clairvoyant: 2e7 }));
  assert.deepEqual(rows.map((r) => r.slice(0, 4)), [
    ['never', '32.0', '+100.0%', '+60.0%'],
    ['one-shot', '16.0', '0.0%', '-20.0%'],
    ['clairvoyant', '20.0', '+25.0%', '0.0%'],
  ]);
});
