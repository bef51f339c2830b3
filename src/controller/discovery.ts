import { ETHERTYPE, buildLldpProbe, ethertypeOf, parseFrame } from '../packet/index.ts';
import type { Dpid, PortRef, SwitchCommand } from './commands.ts';
import { portKey } from './commands.ts';
import { isPhysicalPort } from './ports.ts';
import { authTlv, checkProbe } from './probe-auth.ts';

/**
 * Topology discovery by LLDP. Each switch port gets a probe carrying (dpid, port), this
 * controller's nonce, a timestamp and an HMAC over them keyed by the controller's secret
 * (probe-auth.ts). What makes a link, in order:
 * - the probe is ours (nonce), untampered (HMAC) and fresh (at most `maxProbeAgeMs` old), and
 *   neither end is a reserved port: a forged probe, or one replayed later, is nothing;
 * - both directions were heard within `ttlMs`: A's probe came in at B and B's probe at A. A host
 *   that replays a captured probe from its own port gives one direction only; the controller
 *   answers a first direction with an immediate probe back out of the receiving port, so a real
 *   cable is confirmed within one round trip;
 * - a probe arriving where a host that speaks ARP/IPv4 is placed, with the other direction not
 *   proven, is evidence to weigh, not a link: it is reported (`probe-rejected`, `host-port`).
 *   Once both directions are proven, the cable is the stronger evidence (no single host can
 *   produce both), and what was learned on its ports was never a host there: it is forgotten.
 *   On a loaded fabric a host can be learned on a cable whose link just expired; holding the
 *   link back because of that host would cut the fabric (seen on the paper's data centre).
 * Port-down and switch-down remove links at once; links not re-confirmed within `ttlMs` age out.
 */
export interface DiscoveredLink {
  readonly a: PortRef;
  readonly b: PortRef;
}

export interface SwitchPortInfo {
  readonly port: number;
  readonly hwAddr: string;
  readonly up: boolean;
  /** current speed in kbit/s as the switch reports it (0 = unknown) */
  readonly speedKbps: number;
  readonly name: string;
}

export interface DiscoveryState {
  readonly nonce: Uint8Array;
  /** HMAC key of the probes; never sent anywhere */
  readonly secret: Uint8Array;
  readonly ttlMs: number;
  readonly maxProbeAgeMs: number;
  readonly switches: Map<Dpid, Map<number, SwitchPortInfo>>;
  /** by canonical key; lastSeen in ms */
  readonly links: Map<string, { link: DiscoveredLink; lastSeen: number }>;
  /** port key -> link key */
  readonly byPort: Map<string, string>;
  /** `from>to` port keys -> when an authenticated probe last went that way (ms) */
  readonly heard: Map<string, number>;
  /** port key -> when we last sent an on-demand probe out of it (ms) */
  readonly echoedAt: Map<string, number>;
  /** the newest send time (ms) of any authentic probe processed: how far our hearing has got */
  latestHeard: number;
  /** LLDP frames not believed, by reason (for logs and metrics) */
  readonly rejected: Map<ProbeRejection, number>;
  /** DiscoveryOptions.declared */
  readonly declared?: (a: Dpid, b: Dpid) => boolean;
  /** link key -> when an undeclared link was last reported (ms) */
  readonly undeclaredSaid: Map<string, number>;
  /**
   * counts every change of `switches` (their ports) and `links`: what is derived from them alone
   * (routing.ts edgePorts, the flood's port lists) is kept while it is unchanged
   */
  version: number;
  /**
   * probe frames ready but for their stamp, per switch and port (probeFrame): built once, copied
   * and stamped per probe. Dropped with the switch (switchUp, switchDown) and rebuilt when the
   * port's hardware address changes.
   */
  readonly probeTemplates: Map<Dpid, Map<number, ProbeTemplate>>;
  /** the switches of each probe share, for the `of` and `version` they were made for (probes) */
  shareLists?: ShareLists;
}

/**
 * A probe frame with a placeholder stamp: `authAt` is where the authenticator TLV's value starts
 * (OUI, subtype, then the 8-byte timestamp and the 16-byte HMAC that probeFrame writes over).
 */
interface ProbeTemplate {
  readonly hwAddr: string;
  readonly frame: Uint8Array;
  readonly authAt: number;
}

