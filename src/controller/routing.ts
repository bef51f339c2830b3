import { ARP_OP, buildArpReply, isMulticastMac, isUnicastMac, type ParsedFrame } from '../packet/index.ts';
import type { Dpid, FlowRule, SwitchCommand, PortRef } from './commands.ts';
import { ALL_ONES_64, generationCookie, pathIdOf, portKey } from './commands.ts';
import type { DiscoveryState } from './discovery.ts';
import { isLinkPort } from './discovery.ts';
import type { EdgePorts, FloodState } from './flood.ts';
import { createFloodState, flood } from './flood.ts';
import type { HostEntry, HostState } from './hosts.ts';
import type { InstallState } from './install-tracker.ts';
import { createInstallState, expectConfirmation, forgetPath, inBackoff } from './install-tracker.ts';
import type { NetworkView } from './network.ts';
import { isPhysicalPort } from './ports.ts';

/**
 * L2 routing over the least-weight paths of the core. A path is installed as a whole, on every
 * switch it crosses, for one (source MAC, destination MAC) direction, with its own cookie so it
 * can be removed as a whole when a link fails or a VM moves. Every rule also matches the port
 * the packet should come in by (the source host's port on the first hop, the link's port after):
 * a host that moved without saying so sends from a port no rule expects, so its packets reach
 * the controller and it is re-learned, instead of riding stale rules (the POX l2_multi bug).
 * Rules have no hard timeout (their byte counters are the flow statistics) and an idle timeout,
 * so unused paths leave the tables. A path counts as installed only once every switch on it
 * accepted its rule (install-tracker.ts). Broadcast never floods the switches: ARP for a known
 * VM is answered by the controller, and anything else is sent to every edge port by packet-outs
 * (flood.ts), so the redundant topology cannot loop.
 */
export interface Hop {
  readonly dpid: Dpid;
  /** where the packet enters this switch: the source host's port, or the previous link's port */
  readonly inPort: number;
  readonly outPort: number;
}

export interface InstalledPath {
  readonly src: string;
  readonly dst: string;
  /** pairKey(src, dst), the direction's key in `paths` and `wanted` */
  readonly key: string;
  /** the path id: the low 32 bits of the cookie (commands.ts pathIdOf), the key of `byId` */
  readonly id: number;
  readonly cookie: bigint;
  readonly hops: readonly Hop[];
  /** topology link ids, in order */
  readonly links: readonly string[];
  /**
   * the view the hops were computed in: the hops depend only on the view (rebuilt, as a new
   * object, on every switch and link change) and on where the two hosts are, so a path computed
   * in the current view between the same two ports still holds. A field, not a WeakMap beside
   * the paths: with 512,000 paths (cbench, 256 switches) the WeakMap's ephemeron table was a
   * large part of every garbage collection and of each new path's cost.
   */
  computedIn: NetworkView;
}

export interface RoutingState {
  /**
   * directions that carry traffic: kept while unreachable, so a path returns with its links. The
   * value is the direction's live path itself when it has one (an InstalledPath has src and dst),
   * else a plain { src, dst }. The one table of directions: `paths` reads the live paths out of it
   * (isPath), so a new path is one insert into a table of ~500,000 (cbench, 256 switches), not two.
   * Found by its two MACs (WantedTable.find: no key string per packet-in), or by `src>dst` (get).
   */
  readonly wanted: WantedTable;
  /**
   * the live paths by direction key: a read-only view of `wanted` (PathTable), no table of its own.
   * It walks as `wanted` does (by source), not (as a Map of paths would) in the order paths were
   * last set; no reader depends on the order for what it does (each direction has its own match),
   * though the order of refreshPaths' commands and of the path ids it hands out follow it.
   */
  readonly paths: PathTable;
  /**
   * path id -> path, for every path in `paths`. Keyed by the cookie's 32-bit path id as a number,
   * not by the BigInt cookie: ids are unique among live paths whatever their generation
   * (nextPathId), and a number key costs no heap object nor a digit-by-digit hash per lookup
   * (cbench, 256 switches: ~500,000 paths). pathByCookie checks the whole cookie.
   */
  readonly byId: Map<number, InstalledPath>;
  /** the next path id to try (1 ≤ nextId < 2^32) */
  nextId: number;
  /** the cookie generation slot of new paths (commands.ts pathCookie): 0 alone, the leader's in a cluster */
  generationSlot: bigint;
  /** generationCookie(cookieBaseSlot), cached: each new path's cookie is this | its id */
  cookieBase: bigint;
  cookieBaseSlot: bigint;
  readonly idleTimeout: number;
  readonly priority: number;
  readonly install: InstallState;
  readonly routes: RouteCache;
  readonly floods: FloodState;
}

