import type { Command } from 'commander';
import { ScoreError } from '../../errors/errors.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import { simulate, type RunRecord } from '../../sim/run.ts';
import { startSimExperiment, type SimExperiment } from '../../system/sim-experiment.ts';
import type { Stack } from '../../system/stack.ts';
import { parseNumberOption, printRuns } from './simulate.ts';
import { writeRunOutputs } from '../output.ts';
import { addContinuousOptions, continuousRunStart, phasesIntro, phaseSummary, quietPeriodsOf, type ContinuousRunOptions } from '../continuous-run.ts';

const POLICIES = ['round-robin', 'load-aware', 'gain-order'] as const;

/** The dashboard line a command prints for a running stack. */
export function dashboardLine(label: string, stack: Pick<Stack, 'dashboardUrl' | 'tokens'>): string {
  return `  ${label}dashboard ${stack.dashboardUrl} (give it the operator token, or open ${stack.dashboardUrl}#token=${encodeURIComponent(stack.tokens.operator)})`;
}

/** Resolves on the first SIGINT or SIGTERM, with its name. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      resolve(s);
    };
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
  });
}

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
  const demo = program
    .command('demo')
    .description("reproduce the paper's experiment (Round-Robin vs Load-Aware, and the gain-ordered policy): controller, API and agents on the simulated data plane")
    .option('-s, --scenario <file|name>', 'scenario to run', 'paper')
    .option('-o, --out <dir>', 'output directory', 'score-out/demo')
    .option('--no-png', 'write SVG figures only')
    .option('--pace <ms>', 'real milliseconds per orchestration step, so the dashboard shows VMs moving (default: as fast as possible)')
    .option('--wait <seconds>', 'wait this long after the controllers are up before orchestrating (time to open the dashboard)')
    .option('--hold', 'keep the controllers, agents and dashboards up after the run until Ctrl-C or SIGTERM');
  addContinuousOptions(demo, '')
    .action(async (opts: { scenario: string; out: string; png: boolean; pace?: string; wait?: string; hold?: boolean } & ContinuousRunOptions) => {
      const started = performance.now();
      const paceMs = parseNumberOption('--pace', opts.pace, 0);
      const waitS = parseNumberOption('--wait', opts.wait, 0);
      const { file, model } = loadScenarioFile(opts.scenario);
      // checked before anything starts: one start body per policy
      const continuous = POLICIES.map((p) => continuousRunStart(p, opts));
      // the virtual clock runs from the start, so a wait would let the phases pass unplanned
      if (continuous[0] !== null && waitS !== undefined && waitS > 0) throw new ScoreError('CLI_USAGE', '--wait lets the virtual clock run past the phases before --every starts; use --pace MS (with --hold) to watch on the dashboard');
      console.log(`S-CORE demo: scenario "${model.scenario.name}" on the simulated data plane`);
      console.log(
        `  ${model.topology.hypervisors.length} hypervisors, ${model.topology.nodes.size - model.topology.hypervisors.length} switches, ${model.topology.links.length} links, ${model.vms.length} VMs, ${model.flows.length} flows; c_m = ${model.migrationCost}`,
      );
      // Two independent systems, one per policy, side by side: each has its own clock and data plane.
      const starting = await Promise.allSettled(
        POLICIES.map((policy) =>
          startSimExperiment({
            model,
            file,
            policy,
            ...(paceMs !== undefined ? { paceMs } : {}),
            onReady: (stack) => {
              // Addresses and tokens only when someone can use them: without --hold or --wait the
              // controllers stop a second or two later, when the run ends.
              if (opts.hold === true || (waitS ?? 0) > 0) {
                console.log(`  ${policy}: controller API at ${stack.apiUrl}/api/v1 (operator token ${stack.tokens.operator}), ${stack.runtime.channels.size} OpenFlow switches (hypervisors' virtual switches included), ${model.scenario.hypervisors.length} agents over HTTP`);
                console.log(dashboardLine(`${policy}: `, stack));
              } else {
                console.log(`  ${policy}: controller and API on loopback, ${stack.runtime.channels.size} OpenFlow switches (hypervisors' virtual switches included), ${model.scenario.hypervisors.length} agents over HTTP (they stop when the run ends; --hold keeps them up for the dashboard)`);
              }
            },
          }),
        ),
      );
      const experiments = starting.flatMap((r): SimExperiment[] => (r.status === 'fulfilled' ? [r.value] : []));
      try {
        const failed = starting.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
        if (waitS !== undefined && waitS > 0) {
          console.log(`  waiting ${waitS} s before orchestrating`);
          await new Promise((r) => setTimeout(r, waitS * 1000));
        }
        const intro = phasesIntro(model, continuous[0] ?? null, ' (virtual time), until it settles after the last');
        if (intro !== null) console.log(intro);
        const runs: RunRecord[] = await Promise.all(
          experiments.map(async (e, i) => {
            const start = continuous[i];
            if (start === null || start === undefined) return e.run();
            const run = await e.runContinuous(start, quietPeriodsOf(start));
            if (run.stoppedBy === 'time') console.log(`  ${POLICIES[i] ?? ''}: stopped at its time limit, 10 virtual minutes after the last phase began, before it settled`);
            return run;
          }),
        );
        printRuns(model, runs, { out: (s) => console.log(s) });
        const [rr, la, gain] = runs;
        if (continuous[0] !== null) {
          console.log('');
          for (const r of runs) console.log(`${r.policy}: ${phaseSummary(model, r).join('; ')}; cost at the end ${r.finalCost}`);
        } else if (rr && la) {
          const dominated = la.timeline.every((p, i) => p.totalCost <= (rr.timeline[i]?.totalCost ?? rr.finalCost) + 1e-9);
          console.log(
            `\nResult: Round-Robin reaches cost ${rr.finalCost} after ${rr.migrations} migrations, Load-Aware ${la.finalCost} after ${la.migrations}; ` +
              `Load-Aware's cost is ${dominated ? 'never above' : 'NOT always at or below'} Round-Robin's.`,
          );
          const model1 = simulate(model, { policy: 'round-robin', file });
          const model2 = simulate(model, { policy: 'load-aware', file });
          const model3 = gain === undefined ? undefined : simulate(model, { policy: 'gain-order', file });
          const agree = sameSteps(rr, model1) && sameSteps(la, model2) && (gain === undefined || model3 === undefined || sameSteps(gain, model3));
          if (gain !== undefined) {
            // in units of one flow's rate only where every flow has the same rate (the paper's)
            const rates = [...model.traffic.peers.values()].flatMap((m) => [...m.values()]);
            const unit = rates.length > 0 && Math.min(...rates) === Math.max(...rates) ? rates[0]! : undefined;
            const path = gain.timeline.map((p) => +(p.totalCost / (unit ?? 1)).toFixed(2)).join(',');
            console.log(`Gain-ordered (largest saving first): cost ${gain.finalCost} after ${gain.migrations} migrations, along ${path} (${unit !== undefined ? "units of one flow's rate" : 'C_A'}).`);
          }
          console.log(`Cross-check: the live system's migrations ${agree ? 'match' : 'DIFFER FROM'} the pure model planner's (score simulate) step for step.`);
        }
        const written = await writeRunOutputs(opts.out, runs, opts.png);
        console.log(`Wrote ${written.join(', ')}`);
        console.log(`Done in ${((performance.now() - started) / 1000).toFixed(2)} s.`);
        if (opts.hold === true) {
          console.log('Holding: the controllers, agents and dashboards stay up (the dashboards can plan and run again); Ctrl-C or SIGTERM stops.');
          experiments.forEach((e, i) => console.log(dashboardLine(`${POLICIES[i] ?? ''}: `, e.stack)));
          const signal = await untilSignal();
          console.log(`${signal}: stopping the controllers and agents`);
        }
      } finally {
        await Promise.all(experiments.map((e) => e.stop()));
      }
    });
}
