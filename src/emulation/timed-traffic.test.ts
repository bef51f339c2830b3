import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { buildDataCentre } from './datacentre.ts';
import { ofctl } from './ovs.ts';
import { isRunning } from './procs.ts';
import { systemTestGate } from './system-gate.ts';
import { vmCounters } from './traffic.ts';
import { entrySegments, startTimedTraffic } from './timed-traffic.ts';

test('paper-phases as generator entries: nping shapes kept, partners changed at 120 s; a trace flow becomes iperf3', () => {
  const segs = entrySegments(loadScenarioFile('paper-phases').model);
  assert.deepEqual(segs.map((s) => s.startSec), [0, 120]);
  assert.equal(segs[1]!.entries.length, 6);
  assert.ok(segs[1]!.entries.every((e) => e.generator === 'nping' && e.packetBytes === 50 && e.pps === 10), 'segs[1]!.entries.every((e) => e.generator === \'nping\' && e.packetBytes === 50 && e.pps ...');
  assert.ok(segs[1]!.entries.some((e) => e.src === 'vm21' && e.dst === 'vm6'), 'segs[1]!.entries.some((e) => e.src === \'vm21\' && e.dst === \'vm6\')');
  const m = buildModel(loadScenarioFile('paper').scenario, [{ atSec: 5, set: [{ src: 'vm4', dst: 'vm7', rate: 1000 }] }]);
  const later = entrySegments(m)[1]!.entries;
  assert.deepEqual(later.find((e) => e.src === 'vm4'), { src: 'vm4', dst: 'vm7', rate: 8000 });
  assert.equal(later.length, 7);
});

const tiny = buildModel(
  parseScenario(
    `
name: tinyphases
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }, { a: h2, b: s1, capacity: 10Mbps }]
vms:
  - { name: vm1, ip: 10.9.1.1, mac: "02:00:00:00:01:01", host: h1 }
  - { name: vm2, ip: 10.9.1.2, mac: "02:00:00:00:01:02", host: h2 }
traffic:
  - { src: vm1, dst: vm2, packetBytes: 100, pps: 100, generator: nping, protocol: udp }
phases:
  - { at: 2, traffic: [{ src: vm2, dst: vm1, packetBytes: 100, pps: 100, generator: nping, protocol: udp }] }
`,
    'tinyphases.yaml',
  ),
);

const gate = systemTestGate({ root: true, tools: ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'tc', 'ethtool', 'nping', 'ss'] });

test('emulated generators follow the phases: vm1 -> vm2 first, vm2 -> vm1 after the change', { skip: gate.skip, timeout: 60_000 }, async () => {
  const dc = await buildDataCentre(tiny, { controller: 'tcp:127.0.0.1:9' });
  const pids: number[] = [];
  try {
    for (const n of ['s1', 'h1', 'h2']) await ofctl(dc.ovs, 'add-flow', dc.bridgeOf(n), 'priority=1,actions=NORMAL');
    const switched: number[] = [];
    const c0 = { vm1: await vmCounters(dc, 'vm1'), vm2: await vmCounters(dc, 'vm2') };
    const traffic = await startTimedTraffic(dc, { onSegment: (_i, at) => switched.push(at) });
    assert.equal(traffic.segment(), 0);
    assert.deepEqual(traffic.flows.map((f) => f.flow), ['vm1->vm2']);
    pids.push(traffic.generators[0]!.pid()!);
    await new Promise((r) => setTimeout(r, 1500));
    const c1 = { vm1: await vmCounters(dc, 'vm1'), vm2: await vmCounters(dc, 'vm2') };
    const deadline = Date.now() + 10_000;
    while (traffic.segment() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(traffic.segment(), 1);
    assert.ok(switched[0]! >= 2000, `switched at ${switched[0]} ms`);
    assert.deepEqual(traffic.flows.map((f) => f.flow), ['vm2->vm1']);
    assert.ok(!isRunning(pids[0]!), 'the first phase\'s generator was stopped');
    pids.push(traffic.generators[0]!.pid()!);
    const c2 = { vm1: await vmCounters(dc, 'vm1'), vm2: await vmCounters(dc, 'vm2') };
    await new Promise((r) => setTimeout(r, 1500));
    const c3 = { vm1: await vmCounters(dc, 'vm1'), vm2: await vmCounters(dc, 'vm2') };
    // phase 1: about 100 packets/s into vm2; phase 2: into vm1, and (almost) none into vm2
    assert.ok(c1.vm2.rxPackets - c0.vm2.rxPackets >= 80, `phase 1: vm2 got ${c1.vm2.rxPackets - c0.vm2.rxPackets}`);
    assert.ok(c3.vm1.rxPackets - c2.vm1.rxPackets >= 80, `phase 2: vm1 got ${c3.vm1.rxPackets - c2.vm1.rxPackets}`);
    assert.ok(c3.vm2.rxPackets - c2.vm2.rxPackets < 20, `phase 2: vm2 still got ${c3.vm2.rxPackets - c2.vm2.rxPackets}`);
    await traffic.stop();
    for (const p of pids) assert.ok(!isRunning(p), `generator ${p} survived stop`);
  } finally {
    await dc.stop();
  }
});