/** A wanted direction: its live path, or only its two ends while it has none. */
export type WantedDirection = InstalledPath | { readonly src: string; readonly dst: string };

/** Whether a wanted direction has a live path (only an InstalledPath has hops). */
export function isPath(w: WantedDirection | undefined): w is InstalledPath {
  return w !== undefined && (w as Partial<InstalledPath>).hops !== undefined;
}

/**
 * The wanted directions by source MAC, then destination MAC: a packet-in finds its two directions
 * with the MAC strings it has (the host entries', interned by the parse: hashed once, compared by
 * identity first, so no string is hashed again), where a `src>dst` key was a new 35-character string per direction, hashed on every
 * lookup (~25% of a packet-in at 16 switches, docs/cluster.md run 10). A source with one direction
 * (most hosts under cbench) keeps it in the outer table itself, as one entry, so there are no more
 * entries than in one table keyed by `src>dst`; a Map of its directions by destination only when it
 * has two or more at once. Read as a ReadonlyMap by `src>dst` key (pairKey) for the readers that
 * have one (tests, retries by back-off key, the takeover's directions): `get` splits the key at its
 * first '>' (a MAC has none); iteration makes the keys. Iterates by source, in the order sources
 * last came to have a direction, then in the order of that source's directions. Every iterator
 * walks a snapshot (`list`): the directions wanted when it began, whatever the walker changes (a
 * live walk into a source's Map that `remove` replaced by its last direction would yield stale
 * entries and miss new ones). The snapshot is a plain loop, not a generator: 2.4x faster over
 * 375,000 directions (12 against 30 ms; refreshPaths walks them all on every move and link change).
 */
