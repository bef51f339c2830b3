/**
 * An isolated Open vSwitch per run, with the userspace datapath (`datapath_type=netdev`), so no
 * kernel module and no system-wide OVS service are needed or touched.
 *
 * Isolation, and why it looks the way it does:
 * - Files: its own run directory (`<tmp>/score-ovs-<prefix>`) holds conf.db, the ovsdb socket,
 *   pidfiles, logs and the bridges' `.mgmt` sockets; every ovs-* command gets OVS_RUNDIR,
 *   OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR pointing there, so nothing reads /etc/openvswitch or
 *   /var/run/openvswitch.
 * - Network: ovs-vswitchd runs inside its own namespace `<prefix>-ovs`. The userspace datapath
 *   always creates a tap named `ovs-netdev`; two instances in one namespace collide on it
 *   (EBUSY, "failed to open datapath"), and OVS makes its taps persistent, so they would also
 *   outlive a crash. In a namespace of its own, parallel test files and a host OVS cannot clash,
 *   and deleting the namespace removes every tap and port.
 * - Controller: a `tcp:127.0.0.1:PORT` controller would be the OVS namespace's own loopback, so
 *   addBridge points the switch at a unix socket in the run dir instead, and this process relays
 *   it to the host's 127.0.0.1:PORT. The controller sees an ordinary TCP connection.
 *
 * Switch-side veth ends must be moved into `instance.netns` before addPort (vswitchd opens them
 * there). Names follow names.ts. stopOvs, withOvs and signal/exit handlers remove everything a
 * run made; cleanLeftovers removes what crashed runs (SIGKILL, power loss) left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';
import { requireRoot, resolveTool, run } from './exec.ts';
import {
  assertRunPrefix,
  belongsToRun,
  newRunPrefix,
  prefixOf,
  prefixOfRunDir,
  resourceName,
  RUN_PREFIX_PATTERN,
  runDirName,
  IFNAME_MAX,
} from './names.ts';
import { addNetns, delLink, delNetns, listLinks, listNetns, netnsPids, parseLinkList, parseNetnsList } from './netns.ts';
import { cmdlineOf, isRunning, readPidfile, signal, startTimeOf, terminate } from './procs.ts';

export const DEFAULT_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
export const DEFAULT_PKGDATADIR = '/usr/share/openvswitch';
const OVS_TOOLS = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip'] as const;

export interface OvsPaths {
  readonly runDir: string;
  readonly ownerFile: string;
  readonly db: string;
  readonly dbSocket: string;
  readonly ovsdbPidfile: string;
  readonly ovsdbLog: string;
  readonly ovsdbCtl: string;
  readonly vswitchdPidfile: string;
  readonly vswitchdLog: string;
  readonly vswitchdCtl: string;
}

export interface OvsInstance {
  readonly prefix: string;
  /** Namespace of ovs-vswitchd: switch-side ports live here. */
  readonly netns: string;
  readonly paths: OvsPaths;
  /** Environment every ovs-* command of this instance runs with. */
  readonly env: Readonly<Record<string, string>>;
  readonly ovsdbPid: number;
  readonly vswitchdPid: number;
  /** Controller relays by host port; mutated by addBridge and stopOvs only. */
  readonly relays: Map<number, Relay>;
}

interface Relay {
  readonly server: Server;
  readonly sockets: Set<Socket>;
}

export interface StartOptions {
  /** Run prefix; default a fresh random `scXXXX` (see names.ts). */
  readonly prefix?: string;
  /** Parent of the run dir; default os.tmpdir(). */
  readonly tmpDir?: string;
  readonly schema?: string;
  /** Source of randomness for the prefix; default Math.random. */
  readonly random?: () => number;
}

export interface BridgeOptions {
  /** Datapath id, 64 bits; a number, bigint or hex string. Default: OVS derives one from the MAC. */
  readonly dpid?: number | bigint | string;
  /** `tcp:127.0.0.1:PORT` (relayed, see above), or any target OVS accepts from its namespace. */
  readonly controller?: string;
  readonly failMode?: 'secure' | 'standalone';
  readonly protocols?: string;
  /** Longest wait between reconnection attempts, ms. OVS's 8 s default slows tests down. */
  readonly maxBackoffMs?: number;
}

