/**
 * libvirt on the emulated hypervisors: one libvirtd per hypervisor, each a separate "host" to
 * libvirt (own hostname and host UUID, else it refuses to migrate to "the same host"), so that
 * `virsh migrate --live` really moves a domain from one daemon to another.
 *
 * Each daemon runs in the run's Open vSwitch namespace (its QEMU's taps must be where OVS can add
 * them) under `unshare --mount --uts`: its own hostname, a private /run (tmpfs), and bind mounts
 * of a copy of /etc/libvirt (socket dir, host UUID, auth none for the run's root-only socket, QEMU
 * as root without a security driver or cgroups, QEMU's output to a file so no virtlogd is needed)
 * and of an empty /var/lib/libvirt, all under `<runDir>/libvirt/<hypervisor>/`. The client
 * socket is `<that dir>/sock/libvirt-sock`. Nothing lands on the host outside the run dir, and
 * the run's cleanup (ovs.ts purgeRun: every process in the run's namespaces) stops the daemons
 * and their guests on exit, Ctrl-C, failure and `score emulate --clean`.
 */
import { spawn, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';
import { resolveTool } from '../emulation/exec.ts';
import { cmdlineOf, isRunning, readPidfile, sleep, terminate } from '../emulation/procs.ts';
import type { MigrationFigures } from '../agent/drivers/driver.ts';
import type { GuestSpec } from './qemu.ts';
import { guestCmdline } from '../image/guest.ts';

export interface Libvirtd {
  readonly hypervisor: string;
  readonly dir: string;
  /** the URI virsh and libvirt migration use for this daemon */
  readonly uri: string;
  readonly hostUuid: string;
  pid(): number | undefined;
  stop(): Promise<void>;
}

/** libvirtd.conf and qemu.conf lines appended to the copies. Pure. */
export function libvirtConfig(dir: string, hostUuid: string): { libvirtd: string; qemu: string } {
  return {
    libvirtd: [`unix_sock_dir = "${dir}/sock"`, 'unix_sock_rw_perms = "0700"', 'auth_unix_rw = "none"', 'auth_unix_ro = "none"', `host_uuid = "${hostUuid}"`, `log_outputs = "3:file:${dir}/libvirtd.log"`, ''].join('\n'),
    qemu: ['user = "root"', 'group = "root"', 'security_driver = "none"', 'cgroup_controllers = [ ]', 'stdio_handler = "file"', 'remember_owner = 0', ''].join('\n'),
  };
}

export const libvirtUri = (dir: string): string => `qemu:///system?socket=${dir}/sock/libvirt-sock`;

/** Runs virsh against one daemon; rejects with MIGRATION_FAILED carrying virsh's stderr. */
export function virsh(uri: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(resolveTool('virsh'), ['-c', uri, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new ScoreError('MIGRATION_FAILED', `virsh ${args.slice(0, 2).join(' ')}: ${stderr.trim().replace(/^error: /gm, '') || err.message}`, { args: [...args] }, { cause: err }));
      else resolve(stdout);
    });
  });
}

/**
 * Starts one libvirtd for `hypervisor` in namespace `netns`, its files under `dir`.
 * @throws ScoreError EMULATION_COMMAND when the daemon does not answer within 30 s
 */
