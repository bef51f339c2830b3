/**
 * The emulated data centre: a scenario built on this machine out of real Open vSwitch bridges
 * (userspace datapath, one isolated instance per run, see ovs.ts) and network namespaces, the way
 * Mininet builds a topology. Describing it (planDataCentre, pure) is separate from building it
 * (buildDataCentre, root).
 *
 * What a scenario becomes:
 * - every switch and every hypervisor (its virtual switch) -> one netdev bridge
 *   `<prefix>-<node>`, fail-mode secure, OpenFlow 1.3 only, datapath id from the scenario's `dpid`
 *   or, without one, the lowest number from 1 up that no explicit dpid uses (in scenario order:
 *   switches, then hypervisors), connected to the controller;
 * - every link -> a veth pair `<prefix>-<a>-e<portA>` / `<prefix>-<b>-e<portB>`, both ends in the
 *   OVS namespace, shaped with tbf to the link capacity on both ends (each end's egress is one
 *   direction);
 * - every VM -> a namespace `<prefix>-<vm>` holding `eth0` (the scenario's MAC, IP/24), cabled by
 *   a veth to port `<prefix>-<hv>-e<port>` of its hypervisor's bridge.
 *
 * OpenFlow port numbers (requested with ofport_request, checked after the build):
 * - on each bridge, its links in scenario order get 1, 2, 3, ...;
 * - then the VMs the scenario places on it, in scenario order, get the next numbers;
 * - a VM moved onto a bridge (moveVm) gets the lowest free number above the bridge's links.
 * So in the paper's data centre hv16 has uplink 1 and vm1..vm3 on 2..4; t1 has a1 = 1, a2 = 2,
 * hv16 = 3, hv17 = 4; c1 has a1..a4 on 1..4.
 *
 * Names: node and VM ids are used as they are when they fit names.ts (at most 8 chars of
 * [a-z0-9-], and `<id>-e<port>` must fit too); otherwise a node becomes `n<i>` and a VM `v<i>`
 * (1-based position in the scenario), and a port whose `<node>-e<port>` is too long becomes
 * `n<i>-<port>`.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';
import type { Model } from '../scenario/model.ts';
import { requireRoot, resolveTool, run } from './exec.ts';
import { isRunning, readPidfile, startTimeOf } from './procs.ts';
import { LOCAL_NAME_MAX, resourceName, runDirName } from './names.ts';
import { listLinks, listNetns, nsExec, tbfArgs } from './netns.ts';
import {
  addBridgeArgs,
  addPortArgs,
  formatDpid,
  ovsEnv,
  ovsPaths,
  startOvs,
  stopOvs,
  switchControllerTarget,
  vsctl,
  type OvsInstance,
} from './ovs.ts';

// ---- the plan (pure) --------------------------------------------------------------------------

export interface PortRef {
  /** Scenario node (switch or hypervisor) whose bridge holds the port. */
  readonly node: string;
  readonly bridge: string;
  /** OpenFlow port number. */
  readonly port: number;
  /** Interface name, in the OVS namespace. */
  readonly iface: string;
}

export interface BridgePlan {
  readonly node: string;
  readonly kind: 'switch' | 'hypervisor';
  readonly name: string;
  /** 16 hex digits, as OVS and ovs-ofctl print it. */
  readonly dpid: string;
  /** Number of link ports (1..links); VM ports are above. */
  readonly links: number;
}

export interface LinkPlan {
  readonly id: string;
  readonly a: PortRef;
  readonly b: PortRef;
  readonly capacityBps: number;
}

export interface VmPlan {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly mac: string;
  readonly hypervisor: string;
  readonly port: PortRef;
}

export interface DataCentrePlan {
  readonly prefix: string;
  readonly bridges: readonly BridgePlan[];
  readonly links: readonly LinkPlan[];
  readonly vms: readonly VmPlan[];
}

/** The VM side of every VM's cable, inside the VM's namespace. */
export const VM_IFACE = 'eth0';
export const VM_PREFIX_LENGTH = 24;
// A namespace name that ovs.ts already takes for ovs-vswitchd's own namespace.
const RESERVED = new Set(['ovs']);
const MAX_OFPORT = 0xfeff;

function fits(id: string, max = LOCAL_NAME_MAX): boolean {
  return id.length <= max && /^[a-z0-9][a-z0-9-]*$/.test(id) && !RESERVED.has(id);
}

/** Local (prefix-less) names of nodes or VMs: the id itself when it fits, else `<letter><i>`. */
export function localNames(ids: readonly string[], letter: string): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set(ids.filter((id) => fits(id)));
  ids.forEach((id, i) => {
    if (fits(id)) {
      out.set(id, id);
      return;
    }
    let alias = `${letter}${i + 1}`;
    for (let k = 1; taken.has(alias); k++) alias = `${letter}${i + 1}x${k}`;
    taken.add(alias);
    out.set(id, alias);
  });
  return out;
}

/** Local name of port `port` on the bridge whose local name is `node` (index i, 1-based). */
export function portLocalName(node: string, index: number, port: number): string {
  const mininet = `${node}-e${port}`;
  return mininet.length <= LOCAL_NAME_MAX ? mininet : `n${index}-${port}`;
}