interface ShareLists {
  readonly of: number;
  readonly version: number;
  /** lists[i]: the dpids of share i, in the order of `switches` */
  readonly lists: readonly Dpid[][];
}

/** an undeclared link is reported again after this long (ms) */
const UNDECLARED_REPEAT_MS = 60_000;

export type ProbeRejection = 'foreign' | 'unsigned' | 'bad-signature' | 'stale' | 'from-the-future' | 'reserved-port' | 'host-port' | 'undeclared';

export type DiscoveryEvent =
  | { readonly type: 'link-added'; readonly link: DiscoveredLink }
  | { readonly type: 'link-removed'; readonly link: DiscoveredLink; readonly reason: 'port-down' | 'switch-down' | 'expired' | 'replaced' }
  /** an LLDP frame with our nonce that did not prove a link (forged, replayed, stale, where a host lives) */
  | { readonly type: 'probe-rejected'; readonly at: PortRef; readonly claimed: PortRef; readonly reason: ProbeRejection };

export interface DiscoveryOptions {
  /** links not re-confirmed for this long age out (ms, default 5000) */
  readonly ttlMs?: number;
  /**
   * the switch pairs a cable may join (both directions), e.g. a scenario's links: a proven link
   * between any other pair is refused (`undeclared`). Without it any pair may be joined.
   */
  readonly declared?: (a: Dpid, b: Dpid) => boolean;
  /** oldest probe believed (ms, default ttlMs): its trip out, through the peer and back to us */
  readonly maxProbeAgeMs?: number;
}

/** `secret`: the probes' HMAC key, at least 16 random bytes in production (see probe-auth.ts). */
export function createDiscovery(nonce: Uint8Array, secret: Uint8Array, o: DiscoveryOptions = {}): DiscoveryState {
  const ttlMs = o.ttlMs ?? 5_000;
  return {
    nonce,
    secret,
    ttlMs,
    // A probe as old as a link's lifetime proves nothing; younger ones are fine (a loaded
    // controller or a shaped link delays them by seconds: 2 s dropped links of the paper fabric).
    maxProbeAgeMs: o.maxProbeAgeMs ?? ttlMs,
    switches: new Map(),
    links: new Map(),
    byPort: new Map(),
    heard: new Map(),
    echoedAt: new Map(),
    rejected: new Map(),
    undeclaredSaid: new Map(),
    probeTemplates: new Map(),
    latestHeard: 0,
    version: 0,
    ...(o.declared !== undefined ? { declared: o.declared } : {}),
  };
}

function canonical(x: PortRef, y: PortRef): DiscoveredLink {
  return x.dpid < y.dpid || (x.dpid === y.dpid && x.port < y.port) ? { a: x, b: y } : { a: y, b: x };
}

function linkKey(l: DiscoveredLink): string {
  return `${portKey(l.a)}|${portKey(l.b)}`;
}

function removeLink(s: DiscoveryState, key: string, reason: 'port-down' | 'switch-down' | 'expired' | 'replaced'): DiscoveryEvent[] {
  const entry = s.links.get(key);
  if (entry === undefined) return [];
  s.links.delete(key);
  s.version += 1;
  s.byPort.delete(portKey(entry.link.a));
  s.byPort.delete(portKey(entry.link.b));
  return [{ type: 'link-removed', link: entry.link, reason }];
}

export function switchUp(s: DiscoveryState, dpid: Dpid, ports: readonly SwitchPortInfo[]): DiscoveryEvent[] {
  const events = s.switches.has(dpid) ? switchDown(s, dpid) : [];
  s.probeTemplates.delete(dpid);
  s.switches.set(dpid, new Map(ports.filter((p) => isPhysicalPort(p.port)).map((p) => [p.port, p])));
  s.version += 1;
  return events;
}

export function switchDown(s: DiscoveryState, dpid: Dpid): DiscoveryEvent[] {
  s.switches.delete(dpid);
  s.probeTemplates.delete(dpid);
  s.version += 1;
  const events: DiscoveryEvent[] = [];
  for (const [key, { link }] of [...s.links]) {
    if (link.a.dpid === dpid || link.b.dpid === dpid) events.push(...removeLink(s, key, 'switch-down'));
  }
  return events;
}

