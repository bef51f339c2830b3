import type { Command } from 'commander';
import { ScoreError } from '../../errors/errors.ts';
import type { PolicyName } from '../../core/policies.ts';
import type { DecisionMode } from '../../core/decision.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import { simulateTimeline, type RunRecord } from '../../sim/run.ts';
import type { Model } from '../../scenario/model.ts';
import { costTable, reasonTable, stepTable, utilisationTable } from '../../report/tables.ts';
import { writeRunOutputs } from '../output.ts';
import { requireNoScenario, runScaleCli } from './simulate-scale.ts';
import { runEpochsCli } from './simulate-epochs.ts';
import { EPOCH_STRATEGIES, EXTRA_EPOCH_STRATEGIES, type EpochStrategy } from '../../sim/epochs.ts';
import { OPTIMAL_MAX_VMS, OVERCOMMIT_STRATEGIES, STRATEGY_ALIASES, parseStrategies } from '../../sim/strategies.ts';
import { STRATEGY_NAMES } from '../../core/baselines.ts';

const POLICIES: Record<string, PolicyName> = { rr: 'round-robin', 'round-robin': 'round-robin', la: 'load-aware', 'load-aware': 'load-aware', gain: 'gain-order', 'gain-order': 'gain-order' };

/**
 * `--policy`: a comma list of rr, la, gain (or their long names) and `both` (rr and la), in the
 * order given, each policy once. Errors: CLI_USAGE for any other name.
 */
export function parsePolicies(value: string): PolicyName[] {
  const names = value.split(',').flatMap((n) => (n.trim() === 'both' ? ['rr', 'la'] : [n]));
  const out = new Set<PolicyName>();
  for (const n of names) {
    const p = POLICIES[n.trim()];
    if (p === undefined) throw new ScoreError('CLI_USAGE', `--policy: expected rr, la, gain, both (or round-robin, load-aware, gain-order; a comma list), got "${n}"`);
    out.add(p);
  }
  return [...out];
}

export function parseNumberOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new ScoreError('CLI_USAGE', `${name}: expected a number >= ${min}, got "${value}"`);
  return n;
}

/**
 * `--tolerance`: the relative difference under which measured rates count as equal (service
 * `rateTolerance`, src/service/traffic.ts quantizeRates), a fraction in [0, 1); CLI_USAGE otherwise.
 */
export function parseTolerance(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < 1)) throw new ScoreError('CLI_USAGE', `--tolerance: expected a fraction in [0, 1), got "${value}"`);
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

