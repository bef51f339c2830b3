import type { PathOracle } from '../core/paths.ts';
import type { Placement, TrafficMatrix } from '../core/cost.ts';
import { totalCost } from '../core/cost.ts';
import type { PolicyName } from '../core/policies.ts';
import { startRound } from '../core/policies.ts';
import type { DecisionMode } from '../core/decision.ts';
import type { AgentDecide, AgentDecideResult, MigrationRecord, NorthEvent, Orchestration, PlanReview, PlanVerdict } from '../api/contract.ts';
import { ScoreError, isScoreError } from '../errors/errors.ts';
import type { Clock } from '../runtime/clock.ts';
import type { RailCheck, RailCode, RailConfig, RailState } from '../core/rails.ts';
import { beginRound, createRailState, railsActive, recordMigration, targetRailsAllow, vmRailsAllow } from '../core/rails.ts';
import type { ContinuousConfig, ContinuousState, NetworkSignals } from './continuous.ts';
import { barredTargets, createContinuousState, declineCode, declineStands, emptyPeriodSummary, endPeriod, holdOffReason, idleReason, largestSaving, noteChoice, noteDecline, noteMigration, pickTarget, pricingFn, vmHeld } from './continuous.ts';
import { carryExchange, type ExchangeDeps } from './exchange.ts';
import { carryAction, nextLookaheadAction } from './lookahead.ts';
import { COUNTED_KEEP, pruneCounted } from './counted.ts';
import { quietRoundReason } from './quiet-round.ts';
import { agentReportOf } from '../agent/server.ts';

/**
 * Migration orchestration (section III.B.8): Round-Robin, Load-Aware and gain-ordered, driven by the core's
 * round generators, asking each VM's hypervisor agent to run Algorithm 1 and migrate. One
 * migration at a time. Every decision is written to the audit log with the inputs it used (rates,
 * weights, the policy's key) and the candidates it rejected. In plan mode each agent decides
 * against the unchanged network and nothing migrates: the driver is never called.
 */
export interface Snapshot {
  /** VMs in tie-break order (MAC ascending) */
  readonly vms: readonly string[];
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  readonly rank: ReadonlyMap<string, number>;
  readonly rates: readonly { src: string; dst: string; bytesPerSecond: number }[];
  readonly weights: Readonly<Record<string, number>>;
  /** VMs each hypervisor may host (the gain-ordered policy needs it) */
  readonly capacity?: ReadonlyMap<string, number>;
}

export interface OrchestratorDeps {
  readonly clock: Clock;
  snapshot(): Snapshot;
  /** where the VM tracker says the VM is now */
  hypervisorOf(vm: string): string | undefined;
  /** asks the VM's hypervisor agent; throws ScoreError NO_AGENT / AGENT_UNREACHABLE */
  decide(hypervisor: string, body: AgentDecide): Promise<AgentDecideResult>;
  emit(e: NorthEvent): void;
  /** virtual or real ms to let statistics settle after a migration (default 3 s) */
  readonly settleMs?: number;
  /** how long to wait for the tracker to see a migrated VM at its target (default 5 s) */
  readonly confirmMs?: number;
  /** called with the migration count when the network has settled: at the start, and after each migration */
  readonly onSettled?: (migrations: number) => void;
  /**
   * every record when it starts and when it ends (the audit log's persistence). A promise makes
   * the orchestrator wait for a started record to be stored before it asks the agent, and not
   * ask at all when storing fails (a cluster leader that lost its lease: no unrecorded migration).
   */
  readonly onRecord?: (r: MigrationRecord) => void | Promise<void>;
  /**
   * puts a VM back at `from` in the controller's view (as the agent's own report back would):
   * asked when a migration failed while the controller still has the VM at its target, i.e. the
   * agent's report back to the source after a failed switch-over was lost. A failed migration's
   * VM runs at its source (the drivers resume it there).
   */
  readonly restore?: (vm: string, from: string) => void;
  /** records of earlier runs (e.g. loaded from the audit file after a restart) */
  readonly history?: readonly MigrationRecord[];
  /** what the network is doing now, for continuous mode's hold-off (default: never changing) */
  readonly network?: () => NetworkSignals;
  /**
   * prefix of new record ids (default none: `m1`, `m2`, ...). A cluster leader gives
   * `g<generation>-` so ids stay unique across leaders (agents remember outcomes by id).
   */
  readonly idPrefix?: () => string;
}

/**
 * Where a run stands, as plain JSON: what a new cluster leader needs to continue it
 * (src/cluster/orchestration.ts). Rails and continuous state are the run's memory (cooldowns,
 * no-return, stable choices); the rest is re-read from the network.
 */
export interface RunProgress {
  /** the options the run was started with (without `resume`) */
  readonly options: Omit<StartOptions, 'resume'>;
  /** the round (one-shot) or period (continuous) in progress */
  readonly round: number;
  readonly migrations: number;
  readonly rails: RailSnapshot | null;
  readonly continuous: ContinuousState | null;
  /**
   * ids of the migration records `migrations`, rails and continuous state count (succeeded
   * migrations of this run, legs included): a new leader counts a succeeded record of the run
   * that is not in it, and none twice (absent in progress written by older versions)
   */
  readonly counted?: readonly string[];
  /**
   * every countable record of the run opened at or before this id is counted (older ids are no
   * longer listed in `counted`; orchestrator/counted.ts says why one id can stand for them)
   */
  readonly countedThrough?: string;
  /** when the run started (the clock's ms; records of the run start at or after it) */
  readonly since?: number;
  /**
   * the id the run's first record got or would have got: records at or after it in id order
   * (orchestrator/counted.ts) are the run's, whatever the clocks of the members that opened them
   */
  readonly sinceId?: string;
}

