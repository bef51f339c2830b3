/**
 * The one contract every migration driver keeps (issue 11), run against each of them on its own
 * data plane: simulated (in-process fabric), namespace (the emulated driver re-cabling a network
 * namespace on Open vSwitch), qemu (real QEMU guests live-migrated through QMP).
 *   - after a migration the VM is at exactly one place, the destination;
 *   - a migration that fails part way (the destination goes away) rejects with MIGRATION_FAILED
 *     and leaves the VM at exactly one place, the source, still running;
 *   - a migration asked from the wrong source is refused and moves nothing;
 *   - every driver returns figures of one shape (MigrationFigures).
 * The namespace and qemu drivers need root and Open vSwitch (and QEMU): skipped with a reason
 * otherwise, mandatory in CI. libvirt: one libvirtd per hypervisor (src/vm/libvirt.ts), real
 * domains moved with `virsh migrate --live`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../../errors/errors.ts';
import { parseScenario } from '../../scenario/load.ts';
import { buildModel } from '../../scenario/model.ts';
import { createSimDataPlane } from '../../dataplane/sim.ts';
import { virtualClock } from '../../runtime/clock.ts';
import { systemTestGate } from '../../emulation/system-gate.ts';
import { attachDataCentre, buildDataCentre } from '../../emulation/datacentre.ts';
import { vsctl } from '../../emulation/ovs.ts';
import { buildImage } from '../../image/build.ts';
import { fleetOf, guestInsteadOfNamespace, listRecords, readRecord } from '../../vm/fleet.ts';
import { guestAlive, withQmp } from '../../vm/qemu.ts';
import type { MigrationDriver, MigrationFigures, MigrationResult } from './driver.ts';
import { simDriver } from './sim.ts';
import { emulatedDriver } from './emulated.ts';
import { qemuDriver } from './qemu.ts';
import { startLibvirtFleet } from '../../vm/libvirt-fleet.ts';

const model = buildModel(
  parseScenario(
    `
name: contract
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }, { id: h3 }]
links: [{ a: h1, b: s1, capacity: 100Mbps }, { a: h2, b: s1, capacity: 100Mbps }, { a: h3, b: s1, capacity: 100Mbps }]
vms:
  - { name: vm1, ip: 10.9.1.1, mac: "02:00:00:00:01:01", host: h1 }
  - { name: vm2, ip: 10.9.1.2, mac: "02:00:00:00:01:02", host: h2 }
traffic:
  - { src: vm1, dst: vm2, packetBytes: 100, pps: 5 }
`,
    'contract.yaml',
  ),
);

interface Subject {
  readonly driver: MigrationDriver;
  /** every hypervisor where the VM runs now (the contract: exactly one) */
  places(vm: string): Promise<string[]>;
  /** a driver whose next migration fails part way because the destination goes away */
  failing(): MigrationDriver;
  stop(): Promise<void>;
}

const FIGURE_KEYS: readonly (keyof MigrationFigures)[] = ['source', 'totalTimeMs', 'downtimeMs', 'setupTimeMs', 'transferredBytes', 'dirtyPagesRate', 'memoryBytes'];

function assertFigures(r: MigrationResult, source: MigrationFigures['source']): void {
  const f = r.figures;
  assert.ok(f !== undefined, 'figures are returned');
  assert.deepEqual(Object.keys(f).sort(), [...FIGURE_KEYS].sort());
  assert.equal(f.source, source);
  assert.ok(Number.isFinite(f.totalTimeMs) && f.totalTimeMs >= 0, 'Number.isFinite(f.totalTimeMs) && f.totalTimeMs >= 0');
  assert.ok(Number.isInteger(f.transferredBytes) && f.transferredBytes >= 0, 'Number.isInteger(f.transferredBytes) && f.transferredBytes >= 0');
  for (const k of ['downtimeMs', 'setupTimeMs', 'dirtyPagesRate', 'memoryBytes'] as const) assert.ok(f[k] === null || (typeof f[k] === 'number' && f[k] >= 0), `${k}: ${String(f[k])}`);
  if (r.port !== undefined) assert.ok(Number.isInteger(r.port) && r.port > 0, 'Number.isInteger(r.port) && r.port > 0');
}

const system = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ip', 'ping', 'python3', 'ethtool', 'tc'] });
const withLibvirt = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovs-vsctl', 'ip', 'qemu-system-x86_64', 'busybox', 'apt-get', 'dpkg-deb', 'libvirtd', 'virsh', 'unshare'] });
const withQemu = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovs-vsctl', 'ip', 'qemu-system-x86_64', 'busybox', 'apt-get', 'dpkg-deb'] });

