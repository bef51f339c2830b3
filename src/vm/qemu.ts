/**
 * One QEMU guest on one hypervisor of the emulated data centre: a `qemu-system-x86_64` process
 * running the image of src/image in the run's Open vSwitch namespace, its NIC a tap there that the
 * caller plugs into the hypervisor's bridge. TCG only: on these machines /dev/kvm is PVM (kvm_pvm,
 * no vmx/svm: they are VMs themselves), under which a stock Debian kernel crawls rather than boots
 * (docs/vms.md, "KVM on these machines"), so KVM is not tried.
 *
 * Why in the OVS namespace: a tap lives in the namespace of the process that opens it, and OVS
 * (userspace datapath) can only add interfaces of its own namespace. It also makes cleanup free:
 * stopping the run (ovs.ts purgeRun, also on Ctrl-C and `score emulate --clean`) kills every
 * process in the run's namespaces, guests included, and deletes their taps with the namespace.
 * Sockets and logs live in `<runDir>/vm/`, which the run's cleanup removes too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';
import { resolveTool, run } from '../emulation/exec.ts';
import { cmdlineOf, isRunning, sleep, terminate } from '../emulation/procs.ts';
import { checkedNice, setCpuNice } from './sched.ts';
import type { GuestImage } from '../image/build.ts';
import { CONTROL_CLOSED_LINE, GO_LINE, READY_LINE, guestCmdline, scheduleLines, type GuestFlow, type GuestSegment } from '../image/guest.ts';
import { createConnection } from 'node:net';
import { connectQmp, type QmpClient } from './qmp.ts';

export const DEFAULT_GUEST_MIB = 96;
export const DEFAULT_TB_MIB = 32;

export interface GuestSpec {
  /** the VM's name in the scenario */
  readonly vm: string;
  readonly image: Pick<GuestImage, 'kernel' | 'initrd'>;
  readonly mac: string;
  /** eth0's address with prefix, e.g. 10.0.0.1/24 */
  readonly cidr: string;
  readonly flows?: readonly GuestFlow[];
  readonly memoryMiB?: number;
  /** a memory-dirtying load inside the guest (pre-copy experiments) */
  readonly dirty?: { readonly pages: number; readonly everyMs: number };
  /** TCG translation cache; QEMU's default (1 GiB on 64-bit hosts) is most of a guest's RSS */
  readonly tbMiB?: number;
  /**
   * the QEMU's CPU weight as a nice value (-20..19; src/vm/sched.ts: its session's autogroup),
   * given to the source and, with the same spec, to a migration's destination as it starts;
   * default: the kernel's (0). A migrated TCG guest re-translates its code on a busy CPU before it
   * answers: a higher weight shortens that (docs/vms.md)
   */
  readonly cpuNice?: number;
}

export interface GuestPlace {
  /** network namespace holding the tap (the run's OVS namespace) */
  readonly netns: string;
  /** tap interface name (names.ts scheme: the bridge port's name) */
  readonly tap: string;
  /** directory for the QMP socket, pidfile and serial log */
  readonly dir: string;
  /** distinguishes two QEMU processes of one VM during a migration, e.g. the hypervisor */
  readonly tag: string;
}

/**
 * A running guest, as plain data: what a process needs to find it again (another agent process,
 * a restarted one). QMP connections are opened per operation and closed after, since QEMU serves
 * one QMP client per socket at a time.
 */
export interface Guest {
  readonly spec: GuestSpec;
  readonly place: GuestPlace;
  readonly pid: number;
  readonly qmpSocket: string;
  readonly serialLog: string;
}

/** QEMU's command line for a guest. Source and destination of a migration get the same devices. Pure. */
export function qemuArgs(spec: GuestSpec, place: GuestPlace, paths: { qmp: string; serial: string; pidfile: string; control: string }, incoming: boolean): string[] {
  return [
    '-name', `guest=${spec.vm},debug-threads=off`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-machine', 'pc', '-accel', `tcg,tb-size=${spec.tbMiB ?? DEFAULT_TB_MIB}`,
    '-m', String(spec.memoryMiB ?? DEFAULT_GUEST_MIB), '-smp', '1',
    // a kernel panic (panic=-1) or reboot ends QEMU instead of re-running /init, which would come
    // up with no schedule and stay silent unnoticed; an exited QEMU is what the liveness checks see
    '-no-reboot',
    '-kernel', spec.image.kernel, '-initrd', spec.image.initrd,
    '-append', guestCmdline(spec.cidr, spec.flows ?? [], spec.dirty),
    '-serial', `file:${paths.serial}`,
    // ttyS1: the host's control channel (traffic schedule and start, src/image/guest.ts); a
    // destination has it too (same devices), though its guest no longer reads it
    '-chardev', `socket,id=control,path=${paths.control},server=on,wait=off`,
    '-serial', 'chardev:control',
    // vnet_hdr off: no checksum offload, so frames leave the tap complete (OVS's userspace
    // datapath would forward partial checksums as they are, as with the namespaces' veths)
    '-netdev', `tap,id=n0,ifname=${place.tap},script=no,downscript=no,vnet_hdr=off`,
    '-device', `virtio-net-pci,netdev=n0,mac=${spec.mac},romfile=`,
    '-qmp', `unix:${paths.qmp},server=on,wait=off`,
    '-pidfile', paths.pidfile,
    ...(incoming ? ['-incoming', 'defer'] : []),
  ];
}