/** RailState as JSON (its maps as entry lists). */
export interface RailSnapshot {
  readonly round: number;
  readonly movesThisRound: number;
  readonly perHypervisor: [string, number][];
  readonly lastMoved: [string, number][];
  readonly left: [string, { host: string; round: number }[]][];
  readonly choice: [string, { to: string; count: number; round: number }][];
}

export function railSnapshot(r: RailState): RailSnapshot {
  return { round: r.round, movesThisRound: r.movesThisRound, perHypervisor: [...r.perHypervisor], lastMoved: [...r.lastMoved], left: [...r.left], choice: [...r.choice] };
}

export function restoreRails(config: RailConfig | undefined, s: RailSnapshot): RailState {
  const r = createRailState(config);
  r.round = s.round;
  r.movesThisRound = s.movesThisRound;
  for (const [k, v] of s.perHypervisor) r.perHypervisor.set(k, v);
  for (const [k, v] of s.lastMoved) r.lastMoved.set(k, v);
  for (const [k, v] of s.left) r.left.set(k, v);
  for (const [k, v] of s.choice) r.choice.set(k, v);
  return r;
}

export interface StartOptions {
  readonly policy: PolicyName;
  readonly mode?: DecisionMode;
  readonly plan?: boolean;
  readonly maxRounds?: number;
  readonly migrationCost?: number;
  /** safety rails (src/core/rails.ts); the N-rounds-stable rule is for planners only */
  readonly rails?: RailConfig;
  /** re-plan every period until stopped (continuous.ts); `rails`, `maxRounds`, `plan` do not apply */
  readonly continuous?: ContinuousConfig;
  /** agents may propose exchanges with a VM on a full hypervisor (exchange.ts carries them out) */
  readonly swaps?: boolean;
  /** temporary extra VMs per hypervisor while an exchange is carried out: 0 (through a free slot elsewhere) or 1 */
  readonly overcommit?: number;
  /** continue a run another controller recorded (cluster takeover): its round, count and rails/continuous state */
  readonly resume?: Pick<RunProgress, 'round' | 'migrations' | 'rails' | 'continuous' | 'counted' | 'countedThrough' | 'since' | 'sinceId'>;
  /**
   * the look-ahead (lookahead.ts): the core's gain-ordered planner with exchanges, ejections and
   * pair moves decides centrally, one action at a time, carried out as `target` legs; gain-order only
   */
  readonly lookahead?: boolean;
}

export interface Orchestrator {
  status(): Orchestration;
  readonly records: MigrationRecord[];
  start(o: StartOptions): Orchestration;
  stop(): Promise<Orchestration>;
  /** resolves when the current run ends */
  finished(): Promise<void>;
  /** approve (carry out now) or skip a pending plan action; answers the planned record */
  review(id: string, verdict: PlanVerdict): MigrationRecord;
  /** continuous mode's state (plain data), null unless continuous mode ran */
  continuousState(): ContinuousState | null;
  /** the current or last run's progress (plain data), null before the first run */
  progress(): RunProgress | null;
}

/** a timed-out migration is watched for its late arrival this many confirmation waits (`confirmMs`) after it timed out (continuous mode: at least two periods) */
export const LATE_WATCH_CONFIRMS = 6;

