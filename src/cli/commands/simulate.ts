import type { Command } from 'commander';
import { ScoreError } from '../../errors/errors.ts';
import type { PolicyName } from '../../core/policies.ts';
import type { DecisionMode } from '../../core/decision.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import { simulate, type RunRecord } from '../../sim/run.ts';
import type { Model } from '../../scenario/model.ts';
import { costTable, reasonTable, stepTable, utilisationTable } from '../../report/tables.ts';
import { writeRunOutputs } from '../output.ts';

const POLICIES: Record<string, PolicyName> = { rr: 'round-robin', 'round-robin': 'round-robin', la: 'load-aware', 'load-aware': 'load-aware' };

export function parsePolicies(value: string): PolicyName[] {
  const names = value === 'both' ? ['rr', 'la'] : value.split(',');
  return names.map((n) => {
    const p = POLICIES[n.trim()];
    if (p === undefined) throw new ScoreError('CLI_USAGE', `--policy: expected rr, la, both (or round-robin, load-aware), got "${n}"`);
    return p;
  });
}

export function parseNumberOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new ScoreError('CLI_USAGE', `${name}: expected a number >= ${min}, got "${value}"`);
  return n;
}

export interface PrintOptions {
  readonly out: (s: string) => void;
}

/** Prints what `demo` and `simulate` show: per policy the step table and reasons, then the comparison. */
export function printRuns(model: Model, runs: readonly RunRecord[], { out }: PrintOptions): void {
  for (const r of runs) {
    out(`\n== ${r.policy}: ${r.migrations} migration(s) in ${r.rounds} round(s), cost ${+r.initialCost.toFixed(2)} -> ${+r.finalCost.toFixed(2)}${r.converged ? '' : ' (not converged: round limit)'}`);
    out('Step table (which VM moved where, like the paper\'s Tables III/IV):');
    out(stepTable(r, model.vms));
    out('Decisions:');
    out(reasonTable(r));
    out('Mean utilisation per link layer, over links that carry traffic (active links in brackets):');
    out(utilisationTable(r));
  }
  out('\n== Overall communication cost C_A after each migration (Eq. 2; bytes/s × path weight):');
  out(costTable(runs));
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run a scenario on the simulated (fluid) data plane under one or both policies')
    .requiredOption('-s, --scenario <file|name>', 'scenario file (YAML/JSON) or built-in name, e.g. paper')
    .option('-p, --policy <rr|la|both>', 'orchestration policy', 'both')
    .option('--cm <cost>', 'migration cost c_m (overrides the scenario)')
    .option('--mode <first|best>', 'Algorithm 1 candidate choice: first improving (paper) or best')
    .option('--max-rounds <n>', 'stop after this many rounds')
    .option('-o, --out <dir>', 'output directory', 'score-out/simulate')
    .option('--no-png', 'write SVG figures only')
    .option('--json', 'print the run records as JSON instead of tables')
    .action(async (opts: { scenario: string; policy: string; cm?: string; mode?: string; maxRounds?: string; out: string; png: boolean; json?: boolean }) => {
      const policies = parsePolicies(opts.policy);
      if (opts.mode !== undefined && opts.mode !== 'first' && opts.mode !== 'best') {
        throw new ScoreError('CLI_USAGE', `--mode: expected first or best, got "${opts.mode}"`);
      }
      const migrationCost = parseNumberOption('--cm', opts.cm, 0);
      const maxRounds = parseNumberOption('--max-rounds', opts.maxRounds, 1);
      const { file, model } = loadScenarioFile(opts.scenario);
      const runs = policies.map((policy) =>
        simulate(model, { policy, file, migrationCost, maxRounds, decisionMode: opts.mode as DecisionMode | undefined }),
      );
      if (opts.json) {
        console.log(JSON.stringify({ kind: 'score-runs', version: 1, runs }, null, 2));
      } else {
        console.log(`Scenario ${model.scenario.name} (${file}): ${model.topology.hypervisors.length} hypervisors, ${model.vms.length} VMs, ${model.flows.length} flows`);
        printRuns(model, runs, { out: (s) => console.log(s) });
      }
      const written = await writeRunOutputs(opts.out, runs, opts.png);
      if (!opts.json) console.log(`\nWrote ${written.join(', ')}`);
    });
}
