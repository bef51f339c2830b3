import type { Command } from 'commander';
import { loadScenarioFile } from '../../scenario/load.ts';
import { simulate, type RunRecord } from '../../sim/run.ts';
import { runSimExperiment } from '../../system/sim-experiment.ts';
import { printRuns } from './simulate.ts';
import { writeRunOutputs } from '../output.ts';

function sameSteps(a: RunRecord, b: RunRecord): boolean {
  return a.steps.length === b.steps.length && a.steps.every((s, i) => s.vm === b.steps[i]?.vm && s.to === b.steps[i]?.to);
}

/**
 * The README's first command: the paper's experiment on the simulated data plane, no root. It
 * runs the whole system (controller, northbound API on loopback HTTP, one agent per hypervisor,
 * orchestrator) and reports what the controller measured; the pure model planner runs beside it
 * as a cross-check.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description("reproduce the paper's experiment (Round-Robin vs Load-Aware): controller, API and agents on the simulated data plane")
    .option('-s, --scenario <file|name>', 'scenario to run', 'paper')
    .option('-o, --out <dir>', 'output directory', 'score-out/demo')
    .option('--no-png', 'write SVG figures only')
    .action(async (opts: { scenario: string; out: string; png: boolean }) => {
      const started = performance.now();
      const { file, model } = loadScenarioFile(opts.scenario);
      console.log(`S-CORE demo: scenario "${model.scenario.name}" on the simulated data plane`);
      console.log(
        `  ${model.topology.hypervisors.length} hypervisors, ${model.topology.nodes.size - model.topology.hypervisors.length} switches, ${model.topology.links.length} links, ${model.vms.length} VMs, ${model.flows.length} flows; c_m = ${model.migrationCost}`,
      );
      // Two independent systems, one per policy, side by side: each has its own clock and data plane.
      const runs: RunRecord[] = await Promise.all(
        (['round-robin', 'load-aware'] as const).map((policy) =>
          runSimExperiment({
            model,
            file,
            policy,
            onReady: (stack) =>
              console.log(`  ${policy}: controller API at ${stack.apiUrl}/api/v1 (operator token ${stack.tokens.operator}), ${stack.runtime.channels.size} switches, ${model.scenario.hypervisors.length} agents over HTTP`),
          }),
        ),
      );
      printRuns(model, runs, { out: (s) => console.log(s) });
      const [rr, la] = runs;
      if (rr && la) {
        const dominated = la.timeline.every((p, i) => p.totalCost <= (rr.timeline[i]?.totalCost ?? rr.finalCost) + 1e-9);
        console.log(
          `\nResult: Round-Robin reaches cost ${rr.finalCost} after ${rr.migrations} migrations, Load-Aware ${la.finalCost} after ${la.migrations}; ` +
            `Load-Aware's cost is ${dominated ? 'never above' : 'NOT always at or below'} Round-Robin's.`,
        );
        const model1 = simulate(model, { policy: 'round-robin', file });
        const model2 = simulate(model, { policy: 'load-aware', file });
        const agree = sameSteps(rr, model1) && sameSteps(la, model2);
        console.log(`Cross-check: the live system's migrations ${agree ? 'match' : 'DIFFER FROM'} the pure model planner's (score simulate) step for step.`);
      }
      const written = await writeRunOutputs(opts.out, runs, opts.png);
      console.log(`Wrote ${written.join(', ')}`);
      console.log(`Done in ${((performance.now() - started) / 1000).toFixed(2)} s.`);
    });
}