export class WantedTable implements ReadonlyMap<string, WantedDirection> {
  /** source MAC -> its one direction, or (two or more) its directions by destination MAC */
  private readonly bySrc = new Map<string, WantedDirection | Map<string, WantedDirection>>();
  private count = 0;
  get size(): number {
    return this.count;
  }
  /** the direction src -> dst, if wanted */
  find(src: string, dst: string): WantedDirection | undefined {
    const e = this.bySrc.get(src);
    if (e === undefined) return undefined;
    if (e instanceof Map) return e.get(dst);
    return e.dst === dst ? e : undefined;
  }
  /** `w` as the direction w.src -> w.dst, in place of the one there */
  put(w: WantedDirection): void {
    const e = this.bySrc.get(w.src);
    if (e === undefined) {
      this.bySrc.set(w.src, w);
      this.count += 1;
    } else if (e instanceof Map) {
      const before = e.size;
      e.set(w.dst, w);
      this.count += e.size - before;
    } else if (e.dst === w.dst) {
      this.bySrc.set(w.src, w);
    } else {
      this.bySrc.set(w.src, new Map([[e.dst, e], [w.dst, w]]));
      this.count += 1;
    }
  }
  /** Takes the direction src -> dst out; whether it was wanted. */
  remove(src: string, dst: string): boolean {
    const e = this.bySrc.get(src);
    if (e === undefined) return false;
    if (!(e instanceof Map)) {
      if (e.dst !== dst) return false;
      this.bySrc.delete(src);
      this.count -= 1;
      return true;
    }
    if (!e.delete(dst)) return false;
    this.count -= 1;
    // one left: back in the outer table, without the Map (a host whose peers went idle)
    if (e.size === 1) this.bySrc.set(src, e.values().next().value!);
    return true;
  }
  /** The direction of key `src>dst` (pairKey). */
  get(key: string): WantedDirection | undefined {
    const i = key.indexOf('>');
    return i < 0 ? undefined : this.find(key.slice(0, i), key.slice(i + 1));
  }
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  /** Every wanted direction, by source: a new array (a snapshot). */
  list(): WantedDirection[] {
    const out: WantedDirection[] = [];
    for (const e of this.bySrc.values()) {
      if (e instanceof Map) for (const w of e.values()) out.push(w);
      else out.push(e);
    }
    return out;
  }
  values(): MapIterator<WantedDirection> {
    return this.list().values();
  }
  entries(): MapIterator<[string, WantedDirection]> {
    return this.list()
      .map((w): [string, WantedDirection] => [pairKey(w.src, w.dst), w])
      .values();
  }
  keys(): MapIterator<string> {
    return this.list()
      .map((w) => pairKey(w.src, w.dst))
      .values();
  }
  [Symbol.iterator](): MapIterator<[string, WantedDirection]> {
    return this.entries();
  }
  forEach(fn: (value: WantedDirection, key: string, map: ReadonlyMap<string, WantedDirection>) => void, thisArg?: unknown): void {
    for (const [k, w] of this.entries()) fn.call(thisArg, w, k, this);
  }
}

/**
 * The live paths, read out of `wanted`: every direction with a path is wanted, and its entry there
 * is the path, so a second table by the same key held nothing more and cost an insert, a delete
 * and ~30 bytes per path. `size` is counted (routing.ts changes it with each path set or removed);
 * iterating walks a snapshot of `wanted` (WantedTable.list), directions without a path skipped.
 */
export class PathTable implements ReadonlyMap<string, InstalledPath> {
  /** the live paths in `wanted`: written by ensurePath and takeOut alone */
  count = 0;
  constructor(private readonly wanted: WantedTable) {}
  get size(): number {
    return this.count;
  }
  get(key: string): InstalledPath | undefined {
    const w = this.wanted.get(key);
    return isPath(w) ? w : undefined;
  }
  has(key: string): boolean {
    return isPath(this.wanted.get(key));
  }
  /** the live path src -> dst */
  find(src: string, dst: string): InstalledPath | undefined {
    const w = this.wanted.find(src, dst);
    return isPath(w) ? w : undefined;
  }
  /** Every live path: a new array (a snapshot). */
  list(): InstalledPath[] {
    const out: InstalledPath[] = [];
    for (const w of this.wanted.list()) if (isPath(w)) out.push(w);
    return out;
  }
  entries(): MapIterator<[string, InstalledPath]> {
    return this.list()
      .map((p): [string, InstalledPath] => [p.key, p])
      .values();
  }
  keys(): MapIterator<string> {
    return this.list()
      .map((p) => p.key)
      .values();
  }
  values(): MapIterator<InstalledPath> {
    return this.list().values();
  }
  [Symbol.iterator](): MapIterator<[string, InstalledPath]> {
    return this.entries();
  }
  forEach(fn: (value: InstalledPath, key: string, map: ReadonlyMap<string, InstalledPath>) => void, thisArg?: unknown): void {
    for (const [k, p] of this.entries()) fn.call(thisArg, p, k, this);
  }
}

export interface RoutingContext {
  readonly view: NetworkView;
  readonly disc: DiscoveryState;
  readonly hosts: HostState;
  /** ms, the controller's latest clock reading (back-offs, flood echoes) */
  readonly now: number;
}

