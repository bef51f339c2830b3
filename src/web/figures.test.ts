import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figuresLine } from './client/layout.ts';

test("the dashboard's line for a migration's own figures", () => {
  const line = figuresLine({ source: 'qemu', totalTimeMs: 912, downtimeMs: 7, setupTimeMs: 1, transferredBytes: 77_843_877, dirtyPagesRate: 0 });
  assert.match(line, /^qemu: total 912 ms, downtime 7 ms, setup 1 ms, 77\.8 MB sent, 0 dirty pages\/s$/);
  assert.equal(figuresLine({ source: 'wall-clock', totalTimeMs: 40, downtimeMs: null, setupTimeMs: null, transferredBytes: 0, dirtyPagesRate: null }), 'wall-clock: total 40 ms, downtime –, setup –, 0.0 MB sent');
});
