import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { ARP_OP, buildArpRequest, buildEthernet, buildGratuitousArp, buildRarpAnnouncement, encodeArp, ETHERTYPE, buildLldpProbe, encodeIpv4, encodeUdp, IP_PROTOCOL } from '../packet/index.ts';
import * as ctl from './controller.ts';
import { connectAll, harnessFromModel, hostSends, pump, type Harness } from './fabric-harness.ts';
import { moveHost, portInfos, ruleCount, setLinkUp } from '../dataplane/fabric.ts';
import { links as discoveredLinks } from './discovery.ts';
import { linkId } from '../core/topology.ts';
import { PATH_COOKIE_TAG_MASK, PATH_COOKIE_TAG } from './commands.ts';
import { DEFAULT_MAX_HOSTS_PER_PORT } from './hosts.ts';

function paper(): { h: Harness; model: ReturnType<typeof loadScenarioFile>['model'] } {
  const { model } = loadScenarioFile('paper');
  const h = harnessFromModel(model);
  connectAll(h);
  return { h, model };
}

const ipOf = new Map<string, string>();

/** A UDP datagram between two VMs, as a real frame (the controller refuses malformed IPv4). */
function ipFrame(src: string, dst: string): Uint8Array {
  const ip = { src: ipOf.get(src) ?? '10.0.0.254', dst: ipOf.get(dst) ?? '10.0.0.253' };
  const udp = encodeUdp({ srcPort: 4000, dstPort: 5000, checksum: 0, payload: new Uint8Array(18) }, ip);
  const packet = encodeIpv4({ dscp: 0, ecn: 0, identification: 1, reservedFlag: false, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTOCOL.UDP, ...ip, options: new Uint8Array(0), payload: udp });
  return buildEthernet({ src, dst }, ETHERTYPE.IPV4, packet);
}

function announceAll(h: Harness, model: ReturnType<typeof loadScenarioFile>['model']): void {
  for (const vm of model.vms) {
    const info = model.vmInfo.get(vm)!;
    ipOf.set(info.mac, info.ip);
    hostSends(h, info.mac, buildGratuitousArp({ mac: info.mac, ip: info.ip }));
  }
}

test('discovery finds exactly the scenario links, named by the scenario, with the paper weights', () => {
  const { h, model } = paper();
  const found = discoveredLinks(h.controller.disc).map((l) => linkId(h.controller.view.nameOf(l.a.dpid), h.controller.view.nameOf(l.b.dpid))).sort();
  assert.deepEqual(found, model.topology.links.map((l) => l.id).sort());
  assert.equal(h.controller.view.weights.get('a1-c1'), 3);
  assert.equal(h.controller.view.weights.get('hv16-t1'), 1);
  assert.equal(h.controller.view.oracle.cost('hv16', 'hv23'), 12);
});

test('LLDP without our nonce (another controller, a relaying switch) makes no link', () => {
  const { h } = paper();
  const before = discoveredLinks(h.controller.disc).length;
  const foreign = buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: h.dpidOf.get('c1')!, port: 1, nonce: new Uint8Array(8).fill(9) });
  // arrives at a host port of hv16, where no link is
  const r = ctl.packetIn(h.controller, h.dpidOf.get('hv16')!, 2, foreign, 1);
  assert.deepEqual(r.events, []);
  assert.equal(discoveredLinks(h.controller.disc).length, before);
});

