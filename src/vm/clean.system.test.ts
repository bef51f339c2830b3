/**
 * `score emulate --clean` after a crash (issue 11): guests and libvirt daemons of a run whose
 * process died are stopped with the run, because they live in the run's OVS namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { systemTestGate } from '../emulation/system-gate.ts';
import { cleanLeftovers } from '../emulation/ovs.ts';
import { isRunning } from '../emulation/procs.ts';
import { listLinks, listNetns } from '../emulation/netns.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ip', 'qemu-system-x86_64', 'busybox', 'apt-get', 'dpkg-deb', 'libvirtd', 'virsh', 'unshare'] });
const skip = gate.skip === false ? false : gate.skip;

test('a crashed run leaves a QEMU guest and a libvirtd; cleanLeftovers (score emulate --clean) removes them with the run', { skip, timeout: 240_000 }, async () => {
  const fixture = fileURLToPath(new URL('./crashed-run.fixture.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`fixture exited with ${code} before it was ready`)));
  });
  const info = JSON.parse(line) as { prefix: string; runDir: string; qemu: number; libvirtd: number };
  child.kill('SIGKILL');
  await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  assert.ok(isRunning(info.qemu) && isRunning(info.libvirtd), 'the crash left the guest and the daemon running');
  const report = await cleanLeftovers(new RegExp(`^${info.prefix}$`));
  assert.ok(report.processes.includes(info.qemu) && report.processes.includes(info.libvirtd), 'both reported as removed');
  assert.ok(!isRunning(info.qemu) && !isRunning(info.libvirtd), 'both gone');
  assert.ok(!existsSync(info.runDir), 'the run dir (sockets, serial logs, libvirt config) is gone');
  assert.deepEqual([...(await listNetns()), ...(await listLinks())].filter((n) => n.startsWith(`${info.prefix}-`)), []);
});
