import { findAnnouncement, isUnicastMac, type ParsedFrame } from '../packet/index.ts';
import { portKey, type Dpid, type PortRef } from './commands.ts';

/**
 * VM tracker: where each VM (by MAC) is attached, learned from packet-ins on host ports (ports
 * with no switch-to-switch link). A VM seen on another port is a move. QEMU's RARP and a
 * gratuitous ARP are announcements: they move a VM even when its old location is fresh. The
 * agent's "migration done" (issue 5) is authoritative and uses `setLocation` directly.
 */
export interface HostEntry {
  readonly mac: string;
  ip?: string;
  at: PortRef;
  lastSeen: number;
}

export interface HostState {
  readonly byMac: Map<string, HostEntry>;
  readonly byIp: Map<string, string>;
  /** hosts per switch (switches with none absent): which switches carry hosts, without walking every host */
  readonly perSwitch: Map<Dpid, number>;
  /**
   * hosts per port by switch (ports and switches with none absent): what `maxPerPort` is checked
   * against. With the count, the port's PortRef that every host entry there shares (`at`): one
   * object per port with hosts, not one per host (cbench, 256 switches: ~256,000 hosts on 768 ports).
   */
  readonly perPort: Map<Dpid, Map<number, PortHosts>>;
  /**
   * most hosts learned from frames behind one port (Faucet's `max_hosts`, a switch's port
   * security): a frame from an address not known anywhere, at a port already holding this many,
   * is dropped unlearned, so a port forging source addresses cannot grow the host table, the
   * paths and the switches' flow tables without bound
   */
  readonly maxPerPort: number;
  /** per port (portKey): when it was last reported, and the refusals since not reported yet */
  readonly refusals: Map<string, { at: PortRef; saidAt: number; count: number; lastMac: string }>;
}

/** a port's hosts: how many, and the PortRef their entries share */
export interface PortHosts {
  readonly at: PortRef;
  n: number;
}

export type HostEvent =
  | { readonly type: 'host-added'; readonly mac: string; readonly at: PortRef; readonly ip?: string }
  | { readonly type: 'host-moved'; readonly mac: string; readonly from: PortRef; readonly to: PortRef; readonly via: string }
  /** the port it was on went down or away (PORT_STATUS), or turned out to be a link */
  | { readonly type: 'host-removed'; readonly mac: string; readonly at: PortRef; readonly reason: 'port-down' | 'port-deleted' | 'link-port' }
  /**
   * a frame from `mac`, known nowhere, at a port already holding `limit` hosts: dropped unlearned.
   * Every such frame gives one; `quiet` unless it is the port's first in `HOST_REFUSAL_REPEAT_MS`
   * (the ones to log), `count` this one and those at the port not reported yet
   */
  | { readonly type: 'host-refused'; readonly mac: string; readonly at: PortRef; readonly limit: number; readonly count: number; readonly quiet: boolean }
  /** the quiet refusals at a port since its last report, once that report is a minute old (`refusalReports`) */
  | { readonly type: 'host-refusals'; readonly at: PortRef; readonly limit: number; readonly count: number; readonly lastMac: string };

/** default `maxPerPort`: far above a hypervisor's VMs behind one port, still a bound */
export const DEFAULT_MAX_HOSTS_PER_PORT = 4096;
/** a port that keeps sending new sources is reported once a minute, not per frame */
export const HOST_REFUSAL_REPEAT_MS = 60_000;

/** `maxPerPort`: an integer >= 1, or Infinity for no limit (default DEFAULT_MAX_HOSTS_PER_PORT) */
export function createHosts(maxPerPort = DEFAULT_MAX_HOSTS_PER_PORT): HostState {
  if (!(maxPerPort >= 1)) throw new RangeError(`maxPerPort must be >= 1, got ${maxPerPort}`);
  return { byMac: new Map(), byIp: new Map(), perSwitch: new Map(), perPort: new Map(), maxPerPort, refusals: new Map() };
}

/** One host more (1) or fewer (-1) at `at`. Returns the port's shared PortRef (value-equal to `at`). */
function count(s: HostState, at: PortRef, by: 1 | -1): PortRef {
  const n = (s.perSwitch.get(at.dpid) ?? 0) + by;
  if (n > 0) s.perSwitch.set(at.dpid, n);
  else s.perSwitch.delete(at.dpid);
  let ports = s.perPort.get(at.dpid);
  if (ports === undefined) s.perPort.set(at.dpid, (ports = new Map<number, PortHosts>()));
  const here = ports.get(at.port);
  if (here === undefined) {
    if (by > 0) ports.set(at.port, { at, n: by });
    else if (ports.size === 0) s.perPort.delete(at.dpid);
    return at;
  }
  here.n += by;
  if (here.n <= 0 && ports.delete(at.port) && ports.size === 0) s.perPort.delete(at.dpid);
  return here.at;
}

/** how many hosts are placed at `at` */
export function hostsAtPort(s: HostState, at: PortRef): number {
  return s.perPort.get(at.dpid)?.get(at.port)?.n ?? 0;
}

/** the ports of `dpid` where hosts are placed */
export function portsWithHosts(s: HostState, dpid: Dpid): number[] {
  return [...(s.perPort.get(dpid)?.keys() ?? [])];
}

function sameRef(a: PortRef, b: PortRef): boolean {
  return a.dpid === b.dpid && a.port === b.port;
}

