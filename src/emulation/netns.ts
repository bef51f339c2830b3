/**
 * Network namespaces, veth pairs, addresses, offloads and shaping: the building blocks of the
 * emulated data centre (a VM is a namespace, a cable is a veth pair). Every function names its
 * resources explicitly; callers build those names with names.ts so the run prefix is on all of
 * them. `ns` is always optional and last: undefined means the host's namespace.
 */
import { isScoreError } from '../errors/errors.ts';
import { run, type RunResult } from './exec.ts';

function ipArgs(ns: string | undefined, args: readonly string[]): string[] {
  return ns === undefined ? [...args] : ['-n', ns, ...args];
}

async function ip(ns: string | undefined, ...args: string[]): Promise<RunResult> {
  return run('ip', ipArgs(ns, args));
}

/** `ip -j netns list` prints nothing at all before the first namespace ever exists. */
export function parseNetnsList(json: string): string[] {
  if (json.trim() === '') return [];
  const parsed = JSON.parse(json) as Array<{ name?: unknown }>;
  return parsed.map((e) => e.name).filter((n): n is string => typeof n === 'string');
}

export function parseLinkList(json: string): string[] {
  if (json.trim() === '') return [];
  const parsed = JSON.parse(json) as Array<{ ifname?: unknown }>;
  return parsed.map((e) => e.ifname).filter((n): n is string => typeof n === 'string');
}

export async function listNetns(): Promise<string[]> {
  return parseNetnsList((await ip(undefined, '-j', 'netns', 'list')).stdout);
}

export async function listLinks(ns?: string): Promise<string[]> {
  return parseLinkList((await ip(ns, '-j', 'link', 'show')).stdout);
}

/** PIDs of the processes running inside a namespace. */
export async function netnsPids(ns: string): Promise<number[]> {
  const out = (await ip(undefined, 'netns', 'pids', ns)).stdout;
  return out.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
}

/** Creates the namespace with its loopback up (ping to self and local TCP need it). */
export async function addNetns(name: string): Promise<void> {
  await ip(undefined, 'netns', 'add', name);
  await ip(name, 'link', 'set', 'lo', 'up');
}

/** Idempotent: cleanup paths call it for namespaces that may already be gone. */
export async function delNetns(name: string): Promise<void> {
  try {
    await ip(undefined, 'netns', 'delete', name);
  } catch (e) {
    if (isScoreError(e, 'EMULATION_COMMAND') && /No such file/i.test(String(e.details.stderr))) return;
    throw e;
  }
}

export function vethArgs(a: string, b: string, opts: { nsA?: string; nsB?: string } = {}): string[] {
  return [
    'link', 'add', a, ...(opts.nsA === undefined ? [] : ['netns', opts.nsA]),
    'type', 'veth', 'peer', 'name', b, ...(opts.nsB === undefined ? [] : ['netns', opts.nsB]),
  ];
}

/** A veth pair, each end optionally created directly inside a namespace (no rename races). */
export async function addVethPair(a: string, b: string, opts: { nsA?: string; nsB?: string } = {}): Promise<void> {
  await ip(undefined, ...vethArgs(a, b, opts));
}

export async function moveToNetns(iface: string, ns: string, fromNs?: string): Promise<void> {
  await ip(fromNs, 'link', 'set', iface, 'netns', ns);
}

/** Idempotent, like delNetns. Deleting one end of a veth deletes both. */
export async function delLink(iface: string, ns?: string): Promise<void> {
  try {
    await ip(ns, 'link', 'delete', iface);
  } catch (e) {
    if (isScoreError(e, 'EMULATION_COMMAND') && /Cannot find device|does not exist/i.test(String(e.details.stderr))) return;
    throw e;
  }
}

export async function setLinkUp(iface: string, ns?: string): Promise<void> {
  await ip(ns, 'link', 'set', iface, 'up');
}

export async function addAddress(iface: string, cidr: string, ns?: string): Promise<void> {
  await ip(ns, 'addr', 'add', cidr, 'dev', iface);
}

export async function setMac(iface: string, mac: string, ns?: string): Promise<void> {
  await ip(ns, 'link', 'set', iface, 'address', mac);
}

/** Runs a command inside a namespace and returns its stdout. */
export async function nsExec(ns: string, cmd: string, ...args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, cmd, ...args])).stdout;
}

/**
 * The userspace datapath does not compute checksums a veth left for "hardware" to fill in, so TCP
 * through it fails with bad checksums unless the sending end computes them itself.
 */
export async function disableTxOffload(iface: string, ns?: string): Promise<void> {
  const argv = ['-K', iface, 'tx', 'off'];
  if (ns === undefined) await run('ethtool', argv);
  else await nsExec(ns, 'ethtool', ...argv);
}

/**
 * tc arguments for a token bucket at `rateBitsPerSecond`. The bucket must hold at least one
 * full-size frame and about 10 ms of traffic, or tbf drops frames at low rates / caps high ones.
 */
export function tbfArgs(iface: string, rateBitsPerSecond: number): string[] {
  if (!Number.isSafeInteger(rateBitsPerSecond) || rateBitsPerSecond < 8) {
    throw new RangeError(`rate must be a whole number of bits per second >= 8, got ${rateBitsPerSecond}`);
  }
  const burstBytes = Math.max(3200, Math.ceil(rateBitsPerSecond / 8 / 100));
  return ['qdisc', 'replace', 'dev', iface, 'root', 'tbf', 'rate', `${rateBitsPerSecond}bit`, 'burst', String(burstBytes), 'latency', '50ms'];
}

/** Caps the egress rate of an interface (replaces any previous root qdisc). */
export async function shape(iface: string, rateBitsPerSecond: number, ns?: string): Promise<void> {
  const args = tbfArgs(iface, rateBitsPerSecond);
  await run('tc', ns === undefined ? args : ['-n', ns, ...args]);
}