export function portStatus(s: DiscoveryState, dpid: Dpid, port: SwitchPortInfo, deleted = false): DiscoveryEvent[] {
  const ports = s.switches.get(dpid);
  if (ports === undefined || !isPhysicalPort(port.port)) return [];
  if (deleted) ports.delete(port.port);
  else ports.set(port.port, port);
  s.version += 1;
  if (deleted || !port.up) {
    const key = s.byPort.get(portKey({ dpid, port: port.port }));
    if (key !== undefined) return removeLink(s, key, 'port-down');
  }
  return [];
}

/** the authenticator TLV's value in a template: OUI and subtype as authTlv writes them, then this filler */
const TEMPLATE_FILL = 0xa5;

/**
 * The probe template of a port: buildLldpProbe's frame with an authenticator whose stamp is a
 * filler, and where that stamp lies. Undefined if the filler cannot be found exactly once (then
 * every probe is built whole, as before).
 */
function probeTemplate(s: DiscoveryState, dpid: Dpid, p: SwitchPortInfo): ProbeTemplate | undefined {
  const claim = { nonce: s.nonce, dpid, port: p.port };
  const auth = authTlv(s.secret, claim, 0);
  const value = auth.value.slice();
  value.fill(TEMPLATE_FILL, 4);
  const frame = buildLldpProbe({ srcMac: p.hwAddr, ...claim, extraTlvs: [{ type: auth.type, value }] });
  let authAt = -1;
  for (let i = 0; i + value.length <= frame.length; i++) {
    let j = 0;
    while (j < value.length && frame[i + j] === value[j]) j++;
    if (j < value.length) continue;
    if (authAt >= 0) return undefined;
    authAt = i;
  }
  return authAt < 0 ? undefined : { hwAddr: p.hwAddr, frame, authAt };
}

/**
 * One probe, stamped `now`. The bytes are buildLldpProbe's with authTlv's stamp; only the stamp
 * (timestamp and HMAC) differs between two probes of a port, so the rest is built once per port
 * and copied: building each of 256 switches' 1,024 probes a second whole made ~10 KiB of garbage
 * a probe, a third of the controller's allocation, and so a third of its scavenges (docs/cluster.md, run 13).
 */
function probeFrame(s: DiscoveryState, dpid: Dpid, p: SwitchPortInfo, now: number): SwitchCommand {
  const claim = { nonce: s.nonce, dpid, port: p.port };
  let perPort = s.probeTemplates.get(dpid);
  let t = perPort?.get(p.port);
  if (t === undefined || t.hwAddr !== p.hwAddr) {
    t = probeTemplate(s, dpid, p);
    if (t === undefined) return { kind: 'packet-out', dpid, ports: [p.port], frame: buildLldpProbe({ srcMac: p.hwAddr, ...claim, extraTlvs: [authTlv(s.secret, claim, now)] }) };
    if (perPort === undefined) s.probeTemplates.set(dpid, (perPort = new Map<number, ProbeTemplate>()));
    perPort.set(p.port, t);
  }
  const frame = t.frame.slice();
  // the stamp: timestamp and HMAC, after the value's OUI and subtype (probe-auth.ts)
  frame.set(authTlv(s.secret, claim, now).value.subarray(4), t.authAt + 4);
  return { kind: 'packet-out', dpid, ports: [p.port], frame };
}

/**
 * The switches of share `index` of `of`, in the order of `s.switches`, from lists made once per
 * `of` and discovery version: walking all 256 switches with a BigInt remainder each, 100 times a
 * second to find the two or three of a share, was itself a tenth of the controller's allocation.
 */
function shareMembers(s: DiscoveryState, share: ProbeShare): readonly Dpid[] {
  let cached = s.shareLists;
  if (cached === undefined || cached.of !== share.of || cached.version !== s.version) {
    const lists: Dpid[][] = Array.from({ length: share.of }, () => []);
    for (const dpid of s.switches.keys()) lists[Number(dpid % BigInt(share.of))]!.push(dpid);
    s.shareLists = cached = { of: share.of, version: s.version, lists };
  }
  return cached.lists[share.index] ?? [];
}

/**
 * One of `of` equal shares of the switches, by dpid: share `index` (0 <= index < of) holds the
 * switches whose dpid mod `of` is `index`. A switch's share never changes (not by others joining
 * or leaving), so probing share 0, 1, ..., of - 1 in turn probes every switch exactly once.
 */
