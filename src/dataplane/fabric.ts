import { decodeEthernet } from '../packet/index.ts';
import type { Dpid, PortRef, SwitchCommand } from '../controller/commands.ts';
import { portKey } from '../controller/commands.ts';
import type { SwitchPortInfo } from '../controller/discovery.ts';
import { addRule, createTable, deleteByCookie, lookup, type FlowTable } from './flowtable.ts';

/**
 * A packet-level fake network: switches with flow tables, port-to-port links, hosts on ports.
 * It executes the controller's commands and walks frames through the tables, reporting where
 * each frame was delivered and what went to the controller. Tests assert on forwarding behaviour
 * (who receives what, loops, black holes), not on message lists.
 */
export interface FabricPort {
  readonly port: number;
  readonly hwAddr: string;
  up: boolean;
  /** counters, as a switch's port stats report them */
  txBytes: bigint;
  rxBytes: bigint;
  txPackets: bigint;
  peer?: PortRef;
  host?: string;
}

export interface FabricSwitch {
  readonly dpid: Dpid;
  readonly ports: Map<number, FabricPort>;
  readonly table: FlowTable;
  connected: boolean;
}

export interface Fabric {
  readonly switches: Map<Dpid, FabricSwitch>;
  readonly hosts: Map<string, PortRef>;
}

export interface Walk {
  readonly delivered: { mac: string; frame: Uint8Array; hops: number }[];
  readonly packetIns: { dpid: Dpid; inPort: number; frame: Uint8Array }[];
  /** frames dropped because the hop limit ran out: a forwarding loop */
  loops: number;
  /** frames that met no rule, or a down port */
  drops: number;
}

const HOP_LIMIT = 64;

export function createFabric(): Fabric {
  return { switches: new Map(), hosts: new Map() };
}

function portMac(dpid: Dpid, port: number): string {
  const n = ((dpid & 0xffffn) << 16n) | BigInt(port & 0xffff);
  return ['02', ...n.toString(16).padStart(8, '0').match(/../g)!, '00'].slice(0, 6).join(':');
}

export function addSwitch(f: Fabric, dpid: Dpid): FabricSwitch {
  const sw: FabricSwitch = { dpid, ports: new Map(), table: createTable(), connected: true };
  f.switches.set(dpid, sw);
  return sw;
}

function nextPort(sw: FabricSwitch): FabricPort {
  const port = sw.ports.size + 1;
  const p: FabricPort = { port, hwAddr: portMac(sw.dpid, port), up: true, txBytes: 0n, rxBytes: 0n, txPackets: 0n };
  sw.ports.set(port, p);
  return p;
}

export function connect(f: Fabric, a: Dpid, b: Dpid): [PortRef, PortRef] {
  const pa = nextPort(f.switches.get(a)!);
  const pb = nextPort(f.switches.get(b)!);
  pa.peer = { dpid: b, port: pb.port };
  pb.peer = { dpid: a, port: pa.port };
  return [{ dpid: a, port: pa.port }, { dpid: b, port: pb.port }];
}

export function attachHost(f: Fabric, mac: string, dpid: Dpid): PortRef {
  const p = nextPort(f.switches.get(dpid)!);
  p.host = mac;
  f.hosts.set(mac, { dpid, port: p.port });
  return { dpid, port: p.port };
}

/** Moves a host to a new port on another switch (what a live migration does to the wiring). */
export function moveHost(f: Fabric, mac: string, dpid: Dpid): PortRef {
  const old = f.hosts.get(mac);
  if (old) {
    const p = f.switches.get(old.dpid)?.ports.get(old.port);
    if (p) p.host = undefined;
  }
  return attachHost(f, mac, dpid);
}

export function portInfos(sw: FabricSwitch): SwitchPortInfo[] {
  return [...sw.ports.values()].map((p) => ({ port: p.port, hwAddr: p.hwAddr, up: p.up, speedKbps: 0, name: `p${p.port}` }));
}

