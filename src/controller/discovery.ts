import { buildLldpProbe, parseFrame } from '../packet/index.ts';
import type { Dpid, PortRef, SwitchCommand } from './commands.ts';
import { portKey } from './commands.ts';

/**
 * Topology discovery by LLDP. Each switch port gets a probe carrying (dpid, port) and this
 * controller's nonce; a probe that comes back in at another switch's port proves a link. A probe
 * without our nonce (another controller's, or a forged one) is ignored, so LLDP relayed by a
 * learning switch cannot make phantom links. Port-down and switch-down remove links at once;
 * links not re-confirmed within `ttlMs` age out.
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
  readonly ttlMs: number;
  readonly switches: Map<Dpid, Map<number, SwitchPortInfo>>;
  /** by canonical key; lastSeen in ms */
  readonly links: Map<string, { link: DiscoveredLink; lastSeen: number }>;
  /** port key -> link key */
  readonly byPort: Map<string, string>;
}

export type DiscoveryEvent =
  | { readonly type: 'link-added'; readonly link: DiscoveredLink }
  | { readonly type: 'link-removed'; readonly link: DiscoveredLink; readonly reason: 'port-down' | 'switch-down' | 'expired' | 'replaced' };

/** OpenFlow port numbers above this are reserved (LOCAL, CONTROLLER, ...); they have no links. */
const MAX_PHYSICAL_PORT = 0xffffff00;

export function createDiscovery(nonce: Uint8Array, ttlMs = 5_000): DiscoveryState {
  return { nonce, ttlMs, switches: new Map(), links: new Map(), byPort: new Map() };
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
  s.byPort.delete(portKey(entry.link.a));
  s.byPort.delete(portKey(entry.link.b));
  return [{ type: 'link-removed', link: entry.link, reason }];
}

export function switchUp(s: DiscoveryState, dpid: Dpid, ports: readonly SwitchPortInfo[]): DiscoveryEvent[] {
  const events = s.switches.has(dpid) ? switchDown(s, dpid) : [];
  s.switches.set(dpid, new Map(ports.filter((p) => p.port < MAX_PHYSICAL_PORT).map((p) => [p.port, p])));
  return events;
}

export function switchDown(s: DiscoveryState, dpid: Dpid): DiscoveryEvent[] {
  s.switches.delete(dpid);
  const events: DiscoveryEvent[] = [];
  for (const [key, { link }] of [...s.links]) {
    if (link.a.dpid === dpid || link.b.dpid === dpid) events.push(...removeLink(s, key, 'switch-down'));
  }
  return events;
}

export function portStatus(s: DiscoveryState, dpid: Dpid, port: SwitchPortInfo, deleted = false): DiscoveryEvent[] {
  const ports = s.switches.get(dpid);
  if (ports === undefined || port.port >= MAX_PHYSICAL_PORT) return [];
  if (deleted) ports.delete(port.port);
  else ports.set(port.port, port);
  if (deleted || !port.up) {
    const key = s.byPort.get(portKey({ dpid, port: port.port }));
    if (key !== undefined) return removeLink(s, key, 'port-down');
  }
  return [];
}

/** Probes for every up port of every switch (or of one switch), to send as packet-outs. */
export function probes(s: DiscoveryState, only?: Dpid): SwitchCommand[] {
  const out: SwitchCommand[] = [];
  for (const [dpid, ports] of s.switches) {
    if (only !== undefined && dpid !== only) continue;
    for (const p of ports.values()) {
      if (!p.up) continue;
      const frame = buildLldpProbe({ srcMac: p.hwAddr, dpid, port: p.port, nonce: s.nonce });
      out.push({ kind: 'packet-out', dpid, ports: [p.port], frame });
    }
  }
  return out;
}

/**
 * A packet-in that may be one of our probes. Returns null when the frame is not LLDP (the caller
 * handles it), [] for LLDP that proves nothing new, or the link events.
 */
export function onPacketIn(s: DiscoveryState, dpid: Dpid, inPort: number, frame: Uint8Array, now: number): DiscoveryEvent[] | null {
  let parsed;
  try {
    parsed = parseFrame(frame, { lldpNonce: s.nonce });
  } catch {
    return null;
  }
  if (parsed.net.type !== 'lldp') return null;
  const verdict = parsed.net.probe;
  if (verdict === undefined || !verdict.accepted) return [];
  const from: PortRef = { dpid: verdict.dpid, port: verdict.port };
  const to: PortRef = { dpid, port: inPort };
  // A probe from a switch we do not know (or to itself) proves nothing usable.
  if (!s.switches.has(from.dpid) || !s.switches.has(dpid) || portKey(from) === portKey(to)) return [];
  const link = canonical(from, to);
  const key = linkKey(link);
  const existing = s.links.get(key);
  if (existing !== undefined) {
    existing.lastSeen = now;
    return [];
  }
  const events: DiscoveryEvent[] = [];
  // A port has one peer: a new peer on either end replaces the old link.
  for (const end of [link.a, link.b]) {
    const old = s.byPort.get(portKey(end));
    if (old !== undefined) events.push(...removeLink(s, old, 'replaced'));
  }
  s.links.set(key, { link, lastSeen: now });
  s.byPort.set(portKey(link.a), key);
  s.byPort.set(portKey(link.b), key);
  events.push({ type: 'link-added', link });
  return events;
}

export function expire(s: DiscoveryState, now: number): DiscoveryEvent[] {
  const events: DiscoveryEvent[] = [];
  for (const [key, entry] of [...s.links]) {
    if (now - entry.lastSeen > s.ttlMs) events.push(...removeLink(s, key, 'expired'));
  }
  return events;
}

export function isLinkPort(s: DiscoveryState, p: PortRef): boolean {
  return s.byPort.has(portKey(p));
}

export function links(s: DiscoveryState): DiscoveredLink[] {
  return [...s.links.values()].map((e) => e.link);
}