export function createRouting(idleTimeout = 60, priority = 100): RoutingState {
  const wanted = new WantedTable();
  return {
    wanted,
    paths: new PathTable(wanted),
    byId: new Map(),
    nextId: 1,
    generationSlot: 0n,
    cookieBase: generationCookie(0n),
    cookieBaseSlot: 0n,
    idleTimeout,
    priority,
    install: createInstallState(),
    routes: { view: undefined, byEnds: new Map(), size: 0 },
    floods: createFloodState(),
  };
}

export const pairKey = (src: string, dst: string): string => `${src}>${dst}`;

const PATH_ID_MAX = 2 ** 32 - 1;

/**
 * The next path's id. A cookie holds 32 bits of path id (commands.ts), so after 2^32 paths the
 * ids wrap around: an id a live path still has (in any generation) is skipped, else a
 * FLOW_REMOVED or a delete by cookie for the old path would hit the new one, and `byId` would
 * hold two paths under one key. 0 is never used.
 */
export function nextPathId(state: Pick<RoutingState, 'nextId' | 'byId'>): number {
  for (;;) {
    const id = state.nextId;
    state.nextId = id >= PATH_ID_MAX ? 1 : id + 1;
    if (id < 1 || id > PATH_ID_MAX) continue;
    if (!state.byId.has(id)) return id;
  }
}

/** The cookie of path `id` in the current generation slot: commands.ts pathCookie(generationSlot, id). */
export function cookieOfId(state: Pick<RoutingState, 'generationSlot' | 'cookieBase' | 'cookieBaseSlot'>, id: number): bigint {
  return currentCookieBase(state) | BigInt(id);
}

/** generationCookie(generationSlot), made again only when the slot changed */
function currentCookieBase(state: Pick<RoutingState, 'generationSlot' | 'cookieBase' | 'cookieBaseSlot'>): bigint {
  if (state.cookieBaseSlot !== state.generationSlot) {
    state.cookieBase = generationCookie(state.generationSlot);
    state.cookieBaseSlot = state.generationSlot;
  }
  return state.cookieBase;
}

/**
 * A path as ensurePath makes it. Its cookie is made when read (cookieOfId's value: the cookie base
 * of the generation slot it was made in, shared by every path of that slot, | its id), not kept:
 * a BigInt kept per path was 24 bytes and one more object for every collection to trace
 * (cbench, 256 switches: ~500,000 paths), and a cookie is read a few times in a path's life (its
 * rules, their confirmations, their deletes).
 */
class Path implements InstalledPath {
  constructor(
    readonly src: string,
    readonly dst: string,
    readonly key: string,
    readonly id: number,
    private readonly cookieBase: bigint,
    readonly hops: readonly Hop[],
    readonly links: readonly string[],
    public computedIn: NetworkView,
  ) {}
  get cookie(): bigint {
    return this.cookieBase | BigInt(this.id);
  }
}

/** The live path whose cookie is `cookie` (the whole cookie: same id and generation), else undefined. */
export function pathByCookie(state: Pick<RoutingState, 'byId'>, cookie: bigint): InstalledPath | undefined {
  const p = state.byId.get(pathIdOf(cookie));
  return p !== undefined && p.cookie === cookie ? p : undefined;
}

/** shared by every path within one switch (never written: InstalledPath.links is readonly) */
const NO_LINKS: readonly string[] = [];

/** Where a path's packets go: its hops, and the topology links between them in order. */
export interface Route {
  readonly hops: readonly Hop[];
  readonly links: readonly string[];
}

/**
 * The routes computed in one view, by the ports they join: every path between the same two ports
 * in that view has the same hops (hopsBetween depends only on the view and the two ports), so
 * they share one hops array and one links array. VMs behind one hypervisor port share it (cbench,
 * 256 switches: 3 routes per switch for its 1,000 sources, not 2,000 arrays and Hop objects, ~100
 * bytes a path). Emptied when the view changes, and when it reaches ROUTE_CACHE_MAX routes, so it
 * never holds more routes than there are paths computed in the current view, nor a bound more.
 */