/** Datapath ids: the scenario's where given, else the lowest unused numbers from 1, in order. */
export function assignDpids(nodes: ReadonlyArray<{ readonly id: string; readonly dpid?: string | undefined }>): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const n of nodes) {
    if (n.dpid === undefined) continue;
    const d = formatDpid(n.dpid);
    if (used.has(d)) throw new ScoreError('SCENARIO_INVALID', `datapath id ${n.dpid} of ${n.id} is used twice`, { node: n.id });
    used.add(d);
    out.set(n.id, d);
  }
  let next = 1n;
  for (const n of nodes) {
    if (out.has(n.id)) continue;
    while (used.has(formatDpid(next))) next++;
    const d = formatDpid(next);
    used.add(d);
    out.set(n.id, d);
  }
  return out;
}

/** Lowest port number above a bridge's links that none of `used` holds. */
export function lowestFreePort(links: number, used: Iterable<number>): number {
  const taken = new Set(used);
  for (let p = links + 1; p <= MAX_OFPORT; p++) if (!taken.has(p)) return p;
  throw new ScoreError('EMULATION_COMMAND', 'no free OpenFlow port number left on the bridge', { links });
}

/** Everything buildDataCentre creates, named and numbered. Pure. */
export function planDataCentre(model: Model, prefix: string): DataCentrePlan {
  const s = model.scenario;
  const nodes = [
    ...s.switches.map((x) => ({ id: x.id, dpid: x.dpid, kind: 'switch' as const })),
    ...s.hypervisors.map((x) => ({ id: x.id, dpid: x.dpid, kind: 'hypervisor' as const })),
  ];
  const nodeLocal = localNames(nodes.map((n) => n.id), 'n');
  const nodeIndex = new Map(nodes.map((n, i) => [n.id, i + 1]));
  const dpids = assignDpids(nodes);
  const nextPort = new Map(nodes.map((n) => [n.id, 1]));
  const bridgeName = (node: string): string => resourceName(prefix, must(nodeLocal.get(node), node));
  const portRef = (node: string): PortRef => {
    const port = must(nextPort.get(node), node);
    nextPort.set(node, port + 1);
    const iface = resourceName(prefix, portLocalName(must(nodeLocal.get(node), node), must(nodeIndex.get(node), node), port));
    return { node, bridge: bridgeName(node), port, iface };
  };
  const links = model.topology.links.map((l) => ({ id: l.id, a: portRef(l.a), b: portRef(l.b), capacityBps: l.capacityBps }));
  const bridges = nodes.map((n) => ({
    node: n.id,
    kind: n.kind,
    name: bridgeName(n.id),
    dpid: must(dpids.get(n.id), n.id),
    links: must(nextPort.get(n.id), n.id) - 1,
  }));
  const vmLocal = localNames(s.vms.map((v) => v.name), 'v');
  const vms = s.vms.map((v) => ({
    name: v.name,
    namespace: resourceName(prefix, must(vmLocal.get(v.name), v.name)),
    ip: v.ip,
    mac: v.mac.toLowerCase(),
    hypervisor: v.host,
    port: portRef(v.host),
  }));
  const plan = { prefix, bridges, links, vms };
  assertUniqueNames(plan);
  return plan;
}

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new ScoreError('INTERNAL', `no entry for ${what}`, { what });
  return v;
}

function assertUniqueNames(plan: DataCentrePlan): void {
  // Bridges, link ends and VM cables share the OVS namespace (netdev bridges make a tap there too).
  const ifaces = [
    ...plan.bridges.map((b) => b.name),
    ...plan.links.flatMap((l) => [l.a.iface, l.b.iface]),
    ...plan.vms.map((v) => v.port.iface),
  ];
  const namespaces = [resourceName(plan.prefix, 'ovs'), ...plan.vms.map((v) => v.namespace)];
  for (const names of [ifaces, namespaces]) {
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) {
        throw new ScoreError('SCENARIO_INVALID', `cannot emulate: two resources would both be named ${n}; rename a node or VM`, { name: n });
      }
      seen.add(n);
    }
  }
}

// ---- building (root) --------------------------------------------------------------------------

export interface BuildOptions {
  /** Controller as seen from the host, e.g. `tcp:127.0.0.1:6653` (relayed, see ovs.ts). */
  readonly controller: string;
  /** Run prefix (names.ts); default a fresh random one. */
  readonly prefix?: string;
  /** Shape links to their capacity with tc; default true. */
  readonly shape?: boolean;
  /** Parallel system commands during the build; default 8. */
  readonly concurrency?: number;
}

export interface MoveOptions {
  /** Send RARP + gratuitous ARP from the VM afterwards, as QEMU does; default true. */
  readonly announce?: boolean;
  /**
   * Called with the destination port once the VM is paused (its cable down and renamed: it sends
   * nothing from the source any more) and before it is plugged in there, as QEMU's
   * pause-before-switchover lets a caller act between the source's last run and the destination's
   * first. If it rejects, the VM is put back on its source port (same OpenFlow port number) and
   * running again, and moveVm rejects with its error.
   */
  readonly beforePlug?: (port: number) => Promise<void>;
  /**
   * Told what went wrong after the VM was plugged in at its destination (the announcement could
   * not be sent): the move stands, the VM runs at its new port, and the network learns it from its
   * next frame instead. Default: a `WARN` line on stderr.
   */
  readonly onWarning?: (message: string) => void;
}

