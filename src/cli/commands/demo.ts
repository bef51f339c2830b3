import type { Command } from 'commander';
import { loadScenarioFile } from '../../scenario/load.ts';
import { simulate } from '../../sim/run.ts';
import { printRuns } from './simulate.ts';
import { writeRunOutputs } from '../output.ts';

/** The README's first command: the paper's experiment under both policies, no root, no switches. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description("reproduce the paper's experiment (Round-Robin vs Load-Aware) on the simulated data plane")
    .option('-s, --scenario <file|name>', 'scenario to run', 'paper')
    .option('-o, --out <dir>', 'output directory', 'score-out/demo')
    .option('--no-png', 'write SVG figures only')
    .action(async (opts: { scenario: string; out: string; png: boolean }) => {
      const started = performance.now();
      const { file, model } = loadScenarioFile(opts.scenario);
      console.log(`S-CORE demo: scenario "${model.scenario.name}" on the simulated data plane`);
      console.log(`  ${model.topology.hypervisors.length} hypervisors, ${model.topology.nodes.size - model.topology.hypervisors.length} switches, ${model.topology.links.length} links, ${model.vms.length} VMs, ${model.flows.length} flows; c_m = ${model.migrationCost}`);
      const runs = (['round-robin', 'load-aware'] as const).map((policy) => simulate(model, { policy, file, source: 'demo' }));
      printRuns(model, runs, { out: (s) => console.log(s) });
      const [rr, la] = runs;
      if (rr && la) {
        const dominated = la.timeline.every((p, i) => p.totalCost <= (rr.timeline[i]?.totalCost ?? rr.finalCost));
        console.log(
          `\nResult: Round-Robin reaches cost ${rr.finalCost} after ${rr.migrations} migrations, Load-Aware ${la.finalCost} after ${la.migrations}; ` +
            `Load-Aware's cost is ${dominated ? 'never above' : 'NOT always at or below'} Round-Robin's.`,
        );
      }
      const written = await writeRunOutputs(opts.out, runs, opts.png);
      console.log(`Wrote ${written.join(', ')}`);
      console.log(`Done in ${((performance.now() - started) / 1000).toFixed(2)} s.`);
    });
}
