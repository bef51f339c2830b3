import type { Dpid, PortRef } from './commands.ts';
import * as ctl from './controller.ts';
import type { ControllerOptions } from './controller.ts';
import { pump, type Harness } from './fabric-harness.ts';
import { addSwitch, attachHost, connect, createFabric, portInfos, sendFromHost, type Walk } from '../dataplane/fabric.ts';
import { ARP_OP, buildArpReply, buildArpRequest, buildEthernet, encodeIpv4, encodeUdp, ETHERTYPE, IP_PROTOCOL, parseFrame } from '../packet/index.ts';

/**
 * Mininet's topologies (mininet/topo.py, topolib.py: linear, tree, single) as a fake fabric with
 * the same port numbering, without a scenario, driven by a real controller; and hosts that behave
 * like Mininet's (ARP cache, answer ARP and pings, silent otherwise). For unit tests of what the
 * controller believes; the Mininet system test runs the same shapes against the real thing.
 */
export interface MiniHost {
  readonly name: string;
  readonly mac: string;
  readonly ip: string;
  readonly arp: Map<string, string>;
}

export interface MiniNet extends Harness {
  readonly hosts: Map<string, MiniHost>;
  readonly sw: (n: number) => Dpid;
}

function host(n: number): MiniHost {
  const hex = n.toString(16).padStart(2, '0');
  return { name: `h${n}`, mac: `00:00:00:00:00:${hex}`, ip: `10.0.0.${n}`, arp: new Map() };
}

function net(switches: number, options: Partial<ControllerOptions> = {}): MiniNet {
  const fabric = createFabric();
  for (let i = 1; i <= switches; i++) addSwitch(fabric, BigInt(i));
  const controller = ctl.createController({ nonce: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), secret: new Uint8Array(32).fill(7), ...options });
  return { fabric, controller, dpidOf: new Map(), now: 1_000, hosts: new Map(), sw: (n) => BigInt(n) };
}

function addHost(m: MiniNet, n: number, on: number): void {
  const h = host(n);
  m.hosts.set(h.name, h);
  attachHost(m.fabric, h.mac, m.sw(on));
}

/** `--topo linear,n`: s_i has h_i on port 1, s_i port 2 to s_(i-1) (or s2 on s1), port 3 to s_(i+1). */
export function linear(n: number, options: Partial<ControllerOptions> = {}): MiniNet {
  const m = net(n, options);
  for (let i = 1; i <= n; i++) addHost(m, i, i);
  for (let i = 1; i < n; i++) connect(m.fabric, m.sw(i), m.sw(i + 1));
  return m;
}

/** `--topo tree,2,2`: s1 root; s2 with h1, h2 on ports 1, 2 and s1 on 3; s3 with h3, h4 and s1 on 3. */
export function tree22(options: Partial<ControllerOptions> = {}): MiniNet {
  const m = net(3, options);
  addHost(m, 1, 2);
  addHost(m, 2, 2);
  addHost(m, 3, 3);
  addHost(m, 4, 3);
  connect(m.fabric, m.sw(1), m.sw(2));
  connect(m.fabric, m.sw(1), m.sw(3));
  return m;
}

/** `--topo single,n`: one switch, h_i on port i. */
export function single(n: number, options: Partial<ControllerOptions> = {}): MiniNet {
  const m = net(1, options);
  for (let i = 1; i <= n; i++) addHost(m, i, 1);
  return m;
}

export function start(m: MiniNet): void {
  for (const s of m.fabric.switches.values()) pump(m, ctl.switchUp(m.controller, s.dpid, portInfos(s), m.now).commands);
  tick(m);
}

/** One probe round (what the runtime does every second), with its packet-ins. */
export function tick(m: MiniNet, ms = 1_000): Walk {
  m.now += ms;
  return pump(m, ctl.tick(m.controller, m.now).commands);
}

export function sends(m: MiniNet, from: MiniHost, frame: Uint8Array): Walk {
  return pump(m, [], sendFromHost(m.fabric, from.mac, frame, m.now));
}

function got(w: Walk, to: MiniHost, pred: (f: ReturnType<typeof parseFrame>) => boolean): boolean {
  return w.delivered.some((d) => d.mac === to.mac && pred(parseFrame(d.frame)));
}