export interface DataCentre {
  readonly ovs: OvsInstance;
  readonly model: Model;
  /** The plan as built; VM ports change with moveVm (see vmPort). */
  readonly plan: DataCentrePlan;
  readonly prefix: string;
  readonly controller: string;
  readonly shaped: boolean;
  /** Wall time of buildDataCentre, ms, and of its phases. */
  readonly timings: Readonly<Record<string, number>>;
  bridgeOf(node: string): string;
  dpidOf(node: string): bigint;
  vmNamespace(vm: string): string;
  /** Where the VM is cabled now. */
  vmPort(vm: string): PortRef;
  hypervisorOf(vm: string): string;
  linkPorts(linkId: string): { readonly a: PortRef; readonly b: PortRef };
  /** Both veth ends down (or up): the switches see carrier loss and send PORT_STATUS. */
  setLinkUp(linkId: string, up: boolean): Promise<void>;
  /**
   * Re-cables the VM to another hypervisor's bridge, keeping namespace, IP and MAC. Rejects only
   * when the VM is back on its source port (or never left it); a failed announcement afterwards
   * is reported through MoveOptions.onWarning.
   */
  moveVm(vm: string, toHypervisor: string, opts?: MoveOptions): Promise<PortRef>;
  /** RARP (ethertype 0x8035) and gratuitous ARP from inside the VM, QEMU's announcement. */
  announce(vm: string, rounds?: number): Promise<void>;
  /** Runs a command inside the VM's namespace; resolves with its stdout. */
  exec(vm: string, cmd: string, ...args: string[]): Promise<string>;
  /** Work to do first when the data centre stops (traffic.ts stops its generators here). */
  onStop(hook: () => Promise<void>): void;
  /** Removes everything the run created. Safe to call twice. */
  stop(): Promise<void>;
}

const TOOLS = ['ip', 'tc', 'ethtool', 'python3'] as const;

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first error after all settle. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length > 0) throw errors[0];
}

/**
 * The neighbour (ARP/NDP) entries a VM holds on its cable, with their addresses. A migrated guest
 * keeps them (they are in its memory), but the emulation takes the VM's cable down while it
 * moves, and Linux invalidates a device's neighbour entries when its carrier goes: the VM's next
 * packets then wait in an unresolved entry until ARP retransmits, 1 s later (retrans_time_ms),
 * which was most of a moving VM's own ping silence. So they are read before and put back after.
 */
async function vmNeighbours(ns: string): Promise<{ dst: string; lladdr: string }[]> {
  const out = (await run('ip', ['-n', ns, '-j', 'neigh', 'show', 'dev', VM_IFACE])).stdout.trim();
  const entries = (out === '' ? [] : JSON.parse(out)) as { dst?: string; lladdr?: string; state?: string[] }[];
  return entries.filter((e) => e.dst !== undefined && e.lladdr !== undefined && !(e.state ?? []).some((x) => x === 'FAILED' || x === 'INCOMPLETE' || x === 'PERMANENT' || x === 'NOARP')).map((e) => ({ dst: e.dst as string, lladdr: e.lladdr as string }));
}

/**
 * Puts them back as STALE (valid: used at once, confirmed lazily by unicast probes, as after a real
 * migration), with the VM's traffic peers of the scenario among them: an entry being re-resolved
 * when they were read (its peer moved just before) has no address to read, though the guest talks
 * to that peer. `-force`: one refused line does not stop the others.
 */
async function restoreNeighbours(ovs: OvsInstance, model: Model, vmName: string, ns: string, read: readonly { dst: string; lladdr: string }[]): Promise<void> {
  const entries = new Map(read.map((e) => [e.dst, e.lladdr]));
  for (const peer of model.traffic.peers.get(vmName)?.keys() ?? []) {
    const info = model.vmInfo.get(peer);
    if (info !== undefined && !entries.has(info.ip)) entries.set(info.ip, info.mac);
  }
  if (entries.size === 0) return;
  const file = join(ovs.paths.runDir, `neigh-${vmName}.batch`);
  writeFileSync(file, batch([...entries].map(([dst, lladdr]) => ['neigh', 'replace', dst, 'lladdr', lladdr, 'dev', VM_IFACE, 'nud', 'stale'])));
  await run('ip', ['-n', ns, '-force', '-batch', file]);
}

/** `ip -batch` / `tc -batch` lines, one command per line (names never contain spaces). */
function batch(lines: ReadonlyArray<readonly string[]>): string {
  return `${lines.map((l) => l.join(' ')).join('\n')}\n`;
}

async function runBatch(ovs: OvsInstance, tool: 'ip' | 'tc', ns: string | undefined, name: string, lines: ReadonlyArray<readonly string[]>): Promise<void> {
  if (lines.length === 0) return;
  // One process for many commands; the file lives in the run dir, so the run's cleanup takes it.
  const file = join(ovs.paths.runDir, `${name}.batch`);
  writeFileSync(file, batch(lines));
  await run(tool, [...(ns === undefined ? [] : ['-n', ns]), '-batch', file]);
}

/** Host-namespace `ip` lines creating the VM namespaces and every veth, ends born in place. */
export function hostBatch(plan: DataCentrePlan, ovsNetns: string): string[][] {
  const lines: string[][] = plan.vms.map((v) => ['netns', 'add', v.namespace]);
  for (const l of plan.links) lines.push(['link', 'add', l.a.iface, 'netns', ovsNetns, 'type', 'veth', 'peer', 'name', l.b.iface, 'netns', ovsNetns]);
  for (const v of plan.vms) {
    lines.push(['link', 'add', VM_IFACE, 'address', v.mac, 'netns', v.namespace, 'type', 'veth', 'peer', 'name', v.port.iface, 'netns', ovsNetns]);
  }
  return lines;
}

