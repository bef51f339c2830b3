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
/**
 * The edge ports of every switch (up, physical, no discovered link), as of one discovery version
 * (discovery.ts DiscoveryState.version): computed once per change of the switches or links, not
 * per flood. A flood walked every port of every switch and built a key per port each time: 256
 * switches' first broadcasts were 256 walks of 1,024 ports in the first second of a run.
 */
export interface EdgePorts {
  /** the discovery state and version these were computed from */
  readonly from: object;
  readonly version: number;
  /** per switch with any: its edge port numbers (switches with the same list share one array) */
  readonly perSwitch: ReadonlyMap<Dpid, readonly number[]>;
  /** portKey of every edge port */
  readonly keys: ReadonlySet<string>;
}

/** One flood of a frame: every port of `edges` but `except` (a portKey). */
interface Flooded {
  readonly edges: ReadonlySet<string>;
  readonly except: string;
}

export interface FloodState {
  /** frame digest -> the floods of it in the window, and when the latest was (ms) */
  readonly recent: Map<string, { readonly floods: Flooded[]; at: number; readonly length: number }>;
  /**
   * frame length -> how many frames of `recent` have it. A copy of a flooded frame has its
   * length: a packet-in of any other length is let through without hashing its frame (a sha256
   * per packet-in while floods were recent was ~1.4% of a packet-in at 16 switches, bench/cbench).
   */
  readonly lengths: Map<number, number>;
  /**
   * ms: the latest flood. A packet-in more than the window after it cannot be an echo, and is let
   * through without hashing its frame.
   */
  lastAt: number;
  readonly windowMs: number;
  echoes: number;
  /** routing.ts edgePorts' cache */
  edges?: EdgePorts;
}

export function createFloodState(windowMs = 2_000): FloodState {
  return { recent: new Map(), lengths: new Map(), lastAt: -Infinity, windowMs, echoes: 0 };
}

function digest(frame: Uint8Array): string {
  return createHash('sha256').update(frame).digest('base64');
}

/**
 * Packet-outs of `frame` to every edge port except `except` (one per switch), remembered for echo
 * detection. The packet-outs share `edges`' port arrays (only the switch of `except` gets its own).
 */
export function flood(s: FloodState, edges: EdgePorts, except: PortRef, frame: Uint8Array, now: number): SwitchCommand[] {
  const out: SwitchCommand[] = [];
  for (const [dpid, list] of edges.perSwitch) {
    const ports = dpid === except.dpid && list.includes(except.port) ? list.filter((p) => p !== except.port) : list;
    if (ports.length > 0) out.push({ kind: 'packet-out', dpid, ports, frame });
  }
  if (out.length > 0) {
    const d = digest(frame);
    const sent: Flooded = { edges: edges.keys, except: portKey(except) };
    const prev = s.recent.get(d);
    if (prev !== undefined && now - prev.at <= s.windowMs) {
      // the same frame flooded again (a retransmission): its ports are added to the earlier ones'
      if (!prev.floods.some((f) => f.edges === sent.edges && f.except === sent.except)) prev.floods.push(sent);
      prev.at = now;
    } else {
      // a digest kept from before the window is replaced: its length is counted once either way
      if (prev === undefined) s.lengths.set(frame.length, (s.lengths.get(frame.length) ?? 0) + 1);
      s.recent.set(d, { floods: [sent], at: now, length: frame.length });
    }
    s.lastAt = now;
  }
  if (s.recent.size > 4096) expireFloods(s, now);
  return out;
}

/** True when `frame` arriving at `at` is a copy of our own recent flood coming back over an unknown cable. */
export function isEcho(s: FloodState, frame: Uint8Array, at: PortRef, now: number): boolean {
  if (s.recent.size === 0 || now - s.lastAt > s.windowMs || !s.lengths.has(frame.length)) return false;
  const e = s.recent.get(digest(frame));
  if (e === undefined || now - e.at > s.windowMs) return false;
  const k = portKey(at);
  if (!e.floods.some((f) => f.except !== k && f.edges.has(k))) return false;
  s.echoes += 1;
  return true;
}

export function expireFloods(s: FloodState, now: number): void {
  for (const [k, e] of [...s.recent]) {
    if (now - e.at <= s.windowMs) continue;
    s.recent.delete(k);
    const n = (s.lengths.get(e.length) ?? 1) - 1;
    if (n === 0) s.lengths.delete(e.length);
    else s.lengths.set(e.length, n);
  }
}