export interface RouteCache {
  view: NetworkView | undefined;
  /** source switch -> destination switch -> portPairKey -> route */
  readonly byEnds: Map<Dpid, Map<Dpid, Map<number, Route>>>;
  size: number;
}

export const ROUTE_CACHE_MAX = 65_536;
/** ports from here on are not cached: portPairKey would no longer be exact in a double */
const PORT_PAIR_LIMIT = 2 ** 21;

/** inPort and outPort as one number, exact for inPort < 2^21 (outPort < 2^32: an OpenFlow 1.3 port) */
const portPairKey = (inPort: number, outPort: number): number => inPort * 2 ** 32 + outPort;

/** The hops from port `from` to port `to` in the current view (both on connected switches), or null if unreachable: they depend only on the view and the two ports. */
function hopsBetween(ctx: RoutingContext, from: PortRef, to: PortRef): { hops: Hop[]; links: readonly string[] } | null {
  if (from.dpid === to.dpid) return { hops: [{ dpid: to.dpid, inPort: from.port, outPort: to.port }], links: NO_LINKS };
  let path;
  try {
    path = ctx.view.oracle.path(ctx.view.nameOf(from.dpid), ctx.view.nameOf(to.dpid));
  } catch {
    return null;
  }
  const hops: Hop[] = [];
  let at = from.dpid;
  let inPort = from.port;
  for (const link of path) {
    const ends = ctx.view.ports.get(link.id);
    if (ends === undefined) return null;
    const [here, there] = ends.a.dpid === at ? [ends.a, ends.b] : [ends.b, ends.a];
    hops.push({ dpid: at, inPort, outPort: here.port });
    at = there.dpid;
    inPort = there.port;
  }
  hops.push({ dpid: at, inPort, outPort: to.port });
  return { hops, links: path.map((l) => l.id) };
}

/**
 * hopsBetween through the route cache, for two placed hosts (null when either is not, or its switch is not connected): the same answer, shared with every path computed in this
 * view between the same two ports. `hs`/`hd`: the hosts' entries, when the caller has them.
 */
function routeOf(state: RoutingState, ctx: RoutingContext, hs: HostEntry | undefined, hd: HostEntry | undefined): Route | null {
  if (hs === undefined || hd === undefined) return null;
  const from = hs.at;
  const to = hd.at;
  if (!ctx.disc.switches.has(from.dpid) || !ctx.disc.switches.has(to.dpid)) return null;
  const view = ctx.view;
  if (from.port >= PORT_PAIR_LIMIT) return hopsBetween(ctx, from, to);
  const cache = state.routes;
  if (cache.view !== view || cache.size >= ROUTE_CACHE_MAX) {
    cache.view = view;
    cache.byEnds.clear();
    cache.size = 0;
  }
  const k = portPairKey(from.port, to.port);
  const known = cache.byEnds.get(from.dpid)?.get(to.dpid)?.get(k);
  if (known !== undefined) return known;
  const route = hopsBetween(ctx, from, to);
  // no route (a partitioned fabric): nothing is cached, not even the inner maps, which the bound
  // on routes would not count
  if (route === null) return null;
  let toSwitch = cache.byEnds.get(from.dpid);
  if (toSwitch === undefined) cache.byEnds.set(from.dpid, (toSwitch = new Map<Dpid, Map<number, Route>>()));
  let byPorts = toSwitch.get(to.dpid);
  if (byPorts === undefined) toSwitch.set(to.dpid, (byPorts = new Map<number, Route>()));
  byPorts.set(k, route);
  cache.size += 1;
  return route;
}

function rule(state: RoutingState, p: InstalledPath, hop: Hop): FlowRule {
  return {
    priority: state.priority,
    match: { inPort: hop.inPort, ethSrc: p.src, ethDst: p.dst },
    actions: [{ type: 'output', port: hop.outPort }],
    cookie: p.cookie,
    idleTimeout: state.idleTimeout,
    hardTimeout: 0,
  };
}

