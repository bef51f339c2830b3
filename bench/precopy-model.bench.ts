/**
 * The pre-copy model (src/core/migration-cost.ts, Clark et al.) against QEMU: a guest dirties its
 * memory at a few set rates (random data, so QEMU cannot send zero-page markers) and is
 * live-migrated through QMP with a fixed bandwidth cap and QEMU's default 300 ms downtime limit.
 * The model gets QEMU's own measurements as inputs (the dirty-page rate QEMU saw over the first
 * full pass, beside the last reading for comparison; the throughput
 * it reached, the bytes an idle guest sends as "memory") and predicts bytes, time and downtime,
 * printed beside QEMU's figures. One JSON object.
 *   sudo node --import tsx bench/precopy-model.bench.ts [--bandwidth-mib 16]
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { parseScenario } from '../src/scenario/load.ts';
import { buildModel } from '../src/scenario/model.ts';
import { buildDataCentre } from '../src/emulation/datacentre.ts';
import { isRoot } from '../src/emulation/system-gate.ts';
import { buildImage } from '../src/image/build.ts';
import { preCopy, qemuStopCopyBytes } from '../src/core/migration-cost.ts';
import { fleetOf, guestInsteadOfNamespace, migrateGuest, stopAllGuests } from '../src/vm/fleet.ts';

const { values } = parseArgs({ options: { 'bandwidth-mib': { type: 'string', default: '16' } } });
if (!isRoot()) {
  console.log(JSON.stringify({ bench: 'precopy-model', loadAverage: loadavg().map((x) => Math.round(x * 10) / 10), skipped: 'needs root, Open vSwitch and QEMU' }));
  process.exit(0);
}
const model = buildModel(
  parseScenario(
    `
name: precopy
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 1Gbps }, { a: h2, b: s1, capacity: 1Gbps }]
vms:
  - { name: g, ip: 10.9.6.1, mac: "02:00:00:00:06:01", host: h1 }
traffic: []
`,
    'precopy.yaml',
  ),
);
const cap = Number(values['bandwidth-mib']) * 2 ** 20;
const loads: ReadonlyArray<{ pages: number; everyMs: number } | undefined> = [undefined, { pages: 16, everyMs: 50 }, { pages: 64, everyMs: 50 }, { pages: 256, everyMs: 50 }];
const image = await buildImage();
const rows = [];
let idleBytes = 0;
for (const dirty of loads) {
  const dc = await buildDataCentre(model, { controller: 'tcp:127.0.0.1:9', shape: false });
  try {
    await guestInsteadOfNamespace(dc, model, 'g', { image, memoryMiB: 96, ...(dirty ? { dirty } : {}) });
    // let the load run into a steady state first
    await new Promise((r) => setTimeout(r, 3000));
    // QEMU's rounds: the bytes sent by each dirty-bitmap sync (MIGRATION_PASS wakes the driver's query)
    const passes: Array<{ sync: number; atMs: number; transferred: number; normal: number; duplicate: number; remaining: number; dirtyPagesRate: number }> = [];
    const t0 = Date.now();
    const loadAtStart = Math.round(loadavg()[0]! * 10) / 10;
    const { info, figures } = await migrateGuest(fleetOf(dc), 'g', 'h1', 'h2', {
      maxBandwidthBytes: cap,
      timeoutMs: 180_000,
      onProgress(i) {
        const sync = i.ram?.['dirty-sync-count'] ?? 0;
        if (i.status === 'active' && sync !== passes.at(-1)?.sync) passes.push({ sync, atMs: Date.now() - t0, transferred: i.ram?.transferred ?? 0, normal: i.ram?.normal ?? 0, duplicate: i.ram?.duplicate ?? 0, remaining: i.ram?.remaining ?? 0, dirtyPagesRate: i.ram?.['dirty-pages-rate'] ?? 0 });
      },
    });
    if (dirty === undefined) idleBytes = figures.transferredBytes;
    const bandwidth = ((info.ram?.mbps ?? 0) * 1e6) / 8 || cap;
    // QEMU's dirty-pages-rate is re-measured at a bitmap sync at most once a second, over the time
    // since the last measurement, and counts a page once, and only if it was not already waiting
    // to be sent. The first reading (at the end of the first full pass) is the period the model's
    // second round stands for; the last one covers the short final rounds. The model gets the first.
    const roundOne = passes.find((x) => x.dirtyPagesRate > 0);
    const dirtyRate = (roundOne?.dirtyPagesRate ?? figures.dirtyPagesRate ?? 0) * 4096;
    const lastRate = (figures.dirtyPagesRate ?? 0) * 4096;
    const input = { memoryBytes: idleBytes, dirtyRateBytesPerSec: dirtyRate, bandwidthBytesPerSec: bandwidth, maxRounds: 1000, stopCopyBytes: bandwidth * 0.3 };
    const p = preCopy(input);
    const last = preCopy({ ...input, dirtyRateBytesPerSec: lastRate, stopCopyBytes: qemuStopCopyBytes(bandwidth) });
    // the stop-copy threshold fitted to QEMU (QEMU_STOP_COPY_SECONDS) instead of bandwidth × limit
    const fit = preCopy({ ...input, stopCopyBytes: qemuStopCopyBytes(bandwidth) });
    // the load rewrites one 32 MiB region: the model with that writable working set
    const w = preCopy({ ...input, writableWorkingSetBytes: 32 * 2 ** 20 });
    rows.push({
      load: dirty === undefined ? 'idle' : `${dirty.pages} pages / ${dirty.everyMs} ms`,
      loadAtStart,
      measured: {
        bytes: figures.transferredBytes,
        totalMs: figures.totalTimeMs,
        downtimeMs: figures.downtimeMs,
        dirtyPagesPerS: figures.dirtyPagesRate,
        firstDirtyPagesPerS: roundOne?.dirtyPagesRate ?? null,
        mbps: info.ram?.mbps,
        syncRounds: info.ram?.['dirty-sync-count'],
        normalPages: info.ram?.normal,
        zeroPages: info.ram?.duplicate,
        // sent by the end of the first full pass (its bitmap sync), and after it
        firstPassBytes: roundOne?.transferred ?? null,
        laterBytes: roundOne === undefined ? null : figures.transferredBytes - roundOne.transferred,
        passes,
      },
      model: { bytes: Math.round(p.bytesMoved), totalMs: Math.round(p.migrationSeconds * 1000), downtimeMs: Math.round(p.downtimeSeconds * 1000), rounds: p.rounds, converged: p.converged },
      modelFitted: { bytes: Math.round(fit.bytesMoved), totalMs: Math.round(fit.migrationSeconds * 1000), downtimeMs: Math.round(fit.downtimeSeconds * 1000), rounds: fit.rounds, converged: fit.converged },
      bytesRatioFitted: +(figures.transferredBytes / fit.bytesMoved).toFixed(3),
      modelWithWws: { bytes: Math.round(w.bytesMoved), totalMs: Math.round(w.migrationSeconds * 1000), rounds: w.rounds },
      // the model's first round is `memory`; what it sends after, beside QEMU's laterBytes
      modelLaterBytes: Math.round(fit.bytesMoved - idleBytes),
      modelFittedLastReading: { bytes: Math.round(last.bytesMoved), rounds: last.rounds, converged: last.converged },
      bytesRatioFittedLastReading: +(figures.transferredBytes / last.bytesMoved).toFixed(3),
      bytesRatio: +(figures.transferredBytes / p.bytesMoved).toFixed(3),
      bytesRatioWithWws: +(figures.transferredBytes / w.bytesMoved).toFixed(3),
      timeRatio: +(figures.totalTimeMs / (p.migrationSeconds * 1000)).toFixed(3),
    });
    await stopAllGuests(fleetOf(dc));
  } finally {
    await dc.stop();
  }
}
console.log(JSON.stringify({ bench: 'precopy-model', loadAverage: loadavg().map((x) => Math.round(x * 10) / 10), bandwidthCapBytesPerSec: cap, downtimeLimitMs: 300, guestMemoryMiB: 96, memoryBytesFromIdleRun: idleBytes, rows }, null, 2));
