/**
 * QEMU guests placed on the hypervisors of an emulated data centre, and their live migration.
 *
 * Where each guest is lives on disk, in `<runDir>/vm/<vm>.json` (a GuestRecord, replaced
 * atomically after each move), so that any process of the run (the builder, one `score agent` per
 * hypervisor, a restarted agent) finds the guest, its QMP socket and its bridge port the way a
 * libvirt host finds its domains. The bridge port numbering follows datacentre.ts: a guest takes
 * the VM's planned port, a moved guest the lowest free number above the bridge's links; its tap
 * is named after that port (`<prefix>-<hv>-e<port>`), like the namespaces' cables.
 *
 * A migration (QEMU pre-copy, over TCP on the OVS namespace's loopback):
 *   1. a tap on the destination bridge and a destination QEMU with the same devices, `-incoming
 *      defer`, then QMP `migrate-incoming tcp:127.0.0.1:0` (QEMU picks the port and reports it);
 *   2. QMP `migrate` on the source; its MIGRATION events (capability `events`) wake the driver
 *      the moment the status changes (`query-migrate` refreshes the figures in between); past
 *      the deadline, `migrate_cancel`. The source's STOP event is the switch-over: `onSwitchover`
 *      tells the caller at once, so the network can follow while QEMU copies the rest;
 *   3. completed: once the destination runs (it finishes loading after the source is done) and
 *      has sent its RARP announcements, the source QEMU quits and its tap leaves the source
 *      bridge (PORT_STATUS delete); the record moves. Failed: the destination QEMU and tap go,
 *      the source is resumed if QEMU left it paused, a reported switch-over is reported back to
 *      the source, the record stays, and the error says why.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScoreError, isScoreError } from '../errors/errors.ts';
import type { Model } from '../scenario/model.ts';
import { planDataCentre, lowestFreePort, type DataCentre, type PortRef, portLocalName, parseOfports, VM_PREFIX_LENGTH, type DataCentrePlan } from '../emulation/datacentre.ts';
import { resourceName, runDirName } from '../emulation/names.ts';
import { ovsEnv, ovsPaths, vsctl, addPortArgs, type OvsInstance } from '../emulation/ovs.ts';
import { cmdlineOf, readPidfile, sleep } from '../emulation/procs.ts';
import { delNetns } from '../emulation/netns.ts';
import { run } from '../emulation/exec.ts';
import { tmpdir } from 'node:os';
import type { MigrationFigures, MigrationHooks } from '../agent/drivers/driver.ts';
import type { GuestFlow, GuestSegment } from '../image/guest.ts';
import type { TrafficEntry } from '../scenario/schema.ts';
import { trafficRateBytes } from '../scenario/model.ts';
import { entrySegments } from '../emulation/timed-traffic.ts';
import { addTap, delTap, guestAlive, startGuest, stopGuest, withQmp, type Guest, type GuestSpec } from './qemu.ts';
import { connectQmp, type QmpClient, type QmpEvent } from './qmp.ts';

export interface GuestRecord extends Guest {
  readonly hypervisor: string;
  readonly bridge: string;
  readonly port: number;
}

/** What the fleet needs of a run: its plan (pure, from model + prefix) and its Open vSwitch. */
export interface FleetRun {
  readonly plan: DataCentrePlan;
  readonly ovs: Pick<OvsInstance, 'netns' | 'paths' | 'env' | 'prefix'>;
}

/** A run built by another process, found by its prefix (as attachDataCentre does, without the namespaces). */
export function fleetRun(model: Model, prefix: string): FleetRun {
  const runDir = join(tmpdir(), runDirName(prefix));
  if (!existsSync(runDir)) throw new ScoreError('EMULATION_COMMAND', `no emulated data centre with prefix "${prefix}" (${runDir} does not exist)`, { prefix });
  const paths = ovsPaths(runDir);
  return {
    plan: planDataCentre(model, prefix),
    ovs: { prefix, netns: resourceName(prefix, 'ovs'), paths, env: ovsEnv(paths) },
  };
}