function deleteCommands(p: InstalledPath): SwitchCommand[] {
  const switches = [...new Set(p.hops.map((h) => h.dpid))];
  return switches.map((dpid) => ({ kind: 'flow-delete', dpid, cookie: p.cookie, cookieMask: ALL_ONES_64 }));
}

function sameHops(a: readonly Hop[], b: readonly Hop[]): boolean {
  return a.length === b.length && a.every((h, i) => h.dpid === b[i]!.dpid && h.inPort === b[i]!.inPort && h.outPort === b[i]!.outPort);
}

/**
 * Both hosts are still where the path starts and ends, on switches still connected. `hs`/`hd`:
 * the hosts' entries (ctx.hosts.byMac of p.src and p.dst), passed by a caller that has them.
 */
function sameEnds(ctx: RoutingContext, p: InstalledPath, hs: HostEntry | undefined, hd: HostEntry | undefined): boolean {
  const first = p.hops[0];
  const last = p.hops[p.hops.length - 1];
  return (
    hs !== undefined &&
    hd !== undefined &&
    first !== undefined &&
    last !== undefined &&
    hs.at.dpid === first.dpid &&
    hs.at.port === first.inPort &&
    hd.at.dpid === last.dpid &&
    hd.at.port === last.outPort &&
    ctx.disc.switches.has(first.dpid) &&
    ctx.disc.switches.has(last.dpid)
  );
}

/**
 * Installs (or keeps, or replaces) the path for one direction. `path` is null when there is no
 * path, or while a refused path waits out its back-off; `hops` is where packets should go anyway
 * (the controller forwards them by packet-out until the rules are in).
 */
export function ensurePath(
  state: RoutingState,
  ctx: RoutingContext,
  src: string,
  dst: string,
  ends?: { readonly hs: HostEntry | undefined; readonly hd: HostEntry | undefined },
): { commands: SwitchCommand[]; path: InstalledPath | null; hops: readonly Hop[] | null } {
  // found by the two MACs: no `src>dst` string is made (nor hashed) for a path that holds
  const was = state.wanted.find(src, dst);
  const old = isPath(was) ? was : undefined;
  // The common case on a packet-in: the path is there and nothing it depends on changed (and,
  // having a path, the direction is wanted already). Each lookup in these tables, with tens of
  // thousands of hosts, costs a cache miss: the caller's host entries are used when it has them.
  const hs = ends === undefined ? ctx.hosts.byMac.get(src) : ends.hs;
  const hd = ends === undefined ? ctx.hosts.byMac.get(dst) : ends.hd;
  if (old !== undefined && old.computedIn === ctx.view && sameEnds(ctx, old, hs, hd)) return { commands: [], path: old, hops: old.hops };
  const next = routeOf(state, ctx, hs, hd);
  if (old !== undefined && next !== null && sameHops(old.hops, next.hops)) {
    old.computedIn = ctx.view;
    return { commands: [], path: old, hops: old.hops };
  }
  const removed: SwitchCommand[] = old !== undefined ? takeOut(state, old) : [];
  // the direction's key, made once here: the back-off table's key, and the new path's
  const key = pairKey(src, dst);
  if (next === null || inBackoff(state.install, key, ctx.now)) {
    // a direction wanted already keeps its entry (takeOut left a plain { src, dst } in place of the path)
    if (was === undefined) state.wanted.put({ src, dst });
    return { commands: removed, path: null, hops: next === null ? null : next.hops };
  }
  const id = nextPathId(state);
  const path: InstalledPath = new Path(src, dst, key, id, currentCookieBase(state), next.hops, next.links, ctx.view);
  state.wanted.put(path);
  state.paths.count += 1;
  state.byId.set(id, path);
  const commands: SwitchCommand[] = [];
  const dpids: Dpid[] = [];
  // Install from the destination end backwards, so a packet sent along the path meets rules.
  for (let i = path.hops.length - 1; i >= 0; i--) {
    const hop = path.hops[i]!;
    commands.push({ kind: 'flow-add', dpid: hop.dpid, rule: rule(state, path, hop) });
    dpids.push(hop.dpid);
  }
  expectConfirmation(state.install, id, dpids);
  // Make before break: the old path's rules go after the new ones are in. Where both paths have
  // a rule of the same match (the hop where a moved VM's path turns off), the new flow-add
  // replaces the old rule in place (OpenFlow 1.3.5 section 6.4, identical match and priority),
  // so the delete by the old cookie leaves it alone and packets never fall to the table-miss.
  commands.push(...removed);
  return { commands, path, hops: path.hops };
}

