import { mkdirSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCHEMA, ovsdbServerArgs, ovsEnv, ovsPaths, vswitchdArgs, type OvsPaths } from '../emulation/ovs.ts';
import { newRunPrefix } from '../emulation/names.ts';
import { run } from '../emulation/exec.ts';
import { delLink, listLinks } from '../emulation/netns.ts';
import { cmdlineOf, readPidfile, terminate } from '../emulation/procs.ts';

/**
 * An Open vSwitch for Mininet: Mininet puts the switches' veth ends in the root namespace and
 * talks to OVS with plain `ovs-vsctl`, so this instance's ovs-vswitchd runs in the root
 * namespace (unlike src/emulation/ovs.ts, which hides it in a namespace of its own), while its
 * files are still private: conf.db, the db socket, pidfiles and logs live in
 * `<tmp>/score-mn-<prefix>`, and OVS_RUNDIR/OVS_DBDIR/... in `env` make every ovs-* command that
 * Mininet runs (it inherits the driver's environment) use this instance, never
 * /var/run/openvswitch. Every node Mininet makes carries the run prefix, so `stop` removes
 * exactly this run's interfaces and processes (by pid), also after a crash of the driver.
 */
export interface RootOvs {
  readonly prefix: string;
  readonly paths: OvsPaths;
  readonly env: Readonly<Record<string, string>>;
}

export async function startRootOvs(): Promise<RootOvs> {
  const prefix = newRunPrefix(Math.random);
  const runDir = join(tmpdir(), `score-mn-${prefix}`);
  mkdirSync(runDir, { mode: 0o700 });
  const paths = ovsPaths(runDir);
  const env = ovsEnv(paths);
  const ovs: RootOvs = { prefix, paths, env };
  try {
    await run('ovsdb-tool', ['create', paths.db, DEFAULT_SCHEMA], { env });
    await run('ovsdb-server', ovsdbServerArgs(paths), { env });
    await run('ovs-vsctl', [`--db=unix:${paths.dbSocket}`, '--no-wait', 'init'], { env });
    await run('ovs-vswitchd', vswitchdArgs(paths), { env });
    return ovs;
  } catch (e) {
    await stopRootOvs(ovs);
    throw e;
  }
}

/** Pids of processes whose command line names this run (Mininet's host shells: `mininet:<prefix>h1`). */
function runProcesses(prefix: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    if (cmdlineOf(Number(d)).some((a) => a.includes(`mininet:${prefix}`))) out.push(Number(d));
  }
  return out;
}

/** What a Mininet run killed half way leaves: its host shells and its interfaces. The daemons stay. */
export async function cleanMininetRun(ovs: RootOvs): Promise<void> {
  for (const pid of runProcesses(ovs.prefix)) await terminate(pid, 1000).catch(() => undefined);
  for (const name of await listLinks().catch(() => [] as string[])) {
    if (name.startsWith(ovs.prefix)) await delLink(name).catch(() => undefined);
  }
}

export async function stopRootOvs(ovs: RootOvs): Promise<void> {
  for (const pid of runProcesses(ovs.prefix)) await terminate(pid, 1000).catch(() => undefined);
  for (const pidfile of [ovs.paths.vswitchdPidfile, ovs.paths.ovsdbPidfile]) {
    const pid = readPidfile(pidfile);
    if (pid !== undefined && cmdlineOf(pid).some((a) => a.includes(ovs.paths.runDir))) await terminate(pid, 3000).catch(() => undefined);
  }
  // veths of switches and hosts, and the bridges' LOCAL taps (the user-space datapath makes them persistent)
  for (const name of await listLinks().catch(() => [] as string[])) {
    if (name.startsWith(ovs.prefix)) await delLink(name).catch(() => undefined);
  }
  // the user-space datapath's own tap: ours unless another ovs-vswitchd runs in this namespace
  const netnsOf = (pid: string): string | undefined => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      return undefined;
    }
  };
  const mine = netnsOf('self');
  const others = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && cmdlineOf(Number(d))[0]?.endsWith('ovs-vswitchd') === true && netnsOf(d) === mine);
  if (others.length === 0 && (await listLinks().catch(() => [] as string[])).includes('ovs-netdev')) await delLink('ovs-netdev').catch(() => undefined);
  rmSync(ovs.paths.runDir, { recursive: true, force: true });
}