export interface PortOptions {
  readonly ofport?: number;
  readonly type?: string;
  readonly options?: Readonly<Record<string, string>>;
}

// ---- pure argument building -------------------------------------------------------------------

export function ovsPaths(runDir: string): OvsPaths {
  return {
    runDir,
    ownerFile: join(runDir, 'owner.json'),
    db: join(runDir, 'conf.db'),
    dbSocket: join(runDir, 'db.sock'),
    ovsdbPidfile: join(runDir, 'ovsdb-server.pid'),
    ovsdbLog: join(runDir, 'ovsdb-server.log'),
    ovsdbCtl: join(runDir, 'ovsdb-server.ctl'),
    vswitchdPidfile: join(runDir, 'ovs-vswitchd.pid'),
    vswitchdLog: join(runDir, 'ovs-vswitchd.log'),
    vswitchdCtl: join(runDir, 'ovs-vswitchd.ctl'),
  };
}

export function ovsEnv(paths: OvsPaths): Record<string, string> {
  return {
    OVS_RUNDIR: paths.runDir,
    OVS_DBDIR: paths.runDir,
    OVS_LOGDIR: paths.runDir,
    OVS_SYSCONFDIR: paths.runDir,
    OVS_PKGDATADIR: DEFAULT_PKGDATADIR,
  };
}

export function ovsdbServerArgs(paths: OvsPaths): string[] {
  return [
    paths.db,
    `--remote=punix:${paths.dbSocket}`,
    `--pidfile=${paths.ovsdbPidfile}`,
    `--log-file=${paths.ovsdbLog}`,
    `--unixctl=${paths.ovsdbCtl}`,
    '--detach',
    '--no-chdir',
  ];
}

export function vswitchdArgs(paths: OvsPaths): string[] {
  return [
    `unix:${paths.dbSocket}`,
    `--pidfile=${paths.vswitchdPidfile}`,
    `--log-file=${paths.vswitchdLog}`,
    `--unixctl=${paths.vswitchdCtl}`,
    '--detach',
    '--no-chdir',
  ];
}

export function formatDpid(dpid: number | bigint | string): string {
  let value: bigint;
  try {
    value = typeof dpid === 'string' ? BigInt(`0x${dpid.replace(/^0x/i, '').replace(/:/g, '')}`) : BigInt(dpid);
  } catch {
    throw new ScoreError('INTERNAL', `bad datapath id ${String(dpid)}`, { dpid: String(dpid) });
  }
  if (value < 0n || value >= 1n << 64n) {
    throw new ScoreError('INTERNAL', `datapath id ${String(dpid)} does not fit 64 bits`, { dpid: String(dpid) });
  }
  return value.toString(16).padStart(16, '0');
}

/** `tcp:127.0.0.1:PORT` → PORT when the target is the host's loopback (and thus needs a relay). */
export function loopbackControllerPort(target: string): number | undefined {
  const m = /^tcp:(?:127\.0\.0\.1|localhost):(\d{1,5})$/.exec(target);
  if (m === null) return undefined;
  const port = Number(m[1]);
  return port > 0 && port < 65536 ? port : undefined;
}

export function relaySocketPath(paths: OvsPaths, port: number): string {
  return join(paths.runDir, `ctl-${port}.sock`);
}

/**
 * One ovs-vsctl transaction: the bridge exists fully configured or not at all. `controllerRef`
 * names the Controller record inside the transaction; several bridges joined into one
 * transaction (datacentre.ts) each need their own.
 */
export function addBridgeArgs(name: string, opts: BridgeOptions, controllerTarget?: string, controllerRef = 'c'): string[] {
  const settings = [
    'datapath_type=netdev',
    `fail_mode=${opts.failMode ?? 'secure'}`,
    `protocols=${opts.protocols ?? 'OpenFlow13'}`,
    // In-band control would install hidden flows the controller cannot see (Mininet disables it too).
    'other-config:disable-in-band=true',
  ];
  if (opts.dpid !== undefined) settings.push(`other-config:datapath-id=${formatDpid(opts.dpid)}`);
  const args = ['add-br', name, '--', 'set', 'bridge', name, ...settings];
  if (controllerTarget !== undefined) {
    args.push(
      '--', `--id=@${controllerRef}`, 'create', 'Controller', `target="${controllerTarget}"`, `max_backoff=${opts.maxBackoffMs ?? 1000}`,
      '--', 'set', 'bridge', name, `controller=@${controllerRef}`,
    );
  }
  return args;
}

