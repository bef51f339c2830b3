import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../errors/errors.ts';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { buildDataCentre } from './datacentre.ts';
import { run } from './exec.ts';
import { listNetns } from './netns.ts';
import { ofctl } from './ovs.ts';
import { isRunning } from './procs.ts';
import { systemTestGate } from './system-gate.ts';
import {
  iperf3ClientArgs,
  iperf3ServerArgs,
  npingArgs,
  parseLinkStats,
  planTraffic,
  startTraffic,
  vmCounters,
  type ExitRecord,
  type Generator,
} from './traffic.ts';

const paper = loadScenarioFile('paper').model;

const tiny = buildModel(
  parseScenario(
    `
name: tiny
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }, { a: h2, b: s1, capacity: 10Mbps }]
vms:
  - { name: vm1, ip: 10.9.0.1, mac: "02:00:00:00:00:01", host: h1 }
  - { name: vm2, ip: 10.9.0.2, mac: "02:00:00:00:00:02", host: h2 }
traffic:
  - { src: vm1, dst: vm2, packetBytes: 100, pps: 50, generator: nping, protocol: udp }
  - { src: vm2, dst: vm1, rate: 400kbps, generator: iperf3, protocol: tcp }
`,
    'tiny.yaml',
  ),
);

// ---- pure ----------------------------------------------------------------------------------------

test("the paper's traffic is six nping TCP streams of 50-byte IP packets at 10 packets/s, forever", () => {
  const flows = planTraffic(paper);
  assert.deepEqual(flows.map((f) => f.flow), ['vm1->vm6', 'vm2->vm10', 'vm3->vm23', 'vm6->vm11', 'vm9->vm22', 'vm21->vm5']);
  for (const f of flows) {
    assert.equal(f.generator, 'nping');
    assert.equal(f.processes.length, 1);
    const [p] = f.processes;
    assert.equal(p?.vm, f.src, 'runs in the source VM');
    assert.equal(p?.role, 'sender');
  }
  assert.deepEqual(flows[0]?.processes[0]?.args, ['--tcp', '-p', '80', '--rate', '10', '-c', '0', '--data-length', '10', '-q', '-q', '-q', '10.0.0.6']);
});

test('nping payload makes the IP packet the requested size; never negative', () => {
  const len = (a: string[]): string | undefined => a[a.indexOf('--data-length') + 1];
  assert.equal(len(npingArgs({ dstIp: '1.2.3.4', protocol: 'tcp', packetBytes: 50, pps: 1 })), '10');
  assert.equal(len(npingArgs({ dstIp: '1.2.3.4', protocol: 'udp', packetBytes: 50, pps: 1 })), '22');
  assert.equal(len(npingArgs({ dstIp: '1.2.3.4', protocol: 'tcp', packetBytes: 20, pps: 1 })), '0');
  assert.ok(npingArgs({ dstIp: '1.2.3.4', protocol: 'udp', packetBytes: 50, pps: 1 }).includes('--udp'), 'npingArgs({ dstIp: \'1.2.3.4\', protocol: \'udp\', packetBytes: 50, pps: 1 }).includes(\'--u...');
});

test('iperf3: a server per flow on its own port in the destination, a rate-limited long client in the source', () => {
  const [n, i] = planTraffic(tiny);
  assert.equal(n?.generator, 'nping');
  assert.equal(i?.generator, 'iperf3');
  assert.equal(i?.serverPort, 5202);
  assert.deepEqual(i?.processes.map((p) => [p.vm, p.role]), [['vm1', 'server'], ['vm2', 'sender']]);
  assert.deepEqual(i?.processes[0]?.args, iperf3ServerArgs({ dstIp: '10.9.0.1', port: 5202 }));
  assert.deepEqual(i?.processes[1]?.args, ['-c', '10.9.0.1', '-p', '5202', '-b', '400000', '-t', '86400']);
  assert.deepEqual(iperf3ClientArgs({ dstIp: 'x', port: 1, protocol: 'udp', bitsPerSecond: 8000, packetBytes: 50 }).slice(-3), ['-u', '-l', '22']);
  // Without a generator: packet-shaped entries go to nping, bandwidth entries to iperf3.
  const auto = planTraffic(tiny, [
    { src: 'vm1', dst: 'vm2', packetBytes: 60, pps: 5 },
    { src: 'vm1', dst: 'vm2', rate: '1Mbps' },
    { src: 'vm2', dst: 'vm1', rate: '4kbps', generator: 'nping' },
  ]);
  assert.deepEqual(auto.map((f) => f.generator), ['nping', 'iperf3', 'nping']);
  const npingFromRate = auto[2]?.processes[0]?.args ?? [];
  assert.equal(npingFromRate[npingFromRate.indexOf('--rate') + 1], '13', '500 B/s of 40-byte packets');
  assert.throws(() => planTraffic(tiny, [{ src: 'vm1', dst: 'vm9', rate: '1Mbps' }]), (e: unknown) => isScoreError(e, 'UNKNOWN_VM'));
});

test('link counters come from ip -s -j (stats64)', () => {
  const json = JSON.stringify([{ ifname: 'eth0', stats64: { rx: { bytes: 10, packets: 2 }, tx: { bytes: 30, packets: 4 } } }]);
  assert.deepEqual(parseLinkStats(json), { rxBytes: 10, rxPackets: 2, txBytes: 30, txPackets: 4 });
  assert.throws(() => parseLinkStats('[{}]'), (e: unknown) => isScoreError(e, 'EMULATION_COMMAND'));
});

