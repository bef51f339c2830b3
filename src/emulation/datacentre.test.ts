import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isScoreError, ScoreError } from '../errors/errors.ts';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel, type Model } from '../scenario/model.ts';
import {
  assignDpids,
  buildDataCentre,
  forEachLimit,
  hostBatch,
  localNames,
  lowestFreePort,
  moverAlive,
  parseOfports,
  planDataCentre,
  portLocalName,
  vsctlBuildArgs,
  withDataCentre,
  type DataCentre,
} from './datacentre.ts';
import { run } from './exec.ts';
import { IFNAME_MAX } from './names.ts';
import { listLinks, listNetns } from './netns.ts';
import { liveInstances, ofctl, vsctl } from './ovs.ts';
import { isRunning, startTimeOf } from './procs.ts';
import { spawnSync } from 'node:child_process';
import { systemTestGate } from './system-gate.ts';
import { startTraffic, vmCounters } from './traffic.ts';

const paper = loadScenarioFile('paper').model;

function modelOf(yaml: string): Model {
  return buildModel(parseScenario(yaml, 'test.yaml'));
}

/** Port numbers as the scheme promises them, derived from the scenario alone (not the plan). */
function expectedPorts(m: Model): Map<string, string[]> {
  const ports = new Map<string, string[]>();
  const add = (node: string, what: string): void => {
    const list = ports.get(node) ?? [];
    list.push(what);
    ports.set(node, list);
  };
  for (const l of m.scenario.links) {
    add(l.a, `link:${l.b}`);
    add(l.b, `link:${l.a}`);
  }
  for (const v of m.scenario.vms) add(v.host, `vm:${v.name}`);
  return ports;
}

// ---- pure: naming and numbering -------------------------------------------------------------

test('paper plan: 18 bridges with the scenario dpids, links numbered first in scenario order, VMs after', () => {
  const plan = planDataCentre(paper, 'sczzzz');
  assert.equal(plan.bridges.length, 18);
  assert.equal(plan.links.length, 24);
  assert.equal(plan.vms.length, 24);
  for (const b of plan.bridges) {
    const declared = [...paper.scenario.switches, ...paper.scenario.hypervisors].find((n) => n.id === b.node)?.dpid;
    assert.equal(BigInt(`0x${b.dpid}`), BigInt(declared ?? 'x'), b.node);
    assert.equal(b.name, `sczzzz-${b.node}`);
  }
  const expected = expectedPorts(paper);
  const got = new Map<string, string[]>();
  const put = (node: string, port: number, what: string): void => {
    const list = got.get(node) ?? [];
    list[port - 1] = what;
    got.set(node, list);
  };
  for (const l of plan.links) {
    put(l.a.node, l.a.port, `link:${l.b.node}`);
    put(l.b.node, l.b.port, `link:${l.a.node}`);
  }
  for (const v of plan.vms) put(v.hypervisor, v.port.port, `vm:${v.name}`);
  assert.deepEqual(got, expected);
  // The examples of the scheme's documentation.
  const hv16 = plan.vms.filter((v) => v.hypervisor === 'hv16').map((v) => [v.name, v.port.port, v.port.iface]);
  assert.deepEqual(hv16, [['vm1', 2, 'sczzzz-hv16-e2'], ['vm2', 3, 'sczzzz-hv16-e3'], ['vm3', 4, 'sczzzz-hv16-e4']]);
  const t1 = plan.links.filter((l) => l.a.node === 't1' || l.b.node === 't1').map((l) => (l.a.node === 't1' ? [l.b.node, l.a.port] : [l.a.node, l.b.port]));
  assert.deepEqual(t1, [['a1', 1], ['a2', 2], ['hv16', 3], ['hv17', 4]]);
  assert.equal(plan.bridges.find((b) => b.node === 't1')?.links, 4);
  assert.equal(plan.bridges.find((b) => b.node === 'hv16')?.links, 1);
  assert.deepEqual(plan.vms.find((v) => v.name === 'vm10'), {
    name: 'vm10', namespace: 'sczzzz-vm10', ip: '10.0.0.10', mac: '00:00:00:00:00:0a', hypervisor: 'hv19',
    port: { node: 'hv19', bridge: 'sczzzz-hv19', port: 2, iface: 'sczzzz-hv19-e2' },
  });
  const names = [...plan.bridges.map((b) => b.name), ...plan.links.flatMap((l) => [l.a.iface, l.b.iface]), ...plan.vms.flatMap((v) => [v.namespace, v.port.iface])];
  for (const n of names) assert.ok(n.length <= IFNAME_MAX && n.startsWith('sczzzz-'), n);
  assert.equal(new Set(names).size, names.length);
});

