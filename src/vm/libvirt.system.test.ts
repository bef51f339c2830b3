/**
 * libvirt made real (issue 11): two libvirtd instances on the emulated hypervisors (own hostnames
 * and host UUIDs), a real domain live-migrated with `virsh migrate --live` by the libvirt driver
 * while a peer pings it, and the controller sees it arrive at the new hypervisor. Needs root,
 * Open vSwitch, QEMU, libvirt and the guest image's tools; mandatory in CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { systemTestGate } from '../emulation/system-gate.ts';
import { parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { openflowDataPlane } from '../openflow/connection/index.ts';
import { silentLog } from '../openflow/connection/log.ts';
import { realClock } from '../runtime/clock.ts';
import { startStack } from '../system/stack.ts';
import { buildDataCentre } from '../emulation/datacentre.ts';
import { listLinks, listNetns } from '../emulation/netns.ts';
import { resolveTool } from '../emulation/exec.ts';
import { isScoreError } from '../errors/errors.ts';
import { buildImage } from '../image/build.ts';
import { startLibvirtFleet } from './libvirt-fleet.ts';
import { virsh } from './libvirt.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ip', 'ping', 'qemu-system-x86_64', 'busybox', 'apt-get', 'dpkg-deb', 'libvirtd', 'virsh', 'unshare'] });
const skip = gate.skip === false ? false : gate.skip;

const model = buildModel(
  parseScenario(
    `
name: libvirt-hosts
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 100Mbps }, { a: h2, b: s1, capacity: 100Mbps }]
vms:
  - { name: d1, ip: 10.9.3.1, mac: "02:00:00:00:03:01", host: h1 }
  - { name: peer, ip: 10.9.3.2, mac: "02:00:00:00:03:02", host: h2 }
traffic:
  - { src: d1, dst: peer, packetBytes: 100, pps: 10 }
`,
    'libvirt-test.yaml',
  ),
);

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test('libvirt driver: two libvirtd hosts, a domain live-migrates while a peer pings it, the controller sees it on the new hypervisor; a dead destination leaves it at the source', { skip, timeout: 300_000 }, async () => {
  const image = await buildImage();
  const dataPlane = openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog });
  const stack = await startStack({ model, dataPlane, clock: realClock, pollMs: 500, probeMs: 500, webDir: null });
  const dc = await buildDataCentre(model, { controller: `tcp:127.0.0.1:${dataPlane.address().port}`, shape: false });
  const prefix = dc.prefix;
  try {
    const fleet = await startLibvirtFleet(dc, ['h1', 'h2']);
    const [a, b] = [fleet.hosts.get('h1')!, fleet.hosts.get('h2')!];
    assert.notEqual((await virsh(a.uri, ['hostname'])).trim(), (await virsh(b.uri, ['hostname'])).trim(), 'two hosts to libvirt');
    assert.notEqual(a.hostUuid, b.hostUuid);
    await fleet.placeDomain(model, 'd1', { image, memoryMiB: 96 });
    const c = stack.runtime.controller;
    const mac = model.vmInfo.get('d1')!.mac;
    assert.ok(await until(() => c.hosts.byMac.get(mac)?.at.dpid === dc.dpidOf('h1'), 30_000), 'the controller learns the domain on h1');
    const ping = spawn(resolveTool('ip'), ['netns', 'exec', dc.vmNamespace('peer'), 'ping', '-n', '-i', '0.01', '-W', '1', '10.9.3.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    ping.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const exited = new Promise<void>((r) => ping.once('exit', () => r()));
    await new Promise((r) => setTimeout(r, 500));
    const res = await fleet.driver().migrate('d1', 'h1', 'h2');
    await new Promise((r) => setTimeout(r, 800));
    ping.kill('SIGINT');
    await exited;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(text);
    const [sent, received] = [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
    const f = res.figures!;
    console.log(`  libvirt migration: total ${f.totalTimeMs} ms, downtime ${f.downtimeMs} ms, ${f.transferredBytes} bytes; peer lost ${sent - received} of ${sent}`);
    assert.equal(f.source, 'libvirt');
    assert.ok(f.totalTimeMs > 0 && f.transferredBytes > 1_000_000, "libvirt's job info: memory was copied");
    assert.deepEqual(await fleet.where('d1'), ['h2'], 'running at exactly one place, the destination');
    assert.ok(await until(() => c.hosts.byMac.get(mac)?.at.dpid === dc.dpidOf('h2'), 5000), 'the controller sees the domain on h2');
    assert.ok(received > 0 && received >= sent * 0.5, `the peer kept reaching it (${received} of ${sent})`);
    await dc.exec('peer', 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', '10.9.3.1');
    // the destination's daemon dies: virsh fails, the domain runs on at the source
    await fleet.hosts.get('h1')!.stop();
    await assert.rejects(fleet.driver({ timeoutSeconds: 60 }).migrate('d1', 'h2', 'h1'), (e: unknown) => isScoreError(e, 'MIGRATION_FAILED'));
    assert.deepEqual(await fleet.where('d1'), ['h2'], 'still running at the source only');
    await dc.exec('peer', 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', '10.9.3.1');
    await fleet.stop();
  } finally {
    await dc.stop();
    await stack.stop();
  }
  assert.deepEqual([...(await listNetns()), ...(await listLinks())].filter((n) => n.startsWith(`${prefix}-`)), [], 'nothing of the run is left');
});
