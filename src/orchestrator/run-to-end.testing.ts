import type { VirtualClock } from '../runtime/clock.ts';
import { createOrchestrator, type Orchestrator, type OrchestratorDeps, type StartOptions } from './orchestrator.ts';

/**
 * Tests' driver: starts an orchestrator on fake agents and advances the virtual clock in 100 ms
 * steps (letting the agents' promises settle between steps) until the run finishes.
 */
export async function runToEnd(w: { deps: OrchestratorDeps; clock: VirtualClock }, start: StartOptions): Promise<Orchestrator> {
  const o = createOrchestrator(w.deps);
  o.start(start);
  let done = false;
  const finished = o.finished().then(() => (done = true));
  while (!done) {
    await w.clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  await finished;
  return o;
}

/** A migration as its agent reported it. */
export interface ReportedMove {
  readonly vm: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Tests' fault: `w.deps` whose agents' first reported migration the network does not see at once:
 * the tracker keeps the VM at its source and, `seenAfterMs` later on the virtual clock (never when
 * null), places it at its target. `first()` is that migration once it happened.
 */
export function firstMoveSeenLate(
  w: { deps: OrchestratorDeps; clock: VirtualClock; tracker: Map<string, string> },
  seenAfterMs: number | null,
): { deps: OrchestratorDeps; first: () => ReportedMove | null } {
  const decide = w.deps.decide.bind(w.deps);
  let first: ReportedMove | null = null;
  const deps: OrchestratorDeps = {
    ...w.deps,
    async decide(hv, body) {
      const r = await decide(hv, body);
      if (first === null && r.migrated && r.decision.to !== null) {
        const moved = { vm: body.vm, from: hv, to: r.decision.to };
        first = moved;
        w.tracker.set(moved.vm, moved.from);
        if (seenAfterMs !== null) void w.clock.sleep(seenAfterMs).then(() => w.tracker.set(moved.vm, moved.to));
      }
      return r;
    },
  };
  return { deps, first: () => first };
}