test('ids that do not fit an interface name get short aliases; collisions are refused', () => {
  assert.deepEqual([...localNames(['s1', 'Agg-Switch-1', 'ovs', 'n2'], 'n')], [['s1', 's1'], ['Agg-Switch-1', 'n2x1'], ['ovs', 'n3'], ['n2', 'n2']]);
  assert.equal(portLocalName('hv16', 9, 12), 'hv16-e12');
  assert.equal(portLocalName('hv16', 9, 123), 'n9-123');
  const m = modelOf(`
name: long
switches: [{ id: TopOfRackSwitch }]
hypervisors: [{ id: hypervisor-one }, { id: hv2 }]
links: [{ a: hypervisor-one, b: TopOfRackSwitch, capacity: 1Mbps }, { a: hv2, b: TopOfRackSwitch, capacity: 1Mbps }]
vms:
  - { name: web-frontend-1, ip: 10.1.0.1, mac: "02:00:00:00:00:01", host: hypervisor-one }
  - { name: db, ip: 10.1.0.2, mac: "02:00:00:00:00:02", host: hv2 }
traffic: []
`);
  const plan = planDataCentre(m, 'ab');
  assert.deepEqual(plan.bridges.map((b) => [b.node, b.name, b.dpid]), [
    ['TopOfRackSwitch', 'ab-n1', '0000000000000001'],
    ['hypervisor-one', 'ab-n2', '0000000000000002'],
    ['hv2', 'ab-hv2', '0000000000000003'],
  ]);
  assert.deepEqual(plan.vms.map((v) => [v.namespace, v.port.iface]), [['ab-v1', 'ab-n2-e2'], ['ab-db', 'ab-hv2-e2']]);
});

test('dpids: explicit ones win, the others take the lowest unused numbers in order', () => {
  const d = assignDpids([{ id: 'a' }, { id: 'b', dpid: '0x1' }, { id: 'c' }, { id: 'd', dpid: '3' }, { id: 'e' }]);
  assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((x) => Number.parseInt(d.get(x) ?? '', 16)), [2, 1, 4, 3, 5]);
  assert.throws(() => assignDpids([{ id: 'a', dpid: '0x01' }, { id: 'b', dpid: '1' }]), (e: unknown) => isScoreError(e, 'SCENARIO_INVALID'));
});

test('a VM moving in takes the lowest free port above the links', () => {
  assert.equal(lowestFreePort(1, [2, 3, 4]), 5);
  assert.equal(lowestFreePort(1, [3, 4]), 2);
  assert.equal(lowestFreePort(4, []), 5);
});

test('build commands: one host batch for namespaces and veths, one OVS transaction for everything', () => {
  const plan = planDataCentre(paper, 'sc0000');
  const lines = hostBatch(plan, 'sc0000-ovs');
  assert.equal(lines.length, 24 + 24 + 24);
  assert.deepEqual(lines[0], ['netns', 'add', 'sc0000-vm1']);
  assert.deepEqual(lines[24], ['link', 'add', 'sc0000-a1-e1', 'netns', 'sc0000-ovs', 'type', 'veth', 'peer', 'name', 'sc0000-c1-e1', 'netns', 'sc0000-ovs']);
  assert.deepEqual(lines[48], ['link', 'add', 'eth0', 'address', '00:00:00:00:00:01', 'netns', 'sc0000-vm1', 'type', 'veth', 'peer', 'name', 'sc0000-hv16-e2', 'netns', 'sc0000-ovs']);
  const args = vsctlBuildArgs(plan, 'unix:/x/ctl-6653.sock');
  assert.equal(args.filter((a) => a === 'add-br').length, 18);
  assert.equal(args.filter((a) => a === 'add-port').length, 72);
  const refs = args.filter((a) => a.startsWith('--id=@'));
  assert.equal(new Set(refs).size, 18, 'each bridge its own controller record');
  assert.equal(args.filter((a) => a.startsWith('ofport_request=')).length, 72);
  assert.ok(args.includes('other-config:datapath-id=0000000000000c01'), 'args.includes(\'other-config:datapath-id=0000000000000c01\')');
  assert.equal(args.filter((a) => a === 'fail_mode=secure').length, 18);
  assert.equal(args.filter((a) => a === 'protocols=OpenFlow13').length, 18);
});

