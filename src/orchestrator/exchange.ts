import { totalCost } from '../core/cost.ts';
import type { AgentDecide, AgentDecideResult, MigrationRecord } from '../api/contract.ts';
import { isScoreError } from '../errors/errors.ts';
import { agentReportOf } from '../agent/server.ts';
import type { Snapshot } from './orchestrator.ts';

/**
 * Carrying out an exchange an agent proposed (core/swap.ts: u on x for w on the full y) as single
 * live migrations, each confirmed by the tracker before the next, so a VM is always at exactly
 * one known place and no hypervisor goes over capacity beyond the declared overcommit:
 *  - overcommit 0: u steps aside to the first hypervisor (by name) with a free slot other than x
 *    and y, w goes to x, then u to y (3 migrations);
 *  - overcommit 1: u goes onto the full y (one VM over, declared), then w to x (2 migrations).
 * Each leg is asked of the VM's own agent with `target` (no decision of its own) and gets its own
 * audit record with a step and `exchange`, the pair record's id; the pair's record (the proposing decision, whose reason explains the
 * pair) ends 'succeeded' with u's final place when every leg is done. If a leg fails the
 * exchange stops there: every VM is where the network sees it, and the pair's record is 'failed'
 * and says after how many legs.
 */
export interface ExchangeDeps {
  decide(hypervisor: string, body: AgentDecide): Promise<AgentDecideResult>;
  hypervisorOf(vm: string): string | undefined;
  /** a leg failed: the controller must not keep its VM at `to` (the orchestrator's restore); what was done, for the record, or null */
  undoSwitchover(vm: string, from: string, to: string): string | null;
  /**
   * a new audit record for one leg, with its target (and the planner's decision, if any) already
   * in it; `stored` settles once the started record is stored, rejecting when storing failed (a
   * leader that lost its lease): the leg must then not be asked of the agent
   */
  open(vm: string, from: string, to: string, decision: MigrationRecord['decision'], snap: Snapshot, placement: Map<string, string>, exchange?: string): { record: MigrationRecord; stored: Promise<void> };
  finish(r: MigrationRecord): void;
  started(r: MigrationRecord, to: string): void;
  /** true once the tracker sees vm on `to` */
  waitFor(vm: string, to: string): Promise<boolean>;
  /** lets the statistics settle after a migration */
  settle(migrations: number): Promise<void>;
  readonly migrationCost?: number;
}