/**
 * Takes the direction's live path out (the direction stays wanted, with its two ends only: the
 * entry must not keep the old path, and its view, alive). Returns the deletes of its rules.
 */
export function removePath(state: RoutingState, key: string): SwitchCommand[] {
  const p = state.wanted.get(key);
  return isPath(p) ? takeOut(state, p) : [];
}

/** removePath of the live path `p` (the one `wanted` holds for its direction) */
function takeOut(state: RoutingState, p: InstalledPath): SwitchCommand[] {
  state.wanted.put({ src: p.src, dst: p.dst });
  state.paths.count -= 1;
  state.byId.delete(p.id);
  forgetPath(state.install, p.id);
  return deleteCommands(p);
}

/**
 * After a topology change or a VM move: every path that no longer holds is replaced or removed;
 * with `only`, the paths to or from that host (or those hosts).
 */
export function refreshPaths(state: RoutingState, ctx: RoutingContext, only?: string | ReadonlySet<string>): SwitchCommand[] {
  const touches = only === undefined ? (): boolean => true : typeof only === 'string' ? (mac: string): boolean => mac === only : (mac: string): boolean => only.has(mac);
  const commands: SwitchCommand[] = [];
  for (const p of state.wanted.list()) {
    if (!touches(p.src) && !touches(p.dst)) continue;
    commands.push(...ensurePath(state, ctx, p.src, p.dst).commands);
  }
  return newRulesFirst(commands);
}

/**
 * Commands of several paths reordered: every new rule before any delete (each delete names its own
 * cookie, so the order across paths changes nothing else): no moment with neither the old nor the
 * new rule in a switch's table.
 */
export function newRulesFirst(commands: readonly SwitchCommand[]): SwitchCommand[] {
  return [...commands.filter((c) => c.kind !== 'flow-delete'), ...commands.filter((c) => c.kind === 'flow-delete')];
}

/** All rules of a switch, e.g. after it reconnected with an empty table. */
export function reinstallOn(state: RoutingState, dpid: Dpid): SwitchCommand[] {
  const out: SwitchCommand[] = [];
  for (const p of state.paths.list()) {
    for (const hop of p.hops) {
      if (hop.dpid !== dpid) continue;
      out.push({ kind: 'flow-add', dpid, rule: rule(state, p, hop) });
      expectConfirmation(state.install, p.id, [dpid]);
    }
  }
  return out;
}

/** A rule the switch dropped for idleness: the whole path goes. */
export function onRuleRemoved(state: RoutingState, cookie: bigint): SwitchCommand[] {
  const p = pathByCookie(state, cookie);
  if (p === undefined) return [];
  const commands = takeOut(state, p);
  state.wanted.remove(p.src, p.dst);
  return commands;
}

/**
 * Edge ports: up, physical (never LOCAL or another reserved port), with no discovered link, on
 * every switch. Not only the hypervisors' (declared or learned): a host that never spoke may sit
 * on any switch, and learning which switches have hosts from the hosts already seen is exactly
 * how the silent ones were missed. Computed again only when the switches, their ports or the
 * links changed (DiscoveryState.version), else the last result (kept in the flood state).
 */
