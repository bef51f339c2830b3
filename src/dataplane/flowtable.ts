import type { FlowMatch, FlowRule } from '../controller/commands.ts';

/**
 * An in-memory OpenFlow-style flow table: highest priority match wins, ADD with the same match
 * and priority replaces (counters and duration restart), DELETE by cookie under a mask, idle
 * timeouts on the caller's clock, per-rule packet/byte counters. Used by the tests' fake switches
 * and by the simulated data plane.
 */
export interface TableEntry {
  readonly rule: FlowRule;
  packets: bigint;
  bytes: bigint;
  /** ms, caller's clock */
  readonly installedAt: number;
  lastHit: number;
}

export interface FlowTable {
  entries: TableEntry[];
}

export interface PacketFields {
  readonly inPort: number;
  readonly ethSrc: string;
  readonly ethDst: string;
  readonly ethType: number;
}

export function createTable(): FlowTable {
  return { entries: [] };
}

function sameMatch(a: FlowMatch, b: FlowMatch): boolean {
  return a.inPort === b.inPort && a.ethSrc === b.ethSrc && a.ethDst === b.ethDst && a.ethType === b.ethType;
}

export function addRule(t: FlowTable, rule: FlowRule, now: number): void {
  t.entries = t.entries.filter((e) => !(e.rule.priority === rule.priority && sameMatch(e.rule.match, rule.match)));
  t.entries.push({ rule, packets: 0n, bytes: 0n, installedAt: now, lastHit: now });
  // Stable order: priority first, then insertion, as a switch would resolve overlaps it accepts.
  t.entries.sort((x, y) => y.rule.priority - x.rule.priority);
}

export function deleteByCookie(t: FlowTable, cookie: bigint, mask: bigint): TableEntry[] {
  const gone = t.entries.filter((e) => (e.rule.cookie & mask) === (cookie & mask));
  t.entries = t.entries.filter((e) => (e.rule.cookie & mask) !== (cookie & mask));
  return gone;
}

export function matches(m: FlowMatch, p: PacketFields): boolean {
  return (
    (m.inPort === undefined || m.inPort === p.inPort) &&
    (m.ethSrc === undefined || m.ethSrc === p.ethSrc) &&
    (m.ethDst === undefined || m.ethDst === p.ethDst) &&
    (m.ethType === undefined || m.ethType === p.ethType)
  );
}

/** The entry that handles a packet (counters updated), or undefined on a miss. */
export function lookup(t: FlowTable, p: PacketFields, bytes: number, now: number): TableEntry | undefined {
  const e = t.entries.find((x) => matches(x.rule.match, p));
  if (e !== undefined) {
    e.packets += 1n;
    e.bytes += BigInt(bytes);
    e.lastHit = now;
  }
  return e;
}

/** Removes rules idle for longer than their idle timeout; returns them (for FLOW_REMOVED). */
export function expireIdle(t: FlowTable, now: number): TableEntry[] {
  const gone = t.entries.filter((e) => e.rule.idleTimeout > 0 && now - e.lastHit >= e.rule.idleTimeout * 1000);
  if (gone.length > 0) t.entries = t.entries.filter((e) => !gone.includes(e));
  return gone;
}