/** Takes a link down on both ends (both switches will report port status). */
export function setLinkUp(f: Fabric, end: PortRef, up: boolean): PortRef[] {
  const p = f.switches.get(end.dpid)!.ports.get(end.port)!;
  p.up = up;
  const ends = [end];
  if (p.peer) {
    f.switches.get(p.peer.dpid)!.ports.get(p.peer.port)!.up = up;
    ends.push(p.peer);
  }
  return ends;
}

function emptyWalk(): Walk {
  return { delivered: [], packetIns: [], loops: 0, drops: 0 };
}

function walkFrom(f: Fabric, w: Walk, start: { dpid: Dpid; outPorts: readonly number[] }[], frame: Uint8Array, now: number, firstHops = 0): void {
  const eth = decodeEthernet(frame);
  const queue: { dpid: Dpid; inPort: number | null; out?: readonly number[]; hops: number }[] = start.map((s) => ({ dpid: s.dpid, inPort: null, out: s.outPorts, hops: firstHops }));
  while (queue.length > 0) {
    const item = queue.shift()!;
    if (item.hops > HOP_LIMIT) {
      w.loops += 1;
      continue;
    }
    const sw = f.switches.get(item.dpid);
    if (sw === undefined) continue;
    let outs: readonly number[];
    if (item.out !== undefined) {
      outs = item.out;
    } else {
      const entry = lookup(sw.table, { inPort: item.inPort!, ethSrc: eth.src, ethDst: eth.dst, ethType: eth.ethertype }, frame.length, now);
      if (entry === undefined) {
        w.drops += 1;
        continue;
      }
      outs = [];
      for (const a of entry.rule.actions) {
        if (a.type === 'controller') {
          if (sw.connected) w.packetIns.push({ dpid: sw.dpid, inPort: item.inPort!, frame });
        } else outs = [...outs, a.port];
      }
      if (entry.rule.actions.length === 0) w.drops += 1;
    }
    for (const out of outs) {
      const p = sw.ports.get(out);
      if (p === undefined || !p.up) {
        w.drops += 1;
        continue;
      }
      if (p.host !== undefined) w.delivered.push({ mac: p.host, frame, hops: item.hops + 1 });
      else if (p.peer !== undefined) queue.push({ dpid: p.peer.dpid, inPort: p.peer.port, hops: item.hops + 1 });
    }
  }
}

/** A host sends a frame: it enters its switch at the host's port. */
export function sendFromHost(f: Fabric, mac: string, frame: Uint8Array, now: number): Walk {
  const at = f.hosts.get(mac);
  const w = emptyWalk();
  if (at === undefined) return w;
  const sw = f.switches.get(at.dpid)!;
  const eth = decodeEthernet(frame);
  const entry = lookup(sw.table, { inPort: at.port, ethSrc: eth.src, ethDst: eth.dst, ethType: eth.ethertype }, frame.length, now);
  if (entry === undefined) {
    w.drops += 1;
    return w;
  }
  const outs: number[] = [];
  for (const a of entry.rule.actions) {
    if (a.type === 'controller') {
      if (sw.connected) w.packetIns.push({ dpid: sw.dpid, inPort: at.port, frame });
    } else outs.push(a.port);
  }
  walkFrom(f, w, [{ dpid: at.dpid, outPorts: outs }], frame, now);
  return w;
}

/** Executes controller commands; packet-outs are walked and their results merged into one Walk. */
export function execute(f: Fabric, commands: readonly SwitchCommand[], now: number): Walk {
  const w = emptyWalk();
  for (const c of commands) {
    const sw = f.switches.get(c.dpid);
    if (sw === undefined || !sw.connected) continue;
    if (c.kind === 'flow-add') addRule(sw.table, c.rule, now);
    else if (c.kind === 'flow-delete') deleteByCookie(sw.table, c.cookie, c.cookieMask);
    else walkFrom(f, w, [{ dpid: c.dpid, outPorts: c.ports }], c.frame, now);
  }
  return w;
}

export function ruleCount(f: Fabric): number {
  let n = 0;
  for (const sw of f.switches.values()) n += sw.table.entries.length;
  return n;
}

export { portKey };
