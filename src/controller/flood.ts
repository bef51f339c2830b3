import { createHash } from 'node:crypto';
import type { Dpid, PortRef, SwitchCommand } from './commands.ts';
import { portKey } from './commands.ts';

/**
 * Flooding without loops and without lies. A frame for an unknown or broadcast destination goes
 * to every edge port of every switch (up, not reserved, no discovered link) as packet-outs, so a
 * host that never spoke is still reached wherever it is, with or without a scenario. The switches
 * never flood by themselves, so the redundant topology cannot loop through them. What can happen
 * is that an "edge" port is really a cable we have not discovered yet: the flooded copy comes
 * back to us as a packet-in at the far end, which is another port we flooded to. Such a copy is
 * our own echo, not the sender speaking there: it is dropped (no learning, no second flood).
 * A host's own retransmission arrives at its own port, which is never in its flood.
 */
export interface FloodState {
  /** frame digest -> ports it was sent out of, and when (ms) */
  readonly recent: Map<string, { readonly ports: Set<string>; readonly at: number }>;
  /**
   * per port: the latest `at` of a `recent` entry holding it. A packet-in on a port with none
   * in the window cannot be an echo, and is let through without hashing its frame.
   */
  readonly portAt: Map<string, number>;
  readonly windowMs: number;
  echoes: number;
}

export function createFloodState(windowMs = 2_000): FloodState {
  return { recent: new Map(), portAt: new Map(), windowMs, echoes: 0 };
}

function digest(frame: Uint8Array): string {
  return createHash('sha256').update(frame).digest('base64');
}

/** Packet-outs of `frame` to `ports` (grouped per switch) except `except`, remembered for echo detection. */
export function flood(s: FloodState, ports: readonly PortRef[], except: PortRef, frame: Uint8Array, now: number): SwitchCommand[] {
  const bySwitch = new Map<Dpid, number[]>();
  const sent = new Set<string>();
  for (const p of ports) {
    if (p.dpid === except.dpid && p.port === except.port) continue;
    bySwitch.set(p.dpid, [...(bySwitch.get(p.dpid) ?? []), p.port]);
    sent.add(portKey(p));
  }
  if (sent.size > 0) {
    const d = digest(frame);
    const prev = s.recent.get(d);
    const ports = prev !== undefined && now - prev.at <= s.windowMs ? new Set([...prev.ports, ...sent]) : sent;
    s.recent.set(d, { ports, at: now });
    for (const k of ports) s.portAt.set(k, now);
  }
  if (s.recent.size > 4096) expireFloods(s, now);
  return [...bySwitch].map(([dpid, list]) => ({ kind: 'packet-out' as const, dpid, ports: list, frame }));
}

/** True when `frame` arriving at `at` is a copy of our own recent flood coming back over an unknown cable. */
export function isEcho(s: FloodState, frame: Uint8Array, at: PortRef, now: number): boolean {
  if (s.recent.size === 0) return false;
  const flooded = s.portAt.get(portKey(at));
  if (flooded === undefined || now - flooded > s.windowMs) return false;
  const e = s.recent.get(digest(frame));
  if (e === undefined || now - e.at > s.windowMs || !e.ports.has(portKey(at))) return false;
  s.echoes += 1;
  return true;
}

export function expireFloods(s: FloodState, now: number): void {
  for (const [k, e] of [...s.recent]) if (now - e.at > s.windowMs) s.recent.delete(k);
  for (const [k, at] of [...s.portAt]) if (now - at > s.windowMs) s.portAt.delete(k);
}
