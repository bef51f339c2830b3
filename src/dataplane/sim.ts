import { buildEthernet, buildGratuitousArp, buildRarpAnnouncement, encodeIpv4, encodeUdp, ETHERTYPE, IP_PROTOCOL } from '../packet/index.ts';
import type { Dpid, SwitchCommand } from '../controller/commands.ts';
import type { FlowStatEntry, PortStatEntry } from '../controller/controller.ts';
import type { Model } from '../scenario/model.ts';
import type { DataPlane, DataPlaneEvents, SwitchChannel } from '../runtime/dataplane.ts';
import type { VirtualClock } from '../runtime/clock.ts';
import type { Fabric, FabricSwitch, Walk } from './fabric.ts';
import { addSwitch, attachHost, connect, createFabric, execute, moveHost, portInfos, sendFromHost } from './fabric.ts';
import { expireIdle, matches, type TableEntry } from './flowtable.ts';
import { scenarioDpids } from '../scenario/dpids.ts';
import { flowsAt } from '../scenario/timeline.ts';

/**
 * The simulated data plane: the scenario's switches as in-memory OpenFlow-style switches behind
 * the same SwitchChannel interface the real ones have. Control traffic (LLDP, ARP, the first
 * packet of a flow) is packet-level; bulk traffic is fluid: each flow's rate × elapsed virtual
 * time is added to the counters of the rules and ports its packets would hit, so flow and port
 * statistics read exactly like a switch's. Time is the virtual clock's.
 */
export interface SimDataPlane {
  readonly dataPlane: DataPlane;
  readonly fabric: Fabric;
  readonly dpidOf: ReadonlyMap<string, Dpid>;
  /** each VM says hello (gratuitous ARP), as a booting VM does */
  bootVms(): void;
  /** advance the fluid traffic by `ms` of virtual time (called from the clock) */
  flowTraffic(ms: number): void;
  /** re-wire a VM to another hypervisor and announce it (RARP + gratuitous ARP), as QEMU does; returns its new port */
  moveVm(vm: string, hypervisor: string): number;
  /** the VM's current hypervisor according to the wiring */
  hostOf(vm: string): string;
  /** frames delivered to VMs since start, and loops seen */
  readonly counters: { delivered: number; loops: number; firstPackets: number };
}

export interface SimOptions {
  readonly model: Model;
  readonly clock: VirtualClock;
  /** fluid accounting period in virtual ms (default 100) */
  readonly stepMs?: number;
}

