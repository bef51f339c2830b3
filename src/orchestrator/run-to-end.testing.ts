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