export const vmDir = (r: FleetRun): string => join(r.ovs.paths.runDir, 'vm');
const recordPath = (r: FleetRun, vm: string): string => join(vmDir(r), `${vm.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
const ovsOf = (r: FleetRun): OvsInstance => ({ ...r.ovs, ovsdbPid: readPidfile(r.ovs.paths.ovsdbPidfile) ?? 0, vswitchdPid: readPidfile(r.ovs.paths.vswitchdPidfile) ?? 0, relays: new Map() });

export function readRecord(r: FleetRun, vm: string): GuestRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(r, vm), 'utf8')) as GuestRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(r: FleetRun, g: GuestRecord): void {
  mkdirSync(vmDir(r), { recursive: true });
  const p = recordPath(r, g.spec.vm);
  writeFileSync(`${p}.tmp`, JSON.stringify(g));
  renameSync(`${p}.tmp`, p);
}

/** Every guest record of the run. */
export function listRecords(r: FleetRun): GuestRecord[] {
  if (!existsSync(vmDir(r))) return [];
  return readdirSync(vmDir(r))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(vmDir(r), f), 'utf8')) as GuestRecord);
}

async function usedPorts(r: FleetRun, bridge: string): Promise<number[]> {
  const ovs = ovsOf(r);
  const names = new Set((await vsctl(ovs, 'list-ports', bridge)).split('\n').map((s) => s.trim()).filter((s) => s !== ''));
  const all = parseOfports(await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface'));
  return [...all].filter(([n]) => names.has(n)).map(([, p]) => p);
}

/** A port (number and tap name) on `hv`'s bridge: `want` if given, else the lowest free one. */
export async function reservePort(r: FleetRun, hv: string, want?: number): Promise<{ bridge: string; port: number; tap: string }> {
  const idx = r.plan.bridges.findIndex((b) => b.node === hv);
  const b = r.plan.bridges[idx];
  if (b === undefined || b.kind !== 'hypervisor') throw new ScoreError('UNKNOWN_HYPERVISOR', `"${hv}" is not a hypervisor of this run`, { hypervisor: hv });
  const port = want ?? lowestFreePort(b.links, await usedPorts(r, b.name));
  const tap = resourceName(r.plan.prefix, portLocalName(b.name.slice(r.plan.prefix.length + 1), idx + 1, port));
  return { bridge: b.name, port, tap };
}

export async function plug(r: FleetRun, at: { bridge: string; port: number; tap: string }): Promise<void> {
  await addTap(r.ovs.netns, at.tap);
  await vsctl(ovsOf(r), ...addPortArgs(at.bridge, at.tap, { ofport: at.port }));
}

export async function unplug(r: FleetRun, at: { bridge: string; tap: string }): Promise<void> {
  await vsctl(ovsOf(r), '--if-exists', 'del-port', at.bridge, at.tap).catch(() => undefined);
  await delTap(r.ovs.netns, at.tap);
}

/**
 * A scenario flow as the guest sends it: ICMP echo requests of the scenario's packet size at its
 * packet rate (`pps`, else rate / packetBytes; packets default to 1000 bytes). ICMP needs 28
 * bytes of headers: smaller scenario packets are sent at that size. Pure.
 * @returns undefined for a destination with no address or a rate of 0
 */
function guestFlowOf(model: Model, t: TrafficEntry): GuestFlow | undefined {
  const dst = model.vmInfo.get(t.dst)?.ip;
  if (dst === undefined) return undefined;
  const packetBytes = Math.max(28, t.packetBytes ?? 1000);
  const pps = t.pps ?? trafficRateBytes(t) / packetBytes;
  return pps > 0 ? { dst, packetBytes, pps } : undefined;
}

/** The guest's flows: the scenario's traffic from this VM at t = 0 (segment 0 of the timeline). Pure. */
export function guestFlows(model: Model, vm: string): GuestFlow[] {
  return guestSegments(model, vm)[0]?.flows.slice() ?? [];
}

/**
 * The guest's schedule: for each segment of the scenario's timeline (phases, trace; one segment
 * for stationary traffic) the flows this VM sends then, as the namespaces' generators would make
 * them (timed-traffic.ts entrySegments: a written entry keeps its packet shape, a trace line is
 * sent as 1000-byte packets at its rate). Pure.
 */
export function guestSegments(model: Model, vm: string): GuestSegment[] {
  return entrySegments(model).map((seg) => ({
    startSec: seg.startSec,
    flows: seg.entries.filter((t) => t.src === vm).flatMap((t) => guestFlowOf(model, t) ?? []),
  }));
}

export interface PlaceGuestOptions {
  readonly image: GuestSpec['image'];
  readonly memoryMiB?: number;
  readonly tbMiB?: number;
  /** the QEMU's CPU weight as a nice value (GuestSpec.cpuNice); the migrations' destinations get it too */
  readonly cpuNice?: number;
  /** default: the scenario's flows from this VM (guestFlows) */
  readonly flows?: readonly GuestFlow[];
  readonly bootTimeoutMs?: number;
  /** a memory-dirtying load inside the guest */
  readonly dirty?: GuestSpec['dirty'];
  /** where to start it; default the VM's planned hypervisor and port */
  readonly at?: { readonly hypervisor: string; readonly port: number };
}

/**
 * Starts `vm` as a QEMU guest on its planned hypervisor and port, with its scenario MAC and IP.
 * The port must be free: a namespace VM of the same name is the caller's to remove first.
 * @throws ScoreError VM_BOOT (nothing left behind)
 */
export async function placeGuest(r: FleetRun, model: Model, vm: string, o: PlaceGuestOptions): Promise<GuestRecord> {
  const pv = r.plan.vms.find((v) => v.name === vm);
  if (pv === undefined) throw new ScoreError('UNKNOWN_VM', `no VM "${vm}" in the scenario`, { vm });
  const hv = o.at?.hypervisor ?? pv.hypervisor;
  const at = await reservePort(r, hv, o.at?.port ?? pv.port.port);
  const spec: GuestSpec = {
    vm,
    image: o.image,
    mac: pv.mac,
    cidr: `${pv.ip}/${VM_PREFIX_LENGTH}`,
    flows: o.flows ?? guestFlows(model, vm),
    ...(o.dirty !== undefined ? { dirty: o.dirty } : {}),
    ...(o.memoryMiB !== undefined ? { memoryMiB: o.memoryMiB } : {}),
    ...(o.tbMiB !== undefined ? { tbMiB: o.tbMiB } : {}),
    ...(o.cpuNice !== undefined ? { cpuNice: o.cpuNice } : {}),
  };
  await plug(r, at);
  let g: Guest;
  try {
    g = await startGuest(spec, { netns: r.ovs.netns, tap: at.tap, dir: vmDir(r), tag: `${hv}-0` }, o.bootTimeoutMs !== undefined ? { bootTimeoutMs: o.bootTimeoutMs } : {});
  } catch (e) {
    await unplug(r, at);
    throw e;
  }
  const rec: GuestRecord = { ...g, hypervisor: hv, bridge: at.bridge, port: at.port };
  writeRecord(r, rec);
  return rec;
}

/** The fleet's view of a data centre this process built (or attached to). */
export function fleetOf(dc: Pick<DataCentre, 'plan' | 'ovs'>): FleetRun {
  return { plan: dc.plan, ovs: dc.ovs };
}

/**
 * Turns a namespace VM of a built data centre into a QEMU guest at the same bridge port: the
 * namespace (and with it its veth) goes, a tap of the same name takes the port number, and the
 * guest boots with the VM's MAC and IP. The data centre's own moveVm/exec no longer apply to it.
 * @throws ScoreError VM_BOOT (the VM is then gone from the network: the caller stops the run)
 */
export async function guestInsteadOfNamespace(dc: DataCentre, model: Model, vm: string, o: PlaceGuestOptions): Promise<GuestRecord> {
  const p = await unplugNamespace(dc, vm);
  return placeGuest(fleetOf(dc), model, vm, { ...o, at: { hypervisor: p.node, port: p.port } });
}

/**
 * Takes a namespace VM off its bridge port and removes it, returning the port it had. The cable
 * is deleted from the switch side first: a namespace's devices die asynchronously after `ip netns
 * delete`, and the port's name is about to be taken by a tap.
 */
export async function unplugNamespace(dc: DataCentre, vm: string): Promise<PortRef> {
  const p = dc.vmPort(vm);
  await vsctl(dc.ovs, '--if-exists', 'del-port', p.bridge, p.iface);
  await run('ip', ['-n', dc.ovs.netns, 'link', 'del', p.iface]).catch(() => undefined);
  await delNetns(dc.vmNamespace(vm));
  return p;
}

/** Stops every guest of the run (the run's own cleanup would kill them too; this is the orderly way). */
export async function stopAllGuests(r: FleetRun): Promise<void> {
  await Promise.all(listRecords(r).map(async (g) => {
    await stopGuest(g);
    await unplug(r, { bridge: g.bridge, tap: g.place.tap });
  }));
}

/** QEMU's `query-migrate` reply, the parts used here (docs: qapi/migration.json MigrationInfo). */
export interface QueryMigrate {
  readonly status?: string;
  readonly 'error-desc'?: string;
  readonly 'total-time'?: number;
  readonly downtime?: number;
  readonly 'setup-time'?: number;
  readonly ram?: { readonly transferred?: number; readonly total?: number; readonly remaining?: number; readonly 'dirty-pages-rate'?: number; readonly mbps?: number; readonly 'dirty-sync-count'?: number; readonly 'normal-bytes'?: number; readonly normal?: number; readonly duplicate?: number };
  readonly 'socket-address'?: ReadonlyArray<{ readonly type?: string; readonly host?: string; readonly port?: string }>;
}

/** The figures of a completed migration, from QEMU's own counters. Pure. */
export function figuresOf(q: QueryMigrate): MigrationFigures {
  return {
    source: 'qemu',
    totalTimeMs: q['total-time'] ?? 0,
    downtimeMs: q.downtime ?? null,
    setupTimeMs: q['setup-time'] ?? null,
    transferredBytes: q.ram?.transferred ?? 0,
    dirtyPagesRate: q.ram?.['dirty-pages-rate'] ?? null,
    memoryBytes: q.ram?.total ?? null,
  };
}

/** QEMU's own defaults (qapi/migration.json): 300 ms downtime limit, 128 MiB/s bandwidth cap. */
export const QEMU_DOWNTIME_LIMIT_MS = 300;
export const QEMU_MAX_BANDWIDTH = 128 * 1024 * 1024;

export interface MigrateOptions {
  /** give up (migrate_cancel) after this long, ms; default 120 s */
  readonly timeoutMs?: number;
  /** QEMU's downtime limit, ms (migrate-set-parameters downtime-limit); default QEMU's 300 */
  readonly downtimeLimitMs?: number;
  /** QEMU's bandwidth cap, bytes/s (migrate-set-parameters max-bandwidth); default QEMU's 128 MiB/s */
  readonly maxBandwidthBytes?: number;
  /** called once the destination QEMU waits for the stream (tests kill it here) */
  readonly onDestinationReady?: (destination: Guest) => void | Promise<void>;
  /** every QMP event of either QEMU while the migration runs (STOP, RESUME, MIGRATION status, ...) */
  readonly onQmpEvent?: (side: 'source' | 'destination', e: QmpEvent) => void;
  /**
   * see MigrationHooks (src/agent/drivers/driver.ts): at QEMU's STOP of the source (without
   * `claim`), and back to the source if the migration fails after the switch-over was reported
   */
  readonly onSwitchover?: MigrationHooks['onSwitchover'];
  /**
   * Cluster mode's switch-over claim (what MigrationHooks.awaitControl resolves with): the source
   * runs with QEMU's `pause-before-switchover` capability, so the migration stops in status
   * `pre-switchover` with the source paused and before the destination has the device state; the
   * claim reports the switch-over to the leader there, and only once it resolves does QEMU go on
   * (`migrate-continue`). A claim that rejects cancels the migration (QEMU resumes the source) and
   * migrateGuest rejects with the claim's own error (CLUSTER_NOT_LEADER: the caller waits for a
   * leader and migrates again; any other code: the migration fails with it).
   */
  readonly claim?: (hypervisor: string, port: number) => Promise<void>;
  /** query-migrate refresh while no MIGRATION event comes, ms (default 100); status changes wake it at once */
  readonly pollMs?: number;
  /** every query-migrate answer of the source while it migrates (pre-copy experiments: bytes per dirty sync) */
  readonly onProgress?: (info: QueryMigrate) => void;
}

export interface MigrateOutcome {
  readonly record: GuestRecord;
  readonly figures: MigrationFigures;
  /** QEMU's last query-migrate answer, whole */
  readonly info: QueryMigrate;
}

/**
 * Live-migrates `vm`'s guest from `from` to `to` (see the module comment for the steps).
 * @throws ScoreError MIGRATION_FAILED with QEMU's reason (destination died, cancelled after the
 *   timeout, QMP error); the guest is then running at `from` and its record unchanged
 */
export async function migrateGuest(r: FleetRun, vm: string, from: string, to: string, o: MigrateOptions = {}): Promise<MigrateOutcome> {
  const src = readRecord(r, vm);
  if (src === undefined) throw new ScoreError('UNKNOWN_VM', `no QEMU guest "${vm}" in run ${r.plan.prefix}`, { vm });
  if (src.hypervisor !== from) throw new ScoreError('MIGRATION_FAILED', `${vm} runs on ${src.hypervisor}, not ${from}`, { vm, from, at: src.hypervisor });
  if (!guestAlive(src)) throw new ScoreError('MIGRATION_FAILED', `${vm}'s QEMU (pid ${src.pid}) is not running`, { vm });
  if (to === from) return { record: src, figures: figuresOf({}), info: {} };
  const at = await reservePort(r, to);
  await plug(r, at);
  let dst: Guest | undefined;
  // One QMP connection to each QEMU for the whole migration (QEMU serves one client per socket):
  // their events say the moment the source stops and the destination runs, rather than a poll.
  let dstQ: QmpClient | undefined;
  let srcQ: QmpClient | undefined;
  let migrating = false;
  /** set once the switch-over was reported (onSwitchover), so a failure reports the way back */
  let switchedOver: Promise<void> | undefined;
  /** the claim's refusal: the migration fails with it, whatever its code */
  let claimError: unknown;
  try {
    dst = await startGuest(src.spec, { netns: r.ovs.netns, tap: at.tap, dir: vmDir(r), tag: `${to}-${Date.now().toString(36)}` }, { incoming: true });
    dstQ = await connectQmp(dst.qmpSocket);
    const dq = dstQ;
    dq.onEvent((e) => o.onQmpEvent?.('destination', e));
    await dq.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    await dq.execute('migrate-incoming', { uri: 'tcp:127.0.0.1:0' });
    const port = (await dq.execute<QueryMigrate>('query-migrate'))['socket-address']?.find((a) => a.port !== undefined)?.port;
    if (port === undefined) throw new ScoreError('MIGRATION_FAILED', 'the destination QEMU did not say which port it listens on', { vm });
    await o.onDestinationReady?.(dst);
    srcQ = await connectQmp(src.qmpSocket);
    const q = srcQ;
    const wake = new Set<() => void>();
    q.onEvent((e) => {
      o.onQmpEvent?.('source', e);
      // a status change, or a dirty-bitmap sync (MIGRATION_PASS: a new pre-copy round): refresh now
      if (e.event === 'MIGRATION' || e.event === 'MIGRATION_PASS') for (const w of [...wake]) w();
      // QEMU stops the source for the last copy (migration_completion): the switch-over begins
      // (with a claim, the claim at pre-switchover is the report)
      if (e.event === 'STOP' && migrating && o.claim === undefined && switchedOver === undefined && o.onSwitchover !== undefined) switchedOver = Promise.resolve().then(() => o.onSwitchover?.(to, at.port)).catch(() => undefined);
    });
    // always set: parameters stay in the source QEMU, and an earlier caller's must not linger
    await q.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }, { capability: 'pause-before-switchover', state: o.claim !== undefined }] });
    await q.execute('migrate-set-parameters', { 'downtime-limit': o.downtimeLimitMs ?? QEMU_DOWNTIME_LIMIT_MS, 'max-bandwidth': o.maxBandwidthBytes ?? QEMU_MAX_BANDWIDTH });
    migrating = true;
    await q.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    let deadline = Date.now() + (o.timeoutMs ?? 120_000);
    let cancelled = false;
    // QEMU zeroes ram.dirty-pages-rate once completed: keep the last one measured while active
    let dirtyRate: number | undefined;
    let final: QueryMigrate;
    let figureRetries = 0;
    let claimed = false;
    for (;;) {
      const info = await q.execute<QueryMigrate>('query-migrate');
      o.onProgress?.(info);
      if (info.status === 'pre-switchover' && o.claim !== undefined && !claimed) {
        // the source is paused and the destination has no device state yet: nothing runs anywhere
        // until the leader took the switch-over and re-routed the VM to its new port
        claimed = true;
        try {
          await o.claim(to, at.port);
        } catch (e) {
          claimError = e;
          cancelled = true;
          await q.execute('migrate_cancel').catch(() => undefined);
          continue;
        }
        switchedOver = Promise.resolve();
        // the network follows the VM now: a timeout right after this would cancel a switch-over
        // the leader took (and re-route the VM twice); the device state gets 30 s more
        deadline = Math.max(deadline, Date.now() + 30_000);
        try {
          await q.execute('migrate-continue', { state: 'pre-switchover' });
        } catch {
          // a failed continue is QEMU's failure: cancel, MIGRATION_FAILED, the report goes back
          cancelled = true;
          await q.execute('migrate_cancel').catch(() => undefined);
        }
        continue;
      }
      const rate = info.ram?.['dirty-pages-rate'];
      if (info.status === 'active' && rate !== undefined && rate > 0) dirtyRate = rate;
      // QEMU says completed a moment before its migration thread fills in total-time and
      // downtime (migration_calculate_complete): woken by the event, ask again for the figures
      if (info.status === 'completed' && !(info['total-time'] ?? 0) && figureRetries++ < 100) {
        await sleep(10);
        continue;
      }
      if (info.status === 'completed' || info.status === 'failed' || info.status === 'cancelled') {
        final = dirtyRate !== undefined && info.ram !== undefined && !(info.ram['dirty-pages-rate'] ?? 0) ? { ...info, ram: { ...info.ram, 'dirty-pages-rate': dirtyRate } } : info;
        break;
      }
      if (!cancelled && Date.now() > deadline) {
        cancelled = true;
        await q.execute('migrate_cancel').catch(() => undefined);
      }
      // a MIGRATION event (status change) wakes the loop at once; the poll only refreshes figures
      await wokenOrAfter(wake, o.pollMs ?? 100);
    }
    if (final.status !== 'completed') {
      if (claimError !== undefined) throw claimError instanceof Error ? claimError : new ScoreError('MIGRATION_FAILED', `the switch-over claim of ${vm} failed`, { vm, to });
      throw new ScoreError('MIGRATION_FAILED', `QEMU reports the migration of ${vm} to ${to} ${final.status}${final['error-desc'] ? `: ${final['error-desc']}` : final.status === 'cancelled' ? ` after ${o.timeoutMs ?? 120_000} ms` : ''}`, { vm, to, status: final.status });
    }
    // the source is done once it sent everything; the destination runs once it loaded it all
    // (its RESUME event): wait for that, woken by its events
    const dstWake = new Set<() => void>();
    dq.onEvent(() => {
      for (const w of [...dstWake]) w();
    });
    const dstDeadline = Date.now() + 30_000;
    for (let status = ''; ; ) {
      status = (await dq.execute<{ status: string }>('query-status')).status;
      if (status === 'running') break;
      if (status !== 'inmigrate' || Date.now() > dstDeadline) throw new ScoreError('MIGRATION_FAILED', `the destination QEMU of ${vm} is ${status} after the migration`, { vm, to });
      await wokenOrAfter(dstWake, 50);
    }
    srcQ.close();
    dstQ.close();
    const moved: GuestRecord = { ...dst, hypervisor: to, bridge: at.bridge, port: at.port };
    writeRecord(r, moved);
    // the source is paused (postmigrate) now: nothing of it may reach the network again
    await stopGuest(src);
    await unplug(r, { bridge: src.bridge, tap: src.place.tap });
    return { record: moved, figures: figuresOf(final), info: final };
  } catch (e) {
    srcQ?.close();
    dstQ?.close();
    if (dst !== undefined) await stopGuest(dst).catch(() => undefined);
    await unplug(r, at).catch(() => undefined);
    await resumeSource(src);
    if (switchedOver !== undefined) {
      await switchedOver;
      await Promise.resolve(o.onSwitchover?.(from, src.port)).catch(() => undefined);
    }
    if (isScoreError(e, 'MIGRATION_FAILED') || (claimError !== undefined && e === claimError)) throw e;
    throw new ScoreError('MIGRATION_FAILED', `migration of ${vm} to ${to} failed: ${e instanceof Error ? e.message : String(e)}`, { vm, to }, { cause: e });
  }
}

