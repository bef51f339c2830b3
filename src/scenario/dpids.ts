import type { ScenarioFile } from './schema.ts';

/**
 * Datapath ids of a scenario's switches and hypervisors: the `dpid` field (hex) when given;
 * otherwise the lowest number from 1 up that no explicit dpid uses, in file order (switches
 * first). Every data plane uses this rule (the emulated one in emulation/datacentre.ts too), so
 * a switch has the same dpid simulated, emulated and in reports.
 */
export function parseDpid(hex: string): bigint {
  return BigInt(hex.startsWith('0x') || hex.startsWith('0X') ? hex : `0x${hex}`);
}

export function scenarioDpids(s: ScenarioFile): Map<string, bigint> {
  const nodes = [...s.switches, ...s.hypervisors];
  const used = new Set(nodes.filter((n) => n.dpid !== undefined).map((n) => parseDpid(n.dpid!)));
  const out = new Map<string, bigint>();
  let next = 1n;
  for (const n of nodes) {
    if (n.dpid !== undefined) {
      out.set(n.id, parseDpid(n.dpid));
      continue;
    }
    while (used.has(next)) next += 1n;
    out.set(n.id, next);
    used.add(next);
  }
  return out;
}
