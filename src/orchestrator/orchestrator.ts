import type { PathOracle } from '../core/paths.ts';
import type { Placement, TrafficMatrix } from '../core/cost.ts';
import { totalCost } from '../core/cost.ts';
import type { PolicyName } from '../core/policies.ts';
import { startRound } from '../core/policies.ts';
import type { DecisionMode } from '../core/decision.ts';
import type { AgentDecide, AgentDecideResult, MigrationRecord, NorthEvent, Orchestration } from '../api/contract.ts';
import { ScoreError, isScoreError } from '../errors/errors.ts';
import type { Clock } from '../runtime/clock.ts';

/**
 * Migration orchestration (section III.B.8): Round-Robin and Load-Aware, driven by the core's
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
  /** every record when it starts and when it ends (the audit log's persistence) */
  readonly onRecord?: (r: MigrationRecord) => void;
  /** records of earlier runs (e.g. loaded from the audit file after a restart) */
  readonly history?: readonly MigrationRecord[];
}

export interface StartOptions {
  readonly policy: PolicyName;
  readonly mode?: DecisionMode;
  readonly plan?: boolean;
  readonly maxRounds?: number;
  readonly migrationCost?: number;
}

export interface Orchestrator {
  status(): Orchestration;
  readonly records: MigrationRecord[];
  start(o: StartOptions): Orchestration;
  stop(): Promise<Orchestration>;
  /** resolves when the current run ends */
  finished(): Promise<void>;
}

export function createOrchestrator(deps: OrchestratorDeps): Orchestrator {
  const records: MigrationRecord[] = [...(deps.history ?? [])];
  let state: Orchestration = { state: 'idle', policy: null, plan: false, round: 0, migrations: 0, converged: false, lastError: null };
  let running: Promise<void> = Promise.resolve();
  let stopRequested = false;
  // ids stay unique across restarts: continue after the highest one in the history
  let seq = records.reduce((m, r) => Math.max(m, Number(/^m(\d+)$/.exec(r.id)?.[1] ?? 0)), 0);

  const set = (patch: Partial<Orchestration>): void => {
    state = { ...state, ...patch };
    deps.emit({ type: 'orchestration', at: deps.clock.now(), data: { ...state } });
  };

  async function run(o: StartOptions): Promise<void> {
    const maxRounds = o.maxRounds ?? (o.plan ? 1 : 20);
    let migrations = 0;
    deps.onSettled?.(0);
    for (let round = 1; round <= maxRounds && !stopRequested; round++) {
      set({ round });
      const snap = deps.snapshot();
      const placement = new Map(snap.placement);
      const gen = startRound(o.policy, { vms: snap.vms, traffic: snap.traffic, oracle: snap.oracle, rank: snap.rank }, placement);
      let next = gen.next({ movedTo: null });
      let moved = 0;
      while (!next.done && !stopRequested) {
        const ask = next.value;
        const from = deps.hypervisorOf(ask.vm) ?? placement.get(ask.vm) ?? '?';
        const before = totalCost(placement, snap.traffic, snap.oracle);
        const record: MigrationRecord = {
          id: `m${++seq}`,
          vm: ask.vm,
          from,
          to: null,
          policy: o.policy,
          round,
          step: null,
          status: o.plan ? 'planned' : 'started',
          startedAt: deps.clock.now(),
          finishedAt: null,
          totalCostBefore: before,
          totalCostAfter: null,
          decision: null,
          inputs: { rates: [...snap.rates], weights: snap.weights, policyKey: ask.cost },
          error: null,
          connectivity: null,
        };
        records.push(record);
        deps.onRecord?.(record);
        let movedTo: string | null = null;
        try {
          const result = await deps.decide(from, { vm: ask.vm, migrate: !o.plan, migrationId: record.id, ...(o.mode ? { mode: o.mode } : {}), ...(o.migrationCost !== undefined ? { migrationCost: o.migrationCost } : {}) });
          record.decision = result.decision;
          record.to = result.decision.to;
          record.connectivity = result.connectivity ?? null;
          if (o.plan) {
            record.status = 'planned';
          } else if (result.error !== null) {
            record.status = 'failed';
            record.error = result.error;
          } else if (!result.migrated || result.decision.to === null) {
            record.status = 'declined';
          } else {
            const to = result.decision.to;
            deps.emit({ type: 'migration-started', at: record.startedAt, data: { id: record.id, vm: ask.vm, from, to } });
            // The agent's report is authoritative, but the orchestrator moves on only once the
            // tracker agrees: a VM is always at exactly one known place.
            const confirmed = await waitFor(() => deps.hypervisorOf(ask.vm) === to, deps.confirmMs ?? 5000);
            if (confirmed) {
              record.status = 'succeeded';
              movedTo = to;
              placement.set(ask.vm, to);
              migrations += 1;
              moved += 1;
              record.step = migrations;
              record.totalCostAfter = totalCost(placement, snap.traffic, snap.oracle);
            } else {
              record.status = 'timeout';
              record.error = { code: 'MIGRATION_TIMEOUT', message: `${ask.vm} was not seen on ${to} in time; it is where the network sees it (${deps.hypervisorOf(ask.vm) ?? 'unknown'})` };
            }
          }
        } catch (e) {
          record.status = 'failed';
          record.error = isScoreError(e) ? { code: e.code, message: e.message } : { code: 'AGENT_UNREACHABLE', message: String(e) };
        }
        record.finishedAt = deps.clock.now();
        deps.onRecord?.(record);
        if (!o.plan) deps.emit({ type: 'migration-finished', at: record.finishedAt, data: { id: record.id, vm: record.vm, from: record.from, to: record.to, status: record.status, step: record.step } });
        set({ migrations });
        if (movedTo !== null) {
          await deps.clock.sleep(deps.settleMs ?? 3000);
          deps.onSettled?.(migrations);
        }
        next = gen.next({ movedTo });
      }
      if (moved === 0 || o.plan) {
        set({ converged: !o.plan && moved === 0 });
        break;
      }
    }
  }

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
      stopRequested = false;
      set({ state: 'running', policy: o.policy, plan: o.plan ?? false, round: 0, migrations: 0, converged: false, lastError: null });
      running = run(o)
        .catch((e: unknown) => set({ lastError: e instanceof Error ? e.message : String(e) }))
        .finally(() => set({ state: 'idle' }));
      return state;
    },
    async stop() {
      if (state.state === 'idle') throw new ScoreError('ORCHESTRATION_IDLE', 'orchestration is not running');
      stopRequested = true;
      set({ state: 'stopping' });
      await running;
      return state;
    },
    finished: () => running,
  };
}