export function createOrchestrator(deps: OrchestratorDeps): Orchestrator {
  const records: MigrationRecord[] = [...(deps.history ?? [])];
  let state: Orchestration = { state: 'idle', policy: null, plan: false, round: 0, migrations: 0, converged: false, lastError: null };
  let running: Promise<void> = Promise.resolve();
  let stopRequested = false;
  /** aborted by stop(): a settle wait or a period's wait ends at once instead of running out */
  let stopping = new AbortController();
  /** the clock's sleep, cut short by stop(); true when it ran its full time */
  const pause = async (ms: number): Promise<boolean> => {
    await deps.clock.sleep(ms, stopping.signal);
    return !stopping.signal.aborted;
  };
  let continuous: ContinuousState | null = null;
  let options: Omit<StartOptions, 'resume'> | null = null;
  let currentRails: RailState | null = null;
  /** RunProgress.counted, .countedThrough, .since and .sinceId of the current run */
  let counted: string[] = [];
  let countedThrough: string | undefined;
  let since = 0;
  let sinceId = '';
  /** this run's timed-out migrations (the agent said it moved the VM) whose arrival the network may still see */
  const lateWatch: MigrationRecord[] = [];
  /** how long a timed-out migration is watched for its late arrival (ms after it timed out) */
  const lateWatchMs = (): number => Math.max(LATE_WATCH_CONFIRMS * (deps.confirmMs ?? 5000), 2 * (options?.continuous?.everyMs ?? 0));
  const watching = (r: MigrationRecord): boolean => deps.clock.now() - (r.finishedAt ?? r.startedAt) <= lateWatchMs();
  /** counts succeeded migrations of this run (in the order they finished), keeping the list short */
  const countSucceeded = (ids: readonly string[]): void => {
    ({ ids: counted, through: countedThrough } = pruneCounted([...counted, ...ids], countedThrough, COUNTED_KEEP, lateWatch.map((r) => r.id)));
  };
  /**
   * A migration the network saw arrive only after the wait (MIGRATION_TIMEOUT) is a migration
   * all the same: its record becomes `succeeded` (with `confirmedLateAt`) and `onMoved` counts it
   * (migration count, rails, continuous state), so its no-return and cooldown hold and the VM is
   * not moved straight back. Checked at the start of each round or period and at the end of a
   * run, for LATE_WATCH_CONFIRMS × confirmMs after the timeout (at least two periods). Where the network still places
   * the VM at its source proves nothing (a quiet VM is not re-learned), so only that time, or the
   * VM seen at a third hypervisor, ends the watch; the record then stays `timeout`.
   */
  function confirmLate(migrationsSoFar: number, onMoved: (r: MigrationRecord, to: string) => void): number {
    let confirmed = 0;
    for (const r of [...lateWatch]) {
      const at = deps.hypervisorOf(r.vm);
      const arrived = r.to !== null && at === r.to;
      if (!arrived && (at === undefined || at === r.from) && watching(r)) continue;
      lateWatch.splice(lateWatch.indexOf(r), 1);
      if (!arrived || r.to === null) continue;
      const snap = deps.snapshot();
      confirmed += 1;
      r.status = 'succeeded';
      r.confirmedLateAt = deps.clock.now();
      r.step = migrationsSoFar + confirmed;
      r.totalCostAfter = totalCost(snap.placement, snap.traffic, snap.oracle);
      r.error = null;
      void persist(r);
      countSucceeded([r.id]);
      onMoved(r, r.to);
    }
    return confirmed;
  }
  /** succeeded legs not yet in `counted` */
  const legsDone: string[] = [];
  // ids stay unique across restarts: continue after the highest one in the history
  let seq = records.reduce((m, r) => Math.max(m, Number(/^m(\d+)$/.exec(r.id)?.[1] ?? 0)), 0);

  /** hands a record to onRecord; the promise (never an unhandled rejection) says whether it was stored */
  const persist = (r: MigrationRecord): Promise<void> => {
    const p = Promise.resolve(deps.onRecord?.(r));
    p.catch(() => undefined);
    return p;
  };

  /** after a failed migration from `from` to `to`: the controller must not keep the VM at `to`; says what it did, or null */
  const undoSwitchover = (vm: string, from: string, to: string | null): string | null => {
    if (to === null || to === from || deps.restore === undefined || deps.hypervisorOf(vm) !== to) return null;
    deps.restore(vm, from);
    return `; the controller still had ${vm} at ${to} (the agent's report back was lost): put back at ${from}`;
  };

  /** a run that ended on an error: its message, and a code a client can act on (a bug is INTERNAL) */
  const failedWith = (e: unknown): Partial<Orchestration> => ({ lastError: e instanceof Error ? e.message : String(e), lastErrorCode: isScoreError(e) ? e.code : 'INTERNAL' });

  const set = (patch: Partial<Orchestration>): void => {
    state = { ...state, ...patch };
    deps.emit({ type: 'orchestration', at: deps.clock.now(), data: { ...state } });
  };

  interface Ask {
    readonly vm: string;
    readonly policyKey: number;
    readonly policy: PolicyName;
    readonly round: number;
    readonly plan: boolean;
    readonly mode?: DecisionMode;
    readonly migrationCost?: number;
    /** targets the rails forbid for this VM now */
    readonly blocked?: readonly { hypervisor: string; rail: RailCode; reason: string }[];
    /** the one target the agent may choose (AgentDecide.only) */
    readonly only?: { hypervisor: string; rail: RailCode; reason: string };
    readonly swaps?: boolean;
  }

  /** the store write of the record openRecord opened last */
  let opened: Promise<void> = Promise.resolve();

  /** A new audit record for asking (or holding) one VM, pushed and reported. */
  function openRecord(a: Ask, snap: Snapshot, placement: Map<string, string>, from: string, status: MigrationRecord['status'], leg?: { to: string; decision: MigrationRecord['decision']; exchange?: string }): MigrationRecord {
    const record: MigrationRecord = {
      id: `${deps.idPrefix?.() ?? ''}m${++seq}`,
      vm: a.vm,
      from,
      to: leg?.to ?? null,
      policy: a.policy,
      round: a.round,
      step: null,
      status,
      startedAt: deps.clock.now(),
      finishedAt: null,
      totalCostBefore: totalCost(placement, snap.traffic, snap.oracle),
      totalCostAfter: null,
      decision: leg?.decision ?? null,
      inputs: { rates: [...snap.rates], weights: snap.weights, policyKey: a.policyKey },
      error: null,
      connectivity: null,
      ...(a.plan ? { review: null } : {}),
      ...(leg?.exchange !== undefined ? { exchange: leg.exchange } : {}),
    };
    records.push(record);
    opened = persist(record);
    return record;
  }

  /**
   * Asks one VM's agent and, unless planning, waits until the tracker sees the VM at its target.
   * Returns where the VM moved (null: it did not), after the record is final.
   */
  async function askOne(a: Ask, snap: Snapshot, placement: Map<string, string>, migrationsSoFar: number): Promise<{ record: MigrationRecord; movedTo: string | null }> {
    const from = deps.hypervisorOf(a.vm) ?? placement.get(a.vm) ?? '?';
    const record = openRecord(a, snap, placement, from, a.plan ? 'planned' : 'started');
    let movedTo: string | null = null;
    try {
      // a migration nobody could find after this controller died is one never asked for
      if (!a.plan) await opened;
      const result = await deps.decide(from, { vm: a.vm, migrate: !a.plan, migrationId: record.id, ...(a.mode ? { mode: a.mode } : {}), ...(a.migrationCost !== undefined ? { migrationCost: a.migrationCost } : {}), ...(a.blocked && a.blocked.length > 0 ? { blocked: [...a.blocked] } : {}), ...(a.only ? { only: a.only } : {}), ...(a.swaps === true ? { swaps: true } : {}) });
      record.decision = result.decision;
      record.to = result.decision.to;
      record.connectivity = result.connectivity ?? null;
      if (result.figures !== undefined) record.figures = result.figures;
      if (result.warnings !== undefined && result.warnings.length > 0) record.warnings = [...result.warnings];
      if (a.plan) {
        record.status = 'planned';
      } else if (result.error === null && result.decision.swap !== undefined && result.decision.to !== null) {
        // an exchange: carried out by the caller, leg by leg
        record.status = 'started';
      } else if (result.error !== null) {
        record.status = 'failed';
        record.error = { ...result.error, message: result.error.message + (undoSwitchover(a.vm, from, result.decision.to) ?? '') };
      } else if (!result.migrated || result.decision.to === null) {
        record.status = 'declined';
      } else {
        const to = result.decision.to;
        deps.emit({ type: 'migration-started', at: record.startedAt, data: { id: record.id, vm: a.vm, from, to } });
        movedTo = await confirmMove(to);
      }
    } catch (e) {
      record.status = 'failed';
      record.error = isScoreError(e) ? { code: e.code, message: e.message } : { code: 'AGENT_UNREACHABLE', message: String(e) };
      // the call failed but the agent had said how the migration stood: a VM it moved (its
      // answer lost), or one still moving past the call's bound, is waited for like any other
      // move, not recorded "failed, stayed" (it may be, or become, at its target)
      const report = a.plan ? undefined : agentReportOf(e);
      if (report !== undefined && report.to !== null && report.to !== from && (report.agentState === 'succeeded' || report.agentState === 'running')) {
        const to = report.to;
        record.to = to;
        deps.emit({ type: 'migration-started', at: record.startedAt, data: { id: record.id, vm: a.vm, from, to } });
        if (report.agentState === 'succeeded') {
          const lost = isScoreError(e) ? e.message : String(e);
          record.error = null;
          movedTo = await confirmMove(to, `; the agent's answer was lost (${lost})`);
        } else {
          record.status = 'timeout';
          lateWatch.push(record);
        }
      }
    }
    record.finishedAt = deps.clock.now();
    void persist(record);
    if (!a.plan) deps.emit({ type: 'migration-finished', at: record.finishedAt, data: { id: record.id, vm: record.vm, from: record.from, to: record.to, status: record.status, step: record.step } });
    return { record, movedTo };

    /**
     * The agent moved the VM to `to`: its report is authoritative, but the orchestrator moves on
     * only once the tracker agrees (a VM is always at exactly one known place). Returns `to`, or
     * null when the network has not seen it there in time (then a timeout it keeps watching).
     */
    async function confirmMove(to: string, why = ''): Promise<string | null> {
      const confirmed = await waitFor(() => deps.hypervisorOf(a.vm) === to, deps.confirmMs ?? 5000);
      if (confirmed) {
        record.status = 'succeeded';
        placement.set(a.vm, to);
        record.step = migrationsSoFar + 1;
        record.totalCostAfter = totalCost(placement, snap.traffic, snap.oracle);
        return to;
      }
      record.status = 'timeout';
      record.error = { code: 'MIGRATION_TIMEOUT', message: `${a.vm} was not seen on ${to} in time; it is where the network sees it (${deps.hypervisorOf(a.vm) ?? 'unknown'})${why}` };
      lateWatch.push(record);
      return null;
    }
  }

  /** A VM a rail keeps from moving this round: recorded (the audit log explains every skip), the agent is not asked. */
  function holdOne(a: Ask, snap: Snapshot, placement: Map<string, string>, from: string, check: RailCheck & { ok: false }): void {
    const record = openRecord(a, snap, placement, from, 'held');
    record.finishedAt = record.startedAt;
    record.error = { code: 'RAIL_HELD', message: `${check.code}: ${check.reason}` };
    void persist(record);
  }

  /** Hypervisors the rails forbid as this VM's target now (no-return, per-hypervisor limit). */
  function blockedTargets(rails: RailState, vm: string, placement: ReadonlyMap<string, string>, round: number): { hypervisor: string; rail: RailCode; reason: string }[] {
    const out: { hypervisor: string; rail: RailCode; reason: string }[] = [];
    for (const h of new Set(placement.values())) {
      const c = targetRailsAllow(rails, vm, h, round);
      if (!c.ok) out.push({ hypervisor: h, rail: c.code, reason: c.reason });
    }
    return out;
  }

  /** what carrying out an exchange needs from this orchestrator (exchange.ts) */
  function exchangeDeps(a: Ask): ExchangeDeps {
    return {
      decide: (hv, body) => deps.decide(hv, body),
      hypervisorOf: (vm) => deps.hypervisorOf(vm),
      undoSwitchover,
      open: (vm, from, to, decision, snap, placement, exchange) => {
        const record = openRecord({ ...a, vm }, snap, placement, from, 'started', { to, decision, ...(exchange !== undefined ? { exchange } : {}) });
        return { record, stored: opened };
      },
      finish: (r) => {
        // counted once the run adds the legs to its migration count (published together)
        if (r.status === 'succeeded') legsDone.push(r.id);
        if (r.status === 'timeout' && r.to !== null) lateWatch.push(r);
        r.finishedAt = deps.clock.now();
        void persist(r);
        deps.emit({ type: 'migration-finished', at: r.finishedAt, data: { id: r.id, vm: r.vm, from: r.from, to: r.to, status: r.status, step: r.step } });
      },
      started: (r, to) => deps.emit({ type: 'migration-started', at: r.startedAt, data: { id: r.id, vm: r.vm, from: r.from, to } }),
      waitFor: (vm, to) => waitFor(() => deps.hypervisorOf(vm) === to, deps.confirmMs ?? 5000),
      settle: async (migrations) => {
        // a settle cut short by stop() is no settled network: no settled sample
        if (await pause(deps.settleMs ?? 3000)) deps.onSettled?.(migrations);
      },
      ...(a.migrationCost !== undefined ? { migrationCost: a.migrationCost } : {}),
    };
  }

  async function run(o: StartOptions): Promise<void> {
    const maxRounds = o.maxRounds ?? (o.plan ? 1 : 20);
    const plan = o.plan ?? false;
    const rails = !plan && railsActive(o.rails) ? (o.resume?.rails ? restoreRails(o.rails, o.resume.rails) : createRailState(o.rails)) : null;
    currentRails = rails;
    let migrations = o.resume?.migrations ?? 0;
    if (migrations > 0) set({ migrations });
    deps.onSettled?.(migrations);
    /** timed-out migrations seen at their target since: counted (a late move takes from the budget of the round it is seen in) */
    const late = (): number => {
      const n = confirmLate(migrations, (r, to) => {
        if (rails !== null) recordMigration(rails, r.vm, r.from, to, r.round);
      });
      migrations += n;
      if (n > 0) set({ migrations });
      return n;
    };
    /** at what looks like the fixed point: waits out the watched timeouts; true when one arrived after all */
    const lateArrivals = async (): Promise<boolean> => {
      while (lateWatch.length > 0 && !stopRequested) {
        if (late() > 0) return true;
        await pause(Math.min(1000, deps.confirmMs ?? 5000));
      }
      return false;
    };
    /**
     * a run whose round moved nothing and left no record (nobody asked, no action found) says why,
     * in one `held` record (vm "*"); a later round of a run that moved is explained by its records,
     * and so is a resumed run (its earlier rounds' records are in the history)
     */
    const recordsBefore = o.resume !== undefined ? -1 : records.length;
    const quietRound = (round: number, snap: Snapshot, placement: ReadonlyMap<string, string>): void => {
      const why = quietRoundReason(snap, placement, { ...(o.migrationCost === undefined ? {} : { migrationCost: o.migrationCost }), ...(o.lookahead === true ? { lookahead: true } : {}), ...(o.swaps === true && !plan && o.policy !== 'gain-order' ? { swaps: true } : {}), ...(plan ? { plan: true } : {}), ...(o.overcommit === undefined ? {} : { overcommit: o.overcommit }) });
      const r = openRecord({ vm: '*', policyKey: 0, policy: o.policy, round, plan: false }, snap, new Map(placement), '-', 'held');
      r.finishedAt = r.startedAt;
      r.error = why;
      void persist(r);
    };
    // a resumed run redoes its interrupted round from a fresh snapshot (what moved is in it)
    for (let round = Math.max(1, o.resume?.round ?? 1); round <= maxRounds && !stopRequested; round++) {
      set({ round });
      if (rails !== null) beginRound(rails, round);
      late();
      const snap = deps.snapshot();
      const placement = new Map(snap.placement);
      if (o.lookahead === true) {
        // one planned action after another on this round's rates, until none pays; a round that
        // carried nothing out is the fixed point
        let moved = 0;
        let failed = false;
        while (!stopRequested) {
          const steps = nextLookaheadAction(snap, placement, { ...(o.migrationCost === undefined ? {} : { migrationCost: o.migrationCost }), ...(o.overcommit === undefined ? {} : { overcommit: o.overcommit }) });
          if (steps.length === 0) break;
          const a: Ask = { vm: steps[0]!.decision.vm, policyKey: steps[0]!.totalBefore - steps.at(-1)!.totalAfter, policy: o.policy, round, plan: false, ...(o.migrationCost !== undefined ? { migrationCost: o.migrationCost } : {}) };
          const r = await carryAction(exchangeDeps(a), steps, snap, placement, migrations);
          migrations += r.done;
          countSucceeded(legsDone.splice(0));
          moved += r.done;
          set({ migrations });
          if (r.failed) {
            failed = true;
            break;
          }
        }
        if (moved === 0 && !failed && !stopRequested && (await lateArrivals())) continue;
        if (moved === 0 && !failed && !stopRequested && records.length === recordsBefore) quietRound(round, snap, placement);
        if (moved === 0 || stopRequested) {
          set({ converged: moved === 0 && !failed && !stopRequested });
          break;
        }
        continue;
      }
      const gen = startRound(o.policy, { vms: snap.vms, traffic: snap.traffic, oracle: snap.oracle, rank: snap.rank, ...(snap.capacity === undefined ? {} : { capacity: snap.capacity }), ...(o.migrationCost === undefined ? {} : { migrationCost: o.migrationCost }) }, placement);
      let next = gen.next({ movedTo: null });
      let moved = 0;
      let held = 0;
      while (!next.done && !stopRequested) {
        const ask = next.value;
        const a: Ask = { vm: ask.vm, policyKey: ask.cost, policy: o.policy, round, plan, ...(o.mode ? { mode: o.mode } : {}), ...(o.migrationCost !== undefined ? { migrationCost: o.migrationCost } : {}), ...(o.swaps === true && !plan ? { swaps: true } : {}) };
        const from = deps.hypervisorOf(ask.vm) ?? placement.get(ask.vm) ?? '?';
        if (rails !== null) {
          const check = vmRailsAllow(rails, ask.vm, from, round);
          if (!check.ok) {
            holdOne(a, snap, placement, from, check);
            held += 1;
            next = gen.next({ movedTo: null });
            continue;
          }
        }
        const blocked = rails === null ? [] : blockedTargets(rails, ask.vm, placement, round);
        const { record, movedTo } = await askOne({ ...a, ...(blocked.length > 0 ? { blocked } : {}) }, snap, placement, migrations);
        if (record.status === 'started' && record.decision?.swap !== undefined) {
          const legs = await carryExchange(exchangeDeps(a), record, snap, placement, o.overcommit ?? 0, migrations);
          // the pair's record as the exchange ended (its status, how it was carried out) in the audit log too
          void persist(record);
          migrations += legs;
          countSucceeded(legsDone.splice(0));
          moved += legs;
          set({ migrations });
          // the round's order was computed without the partner's move: the next round starts from a fresh snapshot
          break;
        }
        if (record.decision?.candidates.some((c) => c.verdict === 'rail')) held += 1;
        if (movedTo !== null) {
          migrations += 1;
          moved += 1;
          countSucceeded([record.id]);
          if (rails !== null) recordMigration(rails, ask.vm, record.from, movedTo, round);
        }
        set({ migrations });
        if (movedTo !== null) {
          if (await pause(deps.settleMs ?? 3000)) deps.onSettled?.(migrations);
        }
        next = gen.next({ movedTo });
      }
      // A round in which a rail held something back is no fixed point: the rail may let it through later.
      if ((moved === 0 && held === 0) || plan) {
        // a timed-out migration may still arrive: then this was no fixed point
        if (!plan && (await lateArrivals())) continue;
        if (moved === 0 && !stopRequested && records.length === recordsBefore) quietRound(round, snap, placement);
        set({ converged: !plan && moved === 0 });
        break;
      }
    }
  }

  /**
   * Continuous mode: every period, unless the network is changing, each VM (in the policy's
   * order, on the rates measured over the controller's window) is asked what it would do, with
   * every candidate evaluated and nothing moved; the orchestrator prices each candidate (pre-copy
   * by default), keeps the best net saving and moves the VM only once it chose the same target in
   * N consecutive periods, within the budget, never back to a hypervisor it left recently. Holds
   * and hold-offs are written to the audit log with their reason.
   */
  async function runContinuous(o: StartOptions & { continuous: ContinuousConfig }): Promise<void> {
    const st = o.resume?.continuous ? { ...structuredClone(o.resume.continuous), config: o.continuous, holdOff: null } : createContinuousState(o.continuous);
    continuous = st;
    const cfg = o.continuous;
    const publish = (): void => set({ round: st.period, migrations: st.migrations, continuous: { everyMs: cfg.everyMs, period: st.period, migrations: st.migrations, holdOff: st.holdOff?.reason ?? null, lastPeriod: st.lastPeriod ?? null, declined: Object.entries(st.declined ?? {}).map(([vm, d]) => ({ vm, from: d.from, to: d.to, period: d.period, code: d.code, reason: d.reason })) } });
    /** a `held` record for the whole run (vm "*"): why continuous mode is not moving, said once per reason */
    const audit = (code: 'HOLD_OFF' | 'PRICED_OUT', message: string): void => {
      const snap = deps.snapshot();
      const r = openRecord({ vm: '*', policyKey: 0, policy: o.policy, round: st.period, plan: false }, snap, new Map(snap.placement), '-', 'held');
      r.finishedAt = r.startedAt;
      r.error = { code, message };
      void persist(r);
    };
    deps.onSettled?.(0);
    while (!stopRequested) {
      st.period += 1;
      if (confirmLate(st.migrations, (r, to) => noteMigration(st, r.vm, r.from, to)) > 0) deps.onSettled?.(st.migrations);
      const inFlight = [
        ...records.filter((r) => r.status === 'started'),
        // timed out and not seen at its target yet, for a bounded time: where it is, is not known
        ...lateWatch.filter(watching),
      ].map((r) => `${r.id} (${r.vm})`);
      const signals = deps.network?.() ?? { lastChangeAt: null, lastChange: null, switchesDown: [], linksDown: [], inFlight: [] };
      const reason = holdOffReason({ ...signals, inFlight: [...signals.inFlight, ...inFlight] }, deps.clock.now(), cfg.quietMs);
      if (reason !== null) {
        if (st.holdOff?.reason.split(':')[0] !== reason.split(':')[0]) audit('HOLD_OFF', reason);
        st.holdOff = { reason, since: st.holdOff?.since ?? deps.clock.now() };
        // a choice must be confirmed on N consecutive periods of a quiet network
        st.choices = {};
        // nothing was planned: whatever the last planning period saw may no longer hold
        st.idle = null;
        set({ converged: false });
        publish();
        await pause(cfg.everyMs);
        continue;
      }
      st.holdOff = null;
      publish();
      const snap = deps.snapshot();
      const placement = new Map(snap.placement);
      const cm = pricingFn(cfg, snap.oracle);
      // the gain-ordered round reads the hypervisors' capacity (a fixed c_m orders it as Eq. 3 will judge it)
      const gen = startRound(o.policy, { vms: snap.vms, traffic: snap.traffic, oracle: snap.oracle, rank: snap.rank, ...(snap.capacity === undefined ? {} : { capacity: snap.capacity }), ...(cfg.pricing.kind === 'fixed' ? { migrationCost: cfg.pricing.migrationCost } : {}) }, placement);
      let next = gen.next({ movedTo: null });
      let moved = 0;
      const summary = emptyPeriodSummary(st.period);
      /** a timed-out migration ended the period early */
      let cutShort = false;
      while (!next.done && !stopRequested) {
        const { vm, cost: policyKey } = next.value;
        const from = deps.hypervisorOf(vm) ?? placement.get(vm) ?? '?';
        let movedTo: string | null = null;
        const barred = barredTargets(st, vm).map((b) => ({ hypervisor: b.hypervisor, rail: 'no-return' as const, reason: b.reason }));
        try {
          const probe = await deps.decide(from, { vm, migrate: false, migrationId: `probe-${st.period}-${vm}`, mode: 'best', migrationCost: 0, ...(barred.length > 0 ? { blocked: barred } : {}) });
          summary.asked += 1;
          const pick = pickTarget(st, vm, from, probe.decision.costBefore, probe.decision.candidates, cm);
          const largest = largestSaving(st, vm, from, probe.decision.costBefore, probe.decision.candidates, cm);
          if (largest !== null && (summary.largestSaving === null || largest.saving > summary.largestSaving.saving)) summary.largestSaving = { vm, ...largest };
          if (pick === null && largest !== null) summary.pricedOut += 1;
          const saving = pick === null ? 0 : probe.decision.costBefore - pick.costAfter;
          /** free slots at `to` in this period's view, null without capacities */
          const free = (to: string): number | null => {
            const cap = snap.capacity?.get(to);
            if (cap === undefined) return null;
            let n = 0;
            for (const h of placement.values()) if (h === to) n += 1;
            return cap - n;
          };
          // a move the agent declined is not asked again (nor pending) until what it was judged on changed
          const declined = pick === null ? declineStands(st, vm, from, null, () => null) : declineStands(st, vm, from, { to: pick.to, saving }, () => free(pick.to));
          // a standing decline left no choice behind (noteDecline dropped it, and none is noted while it stands)
          const { stable, count } = declined !== null ? { stable: false, count: 0 } : noteChoice(st, vm, pick?.to ?? null);
          const a: Ask = { vm, policyKey, policy: o.policy, round: st.period, plan: false, mode: 'best' };
          if (declined !== null) {
            summary.declined += 1;
          } else if (pick !== null && !stable) {
            summary.waitingStable += 1;
            // said once per new choice, not every period
            if (count === 1) holdOne(a, snap, placement, from, { ok: false, code: 'stable', reason: `${vm} -> ${pick.to} saves ${pick.net.toFixed(1)} net of c_m ${pick.migrationCost.toFixed(1)}; moves once chosen in ${cfg.stableRounds} consecutive periods` });
          } else if (pick !== null) {
            const held = vmHeld(st, vm, moved);
            if (held !== null) {
              summary.heldBack += 1;
              holdOne(a, snap, placement, from, { ok: false, ...held });
            } else {
              const only = { hypervisor: pick.to, rail: 'stable' as const, reason: `continuous mode chose ${pick.to} for ${vm} in ${cfg.stableRounds} consecutive periods` };
              const res = await askOne({ ...a, migrationCost: pick.migrationCost, only }, snap, placement, st.migrations);
              // the agent says it moved the VM, the network does not see it there yet: the rest of
              // this period's choices read a view that may be wrong, so plan again next period
              if (res.record.status === 'timeout') {
                cutShort = true;
                break;
              }
              movedTo = res.movedTo;
              if (res.record.status === 'declined') {
                // said once, by this record (the agent's reason in its decision)
                summary.declined += 1;
                noteDecline(st, vm, { from, to: pick.to, code: declineCode(res.record.decision?.candidates ?? [], pick.to), reason: res.record.decision?.reason ?? '', saving, free: free(pick.to) });
              } else if (movedTo === null) summary.heldBack += 1;
              if (movedTo !== null) {
                noteMigration(st, vm, from, movedTo);
                countSucceeded([res.record.id]);
                moved += 1;
                summary.moved += 1;
                publish();
                if (await pause(deps.settleMs ?? 3000)) deps.onSettled?.(st.migrations);
              }
            }
          }
          delete st.errors[vm];
        } catch (e) {
          // one unreachable agent must not stop the others, nor continuous mode; said once per VM and error
          const error = isScoreError(e) ? { code: e.code, message: e.message } : { code: 'AGENT_UNREACHABLE', message: String(e) };
          summary.errors += 1;
          if (st.errors[vm] !== error.code) {
            st.errors[vm] = error.code;
            const r = openRecord({ vm, policyKey, policy: o.policy, round: st.period, plan: false }, snap, placement, from, 'failed');
            r.finishedAt = deps.clock.now();
            r.error = error;
            void persist(r);
          }
        }
        next = gen.next({ movedTo });
      }
      const converged = endPeriod(st, summary, cutShort || stopRequested);
      const idle = idleReason(st, summary, converged);
      if (idle !== null && (st.idle ?? null) === null) audit('PRICED_OUT', idle);
      st.idle = idle;
      set({ converged });
      publish();
      if (!stopRequested) await pause(cfg.everyMs);
    }
  }

  /**
   * An approved plan action, carried out alone and only as planned: the agent decides again on the
   * network as it is now with every other target off, so the VM goes to the approved hypervisor if
   * that move still satisfies Eq. 3 and fits, and stays (declined, with the reason) otherwise.
   */
  async function runApproved(planned: MigrationRecord): Promise<void> {
    const snap = deps.snapshot();
    const mode = planned.decision?.mode === 'first' || planned.decision?.mode === 'best' ? planned.decision.mode : undefined;
    const { record, movedTo } = await askOne(
      {
        vm: planned.vm,
        policyKey: planned.inputs.policyKey,
        policy: planned.policy as PolicyName,
        round: planned.round,
        plan: false,
        ...(mode ? { mode } : {}),
        ...(planned.decision ? { migrationCost: planned.decision.migrationCost } : {}),
        // a planned record always names its target (a plan action is a move); '?' matches no hypervisor
        only: { hypervisor: planned.to ?? '?', rail: 'plan' as const, reason: `the operator approved ${planned.vm} -> ${planned.to ?? '?'}, no other target` },
      },
      snap,
      new Map(snap.placement),
      0,
    );
    planned.review = { ...(planned.review ?? { verdict: 'approved', at: record.startedAt }), migration: record.id };
    void persist(planned);
    set({ migrations: movedTo === null ? 0 : 1 });
    // Let the statistics catch up before anything else is decided, as between steps of a run.
    if (movedTo !== null) await pause(deps.settleMs ?? 3000);
  }

  function reviewed(r: MigrationRecord, verdict: PlanReview['verdict']): void {
    r.review = { verdict, at: deps.clock.now(), migration: null };
    void persist(r);
    deps.emit({ type: 'plan-reviewed', at: r.review.at, data: { id: r.id, vm: r.vm, verdict } });
  }

  /** Whether an operator can still act on this record: a planned move nobody has reviewed. */
  const pending = (r: MigrationRecord): boolean => r.status === 'planned' && r.to !== null && (r.review === undefined || r.review === null);

  async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    const end = deps.clock.now() + ms;
    while (!cond()) {
      if (deps.clock.now() >= end) return false;
      await deps.clock.sleep(50);
    }
    return true;
  }

  return {
    records,
    status: () => state,
    start(o) {
      if (state.state !== 'idle') throw new ScoreError('ORCHESTRATION_RUNNING', `orchestration is ${state.state} (policy ${state.policy ?? '?'}); stop it first`);
      // A plan describes the network it was made on; once anything else runs, it is stale.
      for (const r of records) if (pending(r)) reviewed(r, 'superseded');
      stopRequested = false;
      stopping = new AbortController();
      const { resume: _resume, ...startOptions } = o;
      options = startOptions;
      currentRails = null;
      lateWatch.length = 0;
      counted = [...(o.resume?.counted ?? [])];
      countedThrough = o.resume?.countedThrough;
      legsDone.length = 0;
      since = o.resume?.since ?? deps.clock.now();
      sinceId = o.resume?.sinceId ?? `${deps.idPrefix?.() ?? ''}m${seq + 1}`;
      if (o.continuous === undefined) state = { state: state.state, policy: state.policy, plan: state.plan, round: state.round, migrations: state.migrations, converged: state.converged, lastError: state.lastError };
      set({ state: 'running', policy: o.policy, plan: o.continuous ? false : (o.plan ?? false), round: 0, migrations: 0, converged: false, lastError: null, lastErrorCode: null });
      const c = o.continuous;
      running = (c !== undefined ? runContinuous({ ...o, continuous: c }) : run(o))
        .catch((e: unknown) => set(failedWith(e)))
        .finally(() => set({ state: 'idle' }));
      return state;
    },
    async stop() {
      if (state.state === 'idle') throw new ScoreError('ORCHESTRATION_IDLE', 'orchestration is not running');
      stopRequested = true;
      stopping.abort();
      set({ state: 'stopping' });
      await running;
      return state;
    },
    finished: () => running,
    continuousState: () => continuous,
    progress: () => (options === null ? null : { options, round: state.round, migrations: state.migrations, rails: currentRails === null ? null : railSnapshot(currentRails), continuous, counted: [...counted], ...(countedThrough === undefined ? {} : { countedThrough }), since, sinceId }),
    review(id, verdict) {
      const r = records.find((x) => x.id === id);
      if (r === undefined) throw new ScoreError('UNKNOWN_MIGRATION', `no migration record "${id}"`, { id });
      if (!pending(r)) {
        const why = r.status !== 'planned' ? `its status is ${r.status}` : r.to === null ? 'its decision was to stay' : `it was already ${r.review?.verdict ?? 'reviewed'}`;
        throw new ScoreError('PLAN_NOT_PENDING', `${id} is not a pending plan action: ${why}`, { id, status: r.status, review: r.review ?? null });
      }
      if (verdict === 'skip') {
        reviewed(r, 'skipped');
        return { ...r };
      }
      if (state.state !== 'idle') throw new ScoreError('ORCHESTRATION_RUNNING', `orchestration is ${state.state} (policy ${state.policy ?? '?'}); approve when it is idle`);
      stopRequested = false;
      stopping = new AbortController();
      reviewed(r, 'approved');
      set({ state: 'running', policy: r.policy, plan: false, round: r.round, migrations: 0, converged: false, lastError: null, lastErrorCode: null });
      running = runApproved(r)
        .catch((e: unknown) => set(failedWith(e)))
        .finally(() => set({ state: 'idle' }));
      return { ...r };
    },
  };
}