function parseMode(mode: string): DecisionMode {
  if (mode !== 'first' && mode !== 'best') throw new ScoreError('CLI_USAGE', `--mode: expected first or best, got "${mode}"`);
  return mode;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run a scenario file, or a generated data centre at scale, on the simulated (fluid) data plane')
    .option('-s, --scenario <file|name>', 'scenario file (YAML/JSON) or built-in name, e.g. paper')
    .option('-t, --topology <spec>', 'scale mode: fat-tree:K, three-tier:PODSxTORSxHOSTS or leaf-spine:LEAVESxSPINESxHOSTS')
    .option('-p, --policy <list>', 'scenario mode: orchestration policies, a comma list of rr, la, gain; both = rr,la', 'both')
    .option('--strategies <list>', strategiesHelp(), 'all')
    .option('--oversubscription <tor:agg>', 'scale mode, three-tier: oversubscription ratios, e.g. 2.5:4')
    .option('-w, --workload <model>', 'scale mode: traffic model', 'partners')
    .option('--vms <n>', 'scale mode: number of VMs (default 4096; not with --workload csv, whose traffic file decides)')
    .option('--slots <n>', 'scale mode: VM slots per hypervisor', '8')
    .option('--placement <random|packed|file.csv>', 'scale mode: initial placement', 'random')
    .option('--traffic <file.csv>', 'scale mode, workload csv: traffic matrix (src,dst,rate) or flow trace (time,src,dst,bytes)')
    .option('--seed <n>', 'scale mode: random seed', '1')
    .option('--param <name=value...>', 'scale mode: workload model parameters, e.g. rackLocalFraction=0.5 rateSigma=1.5')
    .option('--cooldown <rounds>', 'scale mode rail: rounds a migrated VM waits before it may move again')
    .option('--stable <rounds>', 'scale mode rail: a move is made only after the VM chose the same target this many rounds in a row (with --epochs: periods, with hysteresis; default 3)')
    .option('--max-per-round <n>', 'scale mode rail: migrations per round, globally')
    .option('--max-per-hypervisor <n>', 'scale mode rail: migrations per round per hypervisor (in or out)')
    .option('--no-utilisation', 'scale mode: skip per-layer utilisation (one pass over every flow path per round)')
    .option('--progress', 'scale mode: show progress on stderr (default on a terminal)')
    .option('--cm <cost|precopy>', 'migration cost c_m (overrides the scenario; scale mode default 0; scale mode "precopy": priced per move by the pre-copy model)')
    .option('--amortisation <seconds>', 'scale mode with --cm precopy: seconds a move\'s saving is counted over', '300')
    .option('--max-migrations <n|pct%>', 'scale mode: migration budget per strategy, a count or a share of the VMs')
    .option('--overcommit <0|1>', `scale mode: temporary extra VMs per hypervisor while ${OVERCOMMIT_STRATEGIES.join(', ')} carry out an exchange (default 0: only through a free slot elsewhere)`)
    .option('--mode <first|best>', 'Algorithm 1 candidate choice: first improving (paper) or best')
    .option('--max-rounds <n>', 'stop after this many rounds (with --epochs: of each plan)')
    .option('-o, --out <dir>', 'output directory (default score-out/simulate; with --topology score-out/scale, with --epochs score-out/epochs)')
    .option('--no-png', 'write SVG figures only')
    .option('--json', 'print the results as JSON on stdout instead of tables (the files are still written to --out)')
    .option('--epochs <n>', 'scale mode over time: epochs; compares never, one-shot, continuous RR/LA ± hysteresis, clairvoyant')
    .option('--evolve <model>', 'with --epochs: static, churn:RATE, diurnal:PERIOD, onoff, trace:FILE', 'churn:0.1')
    .option('--epoch-seconds <s>', 'with --epochs: length of an epoch', '3600')
    .option('--period <s>', 'with --epochs: continuous mode\'s planning period (its detection delay)', '60')
    .option('--horizon <s>', 'with --epochs: seconds a move must keep saving to pay for its pre-copy traffic (default 14400: 4 h)')
    .option('--measure-epochs <n>', 'with --epochs: continuous mode plans on rates averaged over the last N epochs', '1')
    .option('--planner <incremental|full>', "with --epochs: how continuous mode without hysteresis re-plans each epoch (same migrations; full: from scratch)", 'incremental')
    .option('--return-window <epochs>', 'with --epochs: no-return window with hysteresis, and K of the oscillation count', '4')
    .option('--reference <none|metis>', 'scale mode: a METIS hierarchical-partitioning reference placement and each strategy\'s gap to the best known one', 'none')
    .action(async (opts: SimulateCliOptions, cmd: Command) => {
      if (opts.topology !== undefined) {
        requireNoScenario(opts.scenario);
        rejectUnused(cmd, opts.epochs !== undefined);
        if (given(cmd, 'policy')) throw new ScoreError('CLI_USAGE', '--policy: scenario mode only (with --scenario); scale mode (--topology) takes --strategies');
        const int = (name: string, v: string | undefined, min: number): number | undefined => {
          const n = parseNumberOption(name, v, min);
          if (n !== undefined && !Number.isInteger(n)) throw new ScoreError('CLI_USAGE', `${name}: expected an integer, got "${v}"`);
          return n;
        };
        if (opts.epochs !== undefined) {
          await runEpochsCli({
            topology: opts.topology,
            oversubscription: opts.oversubscription,
            workload: { model: opts.workload, vms: int('--vms', opts.vms, 1) ?? DEFAULT_SCALE_VMS, vmsGiven: opts.vms !== undefined, slots: int('--slots', opts.slots, 1)!, placement: opts.placement, seed: int('--seed', opts.seed, 0)!, trafficFile: opts.traffic, params: opts.param ?? [] },
            epochs: int('--epochs', opts.epochs, 1)!,
            evolve: opts.evolve,
            epochSeconds: parseNumberOption('--epoch-seconds', opts.epochSeconds, 1)!,
            periodSeconds: parseNumberOption('--period', opts.period, 0)!,
            ...(opts.horizon === undefined ? {} : { horizonSeconds: parseNumberOption('--horizon', opts.horizon, 1)! }),
            noReturnEpochs: int('--return-window', opts.returnWindow, 0)!,
            maxRounds: int('--max-rounds', opts.maxRounds, 1) ?? 20,
            ...(opts.stable === undefined ? {} : { stableRounds: int('--stable', opts.stable, 1)! }),
            strategies: epochStrategies(opts.strategies),
            measureEpochs: int('--measure-epochs', opts.measureEpochs, 1)!,
            planner: plannerOption(opts.planner),
            out: opts.out ?? 'score-out/epochs',
            png: opts.png,
            json: opts.json === true,
          });
          return;
        }
        await runScaleCli({
          topology: opts.topology,
          oversubscription: opts.oversubscription,
          workload: {
            model: opts.workload,
            vms: int('--vms', opts.vms, 1) ?? DEFAULT_SCALE_VMS,
            vmsGiven: opts.vms !== undefined,
            slots: int('--slots', opts.slots, 1)!,
            placement: opts.placement,
            seed: int('--seed', opts.seed, 0)!,
            trafficFile: opts.traffic,
            params: opts.param ?? [],
          },
          strategies: opts.strategies,
          ...overcommitOption(opts.overcommit, opts.strategies),
          migrationCost: opts.cm === 'precopy' ? 'precopy' : (parseNumberOption('--cm', opts.cm, 0) ?? 0),
          amortisationSeconds: parseNumberOption('--amortisation', opts.amortisation, 1),
          ...(opts.maxMigrations === undefined ? {} : { maxMigrations: opts.maxMigrations }),
          ...(opts.mode === undefined ? {} : { mode: parseMode(opts.mode) }),
          maxRounds: int('--max-rounds', opts.maxRounds, 1) ?? 20,
          rails: {
            cooldownRounds: int('--cooldown', opts.cooldown, 0),
            stableRounds: int('--stable', opts.stable, 1),
            maxPerRound: int('--max-per-round', opts.maxPerRound, 1),
            maxPerHypervisor: int('--max-per-hypervisor', opts.maxPerHypervisor, 1),
          },
          utilisation: opts.utilisation,
          out: opts.out ?? 'score-out/scale',
          png: opts.png,
          json: opts.json === true,
          progress: opts.progress === true || process.stderr.isTTY,
          reference: parseReference(opts.reference),
        });
        return;
      }
      if (opts.scenario === undefined) throw new ScoreError('CLI_USAGE', 'give --scenario <file|name> or --topology <spec>');
      rejectScaleOptions(cmd);
      if (opts.cm === 'precopy') throw new ScoreError('CLI_USAGE', '--cm precopy: scale mode only (with --topology); --scenario takes a number');
      const policies = parsePolicies(opts.policy);
      if (opts.mode !== undefined) parseMode(opts.mode);
      const migrationCost = parseNumberOption('--cm', opts.cm, 0);
      const maxRounds = parseNumberOption('--max-rounds', opts.maxRounds, 1);
      const { file, model } = loadScenarioFile(opts.scenario);
      const runs = policies.map((policy) =>
        simulateTimeline(model, { policy, file, migrationCost, maxRounds, decisionMode: opts.mode as DecisionMode | undefined }),
      );
      if (opts.json) {
        console.log(JSON.stringify({ kind: 'score-runs', version: 1, runs }, null, 2));
      } else {
        console.log(`Scenario ${model.scenario.name} (${file}): ${model.topology.hypervisors.length} hypervisors, ${model.vms.length} VMs, ${model.flows.length} flows`);
        printRuns(model, runs, { out: (s) => console.log(s) });
        if (model.timeline.segments.length > 1) {
          // traffic that changes in time: each run re-planned at every phase (src/sim/run.ts simulateTimeline)
          console.log('\nTraffic phases (each policy re-plans from where the previous phase left the VMs; the runs above and the files carry every phase):');
          for (const r of runs) {
            for (const ph of r.phases ?? []) {
              const moves = r.steps.filter((st) => st.phase === ph.phase);
              console.log(`  ${r.policy} phase ${ph.phase + 1} from ${ph.startSec} s: ${ph.flows} flows, cost ${+ph.costAtStart.toFixed(2)} -> ${+ph.costAfter.toFixed(2)} in ${ph.migrations} migration(s)${moves.length > 0 ? `: ${moves.map((m) => `${m.vm} ${m.from}->${m.to}`).join(', ')}` : ''}`);
            }
          }
        }
      }
      const written = await writeRunOutputs(opts.out ?? 'score-out/simulate', runs, opts.png);
      // With --json stdout is the document alone; say on stderr where the files went.
      if (opts.json) console.error(`Wrote ${written.join(', ')}`);
      else console.log(`\nWrote ${written.join(', ')}`);
    });
}