export function addPortArgs(bridge: string, port: string, opts: PortOptions = {}): string[] {
  const iface: string[] = [];
  if (opts.ofport !== undefined) iface.push(`ofport_request=${opts.ofport}`);
  if (opts.type !== undefined) iface.push(`type=${opts.type}`);
  for (const [k, v] of Object.entries(opts.options ?? {})) iface.push(`options:${k}=${v}`);
  return ['add-port', bridge, port, ...(iface.length === 0 ? [] : ['--', 'set', 'Interface', port, ...iface])];
}

function assertOwnName(instance: OvsInstance, name: string): void {
  if (!belongsToRun(name, instance.prefix) || name.length > IFNAME_MAX) {
    throw new ScoreError('INTERNAL', `${name} is not a name of run ${instance.prefix} (use resourceName())`, {
      name,
      prefix: instance.prefix,
    });
  }
}

// ---- commands ---------------------------------------------------------------------------------

export async function vsctl(instance: OvsInstance, ...args: string[]): Promise<string> {
  const r = await run('ovs-vsctl', [`--db=unix:${instance.paths.dbSocket}`, '--timeout=10', ...args], { env: instance.env });
  return r.stdout;
}

export async function ofctl(instance: OvsInstance, ...args: string[]): Promise<string> {
  // Bridge names resolve to <OVS_RUNDIR>/<bridge>.mgmt, i.e. this instance's switch.
  const r = await run('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { env: instance.env });
  return r.stdout;
}

export async function appctl(instance: OvsInstance, ...args: string[]): Promise<string> {
  const r = await run('ovs-appctl', ['-t', instance.paths.vswitchdCtl, ...args], { env: instance.env });
  return r.stdout;
}

export async function addBridge(instance: OvsInstance, name: string, opts: BridgeOptions = {}): Promise<void> {
  assertOwnName(instance, name);
  await vsctl(instance, ...addBridgeArgs(name, opts, await switchControllerTarget(instance, opts.controller)));
}

/**
 * The target to write into OVS for a controller given as seen from the host: a host-loopback TCP
 * target becomes this run's relay socket (started on first use), anything else is unchanged.
 */
export async function switchControllerTarget(instance: OvsInstance, target: string | undefined): Promise<string | undefined> {
  const port = target === undefined ? undefined : loopbackControllerPort(target);
  if (port === undefined) return target;
  await ensureRelay(instance, port);
  return `unix:${relaySocketPath(instance.paths, port)}`;
}

export async function delBridge(instance: OvsInstance, name: string): Promise<void> {
  assertOwnName(instance, name);
  await vsctl(instance, '--if-exists', 'del-br', name);
}

export async function addPort(instance: OvsInstance, bridge: string, port: string, opts: PortOptions = {}): Promise<void> {
  assertOwnName(instance, bridge);
  assertOwnName(instance, port);
  await vsctl(instance, ...addPortArgs(bridge, port, opts));
}

// ---- controller relay -------------------------------------------------------------------------

async function ensureRelay(instance: OvsInstance, port: number): Promise<void> {
  if (instance.relays.has(port)) return;
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port });
    sockets.add(down).add(up);
    const closeBoth = (): void => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    // A controller that is not listening yet is normal: OVS reconnects after max_backoff.
    down.on('error', closeBoth).on('close', closeBoth);
    up.on('error', closeBoth).on('close', closeBoth);
    down.pipe(up);
    up.pipe(down);
  });
  // The relay must not keep a process alive on its own; the controller's server does that.
  server.unref();
  instance.relays.set(port, { server, sockets });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(relaySocketPath(instance.paths, port), () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeRelays(instance: OvsInstance): Promise<void> {
  const closing = [...instance.relays.values()].map(
    ({ server, sockets }) =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  instance.relays.clear();
  await Promise.all(closing);
}

// ---- lifecycle --------------------------------------------------------------------------------

interface Owner {
  readonly pid: number;
  readonly startTime: string | undefined;
}

function writeOwner(paths: OvsPaths): void {
  const owner: Owner = { pid: process.pid, startTime: startTimeOf(process.pid) };
  writeFileSync(paths.ownerFile, JSON.stringify(owner));
}

/** A run is live while the process that started it runs (same PID *and* start time). */
function ownerAlive(paths: OvsPaths): boolean {
  let owner: Owner;
  try {
    owner = JSON.parse(readFileSync(paths.ownerFile, 'utf8')) as Owner;
  } catch {
    // The owner file is written right after mkdir; a young dir without it is a run starting up.
    try {
      return Date.now() - statSync(paths.runDir).mtimeMs < 60_000;
    } catch {
      return false;
    }
  }
  return isRunning(owner.pid) && startTimeOf(owner.pid) === owner.startTime;
}

function makeRunDir(opts: StartOptions): { prefix: string; runDir: string } {
  const parent = opts.tmpDir ?? tmpdir();
  for (let attempt = 0; ; attempt++) {
    const prefix = opts.prefix ?? newRunPrefix(opts.random ?? Math.random);
    assertRunPrefix(prefix);
    const runDir = join(parent, runDirName(prefix));
    try {
      // Not recursive: EEXIST is how two runs learn they drew the same prefix.
      mkdirSync(runDir, { mode: 0o700 });
      return { prefix, runDir };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || opts.prefix !== undefined || attempt >= 20) {
        throw new ScoreError('EMULATION_COMMAND', `cannot create run dir ${runDir}: ${String(code)}`, { runDir }, { cause: e });
      }
    }
  }
}

/** Starts ovsdb-server and ovs-vswitchd for one run. Needs root and the OVS binaries. */
export async function startOvs(opts: StartOptions = {}): Promise<OvsInstance> {
  requireRoot('starting Open vSwitch');
  for (const tool of OVS_TOOLS) resolveTool(tool);
  const { prefix, runDir } = makeRunDir(opts);
  const paths = ovsPaths(runDir);
  writeOwner(paths);
  const env = ovsEnv(paths);
  const netns = resourceName(prefix, 'ovs');
  // Tracked before anything starts, so a failure half way, or a signal, still cleans up.
  const pending = { prefix, paths };
  pendingStarts.add(pending);
  installHandlers();
  try {
    await run('ovsdb-tool', ['create', paths.db, opts.schema ?? DEFAULT_SCHEMA], { env });
    await run('ovsdb-server', ovsdbServerArgs(paths), { env });
    const ovsdbPid = mustReadPid(paths.ovsdbPidfile, 'ovsdb-server');
    await run('ovs-vsctl', [`--db=unix:${paths.dbSocket}`, '--no-wait', 'init'], { env });
    await addNetns(netns);
    // --detach returns once vswitchd is connected and ready, so no polling is needed afterwards.
    await run('ip', ['netns', 'exec', netns, resolveTool('ovs-vswitchd'), ...vswitchdArgs(paths)], { env });
    const vswitchdPid = mustReadPid(paths.vswitchdPidfile, 'ovs-vswitchd');
    const instance: OvsInstance = { prefix, netns, paths, env, ovsdbPid, vswitchdPid, relays: new Map() };
    live.add(instance);
    return instance;
  } catch (e) {
    await purgeRun(prefix, paths).catch(() => undefined);
    throw e;
  } finally {
    pendingStarts.delete(pending);
    uninstallHandlersIfIdle();
  }
}

/**
 * Starts ovs-vswitchd again for a live instance whose vswitchd died (crash tests): same db,
 * namespace, pidfile, log and run dir as startOvs. Returns the new PID (`instance.vswitchdPid`
 * keeps the first one; cleanup reads the pidfile, so it stops the new daemon).
 * @throws ScoreError EMULATION_COMMAND when the old vswitchd still runs
 */
export async function restartVswitchd(instance: OvsInstance): Promise<number> {
  const old = readPidfile(instance.paths.vswitchdPidfile);
  if (old !== undefined && isRunning(old) && cmdlineOf(old).includes(`--pidfile=${instance.paths.vswitchdPidfile}`)) {
    throw new ScoreError('EMULATION_COMMAND', `ovs-vswitchd of run ${instance.prefix} still runs (pid ${old})`, { pid: old });
  }
  await run('ip', ['netns', 'exec', instance.netns, resolveTool('ovs-vswitchd'), ...vswitchdArgs(instance.paths)], { env: instance.env });
  return mustReadPid(instance.paths.vswitchdPidfile, 'ovs-vswitchd');
}

function mustReadPid(pidfile: string, daemon: string): number {
  const pid = readPidfile(pidfile);
  if (pid === undefined) throw new ScoreError('EMULATION_COMMAND', `${daemon} started but wrote no pidfile`, { pidfile });
  return pid;
}

/** Stops both daemons, removes the run's namespaces, links and run dir. Safe to call twice. */
export async function stopOvs(instance: OvsInstance): Promise<void> {
  try {
    await closeRelays(instance);
    // A signal handler may be purging this run already (a CLI that stops in order on Ctrl-C gets
    // here while it runs): two purges would race on the same names, so let it finish first.
    await signalPurges.get(instance.prefix)?.catch(() => undefined);
    await purgeRun(instance.prefix, instance.paths);
  } finally {
    live.delete(instance);
    uninstallHandlersIfIdle();
  }
}

/** Runs `fn` with a fresh instance and stops it afterwards, whether `fn` returns or throws. */
export async function withOvs<T>(fn: (instance: OvsInstance) => Promise<T>, opts: StartOptions = {}): Promise<T> {
  const instance = await startOvs(opts);
  let result: T;
  try {
    result = await fn(instance);
  } catch (e) {
    // The body's error is the interesting one; a cleanup failure on top must not hide it.
    await stopOvs(instance).catch(() => undefined);
    throw e;
  }
  await stopOvs(instance);
  return result;
}

/** Kill only what the pidfile names *and* what was started with this run's pidfile argument. */
function daemonPids(paths: OvsPaths): number[] {
  const pids: number[] = [];
  for (const pidfile of [paths.vswitchdPidfile, paths.ovsdbPidfile]) {
    const pid = readPidfile(pidfile);
    if (pid !== undefined && cmdlineOf(pid).includes(`--pidfile=${pidfile}`)) pids.push(pid);
  }
  return pids;
}

async function purgeRun(prefix: string, paths: OvsPaths): Promise<PurgeReport> {
  const report: PurgeReport = { processes: [], namespaces: [], links: [] };
  const errors: unknown[] = [];
  const attempt = async (f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      errors.push(e);
    }
  };
  // vswitchd first: it holds the datapath that ovsdb-server's state describes.
  for (const pid of daemonPids(paths)) {
    await attempt(async () => {
      await terminate(pid);
      report.processes.push(pid);
    });
  }
  await attempt(async () => {
    for (const ns of (await listNetns()).filter((n) => belongsToRun(n, prefix))) {
      // A deleted namespace lives on while processes (traffic generators, servers) run in it.
      for (const pid of await netnsPids(ns)) {
        await terminate(pid);
        report.processes.push(pid);
      }
      await delNetns(ns);
      report.namespaces.push(ns);
    }
  });
  await attempt(async () => {
    for (const link of (await listLinks()).filter((n) => belongsToRun(n, prefix))) {
      await delLink(link);
      report.links.push(link);
    }
  });
  rmSync(paths.runDir, { recursive: true, force: true });
  if (errors.length > 0) {
    const first = errors[0];
    throw first instanceof ScoreError
      ? first
      : new ScoreError('EMULATION_COMMAND', `cleanup of run ${prefix} failed`, { prefix }, { cause: first });
  }
  return report;
}

