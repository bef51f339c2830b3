import { ScoreError } from '../errors/errors.ts';
import { parseFrame } from '../packet/index.ts';
import type { Dpid, PortRef, SwitchCommand } from './commands.ts';
import { PATH_COOKIE_TAG, PATH_COOKIE_TAG_MASK, formatDpid, generationSlot } from './commands.ts';
import type { DiscoveryEvent, DiscoveryState, SwitchPortInfo } from './discovery.ts';
import * as discovery from './discovery.ts';
import { isEcho, expireFloods } from './flood.ts';
import type { HostEvent, HostState } from './hosts.ts';
import { createHosts, forgetPort, lastSeenAt, learn, portsWithHosts, refusalReports, setLocation } from './hosts.ts';
import { dueRetries, onAccepted, onRefused, waitsOn } from './install-tracker.ts';
import type { NetworkConfig, NetworkView } from './network.ts';
import { buildView, defaultName } from './network.ts';
import type { RoutingContext, RoutingState } from './routing.ts';
import { createRouting, ensurePath, newRulesFirst, onRuleRemoved, pairKey, pathByCookie, refreshPaths, reinstallOn, removePath, routePacket } from './routing.ts';
import { isPhysicalPort } from './ports.ts';
import type { RateTracker } from './rates.ts';
import { addSample, createRateTracker, forget } from './rates.ts';

/**
 * The controller's modules composed: discovery, link learner (via the network view), routing,
 * VM tracker, flow and port statistics, path monitor. Every handler takes `now` and returns the
 * switch commands to send, as data; the caller (OpenFlow shim, simulated data plane, test)
 * delivers them. No sockets, no clock, no timers here.
 */
export interface ControllerOptions extends NetworkConfig {
  /** 8 bytes on every probe: tells our probes from another controller's (not a secret) */
  readonly nonce: Uint8Array;
  /**
   * the probes' HMAC key (probe-auth.ts): random, at least 16 bytes, never sent. Without one the
   * nonce is used, which authenticates nothing (it travels in every probe): tests only.
   */
  readonly secret?: Uint8Array;
  readonly linkTtlMs?: number;
  /** oldest LLDP probe believed, ms (default linkTtlMs, 5000) */
  readonly maxProbeAgeMs?: number;
  readonly idleTimeout?: number;
  /**
   * a switch handed over keeps the path rules it holds (cluster mode): they are a previous
   * leader's, and forward until this controller's own replace them and the cluster takeover
   * deletes the older generations' (src/cluster/takeover.ts). Alone (false, the default), a
   * switch starts from a table without path rules.
   */
  readonly keepPathRules?: boolean;
  /**
   * the switch pairs (dpids, either order) the configuration's cables join, e.g. a scenario's
   * links: discovery refuses a link between any other two switches (`undeclared`), so two hosts
   * relaying each other's probes cannot join their ports. Without it any pair may be joined.
   */
  readonly declaredLinks?: readonly (readonly [Dpid, Dpid])[];
  /**
   * most hosts learned from frames behind one port (hosts.ts `maxPerPort`, Faucet's
   * `max_hosts`): default DEFAULT_MAX_HOSTS_PER_PORT (4,096), Infinity for none
   */
  readonly maxHostsPerPort?: number;
}

