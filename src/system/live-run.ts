import type { Model } from '../scenario/model.ts';
import type { PolicyName } from '../core/policies.ts';
import * as ctl from '../controller/controller.ts';
import { layerUtilisation, type TimelinePoint } from '../sim/fluid.ts';
import { layerNames, type RunRecord } from '../sim/run.ts';
import type { MigrationRecord } from '../api/contract.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Stack } from './stack.ts';

/**
 * Runs one orchestration policy on a running stack (any data plane) and turns what the system
 * measured into the same run record `simulate` produces: the step table from the audit log, and
 * the cost and per-layer utilisation, read from the switches' counters once the network settled
 * after each migration.
 */
export function measuredPoint(stack: Stack, step: number, time: number): TimelinePoint {
  const c = stack.runtime.controller;
  return { step, time, totalCost: stack.service.cost().cost, layers: layerUtilisation(ctl.linkUtilisation(c), c.view.layers.maxLayer) };
}

export async function orchestrate(
  stack: Stack,
  o: { policy: PolicyName; model: Model; file: string; source: RunRecord['source']; clock: Clock; settleMs: number; timeline: TimelinePoint[]; maxRounds?: number; swaps?: boolean; overcommit?: number; lookahead?: boolean },
): Promise<RunRecord> {
  const initialPlacement = Object.fromEntries(stack.service.snapshot().placement);
  const res = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ policy: o.policy, ...(o.maxRounds ? { maxRounds: o.maxRounds } : {}), ...(o.swaps === true ? { swaps: true } : {}), ...(o.overcommit === undefined ? {} : { overcommit: o.overcommit }), ...(o.lookahead === true ? { lookahead: true } : {}) }),
  });
  if (!res.ok) throw new Error(`starting orchestration failed: ${res.status} ${await res.text()}`);
  await stack.service.orchestrator.finished();
  const status = stack.service.orchestrator.status();
  if (status.lastError !== null) throw new Error(`orchestration failed: ${status.lastError}`);
  const records = stack.service.orchestrator.records;
  const done = records.filter((r) => r.status === 'succeeded' && r.to !== null && r.step !== null);
  const byStep = new Map(o.timeline.map((p) => [p.step, p]));
  const steps = done.map((r) => ({
    step: r.step!,
    round: r.round,
    time: (byStep.get(r.step!)?.time ?? 0),
    vm: r.vm,
    from: r.from,
    to: r.to!,
    vmCostBefore: r.decision?.costBefore ?? 0,
    vmCostAfter: r.decision?.costAfter ?? 0,
    totalBefore: byStep.get(r.step! - 1)?.totalCost ?? r.totalCostBefore,
    totalAfter: byStep.get(r.step!)?.totalCost ?? r.totalCostAfter ?? 0,
    reason: r.decision?.reason ?? '',
  }));
  const first = o.timeline[0];
  const last = o.timeline.at(-1);
  return {
    kind: 'score-run',
    version: 1,
    source: o.source,
    scenario: { name: o.model.scenario.name, file: o.file },
    policy: o.policy,
    params: { migrationCost: o.model.migrationCost, decisionMode: 'first', stepSeconds: o.settleMs / 1000, maxRounds: o.maxRounds ?? 20 },
    initialPlacement,
    finalPlacement: Object.fromEntries(stack.service.snapshot().placement),
    initialCost: first?.totalCost ?? 0,
    finalCost: last?.totalCost ?? 0,
    migrations: done.length,
    rounds: status.round,
    converged: status.converged,
    layerNames: layerNames(stack.runtime.controller.view.layers.maxLayer),
    steps,
    timeline: o.timeline,
    decisions: records
      .filter((r) => r.decision !== null)
      .map((r) => ({ ...r.decision!, round: r.round })),
  };
}

/**
 * The run record with each step's measured migration: the driver's figures and the peers' probes
 * from the audit record of the same step and VM (a succeeded one). Steps without such a record,
 * or whose record measured nothing, stay as they were. Pure.
 */
export function withMeasuredMigrations(record: RunRecord, migrations: readonly Pick<MigrationRecord, 'vm' | 'step' | 'status' | 'figures' | 'connectivity'>[]): RunRecord {
  const steps = record.steps.map((s) => {
    const m = migrations.find((r) => r.status === 'succeeded' && r.step === s.step && r.vm === s.vm);
    if (m === undefined) return s;
    return { ...s, ...(m.figures ? { migration: m.figures } : {}), ...(m.connectivity ? { probes: m.connectivity } : {}) };
  });
  return { ...record, steps };
}