// ---- system ------------------------------------------------------------------------------------

const gate = systemTestGate({
  root: true,
  tools: ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'tc', 'ethtool', 'nping', 'iperf3', 'ss', 'python3'],
});
const sys = { skip: gate.skip, timeout: 60_000 };

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('generators run in the VM namespaces, are counted, restarted when they die, and killed on stop', sys, async (t) => {
  const dc = await buildDataCentre(tiny, { controller: 'tcp:127.0.0.1:9' });
  const pids: number[] = [];
  try {
    // A tree: NORMAL everywhere is loop-free.
    for (const n of ['s1', 'h1', 'h2']) await ofctl(dc.ovs, 'add-flow', dc.bridgeOf(n), 'priority=1,actions=NORMAL');

    await t.test('the scenario traffic flows; a killed generator is reported and restarted', async () => {
      const before = { vm1: await vmCounters(dc, 'vm1'), vm2: await vmCounters(dc, 'vm2') };
      const exits: Array<[Generator, ExitRecord]> = [];
      const traffic = await startTraffic(dc, { restartDelayMs: 100, onExit: (g, e) => exits.push([g, e]) });
      try {
        assert.equal(traffic.generators.length, 3);
        for (const g of traffic.generators) {
          const pid = g.pid();
          assert.ok(pid !== undefined, 'pid !== undefined');
          pids.push(pid);
          assert.equal((await run('ip', ['netns', 'identify', String(pid)])).stdout.trim(), dc.vmNamespace(g.spec.vm));
        }
        await new Promise((r) => setTimeout(r, 1500));
        const after = { vm1: await vmCounters(dc, 'vm1'), vm2: await vmCounters(dc, 'vm2') };
        // nping: 50 packets/s of 100-byte UDP (114-byte frames) into vm2.
        const npingPackets = after.vm2.rxPackets - before.vm2.rxPackets;
        assert.ok(npingPackets >= 40, `vm2 received ${npingPackets} packets`);
        // iperf3: 400 kb/s of TCP into vm1 for over a second.
        const iperfBytes = after.vm1.rxBytes - before.vm1.rxBytes;
        assert.ok(iperfBytes > 30_000, `vm1 received ${iperfBytes} bytes`);
        assert.equal(exits.length, 0, `unexpected exits: ${JSON.stringify(exits.map(([g, e]) => [g.flow, e]))}`);

        const nping = traffic.generators.find((g) => g.spec.tool === 'nping');
        assert.ok(nping !== undefined, 'nping !== undefined');
        const first = nping.pid();
        assert.ok(first !== undefined, 'first !== undefined');
        process.kill(first, 'SIGKILL');
        await waitFor('nping restarted', () => nping.pid() !== undefined && nping.pid() !== first);
        assert.equal(exits.length, 1);
        assert.equal(exits[0]?.[1].signal, 'SIGKILL');
        assert.equal(nping.exits().length, 1);
        pids.push(nping.pid() ?? 0);
      } finally {
        await traffic.stop();
      }
      for (const pid of pids) assert.ok(!isRunning(pid), `generator ${pid} still runs`);
      for (const g of traffic.generators) assert.equal(g.pid(), undefined);
      await traffic.stop();
    });

    await t.test('a generator that cannot start fails startTraffic, and what did start is killed', async () => {
      // vm2 loses its address: an iperf3 server bound to it cannot listen.
      await run('ip', ['-n', dc.vmNamespace('vm2'), 'addr', 'del', '10.9.0.2/24', 'dev', 'eth0']);
      const exits: ExitRecord[] = [];
      let started: number[] = [];
      await assert.rejects(
        startTraffic(dc, {
          entries: [
            { src: 'vm2', dst: 'vm1', rate: '100kbps', generator: 'iperf3' },
            { src: 'vm1', dst: 'vm2', rate: '100kbps', generator: 'iperf3' },
          ],
          serverTimeoutMs: 1000,
          restartDelayMs: 100,
          onExit: (g, e) => {
            exits.push(e);
            started = [...started, g.pid() ?? 0];
          },
        }),
        (e: unknown) => isScoreError(e, 'EMULATION_COMMAND') && /did not listen/.test(e.message),
      );
      assert.ok(exits.length >= 1 && exits.every((e) => e.code !== 0), 'the failing server exited with an error');
      assert.match(exits[0]?.stderr ?? '', /assign|bind|address/i);
      const left = (await run('ip', ['netns', 'pids', dc.vmNamespace('vm1')])).stdout.trim();
      assert.equal(left, '', 'the server that did start in vm1 was killed');
      await run('ip', ['-n', dc.vmNamespace('vm2'), 'addr', 'add', '10.9.0.2/24', 'dev', 'eth0']);
    });

    await t.test('dc.stop() stops running traffic too', async () => {
      const traffic = await startTraffic(dc, { only: [0] });
      assert.equal(traffic.flows.length, 1);
      const pid = traffic.generators[0]?.pid();
      assert.ok(pid !== undefined && isRunning(pid), 'pid !== undefined && isRunning(pid)');
      pids.push(pid);
    });
  } finally {
    await dc.stop();
  }
  for (const pid of pids) assert.ok(!isRunning(pid), `generator ${pid} survived the data centre`);
  assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${dc.prefix}-`)), []);
});