export type ControllerEvent =
  | DiscoveryEvent
  | HostEvent
  | { readonly type: 'switch-up'; readonly dpid: Dpid; readonly ports: number }
  | { readonly type: 'switch-down'; readonly dpid: Dpid }
  | { readonly type: 'packet-malformed'; readonly dpid: Dpid; readonly inPort: number; readonly error: string }
  /** a switch refused a rule of the path: the path is out of every switch and tried again in retryInMs */
  | { readonly type: 'path-rejected'; readonly src: string; readonly dst: string; readonly dpid: Dpid; readonly error: string; readonly retryInMs: number }
  /** a path refused before is now accepted by every switch on it */
  | { readonly type: 'path-installed'; readonly src: string; readonly dst: string; readonly attempts: number };

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
  /**
   * The network view, always current when read: a change that makes it stale (a switch's first
   * host, a switch coming or going without link changes) only marks it (`viewStale`), and the
   * next read rebuilds it. 256 switches each announcing a first host rebuilt it 256 times, each
   * O(switches), in the first second of a run (docs/cluster.md, Capacity run 9); read in between
   * by no one, those rebuilds were all but the last wasted.
   */
  view: NetworkView;
  /** the view must be rebuilt before it is next read */
  viewStale: boolean;
  /** bytes/s per installed path direction, keyed `srcMac>dstMac` */
  readonly flowRates: RateTracker<string>;
  /** tx bytes/s per port, keyed by portKey */
  readonly portRates: RateTracker<string>;
  /**
   * bytes this controller sent out of each port itself (LLDP probes, ARP replies): not VM
   * traffic. Per switch, per port, as a number (exact up to 2^53 bytes): counted on every
   * packet-out, where a string key and a BigInt sum per packet cost more than the rest of it.
   */
  readonly injected: Map<Dpid, Map<number, number>>;
  /** the latest events, oldest first: the last LOG_KEEP (10,000) and up to 1,000 more */
  readonly log: ControllerEvent[];
  /** ms: the latest clock reading any handler was given (handlers without one use it) */
  now: number;
  /** packet-ins from reserved ports (LOCAL, ...) dropped unread */
  reservedPortFrames: number;
}

export interface Result {
  readonly commands: SwitchCommand[];
  readonly events: ControllerEvent[];
}

function declaredPairs(pairs: readonly (readonly [Dpid, Dpid])[]): (a: Dpid, b: Dpid) => boolean {
  const keys = new Set(pairs.map(([a, b]) => (a < b ? `${a}-${b}` : `${b}-${a}`)));
  return (a, b) => keys.has(a < b ? `${a}-${b}` : `${b}-${a}`);
}

export function createController(options: ControllerOptions): Controller {
  const disc = discovery.createDiscovery(options.nonce, options.secret ?? options.nonce, {
    ...(options.linkTtlMs !== undefined ? { ttlMs: options.linkTtlMs } : {}),
    ...(options.maxProbeAgeMs !== undefined ? { maxProbeAgeMs: options.maxProbeAgeMs } : {}),
    ...(options.declaredLinks !== undefined ? { declared: declaredPairs(options.declaredLinks) } : {}),
  });
  const hosts = createHosts(options.maxHostsPerPort);
  let view = buildView(disc, options, new Set());
  const c: Controller = {
    options,
    disc,
    hosts,
    routing: createRouting(options.idleTimeout),
    get view(): NetworkView {
      if (c.viewStale) {
        c.viewStale = false;
        view = buildView(c.disc, c.options, hostDpids(c));
      }
      return view;
    },
    set view(v: NetworkView) {
      view = v;
      c.viewStale = false;
    },
    viewStale: false,
    flowRates: createRateTracker(),
    portRates: createRateTracker(),
    injected: new Map(),
    log: [],
    now: 0,
    reservedPortFrames: 0,
  };
  return c;
}

const LOG_KEEP = 10_000;

function at(c: Controller, now: number | undefined): void {
  if (now !== undefined && now > c.now) c.now = now;
}

/** O(switches), not O(hosts): every switch going down rebuilds the view, with any number of hosts known. */
function hostDpids(c: Controller): Set<Dpid> {
  return new Set(c.hosts.perSwitch.keys());
}

function rebuild(c: Controller): void {
  c.view = buildView(c.disc, c.options, hostDpids(c));
}

/** The view is rebuilt when next read (Controller.view), not now: a burst of such changes costs one rebuild. */
function staleView(c: Controller): void {
  c.viewStale = true;
}

/** A switch's name in the view (the configuration's, else s<hex dpid>), without reading (and so rebuilding) the view. */
function nameOf(c: Controller, dpid: Dpid): string {
  return c.options.names?.get(dpid) ?? defaultName(dpid);
}