/** One ovs-vsctl transaction: every bridge with its controller, every port with its number. */
export function vsctlBuildArgs(plan: DataCentrePlan, controllerTarget: string | undefined): string[] {
  const parts: string[][] = plan.bridges.map((b, i) =>
    addBridgeArgs(b.name, { dpid: b.dpid, failMode: 'secure', protocols: 'OpenFlow13' }, controllerTarget, `c${i}`),
  );
  for (const l of plan.links) for (const end of [l.a, l.b]) parts.push(addPortArgs(end.bridge, end.iface, { ofport: end.port }));
  for (const v of plan.vms) parts.push(addPortArgs(v.port.bridge, v.port.iface, { ofport: v.port.port }));
  return parts.flatMap((p, i) => (i === 0 ? p : ['--', ...p]));
}

/** `name,ofport` CSV from `ovs-vsctl -f csv --columns=name,ofport list Interface`. */
export function parseOfports(csv: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of csv.split('\n')) {
    const m = /^"?([^",]+)"?,(-?\d+)$/.exec(line.trim());
    if (m !== null) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

/**
 * Builds the scenario on this machine. Needs root, Open vSwitch, iproute2, ethtool and python3.
 * On failure everything already made is removed before the error propagates.
 */
export async function buildDataCentre(model: Model, opts: BuildOptions): Promise<DataCentre> {
  requireRoot('the emulated data centre');
  for (const t of TOOLS) resolveTool(t);
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  let mark = t0;
  const phase = (name: string): void => {
    const now = performance.now();
    timings[name] = Math.round(now - mark);
    mark = now;
  };
  const ovs = await startOvs(opts.prefix === undefined ? {} : { prefix: opts.prefix });
  phase('startOvs');
  try {
    const plan = planDataCentre(model, ovs.prefix);
    const limit = opts.concurrency ?? 8;
    const shaped = opts.shape ?? true;
    await runBatch(ovs, 'ip', undefined, 'host', hostBatch(plan, ovs.netns));
    phase('veths');
    const ovsSide = [...plan.links.flatMap((l) => [l.a.iface, l.b.iface]), ...plan.vms.map((v) => v.port.iface)];
    await Promise.all([
      runBatch(ovs, 'ip', ovs.netns, 'ovs-up', ovsSide.map((i) => ['link', 'set', i, 'up'])),
      forEachLimit(plan.vms, limit, async (v) => {
        await runBatch(ovs, 'ip', v.namespace, `vm-${v.name.replace(/[^A-Za-z0-9]/g, '_')}`, [
          ['link', 'set', 'lo', 'up'],
          ['addr', 'add', `${v.ip}/${VM_PREFIX_LENGTH}`, 'dev', VM_IFACE],
          ['link', 'set', VM_IFACE, 'up'],
        ]);
        // The userspace datapath passes frames on without filling in checksums the sender left to
        // "hardware", so TCP from a VM would arrive with bad checksums.
        await nsExec(v.namespace, 'ethtool', '-K', VM_IFACE, 'tx', 'off');
      }),
    ]);
    phase('configure');
    const target = await switchControllerTarget(ovs, opts.controller);
    await vsctl(ovs, ...vsctlBuildArgs(plan, target));
    phase('ovs');
    await checkOfports(ovs, plan);
    phase('check');
    // Only after the ports are in OVS: opening a port without QoS configured, OVS replaces a
    // root qdisc it does not know (tbf) with the default one.
    if (shaped) {
      await runBatch(ovs, 'tc', ovs.netns, 'tc', plan.links.flatMap((l) => [tbfArgs(l.a.iface, l.capacityBps), tbfArgs(l.b.iface, l.capacityBps)]));
    }
    phase('shape');
    timings.total = Math.round(performance.now() - t0);
    return handle(model, plan, ovs, opts.controller, shaped, timings);
  } catch (e) {
    await stopOvs(ovs).catch(() => undefined);
    throw e;
  }
}

/** An interface OVS could not open gets ofport -1 silently; make that a build failure. */
async function checkOfports(ovs: OvsInstance, plan: DataCentrePlan): Promise<void> {
  const actual = parseOfports(await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface'));
  const want = [...plan.links.flatMap((l) => [l.a, l.b]), ...plan.vms.map((v) => v.port)];
  const wrong = want.filter((p) => actual.get(p.iface) !== p.port).map((p) => `${p.iface}: want ${p.port}, got ${String(actual.get(p.iface))}`);
  if (wrong.length > 0) {
    throw new ScoreError('EMULATION_COMMAND', `Open vSwitch did not take the requested port numbers: ${wrong.slice(0, 5).join('; ')}`, { wrong });
  }
}

/**
 * QEMU's self-announcement after a migration: a RARP request (ethertype 0x8035, op 3, sender =
 * target = the VM's MAC, addresses 0.0.0.0), plus a gratuitous ARP, broadcast, `rounds` times at
 * QEMU's growing intervals (50 ms, then +100 ms). Python's AF_PACKET sockets are the smallest
 * dependency that sends an arbitrary frame (arping cannot send RARP, nping's ARP mode is slow).
 */
export const ANNOUNCE_PY = [
  'import socket, struct, sys, time',
  'iface, mac, ip, rounds = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), socket.inet_aton(sys.argv[3]), int(sys.argv[4])',
  'def frame(ethertype, op, spa, tha, tpa):',
  '    return (b"\\xff" * 6 + mac + struct.pack("!HHHBBH", ethertype, 1, 0x0800, 6, 4, op) + mac + spa + tha + tpa).ljust(60, b"\\0")',
  'rarp = frame(0x8035, 3, bytes(4), mac, bytes(4))',
  'garp = frame(0x0806, 1, ip, bytes(6), ip)',
  's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
  's.bind((iface, 0))',
  'for i in range(rounds):',
  '    if i: time.sleep(0.05 + 0.1 * (i - 1))',
  '    s.send(rarp); s.send(garp)',
].join('\n');

/** pausedMove's error when putting the VM back failed too: `moveError` is the move's own error. */
class RollbackFailed extends Error {
  constructor(readonly moveError: unknown) {
    super('rollback failed');
  }
}

// ---- moves in flight (what a process that dies mid-move leaves for the next one) --------------

/**
 * A move's record, written before the cable is touched and removed once the move ended at one
 * place (moved, or put back): an agent process that dies between unplugging and plugging leaves
 * it, with the cable renamed and outside OVS; attachDataCentre then puts the cable back at `from`.
 * `pid` 0: the mover is alive but gave up (its own rollback failed), anyone may repair.
 */
export interface MoveRecord {
  readonly vm: string;
  readonly pid: number;
  /** the mover's start time (/proc stat), so a reused pid is not taken for the mover */
  readonly start: string | null;
  readonly from: PortRef;
  readonly next: PortRef;
}

export function moveRecordPath(runDir: string, vm: VmPlan): string {
  return join(runDir, `moving-${vm.namespace}.json`);
}

function writeMoveRecord(path: string, r: MoveRecord): void {
  // rename: a reader sees the whole record or none
  writeFileSync(`${path}.tmp-${process.pid}`, JSON.stringify(r));
  renameSync(`${path}.tmp-${process.pid}`, path);
}

function readMoveRecord(path: string): MoveRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as MoveRecord;
  } catch {
    return undefined;
  }
}

