import { totalCost } from '../core/cost.ts';
import { runGainOrder } from '../core/gain-order.ts';
import type { Step } from '../core/policies.ts';
import type { MigrationRecord } from '../api/contract.ts';
import { isScoreError } from '../errors/errors.ts';
import { legOutcomeOf, type ExchangeDeps } from './exchange.ts';
import type { Snapshot } from './orchestrator.ts';

/**
 * The look-ahead live (issue 14, item 2): the orchestrator plans centrally with the core's
 * gain-ordered planner (core/gain-order.ts with look-ahead: single moves, exchanges, ejections
 * and pair moves, largest gain first) on the measured snapshot, takes its best action, and
 * carries it out as single migrations, each asked of the VM's own agent as a `target` leg and
 * confirmed by the tracker before the next, so a VM is always at exactly one known place and no
 * hypervisor goes over capacity beyond the declared overcommit. The agents do not decide: an
 * ejection's first move does not pay alone, which Algorithm 1 in an agent would refuse. Each
 * migration's audit record carries the planner's decision, whose reason names the action and the
 * pair's saving against the c_m of all its migrations.
 */

/** The best action on `placement`, as its migrations in order; empty when none passes Eq. 3. */
export function nextLookaheadAction(snap: Snapshot, placement: ReadonlyMap<string, string>, o: { readonly migrationCost?: number; readonly overcommit?: number }): readonly Step[] {
  if (snap.capacity === undefined) throw new RangeError('the look-ahead needs the hypervisors\' capacity');
  const run = runGainOrder(
    { vms: snap.vms, placement, traffic: snap.traffic, oracle: snap.oracle, capacity: snap.capacity, rank: snap.rank, migrationCost: o.migrationCost ?? 0, maxRounds: 1 },
    { lookahead: true, overcommit: o.overcommit ?? 0, maxActions: 1 },
    'lookahead',
  );
  return run.steps;
}

/**
 * Carries out one planned action's migrations in order. Returns the migrations done; `failed`
 * when one did not happen (the rest are not attempted: every VM stays where the network sees it).
 */
export async function carryAction(d: ExchangeDeps, steps: readonly Step[], snap: Snapshot, placement: Map<string, string>, migrationsSoFar: number): Promise<{ done: number; failed: boolean; records: MigrationRecord[] }> {
  let done = 0;
  const records: MigrationRecord[] = [];
  for (const st of steps) {
    const { vm, from, to } = st.decision;
    const { record: leg, stored } = d.open(vm, from, to, { ...st.decision, candidates: [...st.decision.candidates] }, snap, placement);
    records.push(leg);
    const fail = (code: string, message: string, status: 'failed' | 'timeout' = 'failed'): { done: number; failed: boolean; records: MigrationRecord[] } => {
      leg.status = status;
      leg.error = { code, message };
      d.finish(leg);
      return { done, failed: true, records };
    };
    try {
      // a leg nobody could find after this controller died is one never asked for
      await stored;
      const result = await d.decide(from, { vm, migrate: true, migrationId: leg.id, target: to, ...(d.migrationCost !== undefined ? { migrationCost: d.migrationCost } : {}) });
      leg.connectivity = result.connectivity ?? null;
      if (result.figures !== undefined) leg.figures = result.figures;
      if (result.warnings !== undefined && result.warnings.length > 0) leg.warnings = [...result.warnings];
      if (result.error !== null || !result.migrated) return fail(result.error?.code ?? 'MIGRATION_FAILED', (result.error?.message ?? `${vm} was not migrated`) + (d.undoSwitchover(vm, from, to) ?? ''));
    } catch (e) {
      const lost = legOutcomeOf(e, to);
      const message = isScoreError(e) ? e.message : String(e);
      if (lost === 'running') {
        d.started(leg, to);
        return fail('MIGRATION_TIMEOUT', `${vm} was still moving to ${to} when the call gave up (${message}); it is where the network sees it`, 'timeout');
      }
      // moved with its answer lost: confirmed through the network below like any step
      if (lost === 'failed') return fail(isScoreError(e) ? e.code : 'AGENT_UNREACHABLE', message);
    }
    d.started(leg, to);
    if (!(await d.waitFor(vm, to))) return fail('MIGRATION_TIMEOUT', `${vm} was not seen on ${to} in time; it is where the network sees it (${d.hypervisorOf(vm) ?? 'unknown'})`, 'timeout');
    placement.set(vm, to);
    done += 1;
    leg.status = 'succeeded';
    leg.step = migrationsSoFar + done;
    leg.totalCostAfter = totalCost(placement, snap.traffic, snap.oracle);
    d.finish(leg);
    await d.settle(migrationsSoFar + done);
  }
  return { done, failed: false, records };
}