test('every VM reaches every other VM: ARP answered by the controller, no flood loop, each frame delivered once', () => {
  const { h, model } = paper();
  announceAll(h, model);
  assert.equal(h.controller.hosts.byMac.size, 24);
  for (const a of model.vms) {
    for (const b of model.vms) {
      if (a === b) continue;
      const ia = model.vmInfo.get(a)!;
      const ib = model.vmInfo.get(b)!;
      const arp = hostSends(h, ia.mac, buildArpRequest({ senderMac: ia.mac, senderIp: ia.ip, targetIp: ib.ip }));
      assert.deepEqual(arp.delivered.map((d) => d.mac), [ia.mac], `${a} gets the ARP reply for ${b} and nobody else is flooded`);
      const w = hostSends(h, ia.mac, ipFrame(ia.mac, ib.mac));
      assert.deepEqual(w.delivered.map((d) => d.mac), [ib.mac], `${a} -> ${b}`);
      assert.equal(w.loops, 0);
    }
  }
  // second time round: rules are in place, no controller involvement
  const ia = model.vmInfo.get('vm3')!;
  const ib = model.vmInfo.get('vm23')!;
  const again = hostSends(h, ia.mac, ipFrame(ia.mac, ib.mac));
  assert.deepEqual(again.packetIns, []);
  assert.deepEqual(again.delivered.map((d) => [d.mac, d.hops]), [[ib.mac, 7]]);
});

test('a core link going down reroutes at once and leaves no rule pointing into it; up again restores', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const a = model.vmInfo.get('vm3')!;
  const b = model.vmInfo.get('vm23')!;
  hostSends(h, a.mac, ipFrame(a.mac, b.mac));
  const path = h.controller.routing.paths.get(`${a.mac}>${b.mac}`)!;
  const coreLink = path.links.find((id) => h.controller.view.layers.linkLayer.get(id) === 3)!;
  const ends = h.controller.view.ports.get(coreLink)!;
  for (const end of setLinkUp(h.fabric, ends.a, false)) {
    const sw = h.fabric.switches.get(end.dpid)!;
    const info = portInfos(sw).find((p) => p.port === end.port)!;
    pump(h, ctl.portStatus(h.controller, end.dpid, info).commands);
  }
  for (const end of [ends.a, ends.b]) {
    const rules = h.fabric.switches.get(end.dpid)!.table.entries;
    assert.ok(!rules.some((e) => e.rule.actions.some((x) => x.type === 'output' && x.port === end.port)), 'no rule outputs into the dead link');
  }
  const newPath = h.controller.routing.paths.get(`${a.mac}>${b.mac}`)!;
  assert.ok(!newPath.links.includes(coreLink), '!newPath.links.includes(coreLink)');
  const w = hostSends(h, a.mac, ipFrame(a.mac, b.mac));
  assert.deepEqual(w.packetIns, [], 'rerouted proactively, not on the next packet');
  assert.deepEqual(w.delivered.map((d) => d.mac), [b.mac]);
  // link back: discovered again at the next probe round
  for (const end of setLinkUp(h.fabric, ends.a, true)) {
    const sw = h.fabric.switches.get(end.dpid)!;
    pump(h, ctl.portStatus(h.controller, end.dpid, portInfos(sw).find((p) => p.port === end.port)!).commands);
  }
  assert.ok(h.controller.view.ports.has(coreLink), 'h.controller.view.ports.has(coreLink)');
});

test('a migrated VM announcing itself by RARP is found at once and its traffic follows it', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const a = model.vmInfo.get('vm3')!;
  const b = model.vmInfo.get('vm23')!;
  hostSends(h, a.mac, ipFrame(a.mac, b.mac));
  moveHost(h.fabric, a.mac, h.dpidOf.get('hv23')!);
  // before the announcement the old path black-holes (the VM is gone from hv16)...
  const r = hostSends(h, a.mac, buildRarpAnnouncement(a.mac));
  assert.ok(r.packetIns.length >= 1, 'r.packetIns.length >= 1');
  assert.equal(h.controller.view.nameOf(h.controller.hosts.byMac.get(a.mac)!.at.dpid), 'hv23');
  const w = hostSends(h, b.mac, ipFrame(b.mac, a.mac));
  assert.deepEqual(w.delivered.map((d) => [d.mac, d.hops]), [[a.mac, 1]], 'now collocated: one hop');
  assert.deepEqual(w.packetIns, []);
});

