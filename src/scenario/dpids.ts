import type { ScenarioFile } from './schema.ts';

/**
 * Datapath ids of a scenario's switches and hypervisors: the `dpid` field (hex) when given,
 * otherwise 1, 2, 3... in file order (switches first). Every data plane uses this one mapping,
 * so a switch has the same dpid simulated, emulated and in reports.
 */
export function scenarioDpids(s: ScenarioFile): Map<string, bigint> {
  const out = new Map<string, bigint>();
  [...s.switches, ...s.hypervisors].forEach((n, i) => {
    out.set(n.id, n.dpid !== undefined ? BigInt(n.dpid.startsWith('0x') ? n.dpid : `0x${n.dpid}`) : BigInt(i + 1));
  });
  return out;
}