interface PurgeReport {
  processes: number[];
  namespaces: string[];
  links: string[];
}

export interface LeftoversReport extends PurgeReport {
  readonly runDirs: string[];
  /** Prefixes whose owner process still runs: another run in progress, left alone. */
  readonly liveRuns: string[];
}

/**
 * Removes what crashed runs left behind: daemons named by pidfiles in dead runs' dirs, those dirs,
 * and namespaces / host links whose run prefix matches `prefixPattern` and has no live run.
 * Runs of other processes still alive (parallel test files, a running emulation) are untouched.
 */
export async function cleanLeftovers(
  prefixPattern: RegExp = RUN_PREFIX_PATTERN,
  opts: { tmpDir?: string } = {},
): Promise<LeftoversReport> {
  const parent = opts.tmpDir ?? tmpdir();
  const report: LeftoversReport = { runDirs: [], liveRuns: [], processes: [], namespaces: [], links: [] };
  const isCandidate = (prefix: string | undefined): prefix is string => prefix !== undefined && prefixPattern.test(prefix);
  let entries: string[] = [];
  try {
    entries = readdirSync(parent);
  } catch {
    // No temp dir, no run dirs.
  }
  for (const entry of entries) {
    const prefix = prefixOfRunDir(entry);
    if (!isCandidate(prefix)) continue;
    const paths = ovsPaths(join(parent, entry));
    if (ownerAlive(paths)) {
      report.liveRuns.push(prefix);
      continue;
    }
    const purged = await purgeRun(prefix, paths);
    report.runDirs.push(paths.runDir);
    report.processes.push(...purged.processes);
    report.namespaces.push(...purged.namespaces);
    report.links.push(...purged.links);
  }
  const live = new Set(report.liveRuns);
  for (const ns of await listNetns()) {
    const p = prefixOf(ns);
    if (isCandidate(p) && !live.has(p)) {
      await delNetns(ns);
      report.namespaces.push(ns);
    }
  }
  for (const link of await listLinks()) {
    const p = prefixOf(link);
    if (isCandidate(p) && !live.has(p)) {
      await delLink(link);
      report.links.push(link);
    }
  }
  return report;
}