test('a move record counts as under way while its mover lives (same start time), not once it died or gave up', () => {
  const port = { node: 'h1', bridge: 'b', port: 2, iface: 'b-e2' };
  const rec = (pid: number, start: string | null): Parameters<typeof moverAlive>[0] => ({ vm: 'vm1', pid, start, from: port, next: { ...port, port: 3 } });
  const dead = spawnSync('true').pid ?? 0;
  assert.ok(dead > 0, 'dead > 0');
  assert.equal(moverAlive(rec(dead, null)), false, 'dead mover');
  assert.equal(moverAlive(rec(0, null)), false, 'gave up (its rollback failed)');
  assert.equal(moverAlive(rec(process.pid, null)), true, 'a move of this process');
  assert.equal(moverAlive(rec(process.ppid, startTimeOf(process.ppid) ?? null)), true, 'another live process');
  assert.equal(moverAlive(rec(process.ppid, 'not-its-start')), false, 'a reused pid');
});

test('ofport listing parses OVS CSV, including unassigned (-1) ports', () => {
  assert.deepEqual([...parseOfports('sc1-a-e1,1\n"sc1-b-e2",-1\n\nsc1-a,65534\n')], [['sc1-a-e1', 1], ['sc1-b-e2', -1], ['sc1-a', 65534]]);
});

test('forEachLimit runs everything, never more than the limit at once, and reports the first error', async () => {
  let active = 0;
  let peak = 0;
  const seen: number[] = [];
  await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, 5));
    seen.push(n);
    active--;
  });
  assert.equal(peak, 3);
  assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6, 7]);
  const done: number[] = [];
  await assert.rejects(
    forEachLimit([1, 2, 3], 2, async (n) => {
      if (n === 1) throw new Error('one');
      await Promise.resolve();
      done.push(n);
    }),
    /one/,
  );
  assert.deepEqual(done, [2, 3], 'the others still ran');
});

// ---- system: the paper's data centre on real Open vSwitch ------------------------------------

const gate = systemTestGate({
  root: true,
  tools: ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'tc', 'ethtool', 'ping', 'nping', 'iperf3', 'ss', 'python3'],
});
const sys = { skip: gate.skip, timeout: 60_000 };

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A minimal OpenFlow 1.3 peer on the host's loopback: answers HELLO with HELLO + FEATURES_REQUEST
 * and ECHO_REQUEST with ECHO_REPLY, and records each switch's datapath id from its FEATURES_REPLY.
 */