const subjects: ReadonlyArray<{ name: string; source: MigrationFigures['source']; skip: false | string; start: () => Promise<Subject> }> = [
  {
    name: 'simulated',
    source: 'simulated',
    skip: false,
    start: () => {
      const sim = createSimDataPlane({ model, clock: virtualClock() });
      let fail = false;
      return Promise.resolve({
        driver: simDriver(sim),
        places: (vm) => Promise.resolve([sim.hostOf(vm)]),
        failing: () => {
          fail = true;
          return simDriver(sim, { fail: () => fail });
        },
        stop: () => Promise.resolve(),
      });
    },
  },
  {
    name: 'namespace',
    source: 'wall-clock',
    skip: system.skip,
    start: async () => {
      // no controller listens: re-cabling and where the cable ends up need none
      const dc = await buildDataCentre(model, { controller: 'tcp:127.0.0.1:9', shape: false });
      return {
        driver: emulatedDriver({ model, prefix: dc.prefix, dc, probeAfterMs: 100 }),
        // read from the system (which bridge holds the VM's cable), not from the builder's memory
        places: async (vm) => [(await attachDataCentre(model, dc.prefix)).hypervisorOf(vm)],
        failing: () => ({
          name: 'emulated',
          async migrate(vm, from, to) {
            // the destination's bridge disappears: its port cannot be added
            await vsctl(dc.ovs, 'del-br', dc.bridgeOf(to));
            return emulatedDriver({ model, prefix: dc.prefix, dc, probeAfterMs: 100 }).migrate(vm, from, to);
          },
        }),
        stop: () => dc.stop(),
      };
    },
  },
  {
    name: 'qemu',
    source: 'qemu',
    skip: withQemu.skip,
    start: async () => {
      const image = await buildImage();
      const dc = await buildDataCentre(model, { controller: 'tcp:127.0.0.1:9', shape: false });
      try {
        await guestInsteadOfNamespace(dc, model, 'vm1', { image, memoryMiB: 96 });
      } catch (e) {
        await dc.stop();
        throw e;
      }
      const run = fleetOf(dc);
      return {
        driver: qemuDriver({ run }),
        places: async (vm) => {
          // every live QEMU of this VM, whatever the record says
          const live = listRecords(run).filter((g) => g.spec.vm === vm && guestAlive(g));
          const running = [];
          for (const g of live) if ((await withQmp(g, (q) => q.execute<{ status: string }>('query-status'))).status === 'running') running.push(g.hypervisor);
          assert.equal(readRecord(run, vm)?.hypervisor, running[0], 'the record names where it runs');
          return running;
        },
        failing: () => qemuDriver({ run, maxBandwidthBytes: 4 * 1024 * 1024, onDestinationReady: (d) => void setTimeout(() => process.kill(d.pid, 'SIGKILL'), 500) }),
        stop: () => dc.stop(),
      };
    },
  },
  {
    name: 'libvirt',
    source: 'libvirt',
    skip: withLibvirt.skip,
    start: async () => {
      const image = await buildImage();
      const dc = await buildDataCentre(model, { controller: 'tcp:127.0.0.1:9', shape: false });
      try {
        const fleet = await startLibvirtFleet(dc, ['h1', 'h2', 'h3']);
        await fleet.placeDomain(model, 'vm1', { image, memoryMiB: 96 });
        return {
          driver: fleet.driver(),
          places: (vm) => fleet.where(vm),
          failing: () => ({
            name: 'libvirt',
            async migrate(vm, from, to) {
              // the destination's daemon goes away
              await fleet.hosts.get(to)!.stop();
              return fleet.driver({ timeoutSeconds: 60 }).migrate(vm, from, to);
            },
          }),
          stop: async () => {
            await fleet.stop();
            await dc.stop();
          },
        };
      } catch (e) {
        await dc.stop();
        throw e;
      }
    },
  },
];

for (const s of subjects) {
  test(`driver contract: ${s.name}`, { skip: s.skip, timeout: 240_000 }, async () => {
    const x = await s.start();
    try {
      assert.deepEqual(await x.places('vm1'), ['h1']);
      const r = await x.driver.migrate('vm1', 'h1', 'h2');
      assertFigures(r, s.source);
      assert.deepEqual(await x.places('vm1'), ['h2'], 'after a migration: exactly at the destination');
      await assert.rejects(x.driver.migrate('vm1', 'h1', 'h3'), (e: unknown) => isScoreError(e, 'MIGRATION_FAILED'), 'from the wrong source: refused');
      assert.deepEqual(await x.places('vm1'), ['h2'], 'a refused migration moves nothing');
      await assert.rejects(x.failing().migrate('vm1', 'h2', 'h3'), (e: unknown) => isScoreError(e, 'MIGRATION_FAILED'), 'a failed migration is MIGRATION_FAILED');
      assert.deepEqual(await x.places('vm1'), ['h2'], 'a failed migration leaves the VM at the source');
    } finally {
      await x.stop();
    }
  });
}