function guestPaths(place: GuestPlace, vm: string): { qmp: string; serial: string; pidfile: string; control: string } {
  const base = join(place.dir, `${vm}.${place.tag}`);
  return { qmp: `${base}.qmp`, serial: `${base}.serial.log`, pidfile: `${base}.pid`, control: `${base}.control` };
}

/** The unix socket of a running guest's control channel (its ttyS1). */
export const controlSocketOf = (g: Pick<Guest, 'place' | 'spec'>): string => guestPaths(g.place, g.spec.vm).control;

/**
 * Gives a booted guest its traffic schedule over its control channel and starts it (protocol:
 * src/image/guest.ts). The elapsed time since `startedAt` is taken as the lines are written, so
 * guests told one after another share the host's start. The guest's answer counts the segments it
 * read; it must be the number of `seg` lines sent, or a segment was lost on the way.
 * @param startedAt the host's common start, ms since the epoch (Date.now())
 * @throws ScoreError VM_BOOT when the channel does not open, the guest does not answer in time, or
 *   it answers with another segment count (details: vm, sent, counted)
 * @throws ScoreError SCENARIO_INVALID for a schedule scheduleLines rejects, before anything is sent
 */
export async function sendSchedule(g: Pick<Guest, 'place' | 'spec'>, segments: readonly GuestSegment[], startedAt: number, timeoutMs = 10_000): Promise<void> {
  const path = controlSocketOf(g);
  // the lines are checked before anything is sent; close starts may merge, so count the lines
  const sent = scheduleLines(segments, 0).length - 1;
  await new Promise<void>((resolve, reject) => {
    const sock = createConnection(path);
    let heard = '';
    let finished = false;
    const done = (e?: Error, details: Record<string, unknown> = {}): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (e === undefined) resolve();
      else reject(new ScoreError('VM_BOOT', `guest ${g.spec.vm} did not take its traffic schedule on ${path}: ${e.message}${heard === '' ? '' : ` (heard "${heard.trim()}")`}`, { vm: g.spec.vm, ...details }, { cause: e }));
    };
    const timer = setTimeout(() => done(new Error(`no "${GO_LINE}" within ${timeoutMs} ms`)), timeoutMs);
    sock.once('error', (e) => done(e));
    sock.once('connect', () => sock.write(`${scheduleLines(segments, Math.max(0, Date.now() - startedAt)).join('\n')}\n`));
    sock.on('data', (d: Buffer) => {
      heard += d.toString('utf8');
      const answer = new RegExp(`${GO_LINE} (\\d+)\\r?\\n`).exec(heard);
      if (answer === null) return;
      const counted = Number(answer[1]);
      if (counted === sent) done();
      else done(new Error(`it counted ${counted} segments, the host sent ${sent}`), { sent, counted });
    });
  });
}

/** The longest unix socket path: sun_path holds 108 bytes on Linux, one of them the final NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;

/** Creates the tap (down until QEMU opens it; the caller plugs it into a bridge). */
export async function addTap(netns: string, tap: string): Promise<void> {
  await run('ip', ['-n', netns, 'tuntap', 'add', 'mode', 'tap', 'name', tap]);
  await run('ip', ['-n', netns, 'link', 'set', tap, 'up']);
}

export async function delTap(netns: string, tap: string): Promise<void> {
  await run('ip', ['-n', netns, 'link', 'del', tap]).catch(() => undefined);
}

/**
 * Starts a guest. Without `incoming` it resolves once the guest's init printed READY_LINE
 * (eth0 configured, flows started); with it, once QMP answers (the guest waits for a migration).
 * @throws ScoreError VM_BOOT when QEMU exits, the guest reports its control channel did not open
 *   (CONTROL_CLOSED_LINE) or it is not up within `bootTimeoutMs` (default 60 s: TCG on a loaded
 *   2-core machine); the process and tap are removed first. Also VM_BOOT, before anything starts,
 *   when a socket path is longer than MAX_UNIX_SOCKET_PATH bytes, or the kernel refuses the CPU
 *   nice (`cpuNice`); SCENARIO_INVALID for a `cpuNice` outside -20..19, before QEMU starts.
 */
