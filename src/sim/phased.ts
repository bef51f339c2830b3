import { trafficMatrix, totalCost } from '../core/cost.ts';
import { runPolicy, type PolicyName } from '../core/policies.ts';
import type { DecisionMode } from '../core/decision.ts';
import type { Model } from '../scenario/model.ts';
import { linkLoads, layerUtilisation, type LayerUtilisation } from './fluid.ts';

/**
 * The fluid model on a scenario whose traffic changes in time (phases, trace): at the start of
 * every timeline segment the policy re-plans from the placement the previous segment left, on
 * that segment's traffic, as a continuous S-CORE with perfect measurements would. Pure.
 */
export interface PhaseResult {
  readonly startSec: number;
  readonly flows: number;
  /** C_A when the segment starts (old placement, new traffic) and after re-planning */
  readonly costAtStart: number;
  readonly costAfter: number;
  readonly migrations: number;
  readonly moves: readonly { readonly vm: string; readonly from: string; readonly to: string }[];
  /** per-layer utilisation after re-planning */
  readonly layers: readonly LayerUtilisation[];
}

export function simulatePhases(model: Model, o: { policy: PolicyName; migrationCost?: number; mode?: DecisionMode; maxRounds?: number }): PhaseResult[] {
  let placement: ReadonlyMap<string, string> = model.placement;
  return model.timeline.segments.map((seg) => {
    const traffic = trafficMatrix(seg.flows);
    const run = runPolicy({
      policy: o.policy,
      vms: model.vms,
      placement,
      traffic,
      oracle: model.oracle,
      capacity: model.capacity,
      rank: model.rank,
      migrationCost: o.migrationCost ?? model.migrationCost,
      mode: o.mode ?? model.scenario.simulation?.decisionMode ?? 'first',
      maxRounds: o.maxRounds ?? model.scenario.simulation?.maxRounds ?? 20,
    });
    const costAtStart = totalCost(placement, traffic, model.oracle);
    placement = run.finalPlacement;
    return {
      startSec: seg.startSec,
      flows: seg.flows.length,
      costAtStart,
      costAfter: run.finalCost,
      migrations: run.steps.length,
      moves: run.steps.map((s) => ({ vm: s.decision.vm, from: s.decision.from, to: s.decision.to })),
      layers: layerUtilisation(linkLoads(model, placement, seg.flows), model.layers.maxLayer),
    };
  });
}

/**
 * The fewest migrations that make every flow of `flows` local (cost 0) from `placement`, when
 * hypervisors have room: per connected group of talking VMs, its size minus the most of its
 * members already on one hypervisor. A lower bound in general; exact when capacity does not bind.
 */
export function minimumMigrationsToColocate(placement: ReadonlyMap<string, string>, flows: readonly { src: string; dst: string }[]): number {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  for (const f of flows) {
    if (!parent.has(f.src)) parent.set(f.src, f.src);
    if (!parent.has(f.dst)) parent.set(f.dst, f.dst);
    const a = find(f.src);
    const b = find(f.dst);
    if (a !== b) parent.set(a, b);
  }
  const groups = new Map<string, string[]>();
  for (const vm of parent.keys()) groups.set(find(vm), [...(groups.get(find(vm)) ?? []), vm]);
  let total = 0;
  for (const members of groups.values()) {
    const perHost = new Map<string, number>();
    for (const vm of members) perHost.set(placement.get(vm) ?? '?', (perHost.get(placement.get(vm) ?? '?') ?? 0) + 1);
    total += members.length - Math.max(...perHost.values());
  }
  return total;
}
