import { parseFrame } from '../packet/index.ts';
import type { Dpid, PortRef, SwitchCommand } from './commands.ts';
import { PATH_COOKIE_TAG, PATH_COOKIE_TAG_MASK, formatDpid } from './commands.ts';
import type { DiscoveryEvent, DiscoveryState, SwitchPortInfo } from './discovery.ts';
import * as discovery from './discovery.ts';
import type { HostEvent, HostState } from './hosts.ts';
import { createHosts, forgetPort, learn, setLocation } from './hosts.ts';
import type { NetworkConfig, NetworkView } from './network.ts';
import { buildView } from './network.ts';
import type { RoutingState } from './routing.ts';
import { createRouting, onRuleRemoved, refreshPaths, reinstallOn, routePacket } from './routing.ts';
import type { RateTracker } from './rates.ts';
import { addSample, createRateTracker, forget } from './rates.ts';

/**
 * The controller's modules composed: discovery, link learner (via the network view), routing,
 * VM tracker, flow and port statistics, path monitor. Every handler takes `now` and returns the
 * switch commands to send, as data; the caller (OpenFlow shim, simulated data plane, test)
 * delivers them. No sockets, no clock, no timers here.
 */
export interface ControllerOptions extends NetworkConfig {
  readonly nonce: Uint8Array;
  readonly linkTtlMs?: number;
  readonly idleTimeout?: number;
}

export type ControllerEvent =
  | DiscoveryEvent
  | HostEvent
  | { readonly type: 'switch-up'; readonly dpid: Dpid; readonly ports: number }
  | { readonly type: 'switch-down'; readonly dpid: Dpid }
  | { readonly type: 'packet-malformed'; readonly dpid: Dpid; readonly inPort: number; readonly error: string };

export interface FlowStatEntry {
  readonly cookie: bigint;
  readonly byteCount: bigint;
  readonly packetCount: bigint;
  readonly durationSec: number;
  readonly durationNsec: number;
}

export interface PortStatEntry {
  readonly port: number;
  readonly txBytes: bigint;
  readonly rxBytes: bigint;
  readonly durationSec: number;
  readonly durationNsec: number;
}

export interface Controller {
  options: ControllerOptions;
  readonly disc: DiscoveryState;
  readonly hosts: HostState;
  readonly routing: RoutingState;
  view: NetworkView;
  /** bytes/s per installed path direction, keyed `srcMac>dstMac` */
  readonly flowRates: RateTracker<string>;
  /** tx bytes/s per port, keyed by portKey */
  readonly portRates: RateTracker<string>;
  /** bytes this controller sent out of each port itself (LLDP probes, ARP replies): not VM traffic */
  readonly injected: Map<string, bigint>;
  readonly log: ControllerEvent[];
}

export interface Result {
  readonly commands: SwitchCommand[];
  readonly events: ControllerEvent[];
}

export function createController(options: ControllerOptions): Controller {
  const disc = discovery.createDiscovery(options.nonce, options.linkTtlMs);
  const hosts = createHosts();
  return {
    options,
    disc,
    hosts,
    routing: createRouting(options.idleTimeout),
    view: buildView(disc, options, new Set()),
    flowRates: createRateTracker(),
    portRates: createRateTracker(),
    injected: new Map(),
    log: [],
  };
}

function hostDpids(c: Controller): Set<Dpid> {
  return new Set([...c.hosts.byMac.values()].map((h) => h.at.dpid));
}

function rebuild(c: Controller): void {
  c.view = buildView(c.disc, c.options, hostDpids(c));
}

/** Whether a VM may be on (dpid, port): not a discovered switch-to-switch link, on a hypervisor's switch. */
export function isHostPort(c: Controller, p: PortRef): boolean {
  if (discovery.isLinkPort(c.disc, p)) return false;
  const declared = c.options.hypervisors;
  return declared === undefined || declared.size === 0 || declared.has(p.dpid);
}

/** After any link change: new view, hosts wrongly learned on link ports dropped, paths fixed. */
function afterLinkEvents(c: Controller, events: DiscoveryEvent[]): SwitchCommand[] {
  if (events.length === 0) return [];
  for (const e of events) {
    if (e.type === 'link-added') {
      forgetPort(c.hosts, e.link.a);
      forgetPort(c.hosts, e.link.b);
    }
  }
  rebuild(c);
  return refreshPaths(c.routing, ctx(c));
}

function ctx(c: Controller): { view: NetworkView; disc: DiscoveryState; hosts: HostState } {
  return { view: c.view, disc: c.disc, hosts: c.hosts };
}