/** Returns the migrations made (legs done). */
export async function carryExchange(d: ExchangeDeps, pair: MigrationRecord, snap: Snapshot, placement: Map<string, string>, overcommit: number, migrationsSoFar: number): Promise<number> {
  const decision = pair.decision;
  const swap = decision?.swap;
  if (decision === null || swap === undefined || decision.to === null) throw new Error('carryExchange needs an exchange decision');
  const u = pair.vm;
  const x = decision.from;
  const y = decision.to;
  const w = swap.vm;
  let legs: [string, string, string][];
  if (overcommit >= 1) {
    legs = [[u, x, y], [w, y, x]];
  } else {
    const load = new Map<string, number>();
    for (const h of placement.values()) load.set(h, (load.get(h) ?? 0) + 1);
    const z = [...(snap.capacity ?? new Map<string, number>())]
      .filter(([h, cap]) => h !== x && h !== y && (load.get(h) ?? 0) < cap)
      .map(([h]) => h)
      .sort()[0];
    if (z === undefined) {
      pair.status = 'declined';
      pair.to = null;
      pair.error = { code: 'SWAP_NO_ROOM', message: `no hypervisor other than ${x} and ${y} has a free slot for ${u} to wait on, and no temporary overcommit is allowed: the exchange with ${w} is not carried out` };
      return 0;
    }
    legs = [[u, x, z], [w, y, x], [u, z, y]];
  }
  // the pair's reason says how it is carried out, as the look-ahead planner's does
  const order = legs.map(([vm, from, to]) => `${vm} ${from} -> ${to}`).join(', ');
  const how = overcommit >= 1 ? `by a temporary overcommit of ${y} (one VM over) in 2 migrations` : `through the free slot on ${legs[0]![2]} in 3 migrations`;
  pair.decision = { ...decision, reason: `${decision.reason}; carried out ${how}: ${order}` };
  let done = 0;
  const stop = (why: string): number => {
    pair.status = 'failed';
    pair.error = { code: 'MIGRATION_FAILED', message: `the exchange of ${u} and ${w} stopped after ${done} of ${legs.length} migrations (${why}); every VM is where the network sees it` };
    pair.to = d.hypervisorOf(u) ?? placement.get(u) ?? null;
    pair.totalCostAfter = totalCost(placement, snap.traffic, snap.oracle);
    return done;
  };
  for (const [vm, from, to] of legs) {
    const { record: leg, stored } = d.open(vm, from, to, null, snap, placement, pair.id);
    let result: AgentDecideResult | undefined;
    try {
      // a leg nobody could find after this controller died is one never asked for
      await stored;
      result = await d.decide(from, { vm, migrate: true, migrationId: leg.id, target: to, exchange: pair.id, ...(d.migrationCost !== undefined ? { migrationCost: d.migrationCost } : {}) });
    } catch (e) {
      const lost = legOutcomeOf(e, to);
      const message = isScoreError(e) ? e.message : String(e);
      if (lost === 'running') {
        d.started(leg, to);
        leg.status = 'timeout';
        leg.error = { code: 'MIGRATION_TIMEOUT', message: `${vm} was still moving to ${to} when the call gave up (${message}); it is where the network sees it` };
        d.finish(leg);
        return stop(leg.error.message);
      }
      if (lost === 'failed') {
        leg.status = 'failed';
        leg.error = isScoreError(e) ? { code: e.code, message } : { code: 'AGENT_UNREACHABLE', message };
        d.finish(leg);
        return stop(`${vm}: ${leg.error.message}`);
      }
      // moved, its answer lost: confirmed through the network below like any leg
    }
    if (result !== undefined) {
      leg.decision = result.decision;
      leg.connectivity = result.connectivity ?? null;
      if (result.warnings !== undefined && result.warnings.length > 0) leg.warnings = [...result.warnings];
    }
    if (result !== undefined && (result.error !== null || !result.migrated)) {
      leg.status = 'failed';
      leg.error = result.error ?? { code: 'MIGRATION_FAILED', message: `${vm} was not migrated` };
      leg.error = { ...leg.error, message: leg.error.message + (d.undoSwitchover(vm, from, to) ?? '') };
      d.finish(leg);
      return stop(`${vm}: ${leg.error.message}`);
    }
    d.started(leg, to);
    if (!(await d.waitFor(vm, to))) {
      leg.status = 'timeout';
      leg.error = { code: 'MIGRATION_TIMEOUT', message: `${vm} was not seen on ${to} in time; it is where the network sees it (${d.hypervisorOf(vm) ?? 'unknown'})` };
      d.finish(leg);
      return stop(leg.error.message);
    }
    placement.set(vm, to);
    done += 1;
    leg.status = 'succeeded';
    leg.step = migrationsSoFar + done;
    leg.totalCostAfter = totalCost(placement, snap.traffic, snap.oracle);
    d.finish(leg);
    await d.settle(migrationsSoFar + done);
  }
  pair.status = 'succeeded';
  pair.to = y;
  pair.totalCostAfter = totalCost(placement, snap.traffic, snap.oracle);
  return done;
}

/**
 * A leg's call failed: what the agent last said of it (agentReportOf) decides. `moved`: it
 * reported the move done and only its answer was lost (confirmed through the network like any
 * leg); `running`: still moving to `to` when the call gave up (a watched timeout); else `failed`.
 */
export function legOutcomeOf(e: unknown, to: string): 'moved' | 'running' | 'failed' {
  const r = agentReportOf(e);
  if (r === undefined || r.to !== to) return 'failed';
  return r.agentState === 'succeeded' ? 'moved' : r.agentState === 'running' ? 'running' : 'failed';
}