test('a switch that reconnects gets its path rules back', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const a = model.vmInfo.get('vm1')!;
  const b = model.vmInfo.get('vm10')!;
  hostSends(h, a.mac, ipFrame(a.mac, b.mac));
  const t1 = h.fabric.switches.get(h.dpidOf.get('t1')!)!;
  const pathRules = (): number => t1.table.entries.filter((e) => (e.rule.cookie & PATH_COOKIE_TAG_MASK) === PATH_COOKIE_TAG).length;
  const before = pathRules();
  assert.ok(before >= 2, 'before >= 2');
  pump(h, ctl.switchDown(h.controller, t1.dpid).commands);
  t1.table.entries = [];
  pump(h, ctl.switchUp(h.controller, t1.dpid, portInfos(t1)).commands);
  assert.equal(pathRules(), before);
  const w = hostSends(h, a.mac, ipFrame(a.mac, b.mac));
  assert.deepEqual(w.delivered.map((d) => d.mac), [b.mac]);
  assert.ok(ruleCount(h.fabric) > 0, 'ruleCount(h.fabric) > 0');
});

test('flow statistics: rates per VM pair from first-hop counters, paths carry their weight', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const a = model.vmInfo.get('vm9')!;
  const b = model.vmInfo.get('vm22')!;
  hostSends(h, a.mac, ipFrame(a.mac, b.mac));
  const key = `${a.mac}>${b.mac}`;
  const path = h.controller.routing.paths.get(key)!;
  const first = path.hops[0]!.dpid;
  ctl.flowStats(h.controller, first, [{ cookie: path.cookie, byteCount: 1000n, packetCount: 10n, durationSec: 10, durationNsec: 0 }], 1000);
  ctl.flowStats(h.controller, first, [{ cookie: path.cookie, byteCount: 1640n, packetCount: 20n, durationSec: 11, durationNsec: 0 }], 2000);
  // the same rule seen at the last hop must not count twice
  ctl.flowStats(h.controller, path.hops.at(-1)!.dpid, [{ cookie: path.cookie, byteCount: 9_999_999n, packetCount: 1n, durationSec: 12, durationNsec: 0 }], 2000);
  const rates = ctl.pairRates(h.controller, 2500);
  assert.deepEqual(rates, [{ src: a.mac, dst: b.mac, bytesPerSecond: 640, ageMs: 500, pathWeight: 12 }]);
  assert.equal(ctl.weightIfMoved(h.controller, b.mac, h.dpidOf.get('hv23')!), 0);
  assert.equal(ctl.weightIfMoved(h.controller, b.mac, h.dpidOf.get('hv22')!), 2);
  assert.equal(ctl.weightIfMoved(h.controller, b.mac, h.dpidOf.get('hv20')!), 6);
  assert.deepEqual(ctl.edgeSwitches(h.controller).length, 8);
});

test('tick in shares: every up port of every switch probed exactly once over the shares; ageing and retries only at share 0', () => {
  const { h } = paper();
  const all = ctl.tick(h.controller, 2_000).commands.filter((c) => c.kind === 'packet-out');
  const key = (c: (typeof all)[number]): string => (c.kind === 'packet-out' ? `${c.dpid}:${c.ports.join(',')}` : '');
  const whole = all.map(key).sort();
  assert.ok(whole.length > 20, 'the paper data centre has probes to send');
  const shares = 7;
  const parts: string[] = [];
  for (let index = 0; index < shares; index++) {
    const r = ctl.tick(h.controller, 2_000, { index, of: shares });
    assert.ok(r.commands.every((c) => c.kind === 'packet-out'), 'r.commands.every((c) => c.kind === \'packet-out\')');
    parts.push(...r.commands.map(key));
  }
  assert.deepEqual(parts.sort(), whole, 'the same probes, each once');
  // links age out at share 0 only: long after the last probe answer, a non-zero share leaves them
  const links = discoveredLinks(h.controller.disc).length;
  const late = ctl.tick(h.controller, 60_000, { index: 3, of: shares });
  assert.equal(late.events.length, 0);
  assert.equal(discoveredLinks(h.controller.disc).length, links);
  const expired = ctl.tick(h.controller, 60_000, { index: 0, of: shares });
  assert.ok(expired.events.some((e) => e.type === 'link-removed'), 'share 0 ages links out');
});

