// Diagnosis aid for bench/cbench (docs/cluster.md, "Capacity", run 8); bench-only, nothing in src/
// loads it. Preload it into `score controller` with NODE_OPTIONS="--import .../stall-probe.mjs" and
// STALL_FILE=PREFIX set (it stays inert in any process without `controller` among its arguments,
// so the bench's own processes can share the environment). It records, with wall-clock times (ms
// since the epoch): every event-loop gap over 8 ms (a 1 ms interval that ran late: `stalls`, {at,
// gap}), every garbage collection (perf_hooks 'gc' entries: {at, dur, kind}) and the V8 heap every
// 250 ms ({at, used, total} in MB). On each SIGUSR2 (the bench sends one at the start and one at
// the end of the measured run) it writes them to PREFIX-PID.json, with `usr2` (when each signal was
// handled) and a CLOCK_MONOTONIC / wall pair (monoUs, wallMs) to line up `perf record -k
// CLOCK_MONOTONIC` samples. STALL_V8FLAGS="--flag ..." applies V8 flags at start (v8.setFlagsFromString),
// for flags NODE_OPTIONS does not accept.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { setInterval } from 'node:timers';

const prefix = process.env.STALL_FILE;
if (prefix !== undefined && prefix !== '' && process.argv.includes('controller')) {
  if (process.env.STALL_V8FLAGS) v8.setFlagsFromString(process.env.STALL_V8FLAGS);
  const file = `${prefix}-${process.pid}.json`;
  const t0 = performance.timeOrigin;
  const usr2 = [];
  const stalls = [];
  const gcs = [];
  const heap = [];
  const kinds = { 1: 'scavenge', 2: 'minor-mark-compact', 4: 'mark-compact', 8: 'incremental', 16: 'weakcb' };
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > 8) stalls.push({ at: +(t0 + last).toFixed(1), gap: +(now - last).toFixed(1) });
    last = now;
  }, 1).unref();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: +(t0 + e.startTime).toFixed(1), dur: +e.duration.toFixed(2), kind: kinds[e.detail?.kind] ?? e.detail?.kind });
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    const h = v8.getHeapStatistics();
    heap.push({ at: Date.now(), used: Math.round(h.used_heap_size / 1e6), total: Math.round(h.total_heap_size / 1e6) });
  }, 250).unref();
  process.on('SIGUSR2', () => {
    usr2.push(Date.now());
    writeFileSync(file, JSON.stringify({ usr2, stalls, gcs, heap, monoUs: Number(process.hrtime.bigint() / 1000n), wallMs: Date.now() }));
  });
}