/** `--vms` when not given, for the generated workload models. */
const DEFAULT_SCALE_VMS = 4096;

function parseReference(v: string | undefined): 'none' | 'metis' {
  if (v === undefined || v === 'none' || v === 'metis') return v ?? 'none';
  throw new ScoreError('CLI_USAGE', `--reference: expected none or metis, got "${v}"`);
}

interface SimulateCliOptions {
  reference?: string;
  overcommit?: string;
  scenario?: string;
  topology?: string;
  policy: string;
  strategies: string;
  oversubscription?: string;
  workload: string;
  vms?: string;
  slots: string;
  placement: string;
  traffic?: string;
  seed: string;
  param?: string[];
  cooldown?: string;
  stable?: string;
  maxPerRound?: string;
  maxPerHypervisor?: string;
  utilisation: boolean;
  progress?: boolean;
  cm?: string;
  amortisation?: string;
  maxMigrations?: string;
  mode?: string;
  maxRounds?: string;
  epochs?: string;
  evolve: string;
  epochSeconds: string;
  period: string;
  horizon?: string;
  measureEpochs?: string;
  planner: string;
  returnWindow: string;
  out?: string;
  png: boolean;
  json?: boolean;
}

/** scale-mode options that only the single-snapshot comparison reads, and those only --epochs reads */
const SNAPSHOT_ONLY = ['overcommit', 'cm', 'amortisation', 'maxMigrations', 'mode', 'cooldown', 'maxPerRound', 'maxPerHypervisor', 'reference', 'utilisation', 'progress'] as const;
const EPOCHS_ONLY = ['evolve', 'epochSeconds', 'period', 'horizon', 'measureEpochs', 'planner', 'returnWindow'] as const;

