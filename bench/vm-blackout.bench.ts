/**
 * Blackout as peers see it: a real QEMU guest live-migrated through QMP (src/vm) beside a
 * namespace VM re-cabled by the emulated driver, in one run on one emulated data centre with the
 * controller following. A peer namespace pings the moving VM every 10 ms; a migration's blackout
 * is the longest run of lost probes × 10 ms. Prints one JSON object: p50, p95 and max per kind,
 * QEMU's own downtime beside them, and the target (p95 under 50 ms as peers see it).
 *   sudo node --import tsx bench/vm-blackout.bench.ts [--migrations 6] [--memory 96]
 */
import { parseArgs } from 'node:util';
import { parseScenario } from '../src/scenario/load.ts';
import { buildModel } from '../src/scenario/model.ts';
import { openflowDataPlane } from '../src/openflow/connection/index.ts';
import { silentLog } from '../src/openflow/connection/log.ts';
import { realClock } from '../src/runtime/clock.ts';
import { startStack } from '../src/system/stack.ts';
import { buildDataCentre } from '../src/emulation/datacentre.ts';
import { isRoot } from '../src/emulation/system-gate.ts';
import { buildImage } from '../src/image/build.ts';
import { emulatedDriver, probe } from '../src/agent/drivers/emulated.ts';
import { qemuDriver } from '../src/agent/drivers/qemu.ts';
import { fleetOf, guestInsteadOfNamespace } from '../src/vm/fleet.ts';
import { median } from './support.ts';

const { values } = parseArgs({ options: { migrations: { type: 'string', default: '6' }, memory: { type: 'string', default: '96' } } });
if (!isRoot()) {
  console.log(JSON.stringify({ bench: 'vm-blackout', skipped: 'needs root, Open vSwitch and QEMU' }));
  process.exit(0);
}
const model = buildModel(
  parseScenario(
    `
name: blackout
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }, { id: h3 }]
links: [{ a: h1, b: s1, capacity: 1Gbps }, { a: h2, b: s1, capacity: 1Gbps }, { a: h3, b: s1, capacity: 1Gbps }]
vms:
  - { name: guest, ip: 10.9.2.1, mac: "02:00:00:00:02:01", host: h1 }
  - { name: ns, ip: 10.9.2.2, mac: "02:00:00:00:02:02", host: h1 }
  - { name: peer, ip: 10.9.2.3, mac: "02:00:00:00:02:03", host: h3 }
traffic:
  - { src: guest, dst: peer, packetBytes: 100, pps: 10 }
`,
    'blackout.yaml',
  ),
);

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}
const summary = (xs: readonly number[]): { p50: number; p95: number; max: number; runs: readonly number[] } => ({ p50: median(xs), p95: quantile(xs, 0.95), max: Math.max(...xs), runs: xs });

const image = await buildImage();
const dataPlane = openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog });
const stack = await startStack({ model, dataPlane, clock: realClock, pollMs: 1000, probeMs: 1000, webDir: null });
const dc = await buildDataCentre(model, { controller: `tcp:127.0.0.1:${dataPlane.address().port}`, shape: false });
const qemu: number[] = [];
const qemuDowntime: number[] = [];
const qemuTotal: number[] = [];
const namespace: number[] = [];
try {
  await guestInsteadOfNamespace(dc, model, 'guest', { image, memoryMiB: Number(values.memory) });
  await dc.announce('ns');
  await dc.announce('peer');
  // let the controller install paths both ways before measuring
  await dc.exec('peer', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.9.2.1').catch(() => undefined);
  await dc.exec('peer', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.9.2.2').catch(() => undefined);
  const peerNs = dc.vmNamespace('peer');
  const q = qemuDriver({ run: fleetOf(dc), probe: () => probe(peerNs, '10.9.2.1'), probeAfterMs: 800 });
  const n = emulatedDriver({ model, prefix: dc.prefix, dc, probeAfterMs: 800 });
  let at = 'h1';
  for (let i = 0; i < Number(values.migrations); i++) {
    const to = at === 'h1' ? 'h2' : 'h1';
    const r = await q.migrate('guest', at, to);
    qemu.push(r.connectivity!.blackoutMs);
    qemuDowntime.push(r.figures!.downtimeMs ?? NaN);
    qemuTotal.push(r.figures!.totalTimeMs);
    // the emulated driver's own probes come from the VM's scenario peers: ns has none, so probe here
    const p = probe(peerNs, '10.9.2.2');
    await new Promise((res) => setTimeout(res, 200));
    await n.migrate('ns', at, to);
    await new Promise((res) => setTimeout(res, 800));
    namespace.push((await p.stop()).blackoutMs);
    at = to;
  }
} finally {
  await dc.stop();
  await stack.stop();
}
const qs = summary(qemu);
console.log(
  JSON.stringify(
    {
      bench: 'vm-blackout',
      probeIntervalMs: 10,
      migrations: qemu.length,
      guestMemoryMiB: Number(values.memory),
      qemu: { blackoutMs: qs, qemuDowntimeMs: summary(qemuDowntime), qemuTotalMs: summary(qemuTotal) },
      namespace: { blackoutMs: summary(namespace) },
      ratioP50: +(qs.p50 / Math.max(1, median(namespace))).toFixed(2),
      target: { p95Ms: 50, met: qs.p95 < 50 },
      note: 'TCG guests on a shared 2-core machine; QEMU downtime is the stop-and-copy pause, the blackout is what the peer saw (pause + RARP + path re-install)',
    },
    null,
    2,
  ),
);