export async function startGuest(spec: GuestSpec, place: GuestPlace, o: { incoming?: boolean; bootTimeoutMs?: number } = {}): Promise<Guest> {
  const paths = guestPaths(place, spec.vm);
  // QEMU would fail to bind with a bare "path too long" in its stderr: say which path and why first
  for (const socket of [paths.qmp, paths.control]) {
    const bytes = Buffer.byteLength(socket);
    if (bytes > MAX_UNIX_SOCKET_PATH) {
      throw new ScoreError('VM_BOOT', `guest ${spec.vm} (${place.tag}): its socket path ${socket} is ${bytes} bytes, unix sockets take at most ${MAX_UNIX_SOCKET_PATH}: use a shorter run directory (TMPDIR) or VM name`, { vm: spec.vm, tag: place.tag, path: socket, bytes });
    }
  }
  // a bad value is refused before QEMU starts, not after it runs
  if (spec.cpuNice !== undefined) checkedNice(spec.cpuNice);
  mkdirSync(place.dir, { recursive: true });
  const args = qemuArgs(spec, place, paths, o.incoming ?? false);
  const errLog = `${paths.serial}.stderr`;
  const errFd = openSync(errLog, 'w');
  const child = spawn(resolveTool('ip'), ['netns', 'exec', place.netns, resolveTool('qemu-system-x86_64'), ...args], { stdio: ['ignore', 'ignore', errFd], detached: true });
  closeSync(errFd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new ScoreError('VM_BOOT', `could not start QEMU for ${spec.vm}`, { vm: spec.vm });
  let exited = false;
  child.once('exit', () => (exited = true));
  const fail = async (why: string): Promise<never> => {
    await terminate(pid, 1000);
    await delTap(place.netns, place.tap);
    const stderr = existsSync(errLog) ? readFileSync(errLog, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    throw new ScoreError('VM_BOOT', `guest ${spec.vm} (${place.tag}): ${why}${stderr === '' ? '' : `: ${stderr}`}`, { vm: spec.vm, tag: place.tag, serialLog: paths.serial });
  };
  // spawn returned after the child's setsid and exec (detached): the session, and with it the
  // autogroup, is QEMU's alone; `ip netns exec` execs QEMU under the same pid
  if (spec.cpuNice !== undefined) {
    try {
      setCpuNice(pid, spec.cpuNice);
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
  }
  const deadline = Date.now() + (o.bootTimeoutMs ?? 60_000);
  while (!existsSync(paths.qmp)) {
    if (exited) return fail('QEMU exited before its QMP socket appeared');
    if (Date.now() > deadline) return fail('no QMP socket in time');
    await sleep(20);
  }
  // the socket file appears just before QEMU listens on it: retry a refused connection
  for (;;) {
    try {
      (await connectQmp(paths.qmp)).close();
      break;
    } catch (e) {
      if (exited || Date.now() > deadline) return fail(`QMP: ${e instanceof Error ? e.message : String(e)}`);
      await sleep(50);
    }
  }
  if (o.incoming !== true) {
    for (;;) {
      if (exited) return fail('QEMU exited during boot');
      const serialText = existsSync(paths.serial) ? readFileSync(paths.serial, 'utf8') : '';
      if (serialText.includes(READY_LINE)) break;
      if (serialText.includes(CONTROL_CLOSED_LINE)) return fail(`the guest could not open its control channel (ttyS1): "${CONTROL_CLOSED_LINE}"`);
      if (Date.now() > deadline) return fail(`no "${READY_LINE}" on the serial console within ${o.bootTimeoutMs ?? 60_000} ms`);
      await sleep(100);
    }
  }
  return { spec, place, pid, qmpSocket: paths.qmp, serialLog: paths.serial };
}

/** Runs `fn` on a fresh QMP connection to the guest and closes it afterwards. */
export async function withQmp<T>(g: Pick<Guest, 'qmpSocket'>, fn: (qmp: QmpClient) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const qmp = await connectQmp(g.qmpSocket, timeoutMs);
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}

/** True while the guest's QEMU runs: the PID is alive and is still this guest's QEMU. */
export function guestAlive(g: Pick<Guest, 'pid' | 'qmpSocket'>): boolean {
  return isRunning(g.pid) && cmdlineOf(g.pid).some((a) => a.includes(g.qmpSocket));
}

/** QMP quit, then SIGTERM/SIGKILL if it lingers; removes the tap. Idempotent. */
export async function stopGuest(g: Guest): Promise<void> {
  if (guestAlive(g)) {
    await withQmp(g, (q) => q.execute('quit', undefined, 2000), 2000).catch(() => undefined);
    const deadline = Date.now() + 2000;
    while (guestAlive(g) && Date.now() < deadline) await sleep(20);
    if (guestAlive(g)) await terminate(g.pid, 1000);
  }
  await delTap(g.place.netns, g.place.tap);
}