function done(c: Controller, commands: SwitchCommand[], events: ControllerEvent[]): Result {
  for (const cmd of commands) {
    if (cmd.kind !== 'packet-out') continue;
    for (const port of cmd.ports) {
      const k = `${cmd.dpid.toString(16)}:${port}`;
      c.injected.set(k, (c.injected.get(k) ?? 0n) + BigInt(cmd.frame.length));
    }
  }
  c.log.push(...events);
  if (c.log.length > 10_000) c.log.splice(0, c.log.length - 10_000);
  return { commands, events };
}

export function switchUp(c: Controller, dpid: Dpid, ports: readonly SwitchPortInfo[]): Result {
  const linkEvents = discovery.switchUp(c.disc, dpid, ports);
  const commands: SwitchCommand[] = [
    // Start from a known table: our old path rules go, the table-miss rule sends to us.
    { kind: 'flow-delete', dpid, cookie: PATH_COOKIE_TAG, cookieMask: PATH_COOKIE_TAG_MASK },
    { kind: 'flow-add', dpid, rule: { priority: 0, match: {}, actions: [{ type: 'controller' }], cookie: 0n, idleTimeout: 0, hardTimeout: 0 } },
  ];
  commands.push(...afterLinkEvents(c, linkEvents));
  if (linkEvents.length === 0) rebuild(c);
  commands.push(...reinstallOn(c.routing, dpid));
  commands.push(...discovery.probes(c.disc, dpid));
  return done(c, commands, [{ type: 'switch-up', dpid, ports: ports.length }, ...linkEvents]);
}

export function switchDown(c: Controller, dpid: Dpid): Result {
  const events = discovery.switchDown(c.disc, dpid);
  const commands = afterLinkEvents(c, events);
  if (events.length === 0) rebuild(c);
  return done(c, commands, [{ type: 'switch-down', dpid }, ...events]);
}

export function portStatus(c: Controller, dpid: Dpid, port: SwitchPortInfo, deleted = false): Result {
  const events = discovery.portStatus(c.disc, dpid, port, deleted);
  const commands = afterLinkEvents(c, events);
  // A port that came up may have a neighbour: probe it now rather than at the next round.
  if (port.up && !deleted) commands.push(...discovery.probes(c.disc, dpid).filter((x) => x.kind === 'packet-out' && x.ports[0] === port.port));
  return done(c, commands, events);
}

export function packetIn(c: Controller, dpid: Dpid, inPort: number, frame: Uint8Array, now: number): Result {
  const linkEvents = discovery.onPacketIn(c.disc, dpid, inPort, frame, now);
  if (linkEvents !== null) return done(c, afterLinkEvents(c, linkEvents), linkEvents);
  let parsed;
  try {
    parsed = parseFrame(frame);
  } catch (e) {
    return done(c, [], [{ type: 'packet-malformed', dpid, inPort, error: e instanceof Error ? e.message : String(e) }]);
  }
  const at = { dpid, port: inPort };
  const hostEvents = learn(c.hosts, parsed, at, now, (p) => isHostPort(c, p));
  const commands: SwitchCommand[] = [];
  if (hostEvents.length > 0) {
    rebuild(c);
    for (const e of hostEvents) if (e.type === 'host-moved') commands.push(...refreshPaths(c.routing, ctx(c), e.mac));
  }
  commands.push(...routePacket(c.routing, ctx(c), at, parsed, frame));
  return done(c, commands, hostEvents);
}

/** The operator changed link or layer weights: new view, and paths follow the new weights. */
export function setWeights(c: Controller, weights: NonNullable<ControllerOptions['weights']>): Result {
  c.options = { ...c.options, weights };
  rebuild(c);
  return done(c, refreshPaths(c.routing, ctx(c)), []);
}

/** The agent's "migration done": authoritative, whatever the data plane has shown so far. */
export function vmMoved(c: Controller, mac: string, at: PortRef, now: number): Result {
  const events = setLocation(c.hosts, mac, at, now, 'agent');
  rebuild(c);
  return done(c, refreshPaths(c.routing, ctx(c), mac), events);
}

export function flowRemoved(c: Controller, cookie: bigint): Result {
  const key = c.routing.byCookie.get(cookie);
  if (key !== undefined) forget(c.flowRates, key);
  return done(c, onRuleRemoved(c.routing, cookie), []);
}

/** Flow stats from an edge switch: only a path's first hop counts, so no byte is counted twice. */
export function flowStats(c: Controller, dpid: Dpid, entries: readonly FlowStatEntry[], now: number): void {
  for (const e of entries) {
    const key = c.routing.byCookie.get(e.cookie);
    if (key === undefined) continue;
    const path = c.routing.paths.get(key);
    if (path === undefined || path.hops[0]?.dpid !== dpid) continue;
    addSample(c.flowRates, key, { count: e.byteCount, duration: e.durationSec + e.durationNsec / 1e9 }, now);
  }
}