// ---- cleanup on signals and exit --------------------------------------------------------------

const live = new Set<OvsInstance>();
const pendingStarts = new Set<{ prefix: string; paths: OvsPaths }>();
const signalPurges = new Map<string, Promise<PurgeReport>>();
let handlersInstalled = false;

/** Instances started by this process and not yet stopped. */
export function liveInstances(): readonly OvsInstance[] {
  return [...live];
}

function onSignal(sig: NodeJS.Signals): void {
  uninstallHandlers();
  const runs = [...live.values(), ...pendingStarts].map((r) => {
    const p = purgeRun(r.prefix, r.paths);
    signalPurges.set(r.prefix, p);
    void p.catch(() => undefined).finally(() => signalPurges.delete(r.prefix));
    return p;
  });
  void Promise.allSettled(runs).finally(() => {
    // With our handler gone and no other listener, re-raising gets the default action (exit
    // with the signal's status); if someone else listens, the signal is theirs to act on.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

/**
 * 'exit' allows only synchronous work: kill daemons and every process inside the run's namespaces
 * (QEMU guests and libvirtd are detached into their own sessions and live in the OVS namespace;
 * traffic generators in the VMs'), then drop namespaces, links and the run dir. When a process
 * could not be killed or a namespace not listed, the run dir stays: it is how `score emulate
 * --clean` recognises the run and finds what is left.
 */
function onExit(): void {
  for (const r of [...live.values(), ...pendingStarts]) {
    for (const pid of daemonPids(r.paths)) signal(pid, 'SIGKILL');
    let complete = true;
    try {
      const ip = resolveTool('ip');
      const nss = parseNetnsList(execFileSync(ip, ['-j', 'netns', 'list'], { encoding: 'utf8' })).filter((n) => belongsToRun(n, r.prefix));
      for (const ns of nss) {
        // a deleted namespace lives on while a process runs in it: kill first
        const pids = execFileSync(ip, ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
        for (const pid of pids) if (!killNow(pid)) complete = false;
      }
      for (const ns of nss) execFileSync(ip, ['netns', 'delete', ns]);
      const links = parseLinkList(execFileSync(ip, ['-j', 'link', 'show'], { encoding: 'utf8' }));
      for (const l of links.filter((n) => belongsToRun(n, r.prefix))) execFileSync(ip, ['link', 'delete', l]);
    } catch {
      // Best effort: cleanLeftovers on the next run finishes the job.
      complete = false;
    }
    if (complete) rmSync(r.paths.runDir, { recursive: true, force: true });
  }
}

/** SIGKILL; true when the process is gone or going (ESRCH: already gone), false when refused. */
function killNow(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
}

function uninstallHandlers(): void {
  handlersInstalled = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', onExit);
}

function uninstallHandlersIfIdle(): void {
  if (live.size === 0 && pendingStarts.size === 0) uninstallHandlers();
}