export function setLocation(s: HostState, mac: string, at: PortRef, now: number, via: string, ip?: string): HostEvent[] {
  // a group or all-zero address is no host: a gratuitous ARP naming ff:ff:ff:ff:ff:ff as its
  // sender would otherwise be placed, and proxy ARP would answer with it (the asker floods)
  if (!isUnicastMac(mac)) return [];
  const e = s.byMac.get(mac);
  if (ip !== undefined && ip !== '0.0.0.0') {
    const owner = s.byIp.get(ip);
    if (owner !== undefined && owner !== mac) {
      const prev = s.byMac.get(owner);
      if (prev) prev.ip = undefined;
    }
    // a known host speaking again (nearly every packet-in) changes nothing here
    if (owner !== mac) s.byIp.set(ip, mac);
  }
  if (e === undefined) {
    const here = count(s, at, 1);
    s.byMac.set(mac, { mac, ip: ip === '0.0.0.0' ? undefined : ip, at: here, lastSeen: now });
    return [{ type: 'host-added', mac, at: here, ...(ip !== undefined && ip !== '0.0.0.0' ? { ip } : {}) }];
  }
  if (ip !== undefined && ip !== '0.0.0.0') e.ip = ip;
  e.lastSeen = now;
  if (sameRef(e.at, at)) return [];
  const from = e.at;
  count(s, from, -1);
  e.at = count(s, at, 1);
  return [{ type: 'host-moved', mac, from, to: e.at, via }];
}

/**
 * Learns from a frame that arrived on a host port. `isHostPort` says whether (dpid, port) may
 * have VMs behind it (not a switch-to-switch link; a hypervisor switch when those are known).
 * An address known nowhere, at a port holding `maxPerPort` hosts, is not learned: one
 * `host-refused` event, and the caller drops the frame. A known host speaking at its port, or
 * moving to another (full or not), grows no table and is learned as before.
 */
export function learn(
  s: HostState,
  frame: ParsedFrame,
  at: PortRef,
  now: number,
  isHostPort: (p: PortRef) => boolean,
): HostEvent[] {
  if (!isHostPort(at)) return [];
  const announcement = findAnnouncement(frame);
  const mac = announcement !== undefined ? announcement.mac : frame.eth.src;
  if (s.maxPerPort !== Number.POSITIVE_INFINITY && !s.byMac.has(mac) && hostsAtPort(s, at) >= s.maxPerPort && isUnicastMac(mac)) {
    return [refuse(s, mac, at, now)];
  }
  if (announcement !== undefined) return setLocation(s, announcement.mac, at, now, announcement.via, announcement.ip);
  const net = frame.net;
  const ip = net.type === 'arp' ? net.arp.senderIp : net.type === 'ipv4' ? net.ipv4.src : undefined;
  return setLocation(s, mac, at, now, 'packet', ip);
}

function refuse(s: HostState, mac: string, at: PortRef, now: number): HostEvent {
  const key = portKey(at);
  const r = s.refusals.get(key);
  if (r !== undefined && now - r.saidAt < HOST_REFUSAL_REPEAT_MS) {
    r.count += 1;
    r.lastMac = mac;
    return { type: 'host-refused', mac, at, limit: s.maxPerPort, count: r.count, quiet: true };
  }
  const count = (r?.count ?? 0) + 1;
  s.refusals.set(key, { at, saidAt: now, count: 0, lastMac: mac });
  return { type: 'host-refused', mac, at, limit: s.maxPerPort, count, quiet: false };
}

/**
 * The reports due at `now` (ms): per port, the quiet refusals since its last report once that is
 * `HOST_REFUSAL_REPEAT_MS` old, so a burst is told in full when it is over, not at the next
 * refusal months later. A port with nothing to tell for that long is forgotten: its next refusal
 * is reported at once. For a periodic caller (the controller's tick).
 */
export function refusalReports(s: HostState, now: number): HostEvent[] {
  const out: HostEvent[] = [];
  for (const [key, r] of s.refusals) {
    if (now - r.saidAt < HOST_REFUSAL_REPEAT_MS) continue;
    if (r.count === 0) {
      s.refusals.delete(key);
      continue;
    }
    out.push({ type: 'host-refusals', at: r.at, limit: s.maxPerPort, count: r.count, lastMac: r.lastMac });
    r.saidAt = now;
    r.count = 0;
  }
  return out;
}

/**
 * Forgets the hosts behind a port: it turned out to be a switch-to-switch link (they were never
 * hosts there), or it went down or away (they are not there any more). Returns their MACs.
 */
export function forgetPort(s: HostState, at: PortRef): string[] {
  const gone: string[] = [];
  for (const [mac, e] of s.byMac) {
    if (sameRef(e.at, at)) {
      s.byMac.delete(mac);
      count(s, e.at, -1);
      if (e.ip !== undefined && s.byIp.get(e.ip) === mac) s.byIp.delete(e.ip);
      gone.push(mac);
    }
  }
  return gone;
}

/**
 * When a host was last seen at `at` (ms), or undefined when none lives there. `withIp`: only
 * hosts that spoke ARP or IPv4 there count (an interface's own IPv6 multicast chatter on a cable
 * not discovered yet is not a host speaking).
 */
export function lastSeenAt(s: HostState, at: PortRef, withIp = false): number | undefined {
  let last: number | undefined;
  for (const e of s.byMac.values()) {
    if (withIp && e.ip === undefined) continue;
    if (sameRef(e.at, at) && (last === undefined || e.lastSeen > last)) last = e.lastSeen;
  }
  return last;
}

export function hostsOn(s: HostState, dpid: Dpid): HostEntry[] {
  return [...s.byMac.values()].filter((e) => e.at.dpid === dpid);
}