export function portStats(c: Controller, dpid: Dpid, entries: readonly PortStatEntry[], now: number): void {
  for (const e of entries) {
    const k = `${dpid.toString(16)}:${e.port}`;
    // what we injected ourselves is not traffic between VMs; a port counter reset shows as a
    // count going backwards and starts a new baseline either way
    const own = c.injected.get(k) ?? 0n;
    const count = e.txBytes >= own ? e.txBytes - own : e.txBytes;
    addSample(c.portRates, k, { count, duration: e.durationSec + e.durationNsec / 1e9 }, now);
  }
}

/** Periodic work: LLDP probes to every port, links that stopped answering aged out. */
export function tick(c: Controller, now: number): Result {
  const expired = discovery.expire(c.disc, now);
  const commands = afterLinkEvents(c, expired);
  commands.push(...discovery.probes(c.disc));
  return done(c, commands, expired);
}

/** Switches whose flow tables hold every VM's first hop: the hypervisors' (or, undeclared, the host-facing) switches. */
export function edgeSwitches(c: Controller): Dpid[] {
  return [...(c.view.hypervisors.size > 0 ? c.view.hypervisors : hostDpids(c))];
}

export interface PairRate {
  readonly src: string;
  readonly dst: string;
  readonly bytesPerSecond: number;
  readonly ageMs: number;
  /** weight of the path it takes now */
  readonly pathWeight: number;
}

/** Path monitor: every measured VM-pair rate with the weight of its current path. */
export function pairRates(c: Controller, now: number): PairRate[] {
  const out: PairRate[] = [];
  for (const [key, rate] of c.flowRates.rates) {
    const p = c.routing.paths.get(key);
    if (p === undefined) continue;
    const weight = p.links.reduce((s, id) => s + (c.view.weights.get(id) ?? 0), 0);
    out.push({ src: p.src, dst: p.dst, bytesPerSecond: rate.perSecond, ageMs: now - rate.measuredAt, pathWeight: weight });
  }
  return out;
}

/** Path monitor: the weight a VM's flow to `peer` would have if the VM sat on `hypervisor`. */
export function weightIfMoved(c: Controller, peerMac: string, hypervisor: Dpid): number | null {
  const peer = c.hosts.byMac.get(peerMac);
  if (peer === undefined) return null;
  try {
    return c.view.oracle.cost(c.view.nameOf(hypervisor), c.view.nameOf(peer.at.dpid));
  } catch {
    return null;
  }
}

export interface LinkUtilisation {
  /** on the path of a VM flow with a measured rate: the links the paper averages over */
  readonly active: boolean;
  readonly link: string;
  readonly layer: number;
  readonly capacityBps: number;
  readonly abBps: number;
  readonly baBps: number;
  readonly utilisation: number;
}

/** Per-link utilisation from port tx counters: a->b is what a's port sends. */
export function linkUtilisation(c: Controller): LinkUtilisation[] {
  const carrying = new Set<string>();
  for (const [key, rate] of c.flowRates.rates) {
    if (rate.perSecond <= 0) continue;
    for (const id of c.routing.paths.get(key)?.links ?? []) carrying.add(id);
  }
  const out: LinkUtilisation[] = [];
  for (const [id, ends] of c.view.ports) {
    const cap = c.view.topology.linkById.get(id)?.capacityBps ?? 1;
    const rate = (p: PortRef): number => (c.portRates.rates.get(`${p.dpid.toString(16)}:${p.port}`)?.perSecond ?? 0) * 8;
    const ab = rate(ends.a);
    const ba = rate(ends.b);
    out.push({ active: carrying.has(id), link: id, layer: c.view.layers.linkLayer.get(id) ?? 0, capacityBps: cap, abBps: ab, baBps: ba, utilisation: Math.max(ab, ba) / cap });
  }
  return out;
}

export function describeEvent(c: Controller, e: ControllerEvent): string {
  const sw = (d: Dpid): string => `${c.view.nameOf(d)} (${formatDpid(d)})`;
  const port = (p: PortRef): string => `${c.view.nameOf(p.dpid)}:${p.port}`;
  switch (e.type) {
    case 'switch-up':
      return `switch up ${sw(e.dpid)} with ${e.ports} ports`;
    case 'switch-down':
      return `switch down ${sw(e.dpid)}`;
    case 'link-added':
      return `link up ${port(e.link.a)} <-> ${port(e.link.b)}`;
    case 'link-removed':
      return `link down ${port(e.link.a)} <-> ${port(e.link.b)} (${e.reason})`;
    case 'host-added':
      return `host ${e.mac}${e.ip ? ` (${e.ip})` : ''} at ${port(e.at)}`;
    case 'host-moved':
      return `host ${e.mac} moved ${port(e.from)} -> ${port(e.to)} (${e.via})`;
    case 'packet-malformed':
      return `malformed packet-in from ${port({ dpid: e.dpid, port: e.inPort })}: ${e.error}`;
  }
}
