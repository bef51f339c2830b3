/**
 * libvirt made real (issue 11): two libvirtd instances on the emulated hypervisors (own hostnames
 * and host UUIDs), a real domain live-migrated with `virsh migrate --live` by the libvirt driver
 * while a peer pings it, and the controller sees it arrive at the new hypervisor; then the same
 * driven by `score agent --driver libvirt` processes the controller's orchestration calls. Needs root,
 * Open vSwitch, QEMU, libvirt and the guest image's tools; mandatory in CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemTestGate } from '../emulation/system-gate.ts';
import { parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import * as ctl from '../controller/controller.ts';
import { isScoreError } from '../errors/errors.ts';
import { longestLossMs, probeTimeline } from '../agent/drivers/probe.ts';
import { startLibvirtFleet } from './libvirt-fleet.ts';
import { virsh } from './libvirt.ts';
import { until, withGuestRun } from './guest-run.testing.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ip', 'ping', 'qemu-system-x86_64', 'busybox', 'apt-get', 'dpkg-deb', 'libvirtd', 'virsh', 'unshare'] });
const skip = gate.skip === false ? false : gate.skip;

const YAML = `
name: libvirt-hosts
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 100Mbps }, { a: h2, b: s1, capacity: 100Mbps }]
vms:
  - { name: d1, ip: 10.9.3.1, mac: "02:00:00:00:03:01", host: h1 }
  - { name: peer, ip: 10.9.3.2, mac: "02:00:00:00:03:02", host: h2 }
traffic:
  - { src: d1, dst: peer, packetBytes: 100, pps: 10 }
`;
const model = buildModel(parseScenario(YAML, 'libvirt-test.yaml'));
const SCORE_BIN = fileURLToPath(new URL('../../bin/score.js', import.meta.url));

test('libvirt driver: two libvirtd hosts, a domain live-migrates while a peer pings it, the controller sees it on the new hypervisor; a dead destination leaves it at the source', { skip, timeout: 300_000 }, async () => {
  await withGuestRun(model, async ({ stack, dc, image }) => {
    const fleet = await startLibvirtFleet(dc, ['h1', 'h2']);
    const [a, b] = [fleet.hosts.get('h1')!, fleet.hosts.get('h2')!];
    assert.notEqual((await virsh(a.uri, ['hostname'])).trim(), (await virsh(b.uri, ['hostname'])).trim(), 'two hosts to libvirt');
    assert.notEqual(a.hostUuid, b.hostUuid);
    await fleet.placeDomain(model, 'd1', { image, memoryMiB: 96 });
    const c = stack.runtime.controller;
    const mac = model.vmInfo.get('d1')!.mac;
    assert.ok(await until(() => c.hosts.byMac.get(mac)?.at.dpid === dc.dpidOf('h1'), 30_000), 'the controller learns the domain on h1');
    const ping = probeTimeline(dc.vmNamespace('peer'), '10.9.3.1');
    await new Promise((r) => setTimeout(r, 500));
    const res = await fleet.driver().migrate('d1', 'h1', 'h2');
    await new Promise((r) => setTimeout(r, 800));
    const { sent, received } = await ping.stop();
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
  });
});

test("score agent --driver libvirt, as processes: the controller's orchestration asks h1's agent, which live-migrates the domain to h2's libvirtd while a peer pings it; the controller sees it arrive on h2", { skip, timeout: 300_000 }, async () => {
  await withGuestRun(model, async ({ stack, dc, image }) => {
    const fleet = await startLibvirtFleet(dc, ['h1', 'h2']);
    const agents: ChildProcess[] = [];
    try {
      await fleet.placeDomain(model, 'd1', { image, memoryMiB: 96 });
      const c = stack.runtime.controller;
      const mac = model.vmInfo.get('d1')!.mac;
      assert.ok(await until(() => c.hosts.byMac.get(mac)?.at.dpid === dc.dpidOf('h1'), 30_000), 'the controller learns the domain on h1');
      await dc.announce('peer');
      // the domain's own flow (ICMP to the peer, from its /init) is measured before anything is decided
      assert.ok(await until(() => ctl.pairRates(c, Date.now()).some((r) => r.src === mac && r.bytesPerSecond > 0), 30_000), "the domain's flow to the peer is measured");
      const scenarioFile = join(dc.ovs.paths.runDir, 'scenario.yaml');
      writeFileSync(scenarioFile, YAML);
      for (const hv of ['h1', 'h2']) {
        const child = spawn(process.execPath, [SCORE_BIN, 'agent', '--controller', stack.apiUrl, '--hypervisor', hv, '--driver', 'libvirt', '--emulation-prefix', dc.prefix, '--scenario', scenarioFile, '--listen', '127.0.0.1:0'], {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, SCORE_AGENT_TOKEN: await stack.issueAgentToken(hv) },
        });
        agents.push(child);
      }
      assert.ok(await until(() => stack.service.hypervisors().every((h) => h.agent !== null), 120_000), 'both agent processes registered');
      const ping = probeTimeline(dc.vmNamespace('peer'), '10.9.3.1');
      await new Promise((r) => setTimeout(r, 300));
      const res = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ policy: 'round-robin', maxRounds: 1 }),
      });
      assert.equal(res.status, 200, await res.text());
      await stack.service.orchestrator.finished();
      await new Promise((r) => setTimeout(r, 800));
      const seen = await ping.stop();
      assert.equal(stack.service.orchestrator.status().lastError, null);
      const moved = stack.service.migrations().filter((r) => r.status === 'succeeded' && r.vm === 'd1');
      assert.equal(moved.length, 1, `one migration of d1: ${JSON.stringify(stack.service.migrations().map((r) => [r.vm, r.status, r.to, r.error]))}`);
      const f = moved[0]!.figures;
      console.log(`  agent process (libvirt): d1 ${moved[0]!.from} -> ${moved[0]!.to}, total ${f?.totalTimeMs} ms, downtime ${f?.downtimeMs} ms, ${f?.transferredBytes} bytes; peer lost ${seen.sent - seen.received} of ${seen.sent}, longest run ${longestLossMs(seen)} ms`);
      assert.equal(moved[0]!.to, 'h2');
      assert.equal(f?.source, 'libvirt', "the agent's reply carried libvirt's job info");
      assert.ok((f?.transferredBytes ?? 0) > 1_000_000, 'memory was copied');
      assert.deepEqual(await fleet.where('d1'), ['h2'], 'running at exactly one place, the destination');
      assert.ok(await until(() => c.hosts.byMac.get(mac)?.at.dpid === dc.dpidOf('h2'), 5000), 'the controller sees the domain on h2');
      assert.ok(seen.received > 0 && seen.received >= seen.sent * 0.5, `the peer kept reaching it (${seen.received} of ${seen.sent})`);
      await dc.exec('peer', 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', '10.9.3.1');
    } finally {
      for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGTERM');
      await Promise.all(agents.map((a) => new Promise<void>((r) => (a.exitCode !== null || a.signalCode !== null ? r() : a.once('exit', () => r())))));
      await fleet.stop();
    }
  }, { settleMs: 2000 });
});