/** Resolves after `ms`, or earlier when one of `wake`'s functions is called (a QMP event came). */
function wokenOrAfter(wake: Set<() => void>, ms: number): Promise<void> {
  return new Promise<void>((res) => {
    const done = (): void => {
      clearTimeout(t);
      wake.delete(done);
      res();
    };
    const t = setTimeout(done, ms);
    wake.add(done);
  });
}

/** After a failed migration the source must run: QEMU resumes it itself unless the switch-over had begun. */
async function resumeSource(src: Guest): Promise<void> {
  if (!guestAlive(src)) return;
  await withQmp(src, async (q) => {
    const s = await q.execute<{ status: string }>('query-status');
    if (s.status !== 'running') await q.execute('cont');
  }).catch(() => undefined);
}

/**
 * An outgoing migration's statuses while it may still finish (qapi/migration.json MigrationStatus):
 * `pre-switchover` is a source paused for a claim (pause-before-switchover) whose agent died.
 */
const MIGRATING_STATES: readonly string[] = ['setup', 'active', 'pre-switchover', 'device'];

/**
 * After an agent died in the middle of a migration: what QEMU says wins. Every live QEMU of `vm`
 * in the run (found by its pidfile and QMP socket) is asked; an outgoing migration still active
 * is cancelled (the source keeps running, as for any failed migration); then the one guest that
 * runs is kept and recorded where its tap is, a paused source with no running peer is resumed,
 * and every other QEMU of the VM (a destination left waiting or a source left paused after the
 * switch-over) is stopped and unplugged.
 * @returns the record now, or undefined when no QEMU of the VM is left
 */
