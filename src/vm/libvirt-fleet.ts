/**
 * libvirt domains on the emulated data centre's hypervisors: one libvirtd per hypervisor
 * (libvirt.ts), the guest image as a transient domain whose NIC is a tap on the hypervisor's OVS
 * bridge (ports and tap names as in fleet.ts), and the libvirt driver wired to them: before a
 * migration the destination's tap is plugged into the destination bridge and the destination XML
 * names it (`virsh migrate --xml`); after it the source's tap leaves the source bridge, or on
 * failure the destination's does.
 */
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { ScoreError } from '../errors/errors.ts';
import type { Model } from '../scenario/model.ts';
import type { DataCentre } from '../emulation/datacentre.ts';
import { VM_PREFIX_LENGTH } from '../emulation/datacentre.ts';
import { sleep } from '../emulation/procs.ts';
import { READY_LINE } from '../image/guest.ts';
import type { MigrationDriver } from '../agent/drivers/driver.ts';
import { libvirtDriver } from '../agent/drivers/libvirt.ts';
import { fleetOf, guestFlows, plug, unplugNamespace, reservePort, unplug, vmDir, type FleetRun, type PlaceGuestOptions } from './fleet.ts';
import { destinationXml, domainXml, libvirtUri, parseJobInfo, startLibvirtd, virsh, writeXml, type Libvirtd } from './libvirt.ts';
import type { GuestSpec } from './qemu.ts';

export interface LibvirtFleet {
  readonly hosts: ReadonlyMap<string, Libvirtd>;
  /** turns a namespace VM into a libvirt domain at the same bridge port (as guestInsteadOfNamespace) */
  placeDomain(model: Model, vm: string, o: PlaceGuestOptions): Promise<void>;
  /** the hypervisors whose libvirtd runs this domain (the contract: exactly one) */
  where(vm: string): Promise<string[]>;
  /** the libvirt driver for these hosts */
  driver(o?: { timeoutSeconds?: number }): MigrationDriver;
  stop(): Promise<void>;
}

const serialLog = (r: FleetRun, vm: string, hv: string): string => join(vmDir(r), `${vm}.${hv}.libvirt.serial.log`);

export async function startLibvirtFleet(dc: DataCentre, hypervisors: readonly string[]): Promise<LibvirtFleet> {
  const r = fleetOf(dc);
  const hosts = new Map<string, Libvirtd>();
  try {
    // one after another: each copies /etc/libvirt and starts a daemon, cheap but not free
    for (const hv of hypervisors) hosts.set(hv, await startLibvirtd({ hypervisor: hv, dir: join(r.ovs.paths.runDir, 'libvirt', hv), netns: r.ovs.netns }));
  } catch (e) {
    await Promise.all([...hosts.values()].map((h) => h.stop()));
    throw e;
  }
  const host = (hv: string): Libvirtd => {
    const h = hosts.get(hv);
    if (h === undefined) throw new ScoreError('UNKNOWN_HYPERVISOR', `no libvirtd for hypervisor "${hv}"`, { hypervisor: hv });
    return h;
  };
  return {
    hosts,
    async placeDomain(model, vm, o) {
      const info = model.vmInfo.get(vm);
      if (info === undefined) throw new ScoreError('UNKNOWN_VM', `no VM "${vm}" in the scenario`, { vm });
      const p = await unplugNamespace(dc, vm);
      const at = await reservePort(r, p.node, p.port);
      await plug(r, at);
      const spec: GuestSpec = { vm, image: o.image, mac: info.mac, cidr: `${info.ip}/${VM_PREFIX_LENGTH}`, flows: o.flows ?? guestFlows(model, vm), ...(o.memoryMiB !== undefined ? { memoryMiB: o.memoryMiB } : {}) };
      mkdirSync(vmDir(r), { recursive: true });
      const log = serialLog(r, vm, p.node);
      const h = host(p.node);
      await virsh(h.uri, ['create', writeXml(h.dir, vm, domainXml(spec, { tap: at.tap, serialLog: log }))]).catch((e: unknown) => {
        throw new ScoreError('VM_BOOT', `libvirt could not start ${vm}: ${e instanceof Error ? e.message : String(e)}`, { vm }, { cause: e });
      });
      const deadline = Date.now() + (o.bootTimeoutMs ?? 120_000);
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes(READY_LINE))) {
        if (Date.now() > deadline) throw new ScoreError('VM_BOOT', `domain ${vm} printed no "${READY_LINE}" in time`, { vm, serialLog: log });
        await sleep(100);
      }
    },
    async where(vm) {
      const out: string[] = [];
      for (const [hv, h] of hosts) {
        const state = await virsh(h.uri, ['domstate', '--domain', vm], 10_000).catch(() => '');
        if (state.trim() === 'running') out.push(hv);
      }
      return out;
    },
    driver: (o = {}) => libvirtFleetDriver(r, host, o),
    async stop() {
      for (const h of hosts.values()) {
        for (const name of (await virsh(h.uri, ['list', '--name'], 10_000).catch(() => '')).split('\n').map((s) => s.trim()).filter((s) => s !== '')) {
          await virsh(h.uri, ['destroy', '--domain', name], 30_000).catch(() => undefined);
        }
        await h.stop();
      }
    },
  };
}