test('tick in shares: a link gets as many probe rounds before it ages out as with all probes at once', () => {
  const { h } = paper();
  ctl.tick(h.controller, 2_000);
  const d = h.controller.disc as { latestHeard: number; ttlMs: number; links: Map<string, { lastSeen: number }> };
  const [key, entry] = [...d.links][0]!;
  const share = { index: 0, of: 10, periodMs: 1000 };
  for (const e of d.links.values()) e.lastSeen = 100_000;
  // other shares' probes kept coming back for ttl + half a period after this link's last answer
  d.latestHeard = 100_000 + d.ttlMs + 500;
  entry.lastSeen = 100_000;
  for (const e of d.links.values()) if (e !== entry) e.lastSeen = d.latestHeard;
  assert.equal(ctl.tick(h.controller, d.latestHeard + 100, share).events.filter((e) => e.type === 'link-removed').length, 0, 'within the shares\' spread: kept');
  assert.ok(d.links.has(key), 'the link is still there');
  d.latestHeard = 100_000 + d.ttlMs + 1000;
  const gone = ctl.tick(h.controller, d.latestHeard + 100, share).events.filter((e) => e.type === 'link-removed');
  assert.ok(gone.length > 0 && !d.links.has(key), 'a period more: aged out');
});

test('a port forging source addresses is held at the host limit: further sources are dropped unlearned, nothing flooded or routed', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const victim = model.vmInfo.get('vm23')!;
  const at = h.controller.hosts.byMac.get(model.vmInfo.get('vm1')!.mac)!.at;
  const before = h.controller.hosts.byMac.size;
  const forged = (i: number): string => `02:66:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  // vm1 is one host there already: DEFAULT_MAX_HOSTS_PER_PORT - 1 forged sources still fit
  let now = 10;
  for (let i = 0; i < DEFAULT_MAX_HOSTS_PER_PORT - 1; i++) {
    const r = ctl.packetIn(h.controller, at.dpid, at.port, ipFrame(forged(i), victim.mac), now++);
    assert.equal(r.events[0]?.type, 'host-added', `forged source ${i} is still learned below the limit`);
  }
  const over = ctl.packetIn(h.controller, at.dpid, at.port, ipFrame(forged(5000), victim.mac), now++);
  assert.deepEqual(over.commands, [], 'no packet-out, flood or path for a source over the limit');
  assert.equal(over.events.length, 1, 'one event');
  const e = over.events[0]!;
  assert.ok(e.type === 'host-refused' && !e.quiet && e.limit === DEFAULT_MAX_HOSTS_PER_PORT, `reported: ${JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  assert.match(ctl.describeEvent(h.controller, e), /^WARN host 02:66:00:00:13:88 at hv\d+:\d+ not learned/);
  // an ARP request from a further source would be flooded to every host: dropped as well
  const arp = ctl.packetIn(h.controller, at.dpid, at.port, buildArpRequest({ senderMac: forged(5001), senderIp: '10.9.9.9', targetIp: '10.200.0.1' }), now++);
  assert.deepEqual(arp.commands, [], 'the ARP of a refused source is not flooded');
  assert.ok(arp.events[0]?.type === 'host-refused' && arp.events[0].quiet, 'the next refusal within a minute is quiet');
  assert.equal(h.controller.hosts.byMac.size, before + DEFAULT_MAX_HOSTS_PER_PORT - 1, 'the table grew to the limit and no further');
  // vm1 itself still reaches its peers through the full port
  const w = hostSends(h, model.vmInfo.get('vm1')!.mac, ipFrame(model.vmInfo.get('vm1')!.mac, victim.mac));
  assert.deepEqual(w.delivered.map((d) => d.mac), [victim.mac], 'the port\'s own VM is unaffected');
  // the periodic tick tells the quiet refusal once the port's report is a minute old
  const told = ctl.tick(h.controller, now + 60_000).events.filter((x) => x.type === 'host-refusals');
  assert.equal(told.length, 1, 'one summary for the port');
  assert.match(ctl.describeEvent(h.controller, told[0]!), /^WARN 1 more frames from unknown hosts at hv\d+:\d+ dropped in the last minute/);
});