export function createSimDataPlane(o: SimOptions): SimDataPlane {
  const { model, clock } = o;
  const s = model.scenario;
  const dpidOf = scenarioDpids(s);
  const nameOf = new Map([...dpidOf].map(([n, d]) => [d, n]));
  const fabric = createFabric();
  for (const d of dpidOf.values()) addSwitch(fabric, d);
  for (const l of s.links) connect(fabric, dpidOf.get(l.a)!, dpidOf.get(l.b)!);
  const macOf = new Map(s.vms.map((v) => [v.name, model.vmInfo.get(v.name)!.mac]));
  for (const vm of s.vms) attachHost(fabric, macOf.get(vm.name)!, dpidOf.get(vm.host)!);
  const upSince = new Map<Dpid, number>();
  const counters = { delivered: 0, loops: 0, firstPackets: 0 };
  let events: DataPlaneEvents | null = null;
  let stopTimer: (() => void) | null = null;

  // Packet-ins go out after the current call returns, as they would over a socket.
  const report = (w: Walk): void => {
    counters.delivered += w.delivered.length;
    counters.loops += w.loops;
    for (const pi of w.packetIns) queueMicrotask(() => events?.packetIn(pi.dpid, pi.inPort, pi.frame));
  };

  const channel = (sw: FabricSwitch): SwitchChannel => ({
    dpid: sw.dpid,
    ports: portInfos(sw),
    send(commands: readonly SwitchCommand[]) {
      report(execute(fabric, commands, clock.now()));
    },
    flowStats(filter) {
      const now = clock.now();
      const selected = filter === undefined ? sw.table.entries : sw.table.entries.filter((e) => (e.rule.cookie & filter.cookieMask) === (filter.cookie & filter.cookieMask));
      return Promise.resolve(
        selected.map((e: TableEntry): FlowStatEntry => {
          const age = Math.max(0, now - e.installedAt);
          const m = e.rule.match;
          return {
            cookie: e.rule.cookie,
            byteCount: e.bytes,
            packetCount: e.packets,
            durationSec: Math.floor(age / 1000),
            durationNsec: (age % 1000) * 1e6,
            ...(m.ethSrc === undefined ? {} : { ethSrc: m.ethSrc }),
            ...(m.ethDst === undefined ? {} : { ethDst: m.ethDst }),
          };
        }),
      );
    },
    portStats() {
      const age = Math.max(0, clock.now() - (upSince.get(sw.dpid) ?? 0));
      return Promise.resolve(
        [...sw.ports.values()].map((p): PortStatEntry => ({ port: p.port, txBytes: p.txBytes, rxBytes: p.rxBytes, durationSec: Math.floor(age / 1000), durationNsec: (age % 1000) * 1e6 })),
      );
    },
  });

  const ipOf = new Map(s.vms.map((v) => [v.name, v.ip]));
  // Traffic follows the scenario's timeline (phases, trace); byte remainders are kept per flow.
  const carry = new Map<string, number>();

  /** One real UDP packet from src to dst: the first packet of a flow, which makes the controller install its path. */
  const firstPacket = (src: string, dst: string): Walk => {
    const ip = { src: ipOf.get(src)!, dst: ipOf.get(dst)! };
    const udp = encodeUdp({ srcPort: 40000, dstPort: 9, checksum: 0, payload: new Uint8Array(8) }, ip);
    const pkt = encodeIpv4({ dscp: 0, ecn: 0, identification: 0, reservedFlag: false, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTOCOL.UDP, ...ip, options: new Uint8Array(0), payload: udp });
    counters.firstPackets += 1;
    return sendFromHost(fabric, macOf.get(src)!, buildEthernet({ src: macOf.get(src)!, dst: macOf.get(dst)! }, ETHERTYPE.IPV4, pkt), clock.now());
  };

  /** Follows the installed rules without packets; null if the flow meets no complete path. */
  const trace = (src: string, dst: string): { entries: TableEntry[]; ports: { sw: FabricSwitch; port: number }[] } | null => {
    const srcMac = macOf.get(src)!;
    const dstMac = macOf.get(dst)!;
    let at = fabric.hosts.get(srcMac);
    const entries: TableEntry[] = [];
    const ports: { sw: FabricSwitch; port: number }[] = [];
    for (let hops = 0; at !== undefined && hops < 64; hops++) {
      const sw = fabric.switches.get(at.dpid)!;
      const e = sw.table.entries.find((x) => matches(x.rule.match, { inPort: at!.port, ethSrc: srcMac, ethDst: dstMac, ethType: ETHERTYPE.IPV4 }));
      const out = e?.rule.actions.find((a) => a.type === 'output');
      if (e === undefined || out === undefined || out.type !== 'output') return null;
      entries.push(e);
      const p = sw.ports.get(out.port);
      if (p === undefined || !p.up) return null;
      ports.push({ sw, port: out.port });
      if (p.host !== undefined) return p.host === dstMac ? { entries, ports } : null;
      at = p.peer;
    }
    return null;
  };

  const flowTraffic = (ms: number): void => {
    const now = clock.now();
    for (const f of flowsAt(model.timeline, (now - ms) / 1000)) {
      const path = trace(f.src, f.dst);
      if (path === null) {
        report(firstPacket(f.src, f.dst));
        continue;
      }
      // Whole bytes only, as counters are; the remainder carries to the next step.
      const k = `${f.src}>${f.dst}`;
      const exact = (f.rate * ms) / 1000 + (carry.get(k) ?? 0);
      const bytes = Math.floor(exact);
      carry.set(k, exact - bytes);
      const b = BigInt(bytes);
      const packets = BigInt(Math.max(1, Math.round(bytes / 64)));
      for (const e of path.entries) {
        e.bytes += b;
        e.packets += packets;
        e.lastHit = now;
      }
      for (const { sw, port } of path.ports) {
        const p = sw.ports.get(port)!;
        p.txBytes += b;
        p.txPackets += packets;
        if (p.peer) fabric.switches.get(p.peer.dpid)!.ports.get(p.peer.port)!.rxBytes += b;
      }
    }
    for (const sw of fabric.switches.values()) {
      for (const gone of expireIdle(sw.table, now)) queueMicrotask(() => events?.flowRemoved(sw.dpid, gone.rule.cookie));
    }
  };

  const dataPlane: DataPlane = {
    start(ev) {
      events = ev;
      for (const sw of fabric.switches.values()) {
        upSince.set(sw.dpid, clock.now());
        ev.switchUp(channel(sw));
      }
      stopTimer = clock.every(o.stepMs ?? 100, () => flowTraffic(o.stepMs ?? 100));
      return Promise.resolve();
    },
    stop() {
      stopTimer?.();
      events = null;
      return Promise.resolve();
    },
  };

  return {
    dataPlane,
    fabric,
    dpidOf,
    counters,
    bootVms() {
      for (const v of s.vms) report(sendFromHost(fabric, macOf.get(v.name)!, buildGratuitousArp({ mac: macOf.get(v.name)!, ip: v.ip }), clock.now()));
    },
    flowTraffic,
    moveVm(vm, hypervisor) {
      const mac = macOf.get(vm)!;
      const at = moveHost(fabric, mac, dpidOf.get(hypervisor)!);
      report(sendFromHost(fabric, mac, buildRarpAnnouncement(mac), clock.now()));
      report(sendFromHost(fabric, mac, buildGratuitousArp({ mac, ip: ipOf.get(vm)! }), clock.now()));
      return at.port;
    },
    hostOf(vm) {
      const at = fabric.hosts.get(macOf.get(vm)!);
      return at === undefined ? '' : (nameOf.get(at.dpid) ?? '');
    },
  };
}