export function udp(from: MiniHost, to: MiniHost, dstMac: string): Uint8Array {
  const ip = { src: from.ip, dst: to.ip };
  const u = encodeUdp({ srcPort: 4000, dstPort: 5000, checksum: 0, payload: new Uint8Array(18) }, ip);
  const packet = encodeIpv4({ dscp: 0, ecn: 0, identification: 1, reservedFlag: false, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTOCOL.UDP, ...ip, options: new Uint8Array(0), payload: u });
  return buildEthernet({ src: from.mac, dst: dstMac }, ETHERTYPE.IPV4, packet);
}

/**
 * `a ping -c1 b` as a Linux host does it: ARP when b is not in a's cache (b answers, and learns
 * a), then one datagram each way. True when both the request and the reply arrived.
 */
export function ping(m: MiniNet, a: MiniHost, b: MiniHost): boolean {
  if (!a.arp.has(b.ip)) {
    const w = sends(m, a, buildArpRequest({ senderMac: a.mac, senderIp: a.ip, targetIp: b.ip }));
    const asked = got(w, b, (f) => f.net.type === 'arp' && f.net.arp.op === ARP_OP.REQUEST && f.net.arp.targetIp === b.ip);
    if (asked) {
      b.arp.set(a.ip, a.mac);
      const r = sends(m, b, buildArpReply({ senderMac: b.mac, senderIp: b.ip, targetMac: a.mac, targetIp: a.ip }));
      if (got(r, a, (f) => f.net.type === 'arp' && f.net.arp.op === ARP_OP.REPLY)) a.arp.set(b.ip, b.mac);
    }
    // the controller may have answered for b (proxy ARP)
    if (got(w, a, (f) => f.net.type === 'arp' && f.net.arp.op === ARP_OP.REPLY && f.net.arp.senderIp === b.ip)) a.arp.set(b.ip, b.mac);
    if (!a.arp.has(b.ip)) return false;
  }
  const there = sends(m, a, udp(a, b, a.arp.get(b.ip)!));
  if (!got(there, b, (f) => f.net.type === 'ipv4' && f.net.ipv4.src === a.ip)) return false;
  if (!b.arp.has(a.ip)) b.arp.set(a.ip, a.mac);
  const back = sends(m, b, udp(b, a, b.arp.get(a.ip)!));
  return got(back, a, (f) => f.net.type === 'ipv4' && f.net.ipv4.src === b.ip);
}

/** Mininet's pingall: every ordered pair; returns the pairs that failed. */
export function pingall(m: MiniNet): string[] {
  const failed: string[] = [];
  const hs = [...m.hosts.values()];
  for (const a of hs) for (const b of hs) if (a !== b && !ping(m, a, b)) failed.push(`${a.name}->${b.name}`);
  return failed;
}

/** `ovs-vsctl del-port`: the port vanishes and the switch says so (PORT_STATUS DELETE). */
export function delPort(m: MiniNet, at: PortRef): void {
  const sw = m.fabric.switches.get(at.dpid)!;
  const p = sw.ports.get(at.port)!;
  sw.ports.delete(at.port);
  if (p.host !== undefined) m.fabric.hosts.delete(p.host);
  pump(m, ctl.portStatus(m.controller, at.dpid, { port: at.port, hwAddr: p.hwAddr, up: false, speedKbps: 0, name: `p${at.port}` }, true, m.now).commands);
}

/** `ovs-vsctl add-port ... ofport_request=N` with a host's cable on it (PORT_STATUS ADD). */
export function addPortWithHost(m: MiniNet, h: MiniHost, dpid: Dpid, port: number, announce = true): void {
  const sw = m.fabric.switches.get(dpid)!;
  const hwAddr = `02:aa:00:00:${dpid.toString(16).padStart(2, '0')}:${port.toString(16).padStart(2, '0')}`;
  sw.ports.set(port, { port, hwAddr, up: true, txBytes: 0n, rxBytes: 0n, txPackets: 0n, host: h.mac });
  m.fabric.hosts.set(h.mac, { dpid, port });
  if (announce) pump(m, ctl.portStatus(m.controller, dpid, { port, hwAddr, up: true, speedKbps: 0, name: `p${port}` }, false, m.now).commands);
}
