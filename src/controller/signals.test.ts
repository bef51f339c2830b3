import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ctl from './controller.ts';
import { links as discoveredLinks } from './discovery.ts';
import { pump } from './fabric-harness.ts';
import { addPortWithHost, delPort, linear, ping, pingall, sends, single, start, tick, tree22, udp, type MiniNet } from './mininet-fabric.testing.ts';
import { buildArpRequest, buildEthernet, buildLldpProbe, ETHERTYPE } from '../packet/index.ts';
import { connect, moveHost, portInfos } from '../dataplane/fabric.ts';
import { isScoreError } from '../errors/errors.ts';
import { authTlv } from './probe-auth.ts';
import type { SwitchCommand } from './commands.ts';
import { lookup } from '../dataplane/flowtable.ts';

/*
 * Issue 10: the network's own signals are the truth. Each kind of failure has the input from the
 * issue (tried against Mininet) and another member of its kind, on Mininet's own topologies and
 * port numbers (mininet-fabric.testing.ts). The Mininet system test runs the same against OVS.
 */

const h = (m: MiniNet, name: string) => m.hosts.get(name)!;
const hostAt = (m: MiniNet, name: string) => m.controller.hosts.byMac.get(h(m, name).mac)?.at;

// ---- 1. a port that goes down or away takes its hosts and paths with it -------------------------

test('issue input 1: h3 cable moved from s3:1 to s1:10 (del-port/add-port), silent: h1 and h2 reach it again', () => {
  const m = linear(3);
  start(m);
  assert.deepEqual(pingall(m), []);
  delPort(m, { dpid: m.sw(3), port: 1 });
  // the switch said the port is gone: the host is no longer placed there, and no rule leads there
  assert.equal(hostAt(m, 'h3'), undefined, 'h3 forgotten with its port');
  for (const s of m.fabric.switches.values()) {
    for (const e of s.table.entries) assert.ok(!(e.rule.match.ethDst === h(m, 'h3').mac), `s${s.dpid} keeps a rule toward h3`);
  }
  addPortWithHost(m, h(m, 'h3'), m.sw(1), 10);
  // h1 and h2 still have h3 in their ARP cache and just send: flooded until h3 answers
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h3')), 'h1 -> h3 after the move');
  assert.ok(ping(m, h(m, 'h2'), h(m, 'h3')), 'h2 -> h3 after the move');
  assert.deepEqual(hostAt(m, 'h3'), { dpid: m.sw(1), port: 10 });
  assert.deepEqual(pingall(m), []);
});