test('a frame whose sender is placed nowhere gets no path and leaves no wanted direction behind (the announcement naming another host included)', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const vm1 = model.vmInfo.get('vm1')!;
  const victim = model.vmInfo.get('vm23')!;
  const at = h.controller.hosts.byMac.get(vm1.mac)!.at;
  const wanted = h.controller.routing.wanted.size;
  for (let i = 0; i < 50; i++) {
    const src = `02:67:00:00:00:${i.toString(16).padStart(2, '0')}`;
    // a gratuitous ARP reply naming vm1, sent from an address nobody learned, to a known VM
    const garp = buildEthernet({ src, dst: victim.mac }, ETHERTYPE.ARP, encodeArp({ op: ARP_OP.REPLY, senderMac: vm1.mac, senderIp: vm1.ip, targetMac: vm1.mac, targetIp: vm1.ip }));
    const r = ctl.packetIn(h.controller, at.dpid, at.port, garp, 100 + i);
    assert.deepEqual(r.commands, [], `frame ${i}: nothing installed or sent for an unplaced sender`);
  }
  assert.equal(h.controller.hosts.byMac.has('02:67:00:00:00:00'), false, 'the frame\'s own source is not learned from an announcement naming another');
  assert.equal(h.controller.routing.wanted.size, wanted, 'no wanted direction for a sender placed nowhere');
});

test('a switch reconnecting without a port, or with it down, no longer holds that port\'s hosts', () => {
  const { h, model } = paper();
  announceAll(h, model);
  const vm1 = model.vmInfo.get('vm1')!;
  const vm2 = model.vmInfo.get('vm2')!;
  const at1 = h.controller.hosts.byMac.get(vm1.mac)!.at;
  const at2 = h.controller.hosts.byMac.get(vm2.mac)!.at;
  const sw = h.fabric.switches.get(at1.dpid)!;
  ctl.switchDown(h.controller, at1.dpid, 200);
  // back without vm1's port (deleted while the switch was away) and with vm2's down, if on the same switch
  const ports = portInfos(sw)
    .filter((p) => p.port !== at1.port)
    .map((p) => (at2.dpid === at1.dpid && p.port === at2.port ? { ...p, up: false } : p));
  const r = ctl.switchUp(h.controller, at1.dpid, ports, 201);
  assert.equal(h.controller.hosts.byMac.has(vm1.mac), false, 'vm1 is no longer placed on a port its switch does not have');
  const removed = r.events.filter((e) => e.type === 'host-removed');
  assert.ok(removed.some((e) => e.type === 'host-removed' && e.mac === vm1.mac && e.reason === 'port-deleted'), `vm1 reported gone: ${removed.map((e) => (e.type === 'host-removed' ? `${e.mac} ${e.reason}` : '')).join(', ')}`);
  if (at2.dpid === at1.dpid) assert.equal(h.controller.hosts.byMac.has(vm2.mac), false, 'a host on a port that is down is not placed');
  // every other host of the data centre is still placed
  const others = model.vms.map((v) => model.vmInfo.get(v)!.mac).filter((m) => m !== vm1.mac && !(at2.dpid === at1.dpid && m === vm2.mac));
  assert.ok(others.every((m) => h.controller.hosts.byMac.has(m)), 'the other hosts stay');
});
