import { vmCost } from '../core/cost.ts';
import type { Snapshot } from './orchestrator.ts';
import { nextLookaheadAction } from './lookahead.ts';

/**
 * Why a one-shot round moved nothing and asked no agent anything that left a record (issue 14:
 * "explained in the audit log like every decision"): the orchestrator writes it as one `held`
 * record with vm "*" per such round, as continuous mode's HOLD_OFF / PRICED_OUT records.
 *
 * Each VM's candidates are its peers' hypervisors (Algorithm 1's); a move pays when C_A(u) drops
 * by more than c_m. Codes:
 *  - NOTHING_PAYS: no single move pays anywhere, room or not (the look-ahead found no action either);
 *  - NO_ROOM: moves would pay, but every hypervisor they would go to is full; the message says
 *    whether exchanges are looked at and, with the look-ahead and no overcommit, whether a
 *    temporary overcommit (overcommit: 1) would allow one.
 * Returns the code and a one-line message (costs in the audit log's units, rate × path cost).
 */
export function quietRoundReason(snap: Snapshot, placement: ReadonlyMap<string, string>, o: { readonly migrationCost?: number; readonly lookahead?: boolean; readonly swaps?: boolean; readonly overcommit?: number; readonly plan?: boolean }): { code: 'NOTHING_PAYS' | 'NO_ROOM'; message: string } {
  const cm = o.migrationCost ?? 0;
  const load = new Map<string, number>();
  for (const h of placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
  const hasRoom = (h: string): boolean => {
    const cap = snap.capacity?.get(h);
    return cap === undefined || (load.get(h) ?? 0) < cap;
  };
  let paying = 0;
  let best: { vm: string; to: string; saving: number } | null = null;
  let bestAnywhere: { vm: string; to: string; saving: number } | null = null;
  const full = new Set<string>();
  for (const vm of snap.vms) {
    const from = placement.get(vm);
    if (from === undefined) continue;
    const before = vmCost(vm, placement, snap.traffic, snap.oracle);
    let pays = false;
    for (const peer of snap.traffic.peers.get(vm)?.keys() ?? []) {
      const to = placement.get(peer);
      if (to === undefined || to === from) continue;
      const saving = before - vmCost(vm, placement, snap.traffic, snap.oracle, to);
      if (bestAnywhere === null || saving > bestAnywhere.saving) bestAnywhere = { vm, to, saving };
      if (saving <= cm) continue;
      if (hasRoom(to)) continue;
      pays = true;
      full.add(to);
      if (best === null || saving > best.saving) best = { vm, to, saving };
    }
    if (pays) paying += 1;
  }
  const asked = `${snap.vms.length} VM(s) looked at${o.lookahead === true ? ' with the look-ahead (moves, exchanges, ejections, pair moves)' : ''}`;
  if (best === null) {
    const largest = bestAnywhere === null || bestAnywhere.saving <= 0 ? 'no VM saves anything by moving to a peer\'s hypervisor' : `the largest saving of a move is ${bestAnywhere.vm} -> ${bestAnywhere.to}: ${bestAnywhere.saving.toFixed(1)}, not more than c_m ${cm}`;
    return { code: 'NOTHING_PAYS', message: `nothing moved: ${asked}; no move pays (${largest})` };
  }
  let next: string;
  if (o.lookahead === true) {
    const oc = o.overcommit ?? 0;
    const withOvercommit = oc === 0 ? nextLookaheadAction(snap, placement, { migrationCost: cm, overcommit: 1 }) : [];
    next =
      withOvercommit.length > 0
        ? `no exchange has a free slot to pass through; a temporary overcommit (overcommit: 1) would allow exchanges (first: ${withOvercommit[0]!.decision.reason})`
        : `no exchange, ejection or pair move pays either${oc === 0 ? ', even with a temporary overcommit' : ''}`;
  } else if (o.swaps === true) {
    next = 'no agent proposed an exchange that pays';
  } else if (o.plan === true) {
    next = 'a dry run (plan) lists single moves only: exchanges are not planned';
  } else {
    next = 'exchanges are not looked at (swaps: true with la or rr, or lookahead: true with gain, would)';
  }
  return {
    code: 'NO_ROOM',
    message: `nothing moved: ${asked}; ${paying} VM(s) would save more than c_m ${cm} by moving (largest: ${best.vm} -> ${best.to} saves ${best.saving.toFixed(1)}), but every candidate hypervisor is full (${[...full].sort().join(', ')}); ${next}`,
  };
}