/**
 * Whether a host event can change the view. The view depends on hosts only through which
 * switches carry them (`buildView`'s hostDpids), and not at all when the hypervisors are
 * declared: a new host on a switch already counted as a hypervisor changes nothing. Skipping
 * that rebuild keeps a burst of new MACs (cbench, a rack booting) O(1) per packet-in instead of
 * O(hosts). Moves and removals always rebuild: a switch may lose its last host.
 */
function changesView(c: Controller, e: HostEvent): boolean {
  if (e.type !== 'host-added') return true;
  const declared = c.options.hypervisors;
  if (declared !== undefined && declared.size > 0) return false;
  // already to be rebuilt (with this host's switch): reading the view here would rebuild it now
  if (c.viewStale) return true;
  return !c.view.hypervisors.has(e.at.dpid);
}

/** Whether a VM may be on (dpid, port): a physical port, not a discovered switch-to-switch link, on a hypervisor's switch. */
export function isHostPort(c: Controller, p: PortRef): boolean {
  if (!isPhysicalPort(p.port) || discovery.isLinkPort(c.disc, p)) return false;
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

/**
 * The routing context: the controller itself (it has view, disc, hosts and now), so its view is
 * read (and rebuilt, if stale) only when routing needs it (a flood does not), and no object is
 * made per packet-in for it.
 */
function ctx(c: Controller): RoutingContext {
  return c;
}

function done(c: Controller, commands: SwitchCommand[], events: ControllerEvent[]): Result {
  for (const cmd of commands) {
    if (cmd.kind !== 'packet-out') continue;
    let perPort = c.injected.get(cmd.dpid);
    if (perPort === undefined) c.injected.set(cmd.dpid, (perPort = new Map<number, number>()));
    for (const port of cmd.ports) perPort.set(port, (perPort.get(port) ?? 0) + cmd.frame.length);
  }
  for (const e of events) c.log.push(e);
  // trimmed a thousand at a time: one event at a time would move 10,000 entries per event
  if (c.log.length > LOG_KEEP + 1000) c.log.splice(0, c.log.length - LOG_KEEP);
  return { commands, events };
}

/** `now`: ms on the controller's clock (stamps the probes); omitted, the latest one seen. */
export function switchUp(c: Controller, dpid: Dpid, ports: readonly SwitchPortInfo[], now?: number): Result {
  at(c, now);
  const linkEvents = discovery.switchUp(c.disc, dpid, ports);
  // hosts placed on a port the switch no longer has, or has down (it changed while disconnected:
  // no PORT_STATUS told us) are not there; kept, they would fill the port's limit for ever
  const present = new Map(ports.map((p) => [p.port, p.up]));
  const ghosts: Extract<HostEvent, { type: 'host-removed' }>[] = [];
  for (const port of portsWithHosts(c.hosts, dpid)) {
    const up = present.get(port);
    if (up === true) continue;
    const ref = { dpid, port };
    for (const mac of forgetPort(c.hosts, ref)) ghosts.push({ type: 'host-removed', mac, at: ref, reason: up === undefined ? 'port-deleted' : 'port-down' });
  }
  const commands: SwitchCommand[] = [
    // Start from a known table: our old path rules go (unless a cluster takeover keeps them
    // forwarding until its own are in), the table-miss rule sends to us.
    ...(c.options.keepPathRules === true ? [] : [{ kind: 'flow-delete', dpid, cookie: PATH_COOKIE_TAG, cookieMask: PATH_COOKIE_TAG_MASK } as const]),
    { kind: 'flow-add', dpid, rule: { priority: 0, match: {}, actions: [{ type: 'controller' }], cookie: 0n, idleTimeout: 0, hardTimeout: 0 } },
  ];
  commands.push(...afterLinkEvents(c, linkEvents));
  if (linkEvents.length === 0 || ghosts.length > 0) staleView(c);
  // the view is rebuilt when refreshPaths reads it (Controller.view)
  for (const g of ghosts) commands.push(...refreshPaths(c.routing, ctx(c), g.mac));
  commands.push(...reinstallOn(c.routing, dpid));
  commands.push(...discovery.probes(c.disc, c.now, dpid));
  return done(c, commands, [{ type: 'switch-up', dpid, ports: ports.filter((p) => isPhysicalPort(p.port)).length }, ...linkEvents, ...ghosts]);
}

export function switchDown(c: Controller, dpid: Dpid, now?: number): Result {
  at(c, now);
  const events = discovery.switchDown(c.disc, dpid);
  const commands = afterLinkEvents(c, events);
  if (events.length === 0) staleView(c);
  return done(c, commands, [{ type: 'switch-down', dpid }, ...events]);
}

/**
 * PORT_STATUS is a fact (OpenFlow 1.3.5 section 7.4.3): a port that went down or away takes its
 * link, its hosts and every path through it with it at once. Traffic for a host no longer placed
 * is flooded to the edge ports until the host is heard again, wherever its cable now is.
 */
export function portStatus(c: Controller, dpid: Dpid, port: SwitchPortInfo, deleted = false, now?: number): Result {
  at(c, now);
  if (!isPhysicalPort(port.port)) return done(c, [], []);
  const events: ControllerEvent[] = discovery.portStatus(c.disc, dpid, port, deleted);
  const commands = afterLinkEvents(c, events as DiscoveryEvent[]);
  // a link's port came back with a new speed: its capacity follows now, not at some later rebuild
  if (events.length === 0 && port.up && !deleted && discovery.isLinkPort(c.disc, { dpid, port: port.port })) rebuild(c);
  if (deleted || !port.up) {
    const ref = { dpid, port: port.port };
    const gone = forgetPort(c.hosts, ref);
    if (gone.length > 0) {
      for (const mac of gone) events.push({ type: 'host-removed', mac, at: ref, reason: deleted ? 'port-deleted' : 'port-down' });
      rebuild(c);
      for (const mac of gone) commands.push(...refreshPaths(c.routing, ctx(c), mac));
    }
  }
  // A port that came up may have a neighbour: probe it now rather than at the next round.
  if (port.up && !deleted) commands.push(...discovery.probes(c.disc, c.now, dpid, port.port));
  return done(c, commands, events);
}

export function packetIn(c: Controller, dpid: Dpid, inPort: number, frame: Uint8Array, now: number): Result {
  at(c, now);
  // LOCAL, CONTROLLER, ...: the switch itself talking (the bridge's interface), never a host or a link
  if (!isPhysicalPort(inPort)) {
    c.reservedPortFrames += 1;
    return done(c, [], []);
  }
  const probe = discovery.onPacketIn(c.disc, dpid, inPort, frame, now, (p) => lastSeenAt(c.hosts, p, true));
  if (probe !== null) {
    const linkEvents = probe.events.filter((e) => e.type !== 'probe-rejected');
    return done(c, [...afterLinkEvents(c, linkEvents), ...probe.commands], probe.events);
  }
  const here = { dpid, port: inPort };
  // our own flood coming back over a cable not discovered yet: not the sender speaking here
  if (isEcho(c.routing.floods, frame, here, now)) return done(c, [], []);
  let parsed;
  try {
    parsed = parseFrame(frame);
  } catch (e) {
    return done(c, [], [{ type: 'packet-malformed', dpid, inPort, error: e instanceof Error ? e.message : String(e) }]);
  }
  const hostEvents = learn(c.hosts, parsed, here, now, (p) => isHostPort(c, p));
  // a new source at a port holding its limit of hosts: dropped, neither learned, flooded nor routed
  if (hostEvents.length === 1 && hostEvents[0]!.type === 'host-refused') return done(c, [], hostEvents);
  const commands: SwitchCommand[] = [];
  if (hostEvents.length > 0) {
    if (hostEvents.some((e) => changesView(c, e))) staleView(c);
    for (const e of hostEvents) if (e.type === 'host-moved') commands.push(...refreshPaths(c.routing, ctx(c), e.mac));
  }
  commands.push(...routePacket(c.routing, ctx(c), here, parsed, frame));
  return done(c, commands, hostEvents);
}

/** The operator changed link or layer weights: new view, and paths follow the new weights. */
export function setWeights(c: Controller, weights: NonNullable<ControllerOptions['weights']>): Result {
  c.options = { ...c.options, weights };
  rebuild(c);
  return done(c, refreshPaths(c.routing, ctx(c)), []);
}

/**
 * The cookie generation of the paths installed from now on (a cluster leader's generation id at
 * its election; commands.ts pathCookie). Paths installed before keep their cookies.
 */
export function useGeneration(c: Controller, generation: bigint): void {
  c.routing.generationSlot = generationSlot(generation);
}

/**
 * Installs the path of each direction whose two hosts are known (a new leader, for the pairs its
 * predecessor routed: make before break). Returns the commands and the cookies of the paths now
 * held for these directions, for the caller to wait until the switches confirmed them.
 */
export function routePairs(
  c: Controller,
  pairs: readonly { readonly src: string; readonly dst: string }[],
  now: number,
): Result & { cookies: bigint[]; routed: { src: string; dst: string; cookie: bigint }[] } {
  at(c, now);
  const commands: SwitchCommand[] = [];
  const routed: { src: string; dst: string; cookie: bigint }[] = [];
  for (const { src, dst } of pairs) {
    if (src === dst || !c.hosts.byMac.has(src) || !c.hosts.byMac.has(dst)) continue;
    const r = ensurePath(c.routing, ctx(c), src, dst);
    commands.push(...r.commands);
    if (r.path !== null) routed.push({ src, dst, cookie: r.path.cookie });
  }
  return { ...done(c, newRulesFirst(commands), []), cookies: routed.map((r) => r.cookie), routed };
}

/**
 * Where the path of `cookie` for the direction `src` -> `dst` stands: 'pending' while a switch on
 * it has not answered; 'confirmed' once every switch accepted it (the barrier after it with no
 * error); 'refused' when a switch refused it (an OpenFlow error for its FLOW_MOD, OpenFlow 1.3.5
 * section 6.4): the path was taken out (`flowRejected`), the direction's packets go to the
 * controller until the retry lands, `by` the switch, `error` its error; 'gone' when it is no longer
 * held under this cookie for another reason (replaced or removed: a recomputed path, a host gone).
 * (`isConfirmed` alone also says true for a refused path: it only knows nobody is waiting.)
 */
export type PathStatus =
  | { readonly state: 'pending' | 'confirmed' | 'gone' }
  | { readonly state: 'refused'; readonly by: Dpid | undefined; readonly error: string };

export function pathStatus(c: Controller, path: { readonly src: string; readonly dst: string; readonly cookie: bigint }): PathStatus {
  const held = pathByCookie(c.routing, path.cookie);
  if (held !== undefined) return { state: c.routing.install.unconfirmed.has(held.id) ? 'pending' : 'confirmed' };
  const b = c.routing.install.backoff.get(pairKey(path.src, path.dst));
  if (b !== undefined && b.cookie === path.cookie) return { state: 'refused', by: b.refusedBy, error: b.lastError };
  return { state: 'gone' };
}

/** The agent's "migration done": authoritative, whatever the data plane has shown so far. */
export function vmMoved(c: Controller, mac: string, where: PortRef, now: number): Result {
  if (!isPhysicalPort(where.port)) {
    throw new ScoreError('RESERVED_PORT', `port ${where.port} is a reserved OpenFlow port (LOCAL, CONTROLLER, ...): no VM can be there`, { mac, port: where.port });
  }
  at(c, now);
  const events = setLocation(c.hosts, mac, where, now, 'agent');
  rebuild(c);
  return done(c, refreshPaths(c.routing, ctx(c), mac), events);
}

/**
 * Many hosts placed at once (a new cluster leader placing the quiet hosts of its predecessor's
 * view): the same as `vmMoved` for each, but the view is rebuilt once and the paths of the placed
 * hosts refreshed in one pass, where one `vmMoved` per host rebuilt the view (all-pairs paths of
 * the fabric) and walked every wanted direction each time. A place on a reserved port is skipped
 * and reported in `refused` (RESERVED_PORT), the others are placed.
 */
export function placeHosts(
  c: Controller,
  places: readonly { readonly mac: string; readonly at: PortRef }[],
  now: number,
): Result & { placed: number; refused: { mac: string; error: ScoreError }[] } {
  at(c, now);
  const events: ControllerEvent[] = [];
  const refused: { mac: string; error: ScoreError }[] = [];
  const moved = new Set<string>();
  for (const { mac, at: where } of places) {
    if (!isPhysicalPort(where.port)) {
      refused.push({ mac, error: new ScoreError('RESERVED_PORT', `port ${where.port} is a reserved OpenFlow port (LOCAL, CONTROLLER, ...): no VM can be there`, { mac, port: where.port }) });
      continue;
    }
    events.push(...setLocation(c.hosts, mac, where, now, 'agent'));
    moved.add(mac);
  }
  if (moved.size === 0) return { ...done(c, [], events), placed: 0, refused };
  rebuild(c);
  return { ...done(c, refreshPaths(c.routing, ctx(c), moved), events), placed: moved.size, refused };
}

/**
 * The switch refused a rule (an OFPT_ERROR answering its FLOW_MOD, e.g. FLOW_MOD_FAILED/
 * TABLE_FULL): the path is not installed. It is taken out of every switch (no half paths),
 * reported, and tried again after a back-off; meanwhile the controller forwards its packets.
 */
export function flowRejected(c: Controller, dpid: Dpid, cookie: bigint, error: string, now?: number): Result {
  at(c, now);
  const path = pathByCookie(c.routing, cookie);
  if (path === undefined) return done(c, [], []);
  const key = path.key;
  const retryInMs = onRefused(c.routing.install, key, path.id, cookie, c.now, error, dpid);
  forget(c.flowRates, key);
  const commands = removePath(c.routing, key);
  return done(c, commands, [{ type: 'path-rejected', src: path.src, dst: path.dst, dpid, error, retryInMs }]);
}

/** The switch confirmed (by a barrier) that it holds these rules: paths complete on every switch are installed. */
export function flowsAccepted(c: Controller, dpid: Dpid, cookies: readonly bigint[], now?: number): Result {
  at(c, now);
  const events: ControllerEvent[] = [];
  for (const cookie of cookies) {
    // a path no longer held (replaced, removed) waits for nobody: its entry went with it
    const p = pathByCookie(c.routing, cookie);
    if (p === undefined) continue;
    const was = onAccepted(c.routing.install, p.key, p.id, dpid);
    if (was !== undefined) events.push({ type: 'path-installed', src: p.src, dst: p.dst, attempts: was.attempts + 1 });
  }
  return done(c, [], events);
}

export function flowRemoved(c: Controller, cookie: bigint): Result {
  const p = pathByCookie(c.routing, cookie);
  if (p !== undefined) forget(c.flowRates, p.key);
  return done(c, onRuleRemoved(c.routing, cookie), []);
}

/** Flow stats from an edge switch: only a path's first hop counts, so no byte is counted twice. */
export function flowStats(c: Controller, dpid: Dpid, entries: readonly FlowStatEntry[], now: number): void {
  for (const e of entries) {
    const path = pathByCookie(c.routing, e.cookie);
    if (path === undefined || path.hops[0]?.dpid !== dpid) continue;
    addSample(c.flowRates, path.key, { count: e.byteCount, duration: e.durationSec + e.durationNsec / 1e9 }, now);
  }
}

export function portStats(c: Controller, dpid: Dpid, entries: readonly PortStatEntry[], now: number): void {
  for (const e of entries) {
    if (!isPhysicalPort(e.port)) continue; // LOCAL's counters are the switch's own traffic
    const k = `${dpid.toString(16)}:${e.port}`;
    // what we injected ourselves is not traffic between VMs; a port counter reset shows as a
    // count going backwards and starts a new baseline either way
    const own = BigInt(c.injected.get(dpid)?.get(e.port) ?? 0);
    const count = e.txBytes >= own ? e.txBytes - own : e.txBytes;
    addSample(c.portRates, k, { count, duration: e.durationSec + e.durationNsec / 1e9 }, now);
  }
}

/**
 * Periodic work: LLDP probes to every port, links that stopped answering aged out, refused paths
 * retried. With `share` ({ index, of }: called `of` times per period, index 0 to of - 1 in turn),
 * only that share of the switches is probed (discovery.ts `inShare`), and the ageing and retries
 * are done at share 0: the same work per period, spread out. Probing 256 switches' 1,024 ports at
 * once (an HMAC each) held the event loop for milliseconds, every packet-in waiting behind it.
 */
export function tick(c: Controller, now: number, share?: discovery.ProbeShare): Result {
  at(c, now);
  if (share !== undefined && share.index !== 0) return done(c, discovery.probes(c.disc, now, undefined, undefined, share), []);
  const expired = discovery.expire(c.disc, now, share);
  expireFloods(c.routing.floods, now);
  const commands = afterLinkEvents(c, expired);
  for (const key of dueRetries(c.routing.install, now)) {
    const want = c.routing.wanted.get(key);
    if (want === undefined) {
      c.routing.install.backoff.delete(key);
      continue;
    }
    commands.push(...ensurePath(c.routing, ctx(c), want.src, want.dst).commands);
  }
  commands.push(...discovery.probes(c.disc, now, undefined, undefined, share));
  return done(c, commands, [...expired, ...refusalReports(c.hosts, now)]);
}

/** Whether a path waits for `dpid` to confirm its rule (a cluster takeover waits for none before cleaning the switch). */
export function pathsPendingOn(c: Controller, dpid: Dpid): boolean {
  return waitsOn(c.routing.install, dpid);
}

/** Whether the path of `cookie` is held and some switch on it has not confirmed its rule yet. */
export function pathPending(c: Controller, cookie: bigint): boolean {
  const p = pathByCookie(c.routing, cookie);
  return p !== undefined && c.routing.install.unconfirmed.has(p.id);
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
  const sw = (d: Dpid): string => `${nameOf(c, d)} (${formatDpid(d)})`;
  const port = (p: PortRef): string => `${nameOf(c, p.dpid)}:${p.port}`;
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
    case 'host-removed':
      return `host ${e.mac} gone from ${port(e.at)} (${e.reason})`;
    case 'host-refused':
      return `WARN host ${e.mac} at ${port(e.at)} not learned, its frames dropped: the port holds its limit of ${e.limit} hosts (--max-hosts-per-port)${e.count > 1 ? `; ${e.count} frames refused there since the last report` : ''}; further refusals there are told once a minute`;
    case 'host-refusals':
      return `WARN ${e.count} more frames from unknown hosts at ${port(e.at)} dropped in the last minute: the port holds its limit of ${e.limit} hosts (last: ${e.lastMac})`;
    case 'probe-rejected':
      return `WARN LLDP probe claiming ${port(e.claimed)} at ${port(e.at)} rejected (${e.reason})`;
    case 'path-rejected':
      return `WARN path ${e.src} -> ${e.dst} refused by ${sw(e.dpid)}: ${e.error}; retry in ${e.retryInMs} ms`;
    case 'path-installed':
      return `path ${e.src} -> ${e.dst} installed after ${e.attempts} attempts`;
    case 'packet-malformed':
      return `malformed packet-in from ${port({ dpid: e.dpid, port: e.inPort })}: ${e.error}`;
  }
}
