import type { Model } from '../scenario/model.ts';
import type { PolicyName } from '../core/policies.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock, type Clock } from '../runtime/clock.ts';
import type { TimelinePoint } from '../sim/fluid.ts';
import type { RunRecord } from '../sim/run.ts';
import { simDriver } from '../agent/drivers/sim.ts';
import { startAgent, startStack, type RunningAgent, type Stack } from './stack.ts';
import { CONTINUOUS_WINDOW_MS, measuredPoint, orchestrate, orchestrateContinuously } from './live-run.ts';
import type { OrchestrationStart } from '../api/contract.ts';

/**
 * The paper's system, all of it, on the simulated data plane: the real controller (discovery,
 * routing, VM tracking, statistics), the northbound API on loopback HTTP, one agent per
 * hypervisor over HTTP, and the orchestrator. Time is virtual and runs as fast as the machine.
 */
/** Virtual time per turn of the event loop: coarse enough to be quick, fine enough for 1 s polls. */
const PUMP_MS = 250;

export interface SimExperimentOptions {
  readonly model: Model;
  readonly file: string;
  readonly policy: PolicyName;
  /** virtual ms after each migration before the next decision (default 3000) */
  readonly settleMs?: number;
  readonly warmupMs?: number;
  /**
   * Real ms per settle period (one orchestration step): virtual time is slowed to this pace so a
   * person, or a browser, can watch the VMs move. 0 (the default) runs as fast as the machine.
   */
  readonly paceMs?: number;
  /** called once the stack is up, e.g. to print the API address */
  readonly onReady?: (stack: Stack) => void;
}

/** A running experiment: the stack and agents stand, the clock runs, orchestration not yet started. */
export interface SimExperiment {
  readonly stack: Stack;
  /** the experiment's virtual clock (it runs until stop) */
  readonly clock: Clock;
  /** runs the policy to its end; call once (this or runContinuous) */
  run(): Promise<RunRecord>;
  /**
   * Continuous orchestration (`start.continuous`) over the scenario's phases: stopped once it has
   * settled after the last phase (`continuousDone`, `quietPeriods` periods with no move) or 10
   * virtual minutes after that phase began. The record carries the phases (`withPhases`).
   */
  runContinuous(start: OrchestrationStart & { continuous: object }, quietPeriods: number): Promise<RunRecord & { stoppedBy: 'settled' | 'time' }>;
  /** stops the clock, the agents and the stack; safe to call more than once */
  stop(): Promise<void>;
}

export async function startSimExperiment(o: SimExperimentOptions): Promise<SimExperiment> {
  const clock = virtualClock();
  const sim = createSimDataPlane({ model: o.model, clock, stepMs: PUMP_MS });
  const settleMs = o.settleMs ?? 3000;
  const realPerPump = o.paceMs !== undefined && o.paceMs > 0 ? (o.paceMs * PUMP_MS) / settleMs : 0;
  const timeline: TimelinePoint[] = [];
  let stack: Stack | null = null;
  stack = await startStack({
    model: o.model,
    dataPlane: sim.dataPlane,
    clock,
    settleMs,
    onSettled: (k) => {
      if (stack) timeline.push(measuredPoint(stack, k, clock.now() / 1000));
    },
  });
  const running = stack;
  let pumping = true;
  const pump = (async () => {
    while (pumping) {
      await clock.advance(PUMP_MS);
      await new Promise((r) => (realPerPump > 0 ? setTimeout(r, realPerPump) : setImmediate(r)));
    }
  })();
  const agents: RunningAgent[] = [];
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      pumping = false;
      await pump;
      await Promise.all(agents.map((a) => a.stop()));
      await running.stop();
    })());
  try {
    sim.bootVms();
    await clock.sleep(o.warmupMs ?? 5000);
    for (const h of o.model.scenario.hypervisors) {
      agents.push(await startAgent({ hypervisor: h.id, apiUrl: running.apiUrl, token: await running.issueAgentToken(h.id), driver: simDriver(sim) }));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  o.onReady?.(running);
  return {
    stack: running,
    clock,
    run: () => orchestrate(running, { policy: o.policy, model: o.model, file: o.file, source: 'demo', clock, settleMs, timeline }),
    runContinuous: (start, quietPeriods) => {
      // the simulated data plane's traffic follows the timeline on this clock from 0, the run's time 0
      const lastPhaseMs = (o.model.timeline.segments.at(-1)?.startSec ?? 0) * 1000;
      return orchestrateContinuously(running, { policy: o.policy, model: o.model, file: o.file, source: 'demo', clock, settleMs, timeline, start, trafficStartMs: 0, originMs: 0, windowMs: CONTINUOUS_WINDOW_MS, untilMs: lastPhaseMs + 600_000, quietPeriods });
    },
    stop,
  };
}

export async function runSimExperiment(o: SimExperimentOptions): Promise<RunRecord> {
  const e = await startSimExperiment(o);
  try {
    return await e.run();
  } finally {
    await e.stop();
  }
}