/** Where a hypervisor's libvirtd of the run listens (startLibvirtd's layout under the run dir). */
export function libvirtHostOf(r: FleetRun, hv: string): Pick<Libvirtd, 'uri' | 'dir'> {
  const b = r.plan.bridges.find((x) => x.node === hv);
  if (b === undefined || b.kind !== 'hypervisor') throw new ScoreError('UNKNOWN_HYPERVISOR', `"${hv}" is not a hypervisor of this run`, { hypervisor: hv });
  const dir = join(r.ovs.paths.runDir, 'libvirt', hv);
  return { dir, uri: libvirtUri(dir) };
}

/**
 * The libvirt driver for the run's libvirt hosts, from any process of the run (a `score agent
 * --driver libvirt --emulation-prefix` process finds the daemons by the run's directory layout):
 * the destination's tap is plugged into the destination bridge and named in the destination XML;
 * after the migration the source's tap leaves the source bridge, or on failure the destination's.
 */
export function libvirtFleetDriver(r: FleetRun, host: (hv: string) => Pick<Libvirtd, 'uri' | 'dir'> = (hv) => libvirtHostOf(r, hv), o: { timeoutSeconds?: number } = {}): MigrationDriver {
  const bridgeOf = (hv: string): string => {
    const b = r.plan.bridges.find((x) => x.node === hv);
    if (b === undefined) throw new ScoreError('UNKNOWN_HYPERVISOR', `"${hv}" is not a hypervisor of this run`, { hypervisor: hv });
    return b.name;
  };
  return libvirtDriver({
    uriFor: (hv) => host(hv).uri,
    sourceUriFor: (hv) => host(hv).uri,
    // libvirt picks a free port of its migration range on the destination
    migrateUriFor: () => 'tcp://127.0.0.1',
    persistent: false,
    ...(o.timeoutSeconds !== undefined ? { timeoutSeconds: o.timeoutSeconds } : {}),
    virsh: 'virsh',
    jobInfo: true,
    parseJobInfo,
    prepare: async (vm, from, to) => {
      const src = host(from);
      host(to);
      const xml = await virsh(src.uri, ['dumpxml', '--domain', vm, '--migratable']);
      const fromTap = /<target dev='([^']+)'/.exec(xml)?.[1];
      if (fromTap === undefined) throw new ScoreError('MIGRATION_FAILED', `${vm}'s domain has no tap`, { vm });
      const at = await reservePort(r, to);
      await plug(r, at);
      const xmlPath = writeXml(src.dir, `${vm}-to-${to}`, destinationXml(xml, { fromTap, toTap: at.tap, fromLog: serialLog(r, vm, from), toLog: serialLog(r, vm, to) }));
      return {
        xmlPath,
        commit: () => unplug(r, { bridge: bridgeOf(from), tap: fromTap }),
        abort: () => unplug(r, at),
      };
    },
  });
}