/**
 * A scale-mode option the chosen mode does not read is CLI_USAGE, not silently ignored (an
 * operator who gives `--cm precopy` with `--epochs` must not believe the timeline used it).
 */
function rejectUnused(cmd: Command, epochs: boolean): void {
  const bad = (epochs ? SNAPSHOT_ONLY : EPOCHS_ONLY).filter((key) => given(cmd, key));
  const flag = (key: string): string => flagOf(cmd, key);
  if (bad.length > 0) throw new ScoreError('CLI_USAGE', epochs ? `${bad.map(flag).join(', ')}: not used with --epochs${bad.some((k) => k === 'cm' || k === 'amortisation') ? ' (the timeline prices moves with --horizon)' : ''}` : `${bad.map(flag).join(', ')}: only with --epochs`);
}

/** --strategies with --epochs: "all" or a comma list of the timeline's strategy names */
function epochStrategies(v: string): readonly EpochStrategy[] {
  if (v === 'all') return EPOCH_STRATEGIES;
  const known = [...EPOCH_STRATEGIES, ...EXTRA_EPOCH_STRATEGIES];
  return v.split(',').map((n) => {
    const s = known.find((e) => e.name === n.trim());
    if (s === undefined) throw new ScoreError('CLI_USAGE', `--strategies with --epochs: expected "all" or a comma list of ${known.map((e) => e.name).join(', ')}; got "${n}"`);
    return s;
  });
}

function plannerOption(v: string): 'incremental' | 'full' {
  if (v === 'incremental' || v === 'full') return v;
  throw new ScoreError('CLI_USAGE', `--planner: expected incremental or full, got "${v}"`);
}