export async function reconcileGuest(r: FleetRun, vm: string): Promise<GuestRecord | undefined> {
  const dir = vmDir(r);
  const rec = readRecord(r, vm);
  const candidates: Array<{ tag: string; pid: number; qmpSocket: string; status: string; migrating: boolean; tap: string }> = [];
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!f.startsWith(`${vm}.`) || !f.endsWith('.pid')) continue;
    const tag = f.slice(vm.length + 1, -'.pid'.length);
    const qmpSocket = join(dir, `${vm}.${tag}.qmp`);
    const pid = readPidfile(join(dir, f));
    if (pid === undefined || !guestAlive({ pid, qmpSocket })) continue;
    const tap = /ifname=([^,]+)/.exec(cmdlineOf(pid).join(' '))?.[1] ?? '';
    const state = await withQmp({ qmpSocket }, async (q) => ({ status: (await q.execute<{ status: string }>('query-status')).status, migration: (await q.execute<QueryMigrate>('query-migrate')).status })).catch(() => undefined);
    if (state !== undefined) candidates.push({ tag, pid, qmpSocket, status: state.status, migrating: MIGRATING_STATES.includes(state.migration ?? ''), tap });
  }
  for (const c of candidates.filter((x) => x.migrating)) {
    await withQmp(c, async (q) => {
      await q.execute('migrate_cancel');
      for (let i = 0; i < 200 && [...MIGRATING_STATES, 'cancelling'].includes((await q.execute<QueryMigrate>('query-migrate')).status ?? ''); i++) await sleep(50);
      c.status = (await q.execute<{ status: string }>('query-status')).status;
    }).catch(() => undefined);
  }
  let resumed = candidates.some((c) => c.migrating);
  let keep = candidates.find((c) => c.status === 'running' && c.qmpSocket === rec?.qmpSocket) ?? candidates.find((c) => c.status === 'running');
  if (keep === undefined) {
    // nobody runs: a source paused by a switch-over whose destination is gone
    keep = candidates.find((c) => c.status === 'postmigrate' || c.status === 'paused');
    if (keep !== undefined) await withQmp(keep, (q) => q.execute('cont'));
    resumed ||= keep !== undefined;
  }
  const ovs = ovsOf(r);
  for (const c of candidates.filter((x) => x !== keep)) {
    const bridge = (await vsctl(ovs, 'iface-to-br', c.tap).catch(() => '')).trim();
    await stopGuest({ spec: { vm } as GuestSpec, place: { netns: r.ovs.netns, tap: c.tap, dir, tag: c.tag }, pid: c.pid, qmpSocket: c.qmpSocket, serialLog: '' });
    if (bridge !== '') await unplug(r, { bridge, tap: c.tap });
  }
  if (keep === undefined) return undefined;
  if (candidates.length > 1 || resumed) {
    // a migration was settled here: the controller may have been told the VM went elsewhere (a
    // claim taken before its agent died), and a source that runs again sends nothing by itself;
    // QEMU's announcement (RARP, as after a migration) lets the network find it where it runs
    await withQmp(keep, (q) => q.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 })).catch(() => undefined);
  }
  const bridge = (await vsctl(ovs, 'iface-to-br', keep.tap)).trim();
  const b = r.plan.bridges.find((x) => x.name === bridge);
  const port = parseOfports(await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface')).get(keep.tap);
  if (b === undefined || port === undefined || rec === undefined) throw new ScoreError('MIGRATION_FAILED', `${vm} runs on tap ${keep.tap}, which is on no hypervisor bridge of the run`, { vm });
  const now: GuestRecord = { spec: rec.spec, place: { ...rec.place, tap: keep.tap, tag: keep.tag }, pid: keep.pid, qmpSocket: keep.qmpSocket, serialLog: join(dir, `${vm}.${keep.tag}.serial.log`), hypervisor: b.node, bridge: b.name, port };
  writeRecord(r, now);
  return now;
}

/**
 * reconcileGuest for every guest recorded on `hypervisor`: what its agent runs at start, so a
 * guest its previous process left paused (at pre-switchover, waiting for a claim that never came)
 * runs again without waiting for its next migration.
 * @returns the guests' records now (a guest with no QEMU left is not in it)
 */
export async function reconcileHypervisor(r: FleetRun, hypervisor: string): Promise<GuestRecord[]> {
  const out: GuestRecord[] = [];
  for (const g of listRecords(r).filter((x) => x.hypervisor === hypervisor)) {
    const now = await reconcileGuest(r, g.spec.vm);
    if (now !== undefined) out.push(now);
  }
  return out;
}