export function edgePorts(state: RoutingState, ctx: RoutingContext): EdgePorts {
  const cached = state.floods.edges;
  if (cached !== undefined && cached.from === ctx.disc && cached.version === ctx.disc.version) return cached;
  const perSwitch = new Map<Dpid, readonly number[]>();
  const keys = new Set<string>();
  const shared = new Map<string, number[]>();
  for (const [dpid, ports] of ctx.disc.switches) {
    const list: number[] = [];
    for (const p of ports.values()) {
      if (!p.up || !isPhysicalPort(p.port) || isLinkPort(ctx.disc, { dpid, port: p.port })) continue;
      list.push(p.port);
      keys.add(portKey({ dpid, port: p.port }));
    }
    if (list.length === 0) continue;
    const name = list.join(',');
    const same = shared.get(name);
    if (same === undefined) shared.set(name, list);
    perSwitch.set(dpid, same ?? list);
  }
  const edges: EdgePorts = { from: ctx.disc, version: ctx.disc.version, perSwitch, keys };
  state.floods.edges = edges;
  return edges;
}

function floodToHosts(state: RoutingState, ctx: RoutingContext, except: PortRef, frame: Uint8Array): SwitchCommand[] {
  return flood(state.floods, edgePorts(state, ctx), except, frame, ctx.now);
}

/**
 * What to do with a packet-in that is not LLDP (host learning already done by the caller):
 * answer ARP for known VMs, route unicast to known VMs (installing both directions), and send
 * the rest to host ports only.
 */
export function routePacket(state: RoutingState, ctx: RoutingContext, at: PortRef, frame: ParsedFrame, raw: Uint8Array): SwitchCommand[] {
  const net = frame.net;
  if (net.type === 'arp' && net.arp.op === ARP_OP.REQUEST) {
    const owner = ctx.hosts.byIp.get(net.arp.targetIp);
    if (owner === undefined) return floodToHosts(state, ctx, at, raw);
    if (owner === net.arp.senderMac) return []; // gratuitous: nobody needs an answer
    const reply = buildArpReply({ senderMac: owner, senderIp: net.arp.targetIp, targetMac: net.arp.senderMac, targetIp: net.arp.senderIp });
    return [{ kind: 'packet-out', dpid: at.dpid, ports: [at.port], frame: reply }];
  }
  if (net.type === 'rarp') return [];
  const dst = frame.eth.dst;
  const hd = isMulticastMac(dst) ? undefined : ctx.hosts.byMac.get(dst);
  if (hd === undefined) return floodToHosts(state, ctx, at, raw);
  const src = frame.eth.src;
  // IEEE 802: a source address is never a group address (nor all zeros); such a frame is dropped,
  // not routed: each one would leave two wanted directions no path can ever serve
  if (!isUnicastMac(src)) return [];
  const hs = ctx.hosts.byMac.get(src);
  // a sender not placed (refused at a full port, or behind no host port) has no path to get, and
  // each such direction kept as wanted would be walked on every change for ever
  if (hs === undefined) return [];
  // the host entries' own MAC strings, not the frame's: a new path keeps them (src, dst and its
  // key's parts), and the frame's copies would be two more strings kept per path
  const forward = ensurePath(state, ctx, hs.mac, hd.mac, { hs, hd });
  const backward = ensurePath(state, ctx, hd.mac, hs.mac, { hs: hd, hd: hs });
  const commands = forward.commands;
  for (const c of backward.commands) commands.push(c);
  const hops = forward.hops;
  if (hops !== null) {
    // Send this packet on from where it is, if that switch is on the path, else from the start.
    const hop = hops.find((h) => h.dpid === at.dpid) ?? hops[0]!;
    commands.push({ kind: 'packet-out', dpid: hop.dpid, ports: [hop.outPort], frame: raw });
  }
  return commands;
}