/**
 * Whether the user gave option `key` (camelCase), as opposed to commander filling in its default:
 * an option with a default cannot be told from its value.
 */
function given(cmd: Command, key: string): boolean {
  const source = cmd.getOptionValueSource(key);
  return source !== undefined && source !== 'default';
}

function flagOf(cmd: Command, key: string): string {
  return cmd.options.find((o) => o.attributeName() === key)?.long ?? key;
}

/** What `--scenario` reads: every other option is scale mode's (a new option is refused here until added). */
const SCENARIO_OPTIONS: ReadonlySet<string> = new Set(['scenario', 'topology', 'policy', 'cm', 'mode', 'maxRounds', 'out', 'png', 'json']);

/**
 * Scale-mode options given with --scenario are CLI_USAGE naming them and the mode that takes
 * them: a scenario brings its own topology, VMs and traffic, and silently running it without the
 * `--vms` or `--strategies` the user asked for would misreport what was simulated.
 */
function rejectScaleOptions(cmd: Command): void {
  const bad = cmd.options.map((o) => o.attributeName()).filter((key) => !SCENARIO_OPTIONS.has(key) && given(cmd, key));
  if (bad.length === 0) return;
  const overTime = new Set<string>(['epochs', ...EPOCHS_ONLY]);
  const scale = bad.filter((k) => !overTime.has(k)).map((k) => flagOf(cmd, k));
  const epochs = bad.filter((k) => overTime.has(k)).map((k) => flagOf(cmd, k));
  const parts = [...(scale.length > 0 ? [`${scale.join(', ')}: scale mode only (with --topology)`] : []), ...(epochs.length > 0 ? [`${epochs.join(', ')}: scale mode over time only (with --topology and --epochs)`] : [])];
  const takes = cmd.options.filter((o) => SCENARIO_OPTIONS.has(o.attributeName()) && o.attributeName() !== 'scenario' && o.attributeName() !== 'topology').map((o) => o.long);
  throw new ScoreError('CLI_USAGE', `not with --scenario: ${parts.join('; ')}. --scenario takes ${takes.join(', ')}`);
}

/**
 * `--overcommit`: 0 or 1 (the API's range, contract.ts), for OVERCOMMIT_STRATEGIES only; CLI_USAGE
 * for another value or when `--strategies` selects none of them (the option would do nothing).
 */
function overcommitOption(v: string | undefined, strategies: string): { overcommit?: number } {
  if (v === undefined) return {};
  if (v !== '0' && v !== '1') throw new ScoreError('CLI_USAGE', `--overcommit: expected 0 or 1 (temporary extra VMs per hypervisor during an exchange), got "${v}"`);
  if (!parseStrategies(strategies).some((n) => OVERCOMMIT_STRATEGIES.includes(n))) {
    throw new ScoreError('CLI_USAGE', `--overcommit: only ${OVERCOMMIT_STRATEGIES.join(', ')} use it, and --strategies ${strategies} selects none of them`);
  }
  return { overcommit: Number(v) };
}

/**
 * `--strategies`' help, from the lists the parsers check against (STRATEGY_ALIASES, what
 * parseStrategies calls "all", the epoch strategies), so that it names what is accepted.
 */
function strategiesHelp(): string {
  const aliases = (name: string): string[] => Object.keys(STRATEGY_ALIASES).filter((a) => a !== name && STRATEGY_ALIASES[a] === name);
  const names = STRATEGY_NAMES.map((n) => (aliases(n).length > 0 ? `${n} (${aliases(n).join(', ')})` : n));
  const all = parseStrategies('all', OPTIMAL_MAX_VMS);
  const notInAll = STRATEGY_NAMES.filter((n) => !all.includes(n));
  return (
    `scale mode: "all" or a comma list of ${names.join(', ')}; "all" is every one but ${notInAll.join(', ')}, and optimal only up to ${OPTIMAL_MAX_VMS} VMs. ` +
    `With --epochs: "all" (${EPOCH_STRATEGIES.map((e) => e.name).join(', ')}) or a comma list of those and ${EXTRA_EPOCH_STRATEGIES.map((e) => e.name).join(', ')}`
  );
}