test('same kind: a host moved without any port status speaks first from its new port and is re-learned (no stale rule swallows it)', () => {
  const m = linear(3);
  start(m);
  assert.deepEqual(pingall(m), []);
  // a live migration whose RARP was lost: the old port stays up, nobody announces anything
  moveHost(m.fabric, h(m, 'h3').mac, m.sw(1));
  const newPort = m.fabric.hosts.get(h(m, 'h3').mac)!;
  pump(m, ctl.portStatus(m.controller, newPort.dpid, portInfos(m.fabric.switches.get(newPort.dpid)!).find((p) => p.port === newPort.port)!, false, m.now).commands);
  // h3 talks to h1 first: s1 holds the last hop of h3->h1, which must not take h3's frame from
  // the new port, or the controller never hears of the move and h1->h3 stays black-holed
  const w = sends(m, h(m, 'h3'), udp(h(m, 'h3'), h(m, 'h1'), h(m, 'h1').mac));
  assert.ok(w.packetIns.length > 0, 'the frame from the unexpected port reached the controller');
  assert.deepEqual(hostAt(m, 'h3'), newPort);
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h3')), 'ping(m, h(m, \'h1\'), h(m, \'h3\'))');
  assert.ok(ping(m, h(m, 'h2'), h(m, 'h3')), 'ping(m, h(m, \'h2\'), h(m, \'h3\'))');
});

test('a moved VM\'s paths are made before they are broken: on every switch the new rules go in before the old path\'s are deleted', () => {
  const m = linear(3);
  start(m);
  assert.deepEqual(pingall(m), []);
  moveHost(m.fabric, h(m, 'h3').mac, m.sw(1));
  const at = m.fabric.hosts.get(h(m, 'h3').mac)!;
  const r = ctl.vmMoved(m.controller, h(m, 'h3').mac, at, m.now);
  const bySwitch = new Map<bigint, SwitchCommand[]>();
  for (const c of r.commands) bySwitch.set(c.dpid, [...(bySwitch.get(c.dpid) ?? []), c]);
  assert.ok(r.commands.some((c) => c.kind === 'flow-delete'), 'the old paths are deleted');
  for (const [dpid, cmds] of bySwitch) {
    const lastAdd = cmds.map((c) => c.kind).lastIndexOf('flow-add');
    const firstDelete = cmds.findIndex((c) => c.kind === 'flow-delete');
    assert.ok(firstDelete === -1 || lastAdd < firstDelete, `s${dpid}: ${cmds.map((c) => c.kind).join(', ')}`);
  }
  pump(m, r.commands);
  // the hop where h1 -> h3 turns off (s1) kept a rule for it throughout: replaced, not deleted
  assert.ok(m.fabric.switches.get(m.sw(1))!.table.entries.some((e) => e.rule.match.ethDst === h(m, 'h3').mac && e.rule.match.ethSrc === h(m, 'h1').mac), 'm.fabric.switches.get(m.sw(1))!.table.entries.some((e) => e.rule.match.ethDst === h(m, ...');
  assert.deepEqual(pingall(m), []);
});

test('same kind: a port that goes down (not deleted) takes its host and every path to it at once', () => {
  const m = linear(3);
  start(m);
  assert.deepEqual(pingall(m), []);
  const sw3 = m.fabric.switches.get(m.sw(3))!;
  sw3.ports.get(1)!.up = false;
  const r = ctl.portStatus(m.controller, m.sw(3), portInfos(sw3).find((p) => p.port === 1)!, false, m.now);
  assert.ok(r.events.some((e) => e.type === 'host-removed' && e.mac === h(m, 'h3').mac && e.reason === 'port-down'), 'r.events.some((e) => e.type === \'host-removed\' && e.mac === h(m, \'h3\').mac && e.reason ...');
  pump(m, r.commands);
  assert.equal(hostAt(m, 'h3'), undefined);
  assert.equal([...m.controller.routing.paths.values()].filter((p) => p.dst === h(m, 'h3').mac || p.src === h(m, 'h3').mac).length, 0);
  for (const s of m.fabric.switches.values()) assert.ok(s.table.entries.every((e) => e.rule.match.ethDst !== h(m, 'h3').mac && e.rule.match.ethSrc !== h(m, 'h3').mac), 's.table.entries.every((e) => e.rule.match.ethDst !== h(m, \'h3\').mac && e.rule.match.eth...');
});

// ---- 2. no host can make, move or break a link ------------------------------------------------

function probeOutOf(cmds: readonly SwitchCommand[], dpid: bigint, port: number): Uint8Array {
  const c = cmds.find((x) => x.kind === 'packet-out' && x.dpid === dpid && x.ports.length === 1 && x.ports[0] === port && x.frame[12] === 0x88 && x.frame[13] === 0xcc);
  assert.ok(c !== undefined && c.kind === 'packet-out', `a probe out of ${dpid}:${port}`);
  return c.frame;
}

test('issue input 2: tree,2,2, h1 captures a probe, h3 replays it (once, then every 0.5 s): no link, nobody forgotten', () => {
  const m = tree22();
  start(m);
  assert.deepEqual(pingall(m), []);
  const before = discoveredLinks(m.controller.disc).length;
  assert.equal(before, 2);
  m.now += 1_000;
  const round = ctl.tick(m.controller, m.now);
  pump(m, round.commands);
  const captured = probeOutOf(round.commands, m.sw(2), 1); // what h1 received on h1-eth0
  const events: string[] = [];
  for (let i = 0; i < 20; i++) {
    m.now += 500;
    const r = ctl.packetIn(m.controller, m.sw(3), 1, captured, m.now); // sent by h3 into s3:1
    events.push(...r.events.map((e) => e.type));
    pump(m, r.commands);
    if (i % 2 === 1) tick(m, 0);
    if (i === 0) assert.deepEqual(pingall(m), [], 'pingall right after one replay');
  }
  assert.equal(discoveredLinks(m.controller.disc).length, before, 'no link s2:1-s3:1');
  assert.deepEqual(hostAt(m, 'h1'), { dpid: m.sw(2), port: 1 });
  assert.deepEqual(hostAt(m, 'h3'), { dpid: m.sw(3), port: 1 });
  assert.ok(events.includes('probe-rejected'), 'the replay is logged');
  assert.ok((m.controller.disc.rejected.get('stale') ?? 0) + (m.controller.disc.rejected.get('host-port') ?? 0) > 0, 'and counted');
  assert.deepEqual(pingall(m), []);
});

test('same kind: two hosts relaying each other\'s fresh probes both ways (a wormhole) join their ports, unless the configuration declares the cables', () => {
  const wormhole = (m: MiniNet): string[] => {
    start(m);
    assert.deepEqual(pingall(m), []);
    const events: string[] = [];
    for (let i = 0; i < 3; i++) {
      m.now += 1_000;
      const round = ctl.tick(m.controller, m.now);
      pump(m, round.commands);
      // h1 (s2:1) and h3 (s3:1) each hand the probe they received to the other, who sends it in
      const atH1 = probeOutOf(round.commands, m.sw(2), 1);
      const atH3 = probeOutOf(round.commands, m.sw(3), 1);
      for (const [dpid, frame] of [[m.sw(3), atH1], [m.sw(2), atH3]] as const) {
        const r = ctl.packetIn(m.controller, dpid, 1, frame, m.now);
        events.push(...r.events.map((e) => (e.type === 'probe-rejected' ? `rejected:${e.reason}` : e.type)));
        pump(m, r.commands);
      }
    }
    return events;
  };
  const open = tree22();
  const openEvents = wormhole(open);
  assert.ok(openEvents.includes('link-added'), `without declared cables the wormhole makes a link (the documented limit): ${openEvents.join(',')}`);
  const closed = tree22({ declaredLinks: [[1n, 2n], [1n, 3n]] });
  const closedEvents = wormhole(closed);
  assert.ok(!closedEvents.includes('link-added'), `no link s2:1-s3:1: ${closedEvents.join(',')}`);
  assert.ok(closedEvents.includes('rejected:undeclared'), 'refused and said why');
  assert.equal(discoveredLinks(closed.controller.disc).length, 2, 'the two real cables only');
  assert.deepEqual(hostAt(closed, 'h1'), { dpid: closed.sw(2), port: 1 }, 'h1 still placed');
  assert.deepEqual(hostAt(closed, 'h3'), { dpid: closed.sw(3), port: 1 }, 'h3 still placed');
  assert.deepEqual(pingall(closed), []);
});

test('same kind: a forged probe (our nonce, any port it likes) and an old capture replayed where no host is known make nothing', () => {
  const m = tree22();
  start(m);
  const before = discoveredLinks(m.controller.disc).length;
  // forged: built by someone who read our nonce off the wire but has no secret
  const forged = buildLldpProbe({
    srcMac: '02:00:00:00:00:66',
    dpid: m.sw(1),
    port: 1,
    nonce: m.controller.disc.nonce,
    extraTlvs: [authTlv(new Uint8Array(32).fill(1), { nonce: m.controller.disc.nonce, dpid: m.sw(1), port: 1 }, m.now)],
  });
  let r = ctl.packetIn(m.controller, m.sw(3), 2, forged, m.now);
  assert.deepEqual(
    r.events.map((e) => (e.type === 'probe-rejected' ? e.reason : e.type)),
    ['bad-signature'],
  );
  const unsigned = buildLldpProbe({ srcMac: '02:00:00:00:00:66', dpid: m.sw(1), port: 1, nonce: m.controller.disc.nonce });
  r = ctl.packetIn(m.controller, m.sw(3), 2, unsigned, m.now);
  assert.deepEqual(r.events.map((e) => (e.type === 'probe-rejected' ? e.reason : e.type)), ['unsigned']);
  // a capture from h4's port (silent so far: no host known there), replayed 10 s later from h2's
  const round = ctl.tick(m.controller, m.now);
  pump(m, round.commands);
  const old = probeOutOf(round.commands, m.sw(3), 2);
  for (let i = 0; i < 10; i++) tick(m);
  r = ctl.packetIn(m.controller, m.sw(2), 2, old, m.now);
  assert.deepEqual(r.events.map((e) => (e.type === 'probe-rejected' ? e.reason : e.type)), ['stale']);
  // a fresh capture replayed at once from h2's port: one direction only, no link either
  m.now += 1_000;
  const fresh = ctl.tick(m.controller, m.now);
  pump(m, fresh.commands);
  r = ctl.packetIn(m.controller, m.sw(2), 2, probeOutOf(fresh.commands, m.sw(3), 2), m.now + 5);
  pump(m, r.commands);
  assert.equal(discoveredLinks(m.controller.disc).length, before);
  assert.ok(!discoveredLinks(m.controller.disc).some((l) => l.a.port === 2 && l.b.port === 2 && l.a.dpid !== m.sw(1)), '!discoveredLinks(m.controller.disc).some((l) => l.a.port === 2 && l.b.port === 2 && l.a...');
});

test('a real cable plugged in later is still found within one probe round trip', () => {
  const m = tree22();
  start(m);
  // s2 and s3 get a direct cable on new ports
  const [a, b] = connect(m.fabric, m.sw(2), m.sw(3));
  for (const end of [a, b]) {
    const sw = m.fabric.switches.get(end.dpid)!;
    pump(m, ctl.portStatus(m.controller, end.dpid, portInfos(sw).find((p) => p.port === end.port)!, false, m.now).commands);
  }
  assert.ok(discoveredLinks(m.controller.disc).some((l) => l.a.dpid === m.sw(2) && l.b.dpid === m.sw(3)), 'found without waiting for a round');
  assert.deepEqual(pingall(m), []);
});

// ---- 3. reserved ports are never hosts or links ----------------------------------------------

const LOCAL = 0xfffffffe;

function routerSolicitation(src: string): Uint8Array {
  // IPv6 header + ICMPv6 RS, as the bridge's interface sends when brought up
  const ip6 = new Uint8Array(48);
  ip6[0] = 0x60;
  ip6[5] = 8;
  ip6[6] = 58;
  ip6[7] = 255;
  ip6[8] = 0xfe;
  ip6[9] = 0x80;
  ip6[24] = 0xff;
  ip6[25] = 0x02;
  ip6[39] = 2;
  ip6[40] = 133;
  return buildEthernet({ src, dst: '33:33:00:00:00:02' }, ETHERTYPE.IPV6, ip6);
}

test('issue input 3: `ip link set s1 up`: router solicitations from LOCAL (4294967294) are not a host', () => {
  const m = single(2);
  start(m);
  const r = ctl.packetIn(m.controller, m.sw(1), LOCAL, routerSolicitation('be:ef:00:00:00:01'), m.now);
  pump(m, r.commands);
  assert.equal(m.controller.hosts.byMac.size, 0);
  assert.equal(r.commands.length, 0, 'not flooded either');
  assert.deepEqual(pingall(m), []);
  assert.ok([...m.controller.hosts.byMac.values()].every((e) => e.at.port !== LOCAL), '[...m.controller.hosts.byMac.values()].every((e) => e.at.port !== LOCAL)');
});

test('same kind: a group or all-zero MAC is never a host (a forged gratuitous ARP), and a frame from one makes no wanted path', () => {
  const m = single(2);
  start(m);
  assert.deepEqual(pingall(m), []);
  const hosts = m.controller.hosts.byMac.size;
  // h2's port sends a gratuitous ARP naming ff:ff:ff:ff:ff:ff (and then 00:..:00) as the owner of h1's IP
  for (const forged of ['ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00']) {
    const garp = buildArpRequest({ senderMac: forged, senderIp: h(m, 'h1').ip, targetIp: h(m, 'h1').ip });
    pump(m, ctl.packetIn(m.controller, m.sw(1), 2, garp, m.now).commands);
    assert.equal(m.controller.hosts.byMac.has(forged), false, `${forged} placed as a host`);
  }
  assert.equal(m.controller.hosts.byMac.size, hosts);
  assert.equal(m.controller.hosts.byIp.get(h(m, 'h1').ip), h(m, 'h1').mac, "h1's IP still names h1");
  // frames with a multicast source to a known VM: dropped, no wanted direction per frame
  const wanted = m.controller.routing.wanted.size;
  for (let i = 0; i < 50; i++) {
    const src = `03:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    const r = ctl.packetIn(m.controller, m.sw(1), 2, buildEthernet({ src, dst: h(m, 'h1').mac }, ETHERTYPE.IPV4, new Uint8Array(46)), m.now);
    assert.equal(r.commands.length, 0, 'not forwarded');
  }
  assert.equal(m.controller.routing.wanted.size, wanted, 'no wanted direction for a group source');
  assert.deepEqual(pingall(m), []);
});

test('same kind: LOCAL/CONTROLLER in port lists, probes and the agent API are never hosts, links or flood targets', () => {
  const m = single(2);
  // a data plane that forgets to filter its port list
  const sw = m.fabric.switches.get(m.sw(1))!;
  const ports = [...portInfos(sw), { port: LOCAL, hwAddr: 'be:ef:00:00:00:01', up: true, speedKbps: 0, name: 's1' }];
  const up = ctl.switchUp(m.controller, m.sw(1), ports, m.now);
  assert.ok(up.commands.every((c) => c.kind !== 'packet-out' || !c.ports.includes(LOCAL)), 'no probe out of LOCAL');
  assert.deepEqual(
    up.events.filter((e) => e.type === 'switch-up').map((e) => e.type === 'switch-up' && e.ports),
    [portInfos(sw).length],
    'switch-up counts physical ports only',
  );
  // an ARP from the CONTROLLER port number
  const arp = ctl.packetIn(m.controller, m.sw(1), 0xfffffffd, buildArpRequest({ senderMac: 'be:ef:00:00:00:02', senderIp: '10.0.0.99', targetIp: '10.0.0.1' }), m.now);
  assert.equal(m.controller.hosts.byMac.size, 0);
  assert.equal(arp.commands.length, 0);
  // a flood never goes out of LOCAL
  const flood = ctl.packetIn(m.controller, m.sw(1), 1, buildArpRequest({ senderMac: h(m, 'h1').mac, senderIp: h(m, 'h1').ip, targetIp: '10.0.0.77' }), m.now);
  assert.ok(flood.commands.some((c) => c.kind === 'packet-out'), 'flood.commands.some((c) => c.kind === \'packet-out\')');
  assert.ok(flood.commands.every((c) => c.kind !== 'packet-out' || !c.ports.includes(LOCAL)), 'flood.commands.every((c) => c.kind !== \'packet-out\' || !c.ports.includes(LOCAL))');
  // a probe claiming to come from LOCAL, or arriving there
  const probe = buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: m.sw(1), port: LOCAL, nonce: m.controller.disc.nonce, extraTlvs: [authTlv(m.controller.disc.secret, { nonce: m.controller.disc.nonce, dpid: m.sw(1), port: LOCAL }, m.now)] });
  assert.deepEqual(ctl.packetIn(m.controller, m.sw(1), 2, probe, m.now).events.map((e) => (e.type === 'probe-rejected' ? e.reason : e.type)), ['reserved-port']);
  assert.equal(discoveredLinks(m.controller.disc).length, 0);
  // the agent saying a VM is on LOCAL is refused with a stable code
  assert.throws(() => ctl.vmMoved(m.controller, h(m, 'h1').mac, { dpid: m.sw(1), port: LOCAL }, m.now), (e) => isScoreError(e, 'RESERVED_PORT'));
});

// ---- 4. floods reach every edge port, loop-free ----------------------------------------------

test('issue 4 input: without a scenario, once h1 and h2 spoke, silent h3 (on s3) still gets the ARP', () => {
  const m = linear(3);
  start(m);
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h2')), 'ping(m, h(m, \'h1\'), h(m, \'h2\'))');
  // h3 has never sent a frame: the ARP for it must reach s3's edge port
  const w = sends(m, h(m, 'h1'), buildArpRequest({ senderMac: h(m, 'h1').mac, senderIp: h(m, 'h1').ip, targetIp: h(m, 'h3').ip }));
  assert.ok(w.delivered.some((d) => d.mac === h(m, 'h3').mac), 'the ARP reached h3');
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h3')), 'ping(m, h(m, \'h1\'), h(m, \'h3\'))');
  assert.deepEqual(pingall(m), []);
});

test('same kind: a cable not discovered yet does not loop a flood or move its sender', () => {
  const m = linear(3);
  start(m);
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h2')), 'ping(m, h(m, \'h1\'), h(m, \'h2\'))');
  // s1 and s3 get a direct cable; the ports come up but the controller has not seen probes yet
  const [a, b] = connect(m.fabric, m.sw(1), m.sw(3));
  for (const end of [a, b]) {
    const sw = m.fabric.switches.get(end.dpid)!;
    ctl.portStatus(m.controller, end.dpid, portInfos(sw).find((p) => p.port === end.port)!, false, m.now); // probes lost
  }
  const w = sends(m, h(m, 'h1'), buildArpRequest({ senderMac: h(m, 'h1').mac, senderIp: h(m, 'h1').ip, targetIp: '10.0.0.77' }));
  assert.equal(w.loops, 0);
  for (const name of ['h2', 'h3']) assert.equal(w.delivered.filter((d) => d.mac === h(m, name).mac).length, 1, `${name} gets the broadcast once`);
  assert.deepEqual(hostAt(m, 'h1'), { dpid: m.sw(1), port: 1 }, 'h1 not moved onto the cable');
  assert.ok(w.packetIns.length < 10, `few packet-ins (${w.packetIns.length})`);
  tick(m);
  assert.ok(discoveredLinks(m.controller.disc).some((l) => l.a.dpid === m.sw(1) && l.b.dpid === m.sw(3)), 'the cable is a link after the next round');
  assert.deepEqual(pingall(m), []);
});

// ---- 5. a path the switch refused is not installed -------------------------------------------

/**
 * Runs commands, in order, on a single-switch fabric whose table refuses flow-adds beyond
 * `limit` rules (OVS flow_limit with overflow_policy=refuse); refusals and acceptances go back
 * to the controller as the data plane reports them (ERROR for the xid; barrier), until quiet.
 */
function runWithLimit(m: MiniNet, limit: number, commands: readonly SwitchCommand[]): void {
  let pending = [...commands];
  for (let guard = 0; guard < 100 && pending.length > 0; guard++) {
    const next: SwitchCommand[] = [];
    const accepted = new Map<bigint, bigint[]>();
    for (const c of pending) {
      const sw = m.fabric.switches.get(c.dpid);
      if (sw === undefined) continue;
      if (c.kind === 'flow-delete') {
        sw.table.entries = sw.table.entries.filter((e) => (e.rule.cookie & c.cookieMask) !== (c.cookie & c.cookieMask));
      } else if (c.kind === 'flow-add') {
        if (sw.table.entries.length >= limit) {
          next.push(...ctl.flowRejected(m.controller, c.dpid, c.rule.cookie, 'FLOW_MOD_FAILED/TABLE_FULL', m.now).commands);
          continue;
        }
        sw.table.entries.push({ rule: c.rule, packets: 0n, bytes: 0n, installedAt: m.now, lastHit: m.now });
        sw.table.entries.sort((x, y) => y.rule.priority - x.rule.priority);
        accepted.set(c.dpid, [...(accepted.get(c.dpid) ?? []), c.rule.cookie]);
      } else {
        // single switch: a packet-out goes straight to the hosts on its ports
        for (const p of c.ports) {
          const host = sw.ports.get(p)?.host;
          if (host !== undefined) delivered.push({ mac: host, frame: c.frame });
        }
      }
    }
    for (const [dpid, cookies] of accepted) next.push(...ctl.flowsAccepted(m.controller, dpid, cookies, m.now).commands);
    pending = next;
  }
}

const delivered: { mac: string; frame: Uint8Array }[] = [];

/** A host sends on the single switch: table lookup, else packet-in. Returns whether `to` got it. */
function hostSendsLimited(m: MiniNet, limit: number, fromName: string, toName: string): boolean {
  const from = h(m, fromName);
  const to = h(m, toName);
  const frame = udp(from, to, to.mac);
  const at = m.fabric.hosts.get(from.mac)!;
  const sw = m.fabric.switches.get(at.dpid)!;
  delivered.length = 0;
  const entry = lookup(sw.table, { inPort: at.port, ethSrc: from.mac, ethDst: to.mac, ethType: ETHERTYPE.IPV4 }, frame.length, m.now);
  if (entry !== undefined && entry.rule.actions[0]?.type === 'output') {
    const p = entry.rule.actions[0].port;
    return sw.ports.get(p)?.host === to.mac;
  }
  runWithLimit(m, limit, ctl.packetIn(m.controller, at.dpid, at.port, frame, m.now).commands);
  return delivered.some((d) => d.mac === to.mac);
}

test('issue input 5: single,4 with a 6-rule table that refuses: refused paths are not installed, are reported, forwarded meanwhile, and installed once there is room', () => {
  const m = single(4);
  for (const s of m.fabric.switches.values()) runWithLimit(m, 6, ctl.switchUp(m.controller, s.dpid, portInfos(s), m.now).commands);
  // everyone is known (their ARPs), then every pair talks
  for (const x of m.hosts.values()) runWithLimit(m, 6, ctl.packetIn(m.controller, m.sw(1), m.fabric.hosts.get(x.mac)!.port, buildArpRequest({ senderMac: x.mac, senderIp: x.ip, targetIp: '10.0.0.200' }), m.now).commands);
  const names = [...m.hosts.keys()];
  const events: ctl.ControllerEvent[] = [];
  const mark = m.controller.log.length;
  for (const a of names) for (const b of names) if (a !== b) assert.ok(hostSendsLimited(m, 6, a, b), `${a} -> ${b} delivered`);
  events.push(...m.controller.log.slice(mark));
  const table = m.fabric.switches.get(m.sw(1))!.table.entries;
  assert.equal(table.length, 6, 'the table is full');
  // what the controller counts as installed is exactly what is in the table
  const inTable = new Set(table.map((e) => e.rule.cookie));
  for (const p of m.controller.routing.paths.values()) assert.ok(inTable.has(p.cookie), `path ${p.src}>${p.dst} counted but not in the table`);
  assert.equal(m.controller.routing.paths.size, 5);
  assert.ok(events.some((e) => e.type === 'path-rejected' && e.error === 'FLOW_MOD_FAILED/TABLE_FULL'), 'refusals reported');
  assert.ok(m.controller.routing.install.rejections >= 7, 'm.controller.routing.install.rejections >= 7');
  // idle rules leave the table; after the back-off the refused paths are tried again and land
  for (const e of [...table].filter((x) => x.rule.cookie !== 0n)) {
    m.fabric.switches.get(m.sw(1))!.table.entries = m.fabric.switches.get(m.sw(1))!.table.entries.filter((y) => y !== e);
    runWithLimit(m, 100, ctl.flowRemoved(m.controller, e.rule.cookie).commands);
  }
  for (let i = 0; i < 6; i++) {
    m.now += 1_000;
    runWithLimit(m, 100, ctl.tick(m.controller, m.now).commands.filter((c) => c.kind !== 'packet-out'));
  }
  assert.ok(m.controller.log.some((e) => e.type === 'path-installed'), 'a refused path installed on retry');
  assert.equal(m.controller.routing.install.backoff.size, 0, 'nothing left waiting');
  assert.equal(m.controller.routing.paths.size, 12 - 5, 'the 7 refused directions are installed now (the 5 idle ones left)');
});

test('same kind: a path refused by one switch of three is taken out of all of them, and back-off doubles', () => {
  const m = linear(3);
  start(m);
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h3')), 'ping(m, h(m, \'h1\'), h(m, \'h3\'))');
  const p = [...m.controller.routing.paths.values()].find((x) => x.src === h(m, 'h1').mac && x.dst === h(m, 'h3').mac)!;
  assert.equal(p.hops.length, 3);
  const r1 = ctl.flowRejected(m.controller, m.sw(2), p.cookie, 'FLOW_MOD_FAILED/TABLE_FULL', m.now);
  assert.deepEqual(new Set(r1.commands.map((c) => (c.kind === 'flow-delete' ? c.dpid : -1n))), new Set([m.sw(1), m.sw(2), m.sw(3)]));
  const e1 = r1.events[0];
  assert.ok(e1?.type === 'path-rejected' && e1.retryInMs === 1000, 'e1?.type === \'path-rejected\' && e1.retryInMs === 1000');
  pump(m, r1.commands);
  // meanwhile the controller forwards the packets itself
  assert.ok(ping(m, h(m, 'h1'), h(m, 'h3')), 'ping(m, h(m, \'h1\'), h(m, \'h3\'))');
  m.now += 1_000;
  const retry = ctl.tick(m.controller, m.now);
  const again = retry.commands.filter((c) => c.kind === 'flow-add' && c.rule.match.ethSrc === h(m, 'h1').mac && c.rule.match.ethDst === h(m, 'h3').mac);
  assert.equal(again.length, 3, 'retried on every hop');
  const cookie = again[0]!.kind === 'flow-add' ? again[0]!.rule.cookie : 0n;
  const r2 = ctl.flowRejected(m.controller, m.sw(2), cookie, 'FLOW_MOD_FAILED/TABLE_FULL', m.now);
  const e2 = r2.events[0];
  assert.ok(e2?.type === 'path-rejected' && e2.retryInMs === 2000, 'second refusal waits twice as long');
  m.now += 2_000;
  const third = ctl.tick(m.controller, m.now).commands.filter((c) => c.kind === 'flow-add' && c.rule.match.ethDst === h(m, 'h3').mac && c.rule.match.ethSrc === h(m, 'h1').mac);
  const c3 = third[0]!.kind === 'flow-add' ? third[0]!.rule.cookie : 0n;
  for (const d of [m.sw(1), m.sw(2)]) assert.deepEqual(ctl.flowsAccepted(m.controller, d, [c3], m.now).events, []);
  const done = ctl.flowsAccepted(m.controller, m.sw(3), [c3], m.now);
  assert.deepEqual(done.events.map((e) => e.type), ['path-installed'], 'installed when the last switch confirmed');
});