/** Whether the record's mover is still at work (alive, the same process, not given up). */
export function moverAlive(r: MoveRecord): boolean {
  if (r.pid === 0) return false;
  // a move of another handle in this very process is under way
  if (r.pid === process.pid) return true;
  return isRunning(r.pid) && (r.start === null || startTimeOf(r.pid) === r.start);
}

function handle(
  model: Model,
  plan: DataCentrePlan,
  ovs: OvsInstance,
  controller: string,
  shaped: boolean,
  timings: Record<string, number>,
  attached?: { readonly current: ReadonlyMap<string, PortRef>; readonly reserved?: readonly PortRef[] },
): DataCentre {
  const bridges = new Map(plan.bridges.map((b) => [b.node, b]));
  const vms = new Map(plan.vms.map((v) => [v.name, v]));
  const current = new Map(attached?.current ?? plan.vms.map((v) => [v.name, v.port]));
  const links = new Map(plan.links.map((l) => [l.id, l]));
  const hooks: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  let moves: Promise<unknown> = Promise.resolve();

  const bridge = (node: string): BridgePlan => {
    const b = bridges.get(node);
    if (b === undefined) throw new ScoreError('TOPOLOGY_INVALID', `no switch or hypervisor "${node}"`, { node });
    return b;
  };
  const vm = (name: string): VmPlan => {
    const v = vms.get(name);
    if (v === undefined) throw new ScoreError('UNKNOWN_VM', `no VM "${name}"`, { vm: name });
    return v;
  };
  const link = (id: string): LinkPlan => {
    const l = links.get(id) ?? plan.links.find((x) => `${x.a.node}-${x.b.node}` === id || `${x.b.node}-${x.a.node}` === id);
    if (l === undefined) throw new ScoreError('TOPOLOGY_INVALID', `no link "${id}"`, { link: id });
    return l;
  };
  const portOf = (name: string): PortRef => must(current.get(vm(name).name), name);

  const announce = async (name: string, rounds = 3): Promise<void> => {
    const v = vm(name);
    await nsExec(v.namespace, resolveTool('python3'), '-c', ANNOUNCE_PY, VM_IFACE, v.mac, v.ip, String(rounds));
  };

  /** Undoes a half-done move: the cable, whatever it is called now, back on its old port. */
  const uncable = async (from: PortRef, renamed: string): Promise<void> => {
    const names = await listLinks(ovs.netns);
    if (names.includes(renamed)) {
      await vsctl(ovs, '--if-exists', 'del-port', renamed);
      await runBatch(ovs, 'ip', ovs.netns, `unmove-${renamed}`, [
        ['link', 'set', 'dev', renamed, 'down'],
        ['link', 'set', 'dev', renamed, 'name', from.iface],
        ['link', 'set', 'dev', from.iface, 'up'],
      ]);
    }
    await vsctl(ovs, '--may-exist', ...addPortArgs(from.bridge, from.iface, { ofport: from.port }));
  };

  /**
   * A move with a pause between unplugging and plugging (MoveOptions.beforePlug): the cable goes
   * down and takes its new name in one `ip` batch (the source stops hearing the VM), then the
   * caller's step, then the cable comes up and one OVS transaction swaps the source port for the
   * destination port.
   */
  const pausedMove = async (name: string, ns: string, from: PortRef, next: PortRef, beforePlug: (port: number) => Promise<void>): Promise<void> => {
    const neighbours = await vmNeighbours(ns).catch(() => []);
    const back = async (): Promise<void> => {
      current.set(name, from);
      await vsctl(ovs, '--if-exists', 'del-port', next.iface);
      const names = await listLinks(ovs.netns).catch(() => [] as string[]);
      if (names.includes(next.iface)) {
        await runBatch(ovs, 'ip', ovs.netns, `unpause-${name}`, [
          ['link', 'set', 'dev', next.iface, 'down'],
          ['link', 'set', 'dev', next.iface, 'name', from.iface],
          ['link', 'set', 'dev', from.iface, 'up'],
        ]);
      } else {
        await run('ip', ['-n', ovs.netns, 'link', 'set', 'dev', from.iface, 'up']);
      }
      // re-attach under its own name and number: the netdev went away under OVS while renamed
      await vsctl(ovs, '--if-exists', 'del-port', from.bridge, from.iface, '--', ...addPortArgs(from.bridge, from.iface, { ofport: from.port }));
      // the carrier loss flushed the VM's neighbour entries, as on the way forward
      await restoreNeighbours(ovs, model, name, ns, neighbours).catch(() => undefined);
    };
    const undo = async (e: unknown): Promise<never> => {
      const ok = await back().then(() => true, () => false);
      throw ok ? e : new RollbackFailed(e);
    };
    try {
      await runBatch(ovs, 'ip', ovs.netns, `pause-${name}`, [
        ['link', 'set', 'dev', from.iface, 'down'],
        ['link', 'set', 'dev', from.iface, 'name', next.iface],
      ]);
    } catch (e) {
      return undo(e);
    }
    try {
      await beforePlug(next.port);
    } catch (e) {
      return undo(e);
    }
    try {
      // up before OVS takes it: a port added while down is reported down (PORT_STATUS), and a
      // controller forgets the hosts behind a port that is down, the VM's new place among them
      await run('ip', ['-n', ovs.netns, 'link', 'set', 'dev', next.iface, 'up']);
      await vsctl(ovs, 'del-port', from.bridge, from.iface, '--', ...addPortArgs(next.bridge, next.iface, { ofport: next.port }));
      await restoreNeighbours(ovs, model, name, ns, neighbours).catch(() => undefined);
    } catch (e) {
      return undo(e);
    }
  };

  const moveVm = async (name: string, to: string, mo: MoveOptions = {}): Promise<PortRef> => {
    const v = vm(name);
    const target = bridge(to);
    if (target.kind !== 'hypervisor') throw new ScoreError('UNKNOWN_HYPERVISOR', `"${to}" is not a hypervisor`, { hypervisor: to });
    const from = portOf(name);
    if (from.node === to) return from;
    // ports this handle knows of, and any the bridge has besides (QEMU guests' taps, src/vm)
    const onBridge = new Set((await vsctl(ovs, 'list-ports', target.name)).split('\n').map((x) => x.trim()));
    const ofports = [...parseOfports(await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface'))].filter(([n]) => onBridge.has(n)).map(([, p]) => p);
    const used = [...[...current.values(), ...(attached?.reserved ?? [])].filter((p) => p.node === to).map((p) => p.port), ...ofports];
    const port = lowestFreePort(target.links, used);
    const nodeIdx = plan.bridges.indexOf(target) + 1;
    const iface = resourceName(plan.prefix, portLocalName(target.name.slice(plan.prefix.length + 1), nodeIdx, port));
    const next: PortRef = { node: to, bridge: target.name, port, iface };
    // Moves run one at a time per handle (see moveVm below), so no other move of this handle takes
    // this number meanwhile; agent processes attach handles of their own, hence per-VM batch files.
    const recordPath = moveRecordPath(ovs.paths.runDir, v);
    const record: MoveRecord = { vm: name, pid: process.pid, start: startTimeOf(process.pid) ?? null, from, next };
    writeMoveRecord(recordPath, record);
    current.set(name, next);
    /** the move ended at one place: nothing to repair; a failed rollback: anyone may repair */
    const settled = (clean: boolean): void => {
      if (clean) rmSync(recordPath, { force: true });
      else writeMoveRecord(recordPath, { ...record, pid: 0 });
    };
    // Once the cable is on its new port the move is done: an announcement that fails cannot undo
    // it (the source port is gone), so it is a warning, not the move's failure (a caller that saw
    // a failure would put the controller back at the source while the VM runs at the target).
    const announced = async (): Promise<PortRef> => {
      if (!(mo.announce ?? true)) return next;
      try {
        await announce(v.name);
      } catch (e) {
        const msg = `${name} moved to ${to} port ${next.port}, but its announcement (RARP + gratuitous ARP) failed: ${(e instanceof Error ? e.message : String(e)).trim().split('\n').pop() ?? ''}`;
        (mo.onWarning ?? ((m: string) => console.error(`WARN ${m}`)))(msg);
      }
      return next;
    };
    if (mo.beforePlug !== undefined) {
      return pausedMove(name, v.namespace, from, next, mo.beforePlug).then(
        () => {
          settled(true);
          return announced();
        },
        (e: unknown) => {
          settled(!(e instanceof RollbackFailed));
          throw e instanceof RollbackFailed ? e.moveError : e;
        },
      );
    }
    const neighbours = await vmNeighbours(v.namespace).catch(() => []);
    try {
      await vsctl(ovs, 'del-port', from.bridge, from.iface);
      // The same cable, renamed after its new port: the VM's eth0 keeps address, MAC, routes and
      // sockets, and only sees a short carrier loss, as a migrated guest sees a short pause.
      // (The kernel renames only a link that is down, and applies a rename before flags.)
      await runBatch(ovs, 'ip', ovs.netns, `move-${name}`, [
        ['link', 'set', 'dev', from.iface, 'down'],
        ['link', 'set', 'dev', from.iface, 'name', iface],
        ['link', 'set', 'dev', iface, 'up'],
      ]);
      await vsctl(ovs, ...addPortArgs(target.name, iface, { ofport: port }));
      await restoreNeighbours(ovs, model, name, v.namespace, neighbours).catch(() => undefined);
    } catch (e) {
      // A VM is always at one known place: put the cable back on the source port.
      current.set(name, from);
      settled(await uncable(from, iface).then(() => true, () => false));
      throw e;
    }
    settled(true);
    return announced();
  };

  return {
    ovs,
    model,
    plan,
    prefix: plan.prefix,
    controller,
    shaped,
    timings,
    bridgeOf: (node) => bridge(node).name,
    dpidOf: (node) => BigInt(`0x${bridge(node).dpid}`),
    vmNamespace: (name) => vm(name).namespace,
    vmPort: portOf,
    hypervisorOf: (name) => portOf(name).node,
    linkPorts: (id) => {
      const l = link(id);
      return { a: l.a, b: l.b };
    },
    setLinkUp: async (id, up) => {
      const l = link(id);
      await Promise.all([l.a.iface, l.b.iface].map((i) => run('ip', ['-n', ovs.netns, 'link', 'set', 'dev', i, up ? 'up' : 'down'])));
    },
    moveVm: (name, to, mo) => {
      // Moves one at a time: each reads and writes the port table of two bridges.
      const p = moves.then(() => moveVm(name, to, mo));
      moves = p.catch(() => undefined);
      return p;
    },
    announce,
    exec: (name, cmd, ...args) => nsExec(vm(name).namespace, cmd, ...args),
    onStop: (hook) => {
      hooks.push(hook);
    },
    stop: () => {
      // a handle attached from another process does not own the run: the builder removes it
      stopping ??= attached !== undefined ? Promise.resolve() : stopAll(ovs, hooks);
      return stopping;
    },
  };
}

async function stopAll(ovs: OvsInstance, hooks: ReadonlyArray<() => Promise<void>>): Promise<void> {
  const errors: unknown[] = [];
  for (const h of [...hooks].reverse()) await h().catch((e: unknown) => errors.push(e));
  await stopOvs(ovs).catch((e: unknown) => errors.push(e));
  if (errors.length > 0) throw errors[0];
}

/** Namespaces and host links of a run that still exist. */
export async function remains(prefix: string): Promise<string[]> {
  const ours = (n: string): boolean => n.startsWith(`${prefix}-`);
  return [...(await listNetns()).filter(ours), ...(await listLinks()).filter(ours)];
}

/** Builds, runs `fn`, and removes everything whether `fn` returns or throws. */
export async function withDataCentre<T>(model: Model, opts: BuildOptions, fn: (dc: DataCentre) => Promise<T>): Promise<T> {
  const dc = await buildDataCentre(model, opts);
  let result: T;
  try {
    result = await fn(dc);
  } catch (e) {
    await dc.stop().catch(() => undefined);
    throw e;
  }
  await dc.stop();
  return result;
}

/**
 * A handle on a data centre that another process built (`score emulate`), found by its run
 * prefix: what a hypervisor agent process uses to migrate, as libvirt would on a real host. Where
 * each VM is cabled now is read from the system (the VM's veth peer, the bridge that holds it),
 * not from the plan, since other agents may have moved VMs since the build. Its stop() does
 * nothing: the run belongs to the process that built it.
 */
export async function attachDataCentre(model: Model, prefix: string): Promise<DataCentre> {
  requireRoot('attaching to the emulated data centre');
  const runDir = join(tmpdir(), runDirName(prefix));
  if (!existsSync(runDir)) throw new ScoreError('EMULATION_COMMAND', `no emulated data centre with prefix "${prefix}" (${runDir} does not exist)`, { prefix });
  const paths = ovsPaths(runDir);
  const ovs: OvsInstance = {
    prefix,
    netns: resourceName(prefix, 'ovs'),
    paths,
    env: ovsEnv(paths),
    ovsdbPid: readPidfile(paths.ovsdbPidfile) ?? 0,
    vswitchdPid: readPidfile(paths.vswitchdPidfile) ?? 0,
    relays: new Map(),
  };
  const plan = planDataCentre(model, prefix);
  const byIndex = new Map<number, string>();
  for (const l of JSON.parse((await run('ip', ['-n', ovs.netns, '-j', 'link', 'show'])).stdout) as { ifindex: number; ifname: string }[]) byIndex.set(l.ifindex, l.ifname);
  const ofports = parseOfports(await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface'));
  const current = new Map<string, PortRef>();
  /** ports that moves of live agents hold now (each ends at one of its two) */
  const reserved: PortRef[] = [];
  const repairs: Array<{ v: VmPlan; cable: string; to: PortRef; record?: string }> = [];
  await forEachLimit(plan.vms, 8, async (v) => {
    const [eth] = JSON.parse((await run('ip', ['-n', v.namespace, '-j', 'link', 'show', VM_IFACE])).stdout) as { link_index?: number }[];
    const iface = eth?.link_index === undefined ? undefined : byIndex.get(eth.link_index);
    if (iface === undefined) throw new ScoreError('EMULATION_COMMAND', `cannot find the switch end of ${v.name}'s cable`, { vm: v.name });
    // an unplugged cable (renamed, outside OVS) is not a port: iface-to-br fails
    const bridgeName = await vsctl(ovs, 'iface-to-br', iface).then((x) => x.trim(), () => undefined);
    const b = plan.bridges.find((x) => x.name === bridgeName);
    const port = ofports.get(iface);
    if (bridgeName !== undefined && b === undefined) throw new ScoreError('EMULATION_COMMAND', `${v.name} is cabled to ${iface} on "${bridgeName}", not a bridge of this run`, { vm: v.name });
    const plugged: PortRef | undefined = b !== undefined && port !== undefined && port > 0 ? { node: b.node, bridge: b.name, port, iface } : undefined;
    const recordPath = moveRecordPath(runDir, v);
    const rec = readMoveRecord(recordPath);
    if (rec !== undefined && moverAlive(rec)) {
      current.set(v.name, plugged ?? rec.from);
      reserved.push(rec.from, rec.next);
      return;
    }
    if (rec === undefined) {
      if (plugged !== undefined) current.set(v.name, plugged);
      // unplugged with no record of a move: back at its place in the scenario
      else repairs.push({ v, cable: iface, to: v.port });
      return;
    }
    // Its mover died (or gave up) mid-move, so the migration failed: the orchestrator puts the
    // controller's view back at the source, and the cable goes back there too.
    if (plugged !== undefined && plugged.bridge === rec.from.bridge && plugged.port === rec.from.port) {
      rmSync(recordPath, { force: true });
      current.set(v.name, plugged);
      return;
    }
    repairs.push({ v, cable: iface, to: rec.from, record: recordPath });
  });
  for (const r of repairs) {
    const lock = `${moveRecordPath(runDir, r.v)}.repair`;
    if (!takeLock(lock)) {
      // another process is putting it back right now
      current.set(r.v.name, r.to);
      continue;
    }
    try {
      if (r.record !== undefined && !existsSync(r.record)) {
        // another attach put it back between our look and our lock
        current.set(r.v.name, r.to);
        continue;
      }
      const used = [...current.values(), ...reserved].filter((p) => p.bridge === r.to.bridge).map((p) => p.port);
      const at = await replug(ovs, plan, r.cable, r.to, used);
      current.set(r.v.name, at);
      if (r.record !== undefined) rmSync(r.record, { force: true });
      console.error(`WARN ${r.v.name}'s cable was left unplugged${r.record === undefined ? '' : ' by a move whose process died'}: plugged back at ${at.node} port ${at.port}`);
      // as after a migration: the switches learn its place now, not at its next frame
      await nsExec(r.v.namespace, resolveTool('python3'), '-c', ANNOUNCE_PY, VM_IFACE, r.v.mac, r.v.ip, '3').catch(() => undefined);
    } finally {
      rmSync(lock, { force: true });
    }
  }
  return handle(model, plan, ovs, '', false, {}, { current, reserved });
}

/** An exclusive lock file holding our pid; a lock whose holder is dead is taken over. */
function takeLock(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      let text = '';
      try {
        text = readFileSync(path, 'utf8').trim();
      } catch {
        continue; // released meanwhile: try again
      }
      const holder = Number(text);
      // empty: its holder is writing its pid this instant
      if (text === '' || (Number.isInteger(holder) && holder > 0 && isRunning(holder))) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

/**
 * Puts an unplugged (or wrongly plugged) VM cable, whatever it is called now, on port `to`: under
 * its name and number when nothing else holds them (`used`: numbers taken on that bridge), else on
 * the lowest free number. Resolves with where it is now.
 */
async function replug(ovs: OvsInstance, plan: DataCentrePlan, cable: string, to: PortRef, used: readonly number[]): Promise<PortRef> {
  const b = plan.bridges.find((x) => x.name === to.bridge);
  if (b === undefined) throw new ScoreError('INTERNAL', `no bridge ${to.bridge} in the plan`, { bridge: to.bridge });
  const names = await listLinks(ovs.netns);
  const onBridge = new Set((await vsctl(ovs, 'list-ports', to.bridge)).split('\n').map((x) => x.trim()));
  const ofports = parseOfports(await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface'));
  const taken = [...used, ...[...ofports].filter(([n, p]) => onBridge.has(n) && n !== cable && n !== to.iface && p > 0).map(([, p]) => p)];
  // the name belongs to another live link (a VM that moved in on that number meanwhile)
  const nameBusy = names.includes(to.iface) && to.iface !== cable;
  let target = to;
  if (nameBusy || taken.includes(to.port)) {
    const port = lowestFreePort(b.links, [...taken, ...(nameBusy ? [to.port] : [])]);
    target = { ...to, port, iface: resourceName(plan.prefix, portLocalName(b.name.slice(plan.prefix.length + 1), plan.bridges.indexOf(b) + 1, port)) };
  }
  await vsctl(ovs, '--if-exists', 'del-port', cable);
  if (cable !== target.iface) {
    // a port record left under the name while the netdev was renamed away
    await vsctl(ovs, '--if-exists', 'del-port', target.iface);
    await runBatch(ovs, 'ip', ovs.netns, `replug-${cable}`, [
      ['link', 'set', 'dev', cable, 'down'],
      ['link', 'set', 'dev', cable, 'name', target.iface],
    ]);
  }
  // up before OVS takes it (a port added while down is reported down)
  await run('ip', ['-n', ovs.netns, 'link', 'set', 'dev', target.iface, 'up']);
  await vsctl(ovs, ...addPortArgs(target.bridge, target.iface, { ofport: target.port }));
  const port = Number((await vsctl(ovs, 'get', 'Interface', target.iface, 'ofport')).trim());
  if (!(port > 0)) throw new ScoreError('EMULATION_COMMAND', `Open vSwitch could not open ${target.iface} on ${target.bridge}`, { iface: target.iface });
  return { ...target, port };
}