export interface ProbeShare {
  readonly index: number;
  readonly of: number;
  /** the probe period all shares make up (ms); sets how much later than a link's own probes the newest probe can be */
  readonly periodMs?: number;
}

export function inShare(dpid: Dpid, share: ProbeShare): boolean {
  return Number(dpid % BigInt(share.of)) === share.index;
}

/**
 * Probes, stamped `now` (ms), for every up port of every switch, or of one switch, or one port,
 * or of the switches of one share.
 */
export function probes(s: DiscoveryState, now: number, only?: Dpid, onlyPort?: number, share?: ProbeShare): SwitchCommand[] {
  const out: SwitchCommand[] = [];
  if (share !== undefined && only === undefined) {
    for (const dpid of shareMembers(s, share)) {
      const ports = s.switches.get(dpid);
      if (ports === undefined) continue;
      for (const p of ports.values()) {
        if (!p.up || (onlyPort !== undefined && p.port !== onlyPort)) continue;
        out.push(probeFrame(s, dpid, p, now));
      }
    }
    return out;
  }
  for (const [dpid, ports] of s.switches) {
    if (only !== undefined && dpid !== only) continue;
    if (share !== undefined && !inShare(dpid, share)) continue;
    for (const p of ports.values()) {
      if (!p.up || (onlyPort !== undefined && p.port !== onlyPort)) continue;
      out.push(probeFrame(s, dpid, p, now));
    }
  }
  return out;
}

export interface ProbeResult {
  readonly events: DiscoveryEvent[];
  /** on-demand probes to send (the reverse direction of a link heard one way) */
  readonly commands: SwitchCommand[];
}

function rejectProbe(s: DiscoveryState, reason: ProbeRejection, at: PortRef, claimed: PortRef): ProbeResult {
  s.rejected.set(reason, (s.rejected.get(reason) ?? 0) + 1);
  return { events: [{ type: 'probe-rejected', at, claimed, reason }], commands: [] };
}

/**
 * A packet-in that may be one of our probes. Returns null when the frame is not LLDP (the caller
 * handles it), else what it proved: link events, rejections, and probes to send. `hostSeenAt`
 * says when a host was last seen at a port (undefined: none lives there).
 */