export async function startLibvirtd(o: { hypervisor: string; dir: string; netns: string }): Promise<Libvirtd> {
  const { dir } = o;
  const hostUuid = randomUUID();
  mkdirSync(join(dir, 'sock'), { recursive: true });
  mkdirSync(join(dir, 'lib', 'qemu'), { recursive: true });
  cpSync('/etc/libvirt', join(dir, 'etc'), { recursive: true });
  // the stock "default" network would start a bridge and dnsmasq in the run's namespace
  rmSync(join(dir, 'etc', 'qemu', 'networks', 'autostart'), { recursive: true, force: true });
  const conf = libvirtConfig(dir, hostUuid);
  appendFileSync(join(dir, 'etc', 'libvirtd.conf'), `\n${conf.libvirtd}`);
  appendFileSync(join(dir, 'etc', 'qemu.conf'), `\n${conf.qemu}`);
  const pidfile = join(dir, 'libvirtd.pid');
  // hostname: libvirt's own "same host?" check compares it (and the UUID) between the two ends
  const hostname = `score-${o.hypervisor}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63);
  const script = [
    `mount --bind '${dir}/etc' /etc/libvirt`,
    `mount --bind '${dir}/lib' /var/lib/libvirt`,
    'mount -t tmpfs tmpfs /run',
    `hostname '${hostname}'`,
    `exec libvirtd -d -p '${pidfile}'`,
  ].join(' && ');
  const child = spawn(resolveTool('ip'), ['netns', 'exec', o.netns, resolveTool('unshare'), '--mount', '--uts', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((r) => child.once('exit', () => r()));
  const uri = libvirtUri(dir);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await virsh(uri, ['hostname'], 5000);
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        const log = existsSync(join(dir, 'libvirtd.log')) ? readFileSync(join(dir, 'libvirtd.log'), 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        throw new ScoreError('EMULATION_COMMAND', `libvirtd for ${o.hypervisor} did not answer: ${stderr.trim()} ${log}`.trim(), { dir }, { cause: e });
      }
      await sleep(200);
    }
  }
  const pid = (): number | undefined => {
    const p = readPidfile(pidfile);
    return p !== undefined && isRunning(p) && cmdlineOf(p).some((a) => a.includes('libvirtd')) ? p : undefined;
  };
  return {
    hypervisor: o.hypervisor,
    dir,
    uri,
    hostUuid,
    pid,
    async stop() {
      const p = pid();
      if (p !== undefined) await terminate(p, 5000);
    },
  };
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/**
 * A domain for the guest image: type qemu (TCG; KVM crawls at boot here, docs/vms.md), the image's kernel and
 * initramfs booted directly, the serial console to a file, the NIC an existing tap (`managed='no'`:
 * the caller plugs it into the hypervisor's OVS bridge), no graphics. Pure.
 */
export function domainXml(spec: GuestSpec, o: { tap: string; serialLog: string }): string {
  return `<domain type='qemu'>
  <name>${xmlEscape(spec.vm)}</name>
  <memory unit='MiB'>${spec.memoryMiB ?? 96}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${xmlEscape(spec.image.kernel)}</kernel>
    <initrd>${xmlEscape(spec.image.initrd)}</initrd>
    <cmdline>${xmlEscape(guestCmdline(spec.cidr, spec.flows ?? []))}</cmdline>
  </os>
  <features><tcg><tb-cache unit='MiB'>${spec.tbMiB ?? 32}</tb-cache></tcg></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='${xmlEscape(o.serialLog)}'/><target port='0'/></serial>
    <interface type='ethernet'>
      <mac address='${xmlEscape(spec.mac)}'/>
      <target dev='${xmlEscape(o.tap)}' managed='no'/>
      <model type='virtio'/>
    </interface>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/**
 * The destination's XML: the source's migratable XML with the NIC's tap and the serial log
 * renamed for the destination hypervisor (libvirt checks that the rest, UUID included, matches).
 * Pure.
 */
export function destinationXml(sourceXml: string, o: { fromTap: string; toTap: string; fromLog: string; toLog: string }): string {
  const out = sourceXml.split(`dev='${o.fromTap}'`).join(`dev='${o.toTap}'`).split(`path='${o.fromLog}'`).join(`path='${o.toLog}'`);
  if (!out.includes(`dev='${o.toTap}'`)) throw new ScoreError('MIGRATION_FAILED', `the domain XML has no interface on tap ${o.fromTap}`, { tap: o.fromTap });
  return out;
}

const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/**
 * The figures in `virsh domjobinfo --completed` (libvirt's job info, read from QEMU's
 * query-migrate). Pure.
 */
export function parseJobInfo(text: string): MigrationFigures {
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.+?)\\s*$`, 'm').exec(text)?.[1];
  const ms = (name: string): number | null => {
    const m = /^([\d.]+)\s*ms$/.exec(field(name) ?? '');
    return m ? Number(m[1]) : null;
  };
  const bytes = (name: string): number | null => {
    const m = /^([\d.]+)\s*(B|KiB|MiB|GiB|TiB)$/.exec(field(name) ?? '');
    return m ? Math.round(Number(m[1]) * UNIT[m[2]!]!) : null;
  };
  const rate = /^(\d+)\s*pages\/s$/.exec(field('Dirty rate') ?? '');
  return {
    source: 'libvirt',
    totalTimeMs: ms('Time elapsed') ?? 0,
    downtimeMs: ms('Total downtime'),
    setupTimeMs: ms('Setup time'),
    transferredBytes: bytes('Memory processed') ?? bytes('Data processed') ?? 0,
    dirtyPagesRate: rate ? Number(rate[1]) : null,
    memoryBytes: bytes('Memory total'),
  };
}

/** Writes a file for virsh to read (domain XML), under the daemon's dir. */
export function writeXml(dir: string, name: string, xml: string): string {
  const p = join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.xml`);
  writeFileSync(p, xml);
  return p;
}