async function fakeController(): Promise<{ server: Server; port: number; hellos: () => number; dpids: Set<bigint>; close: () => Promise<void> }> {
  const dpids = new Set<bigint>();
  const sockets = new Set<Socket>();
  let hellos = 0;
  const server = createServer((sock) => {
    sockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8 && buf.length >= buf.readUInt16BE(2)) {
        const len = buf.readUInt16BE(2);
        const msg = buf.subarray(0, len);
        buf = buf.subarray(len);
        const [version, type] = [msg[0], msg[1]];
        const xid = msg.readUInt32BE(4);
        if (version === 0x04 && type === 0) {
          hellos++;
          const out = Buffer.alloc(16);
          out.writeUInt32BE(0x04000008, 0);
          out.writeUInt32BE(xid, 4);
          out.writeUInt32BE(0x04050008, 8);
          out.writeUInt32BE(1000 + hellos, 12);
          sock.write(out);
        } else if (type === 2) {
          const reply = Buffer.from(msg);
          reply[1] = 3;
          sock.write(reply);
        } else if (type === 6 && len >= 16) {
          dpids.add(msg.readBigUInt64BE(8));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object', 'addr !== null && typeof addr === \'object\'');
  return {
    server,
    port: addr.port,
    hellos: () => hellos,
    dpids,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface RunTrace {
  readonly prefix: string;
  readonly runDir: string;
  readonly pids: number[];
}

function trace(dc: DataCentre): RunTrace {
  return { prefix: dc.prefix, runDir: dc.ovs.paths.runDir, pids: [dc.ovs.ovsdbPid, dc.ovs.vswitchdPid] };
}

async function assertNothingLeft(t: RunTrace): Promise<void> {
  const ours = (n: string): boolean => n.startsWith(`${t.prefix}-`);
  assert.deepEqual((await listNetns()).filter(ours), [], 'namespaces left');
  assert.deepEqual((await listLinks()).filter(ours), [], 'host links left');
  for (const pid of t.pids) assert.ok(!isRunning(pid), `process ${pid} still runs`);
  assert.ok(!existsSync(t.runDir), `${t.runDir} still exists`);
  assert.ok(!liveInstances().some((i) => i.prefix === t.prefix), 'OVS instance still registered');
}

/** `N(ifname)` port lines of `ovs-ofctl show`, with each port's state line. */
function parseShow(out: string): { dpid: string; ports: Map<string, { port: number; state: string }> } {
  const dpid = /dpid:([0-9a-f]{16})/.exec(out)?.[1] ?? '';
  const ports = new Map<string, { port: number; state: string }>();
  for (const m of out.matchAll(/^\s*(\d+)\(([^)]+)\): addr:[^\n]*\n(?:[^\n]*\n)*?\s*state:\s*([^\n]*)/gm)) {
    ports.set(m[2] as string, { port: Number(m[1]), state: (m[3] as string).trim() });
  }
  return { dpid, ports };
}

interface IpLink {
  ifname: string;
  ifindex: number;
  link?: string;
  link_index?: number;
  address?: string;
  operstate?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

async function ipJson(ns: string, ...args: string[]): Promise<IpLink[]> {
  return JSON.parse((await run('ip', ['-n', ns, '-j', ...args])).stdout) as IpLink[];
}

function dumpFlowCount(flows: string, match: RegExp): { packets: number; bytes: number } {
  const line = flows.split('\n').find((l) => match.test(l));
  assert.ok(line !== undefined, `no flow matching ${String(match)} in\n${flows}`);
  return { packets: Number(/n_packets=(\d+)/.exec(line)?.[1]), bytes: Number(/n_bytes=(\d+)/.exec(line)?.[1]) };
}

/** Both ends of every link carry a tbf qdisc at the link capacity; VM cables are not shaped. */
async function checkShaping(dc: DataCentre): Promise<void> {
  const o = dc.ovs;
  const qdiscs = JSON.parse((await run('tc', ['-n', o.netns, '-j', 'qdisc', 'show'])).stdout) as Array<{ kind: string; dev: string; options?: { rate?: number } }>;
  const rate = new Map(qdiscs.filter((q) => q.kind === 'tbf').map((q) => [q.dev, (q.options?.rate ?? 0) * 8]));
  for (const l of paper.topology.links) {
    const p = dc.linkPorts(l.id);
    assert.equal(rate.get(p.a.iface), l.capacityBps, `${l.id} at ${l.a}`);
    assert.equal(rate.get(p.b.iface), l.capacityBps, `${l.id} at ${l.b}`);
  }
  assert.deepEqual(
    [...new Set(paper.topology.links.map((l) => l.capacityBps))].sort((x, y) => x - y),
    [2_500_000, 5_000_000, 10_000_000],
  );
  assert.equal(rate.size, 48, 'VM cables are not shaped');
}

test("the paper's data centre on Open vSwitch: wiring, numbering, shaping, forwarding, traffic, failures, migration, teardown", sys, async (t) => {
  const ctl = await fakeController();
  const dc = await buildDataCentre(paper, { controller: `tcp:127.0.0.1:${ctl.port}` });
  t.diagnostic(`build ${dc.timings.total} ms ${JSON.stringify(dc.timings)} (prefix ${dc.prefix})`);
  const tr = trace(dc);
  const o = dc.ovs;
  try {
    await t.test('all 18 bridges connect to the controller and report the scenario dpids', async () => {
      const want = new Set([...paper.scenario.switches, ...paper.scenario.hypervisors].map((n) => BigInt(n.dpid ?? 'x')));
      await waitFor('18 FEATURES_REPLYs', () => ctl.dpids.size >= 18);
      assert.deepEqual([...ctl.dpids].sort(), [...want].sort());
      assert.ok(ctl.hellos() >= 18, 'ctl.hellos() >= 18');
      for (const node of ['c1', 'hv16', 't4']) assert.equal(dc.dpidOf(node), BigInt([...paper.scenario.switches, ...paper.scenario.hypervisors].find((n) => n.id === node)?.dpid ?? 'x'));
    });

    await t.test('bridges are netdev, fail-mode secure, OpenFlow 1.3 only', async () => {
      const out = JSON.parse(await vsctl(o, '-f', 'json', '--columns=name,datapath_type,fail_mode,protocols', 'list', 'Bridge')) as { data: unknown[][] };
      assert.equal(out.data.length, 18);
      for (const [name, dt, fm, protocols] of out.data) {
        assert.ok(String(name).startsWith(`${dc.prefix}-`), 'String(name).startsWith(`${dc.prefix}-`)');
        assert.deepEqual([dt, fm, protocols], ['netdev', 'secure', 'OpenFlow13'], String(name));
      }
    });

    await t.test('every port number and cable matches the scenario (ovs-ofctl show, veth peers)', async () => {
      const expected = expectedPorts(paper);
      const nodes = [...paper.scenario.switches, ...paper.scenario.hypervisors];
      const where = new Map<string, { node: string; port: number }>();
      await forEachLimit(nodes, 6, async (n) => {
        const show = parseShow(await ofctl(o, 'show', dc.bridgeOf(n.id)));
        assert.equal(BigInt(`0x${show.dpid}`), BigInt(n.dpid ?? 'x'), n.id);
        const ports = [...show.ports.entries()].filter(([, p]) => p.port < 0xff00);
        assert.equal(ports.length, expected.get(n.id)?.length, `${n.id} port count`);
        for (const [iface, p] of ports) {
          where.set(iface, { node: n.id, port: p.port });
          assert.equal(p.state, 'LIVE', `${iface} state`);
        }
      });
      const ovsLinks = new Map((await ipJson(o.netns, 'link', 'show')).map((l) => [l.ifname, l]));
      const seen = new Map<string, string[]>();
      const note = (node: string, port: number, what: string): void => {
        const list = seen.get(node) ?? [];
        list[port - 1] = what;
        seen.set(node, list);
      };
      for (const [iface, at] of where) {
        const l = ovsLinks.get(iface);
        assert.ok(l !== undefined, iface);
        const peer = l.link === undefined ? undefined : where.get(l.link);
        if (peer !== undefined) {
          note(at.node, at.port, `link:${peer.node}`);
          continue;
        }
        // The far end is a VM's eth0 in its namespace: find which by the veth's peer index.
        const vm = paper.scenario.vms.find((v) => v.host === at.node && dc.vmPort(v.name).iface === iface);
        assert.ok(vm !== undefined, `${iface} is neither a link nor a VM port`);
        const [eth0] = await ipJson(dc.vmNamespace(vm.name), 'addr', 'show', 'dev', 'eth0');
        assert.equal(l.link_index, eth0?.ifindex, `${iface} is cabled to ${vm.name}'s eth0`);
        note(at.node, at.port, `vm:${vm.name}`);
      }
      assert.deepEqual(seen, expected);
    });

    await t.test('every VM namespace has eth0 with its IP/24 and MAC, up', async () => {
      await forEachLimit(paper.scenario.vms, 8, async (v) => {
        assert.equal(dc.vmNamespace(v.name), `${dc.prefix}-${v.name}`);
        const [eth0] = await ipJson(dc.vmNamespace(v.name), 'addr', 'show', 'dev', 'eth0');
        assert.ok(eth0 !== undefined, 'eth0 !== undefined');
        assert.equal(eth0.address, v.mac.toLowerCase());
        assert.deepEqual(eth0.addr_info?.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), [`${v.ip}/24`]);
        assert.equal(eth0.operstate, 'UP', v.name);
        const features = (await run('ip', ['netns', 'exec', dc.vmNamespace(v.name), 'ethtool', '-k', 'eth0'])).stdout;
        assert.match(features, /^tx-checksumming: off/m, `${v.name} tx offload`);
      });
    });

    await t.test('both ends of every link carry a tbf qdisc at the link capacity', () => checkShaping(dc));

    await t.test('NORMAL on hv16 alone: its VMs ping each other; nping and iperf3 traffic is counted', async () => {
      const hv16 = dc.bridgeOf('hv16');
      await assert.rejects(dc.exec('vm1', 'ping', '-c', '1', '-W', '1', '10.0.0.2'), 'secure mode, no flows: nothing forwards');
      await ofctl(o, 'add-flow', hv16, 'priority=1,actions=NORMAL');
      // A flow of its own, to count exactly the nping packets and their size.
      await ofctl(o, 'add-flow', hv16, 'priority=10,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_dst=80,actions=NORMAL');
      for (const [from, to] of [['vm1', '10.0.0.2'], ['vm1', '10.0.0.3'], ['vm3', '10.0.0.2']] as const) {
        const out = await dc.exec(from, 'ping', '-c', '2', '-i', '0.2', '-W', '2', to);
        assert.match(out, /2 received/, `${from} -> ${to}`);
      }
      const before = await vmCounters(dc, 'vm2');
      const before1 = await vmCounters(dc, 'vm1');
      const traffic = await startTraffic(dc, {
        entries: [
          { src: 'vm1', dst: 'vm2', packetBytes: 50, pps: 40, generator: 'nping', protocol: 'tcp' },
          { src: 'vm3', dst: 'vm1', rate: '2Mbps', generator: 'iperf3', protocol: 'udp', packetBytes: 1000 },
        ],
      });
      try {
        await new Promise((r) => setTimeout(r, 1500));
        // Datapath flow statistics reach OpenFlow with the revalidator's delay: poll.
        let flow = { packets: 0, bytes: 0 };
        await waitFor('nping packets counted', async () => {
          flow = dumpFlowCount(await ofctl(o, 'dump-flows', hv16), /tp_dst=80/);
          return flow.packets >= 20;
        }).catch(() => undefined);
        assert.ok(flow.packets >= 20, `nping packets through hv16: ${flow.packets}`);
        assert.equal(flow.bytes, flow.packets * 64, '50-byte IP packets are 64-byte frames');
        const after = await vmCounters(dc, 'vm2');
        assert.ok(after.rxPackets - before.rxPackets >= 20, `vm2 received ${after.rxPackets - before.rxPackets} packets`);
        const after1 = await vmCounters(dc, 'vm1');
        // 2 Mb/s for about a second; the 10 Mb/s uplink shaping is not on this path.
        assert.ok(after1.rxBytes - before1.rxBytes > 100_000, `vm1 received ${after1.rxBytes - before1.rxBytes} bytes of iperf3`);
        for (const g of traffic.generators) assert.deepEqual(g.exits(), [], `${g.spec.tool} ${g.spec.role} exited`);
      } finally {
        await traffic.stop();
      }
      for (const g of traffic.generators) assert.equal(g.pid(), undefined, 'generator gone');
      await ofctl(o, 'del-flows', hv16);
    });

    await t.test('TCP across five bridges is held to the 5 Mb/s of a ToR-aggregation link', async () => {
      // hv16 - t1 - a1 - t2 - hv18 is a tree (every other neighbour drops: no flows), so NORMAL
      // on these five cannot loop.
      const path = ['hv16', 't1', 'a1', 't2', 'hv18'];
      for (const n of path) await ofctl(o, 'add-flow', dc.bridgeOf(n), 'priority=1,actions=NORMAL');
      await dc.exec('vm7', 'iperf3', '-s', '-1', '-D', '-B', '10.0.0.7');
      await waitFor('iperf3 server', async () => (await dc.exec('vm7', 'ss', '-Hltn', 'sport = :5201')).trim() !== '');
      const report = JSON.parse(await dc.exec('vm1', 'iperf3', '-c', '10.0.0.7', '-t', '2', '-J')) as { end: { sum_received: { bits_per_second: number } } };
      const bps = report.end.sum_received.bits_per_second;
      t.diagnostic(`vm1 -> vm7 TCP ${(bps / 1e6).toFixed(2)} Mb/s`);
      assert.ok(bps > 3e6 && bps < 5.5e6, `${bps} b/s`);
      for (const n of path) await ofctl(o, 'del-flows', dc.bridgeOf(n));
    });

    await t.test('setLinkUp takes both ends of a link down and up, and the switches report it', async () => {
      const p = dc.linkPorts('hv16-t1');
      assert.deepEqual([p.a.node, p.a.port, p.b.node, p.b.port], ['hv16', 1, 't1', 3]);
      assert.deepEqual(dc.linkPorts('t1-hv16'), p, 'either order names the link');
      const state = async (end: typeof p.a): Promise<string | undefined> => parseShow(await ofctl(o, 'show', end.bridge)).ports.get(end.iface)?.state;
      await dc.setLinkUp('hv16-t1', false);
      await waitFor('link down on both switches', async () => (await state(p.a)) === 'LINK_DOWN' && (await state(p.b)) === 'LINK_DOWN');
      assert.equal(await state(dc.linkPorts('hv17-t1').b), 'LIVE', 'other links untouched');
      await dc.setLinkUp('hv16-t1', true);
      await waitFor('link up again', async () => (await state(p.a)) === 'LIVE' && (await state(p.b)) === 'LIVE');
      assert.throws(() => dc.linkPorts('hv16-c1'), (e: unknown) => isScoreError(e, 'TOPOLOGY_INVALID'));
    });

    await t.test('moveVm re-cables vm3 to hv17 keeping IP and MAC, and vm3 announces itself with RARP and GARP', async () => {
      const hv16 = dc.bridgeOf('hv16');
      const hv17 = dc.bridgeOf('hv17');
      // Counting flows on the new bridge, for QEMU's RARP (0x8035, op 3, sha = tha = VM MAC) and
      // the gratuitous ARP (sender = target = VM IP).
      await ofctl(o, 'add-flow', hv17, 'priority=100,in_port=5,dl_type=0x8035,dl_src=00:00:00:00:00:03,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=3,arp_sha=00:00:00:00:00:03,arp_tha=00:00:00:00:00:03,actions=drop');
      await ofctl(o, 'add-flow', hv17, 'priority=100,in_port=5,arp,arp_op=1,arp_spa=10.0.0.3,arp_tpa=10.0.0.3,actions=drop');
      const oldPort = dc.vmPort('vm3');
      const t0 = performance.now();
      const moved = await dc.moveVm('vm3', 'hv17');
      t.diagnostic(`moveVm ${(performance.now() - t0).toFixed(0)} ms`);
      assert.deepEqual(moved, { node: 'hv17', bridge: hv17, port: 5, iface: `${dc.prefix}-hv17-e5` });
      assert.equal(dc.hypervisorOf('vm3'), 'hv17');
      assert.ok(!(await vsctl(o, 'list-ports', hv16)).includes(oldPort.iface), '!(await vsctl(o, \'list-ports\', hv16)).includes(oldPort.iface)');
      assert.equal((await vsctl(o, 'port-to-br', moved.iface)).trim(), hv17);
      assert.equal((await vsctl(o, 'get', 'Interface', moved.iface, 'ofport')).trim(), '5');
      // Flow statistics of the userspace datapath reach OpenFlow with the revalidator's delay.
      let flows = '';
      await waitFor('announcement counted', async () => {
        flows = await ofctl(o, 'dump-flows', hv17);
        return dumpFlowCount(flows, /rarp|dl_type=0x8035/).packets >= 3 && dumpFlowCount(flows, /arp_spa=10\.0\.0\.3/).packets >= 3;
      }).catch(() => undefined);
      assert.equal(dumpFlowCount(flows, /rarp|dl_type=0x8035/).packets, 3, 'three RARP rounds');
      assert.equal(dumpFlowCount(flows, /arp_spa=10\.0\.0\.3/).packets, 3, 'three gratuitous ARPs');
      const [eth0] = await ipJson(dc.vmNamespace('vm3'), 'addr', 'show', 'dev', 'eth0');
      assert.equal(eth0?.address, '00:00:00:00:00:03');
      assert.deepEqual(eth0?.addr_info?.filter((a) => a.family === 'inet').map((a) => a.local), ['10.0.0.3']);
      await ofctl(o, 'add-flow', hv17, 'priority=1,actions=NORMAL');
      assert.match(await dc.exec('vm3', 'ping', '-c', '2', '-i', '0.2', '-W', '2', '10.0.0.4'), /2 received/, 'vm3 reaches vm4 on hv17');
      // Moving back frees port 5 and takes the lowest free port on hv16 again.
      assert.equal((await dc.moveVm('vm3', 'hv16', { announce: false })).port, 4);
      await assert.rejects(dc.moveVm('vm3', 't1'), (e: unknown) => isScoreError(e, 'UNKNOWN_HYPERVISOR'));
      await assert.rejects(dc.moveVm('vm99', 'hv17'), (e: unknown) => isScoreError(e, 'UNKNOWN_VM'));
    });

    await t.test('moveVm with beforePlug: called with the destination port while the VM is unplugged; a rejection puts it back where it was', async () => {
      const hv16 = dc.bridgeOf('hv16');
      const hv17 = dc.bridgeOf('hv17');
      const before = dc.vmPort('vm3');
      assert.equal(before.node, 'hv16');
      const unplugged = async (): Promise<boolean> => {
        const names = await listLinks(dc.ovs.netns);
        return !names.includes(before.iface) && !(await vsctl(o, 'list-ports', hv17)).includes(`${dc.prefix}-hv17-e5`);
      };
      let seen: { port: number; unplugged: boolean } | undefined;
      await assert.rejects(
        dc.moveVm('vm3', 'hv17', {
          announce: false,
          beforePlug: async (port) => {
            seen = { port, unplugged: await unplugged() };
            throw new ScoreError('CLUSTER_NOT_LEADER', 'no leader took it');
          },
        }),
        (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER'),
      );
      assert.deepEqual(seen, { port: 5, unplugged: true });
      assert.deepEqual(dc.vmPort('vm3'), before, 'back at its source');
      // the carrier loss flushed vm3's neighbour entries: put back as on the way forward
      const neigh = (await run('ip', ['-n', dc.vmNamespace('vm3'), '-j', 'neigh', 'show', 'dev', 'eth0'])).stdout;
      const known = new Set((JSON.parse(neigh === '' ? '[]' : neigh) as { dst: string }[]).map((e) => e.dst));
      const peers = [...(paper.traffic.peers.get('vm3')?.keys() ?? [])].map((p) => paper.vmInfo.get(p)!.ip);
      assert.ok(peers.length > 0, 'peers.length > 0');
      for (const ip of peers) assert.ok(known.has(ip), `neighbour entry of peer ${ip} restored (have ${[...known].join(', ')})`);
      assert.equal((await vsctl(o, 'port-to-br', before.iface)).trim(), hv16);
      assert.equal((await vsctl(o, 'get', 'Interface', before.iface, 'ofport')).trim(), String(before.port), 'same OpenFlow port number');
      await ofctl(o, 'add-flow', hv16, 'priority=1,actions=NORMAL');
      assert.match(await dc.exec('vm3', 'ping', '-c', '2', '-i', '0.2', '-W', '2', '10.0.0.1'), /2 received/, 'vm3 reaches vm1 on hv16 again');

      const t0 = performance.now();
      let plugged: boolean | undefined;
      const moved = await dc.moveVm('vm3', 'hv17', { announce: false, beforePlug: async () => void (plugged = !(await unplugged())) });
      t.diagnostic(`paused moveVm ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(plugged, false);
      assert.deepEqual(moved, { node: 'hv17', bridge: hv17, port: 5, iface: `${dc.prefix}-hv17-e5` });
      assert.ok(!(await vsctl(o, 'list-ports', hv16)).includes(before.iface), '!(await vsctl(o, \'list-ports\', hv16)).includes(before.iface)');
      assert.equal((await vsctl(o, 'get', 'Interface', moved.iface, 'ofport')).trim(), '5');
      assert.match(await dc.exec('vm3', 'ping', '-c', '2', '-i', '0.2', '-W', '2', '10.0.0.4'), /2 received/, 'vm3 reaches vm4 on hv17');
      assert.equal((await dc.moveVm('vm3', 'hv16', { announce: false })).port, before.port);
      await ofctl(o, 'del-flows', hv16);
    });

    await t.test('shaping survives link flaps and OVS reconfiguration (moves)', () => checkShaping(dc));

    await t.test('the scenario traffic starts in the VM namespaces and stops with the data centre', async () => {
      const traffic = await startTraffic(dc);
      assert.equal(traffic.generators.length, 6);
      for (const g of traffic.generators) {
        const pid = g.pid();
        assert.ok(pid !== undefined && isRunning(pid), 'pid !== undefined && isRunning(pid)');
        tr.pids.push(pid);
        const ns = (await run('ip', ['netns', 'identify', String(pid)])).stdout.trim();
        assert.equal(ns, dc.vmNamespace(g.spec.vm), `${g.flow} runs in its source VM`);
      }
    });
  } finally {
    const t1 = performance.now();
    await dc.stop();
    t.diagnostic(`stop ${(performance.now() - t1).toFixed(0)} ms`);
    await ctl.close();
  }
  await assertNothingLeft(tr);
});

const tiny = modelOf(`
name: tiny
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }, { a: h2, b: s1, capacity: 10Mbps }]
vms:
  - { name: vm1, ip: 10.9.0.1, mac: "02:00:00:00:00:01", host: h1 }
  - { name: vm2, ip: 10.9.0.2, mac: "02:00:00:00:00:02", host: h2 }
traffic:
  - { src: vm1, dst: vm2, packetBytes: 50, pps: 10, generator: nping, protocol: tcp }
  - { src: vm2, dst: vm1, rate: 100kbps, generator: iperf3, protocol: tcp }
`);

test('withDataCentre removes everything, generators included, when the body throws', sys, async () => {
  let tr: RunTrace | undefined;
  await assert.rejects(
    withDataCentre(tiny, { controller: 'tcp:127.0.0.1:9', shape: false }, async (dc) => {
      tr = trace(dc);
      assert.deepEqual((await run('tc', ['-n', dc.ovs.netns, '-j', 'qdisc', 'show'])).stdout.includes('"tbf"'), false, 'shape: false');
      // The iperf3 client cannot reach its server (no flows): it is restarted, not fatal.
      const traffic = await startTraffic(dc, { restartDelayMs: 100 });
      for (const g of traffic.generators) {
        const pid = g.pid();
        if (pid !== undefined) tr.pids.push(pid);
      }
      assert.equal(traffic.generators.length, 3, 'nping, iperf3 server, iperf3 client');
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.ok(tr !== undefined, 'tr !== undefined');
  await assertNothingLeft(tr);
});