export function onPacketIn(
  s: DiscoveryState,
  dpid: Dpid,
  inPort: number,
  frame: Uint8Array,
  now: number,
  hostSeenAt: (p: PortRef) => number | undefined = () => undefined,
): ProbeResult | null {
  // most packet-ins are not LLDP: they are decoded once, by the caller, not twice
  if (ethertypeOf(frame) !== ETHERTYPE.LLDP) return null;
  let parsed;
  try {
    parsed = parseFrame(frame, { lldpNonce: s.nonce });
  } catch {
    return null;
  }
  if (parsed.net.type !== 'lldp') return null;
  const none: ProbeResult = { events: [], commands: [] };
  const verdict = parsed.net.probe;
  if (verdict === undefined || !verdict.accepted) {
    // another controller's probe, or LLDP from a real device: not ours to judge, not news
    s.rejected.set('foreign', (s.rejected.get('foreign') ?? 0) + 1);
    return none;
  }
  const from: PortRef = { dpid: verdict.dpid, port: verdict.port };
  const to: PortRef = { dpid, port: inPort };
  if (!isPhysicalPort(from.port) || !isPhysicalPort(to.port)) return rejectProbe(s, 'reserved-port', to, from);
  const check = checkProbe(parsed.net.lldp, s.secret, now, s.maxProbeAgeMs);
  const link = canonical(from, to);
  const key = linkKey(link);
  const existing = s.links.get(key);
  if (!check.ok) {
    // An authentic probe that waited in our own queue (a busy controller) still shows the link
    // was there when it was sent: it keeps a known link, it never makes a new one.
    if (check.reason === 'stale' && existing !== undefined) {
      existing.lastSeen = Math.max(existing.lastSeen, check.sentAt);
      s.latestHeard = Math.max(s.latestHeard, check.sentAt);
      return none;
    }
    return rejectProbe(s, check.reason, to, from);
  }
  s.latestHeard = Math.max(s.latestHeard, check.sentAt);
  // A probe from a switch we do not know (or to itself) proves nothing usable.
  if (!s.switches.has(from.dpid) || !s.switches.has(dpid) || portKey(from) === portKey(to)) return none;
  s.heard.set(`${portKey(from)}>${portKey(to)}`, now);
  if (existing !== undefined) {
    existing.lastSeen = Math.max(existing.lastSeen, check.sentAt);
    return none;
  }
  const seen = [hostSeenAt(from), hostSeenAt(to)].filter((x): x is number => x !== undefined);
  const back = s.heard.get(`${portKey(to)}>${portKey(from)}`);
  if (back === undefined || now - back > s.ttlMs) {
    // One direction only so far: ask the other one now instead of waiting for the next round.
    // Where a host is placed, that is also worth a log line: a cable there would have said
    // PORT_STATUS; a host replaying a probe would not.
    const result = seen.length > 0 ? rejectProbe(s, 'host-port', to, from) : none;
    const info = s.switches.get(dpid)?.get(inPort);
    const last = s.echoedAt.get(portKey(to));
    if (info === undefined || !info.up || (last !== undefined && now - last < s.maxProbeAgeMs / 4)) return result;
    s.echoedAt.set(portKey(to), now);
    return { events: result.events, commands: [probeFrame(s, dpid, info, now)] };
  }
  // Both directions proven, yet no cable the configuration knows joins these switches: two hosts
  // relaying each other's fresh probes (a wormhole) look exactly like this. Refused, every time.
  if (s.declared !== undefined && !s.declared(from.dpid, to.dpid)) {
    // a real cable the configuration does not list would say so every probe round: counted
    // every time, reported once a minute per link
    const said = s.undeclaredSaid.get(key);
    if (said !== undefined && now - said < UNDECLARED_REPEAT_MS) {
      s.rejected.set('undeclared', (s.rejected.get('undeclared') ?? 0) + 1);
      return none;
    }
    s.undeclaredSaid.set(key, now);
    return rejectProbe(s, 'undeclared', to, from);
  }
  const events: DiscoveryEvent[] = [];
  // A port has one peer: a new peer on either end replaces the old link.
  for (const end of [link.a, link.b]) {
    const old = s.byPort.get(portKey(end));
    if (old !== undefined) events.push(...removeLink(s, old, 'replaced'));
  }
  s.links.set(key, { link, lastSeen: now });
  s.version += 1;
  s.byPort.set(portKey(link.a), key);
  s.byPort.set(portKey(link.b), key);
  events.push({ type: 'link-added', link });
  return { events, commands: [] };
}

/**
 * Links whose probes stopped coming back. Ages are measured against the newest probe we have
 * processed, not the wall clock: when the controller itself falls behind (a blocked event loop,
 * packet-ins queued), every link looks silent, and dropping them all would cut the fabric. A
 * controller that hears nothing at all for 2 TTLs expires by the clock again.
 */
export function expire(s: DiscoveryState, now: number, share?: ProbeShare): DiscoveryEvent[] {
  const events: DiscoveryEvent[] = [];
  const heardUpTo = Math.min(now, Math.max(s.latestHeard, now - 2 * s.ttlMs));
  // probes in shares: the newest probe heard can be up to (of - 1)/of of a period younger than a
  // link's own switches' probes, so a link gets that much more before it counts as silent (the
  // same number of lost probe rounds as with all probes at once)
  const slack = share === undefined || share.of <= 1 ? 0 : ((share.periodMs ?? 0) * (share.of - 1)) / share.of;
  for (const [key, entry] of [...s.links]) {
    if (heardUpTo - entry.lastSeen > s.ttlMs + slack) events.push(...removeLink(s, key, 'expired'));
  }
  for (const [k, t] of [...s.heard]) if (now - t > s.ttlMs) s.heard.delete(k);
  for (const [k, t] of [...s.echoedAt]) if (now - t > s.ttlMs) s.echoedAt.delete(k);
  for (const [k, t] of [...s.undeclaredSaid]) if (now - t > UNDECLARED_REPEAT_MS) s.undeclaredSaid.delete(k);
  return events;
}

export function isLinkPort(s: DiscoveryState, p: PortRef): boolean {
  return s.byPort.has(portKey(p));
}

export function links(s: DiscoveryState): DiscoveredLink[] {
  return [...s.links.values()].map((e) => e.link);
}
