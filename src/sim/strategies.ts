import { ScoreError } from '../errors/errors.ts';
import { runStrategy, STRATEGY_NAMES, type StrategyName, type StrategyRun } from '../core/baselines.ts';
import { preCopyMigrationCost, type MigrationCostFn } from '../core/migration-cost.ts';
import type { DecisionMode } from '../core/decision.ts';
import type { RailConfig, ResourceSpec } from '../core/rails.ts';
import { seededRng } from '../core/random.ts';
import { rackMates } from '../core/nearby.ts';
import { DEFAULT_MIGRATION_MODEL, type MigrationModel, type StrategyContext, type StrategyRunner } from './scale.ts';

/**
 * Strategy names as the command line takes them, and how the simulator runs each one.
 * `random` borrows Load-Aware's migration count as its budget when Load-Aware ran first (same
 * number of moves, no intelligence), else one move per VM. `optimal` is exact and exponential: it
 * is part of "all" only for instances of at most OPTIMAL_MAX_VMS VMs; `lookahead-staged` (two
 * look-ahead runs) only when named.
 */
export const STRATEGY_ALIASES: Readonly<Record<string, StrategyName>> = {
  rr: 'round-robin',
  'round-robin': 'round-robin',
  la: 'load-aware',
  'load-aware': 'load-aware',
  none: 'none',
  distributed: 'distributed',
  dist: 'distributed',
  random: 'random',
  greedy: 'greedy',
  'gain-order': 'gain-order',
  gain: 'gain-order',
  'gain-swap': 'gain-swap',
  swap: 'gain-swap',
  lookahead: 'lookahead',
  'lookahead-staged': 'lookahead-staged',
  staged: 'lookahead-staged',
  optimal: 'optimal',
  opt: 'optimal',
};

export const OPTIMAL_MAX_VMS = 12;

/** The strategies that carry an exchange out through a temporary overcommit when allowed (gain-order.ts). */
export const OVERCOMMIT_STRATEGIES: readonly StrategyName[] = ['gain-swap', 'lookahead', 'lookahead-staged'];

export type RailOptions = RailConfig;

export interface StrategyOptions {
  /** c_m: a number, or 'precopy' to price each move with the pre-copy model (migration-cost.ts) */
  readonly migrationCost: number | 'precopy';
  /** seconds a move's saving is counted over when c_m is 'precopy' */
  readonly amortisationSeconds?: number;
  readonly migration?: MigrationModel;
  readonly mode?: DecisionMode;
  /** migration budget per run */
  readonly maxMigrations?: number;
  /** progress: after every round of the round-based strategies */
  readonly onRound?: (round: number, migrations: number) => void;
  readonly maxRounds: number;
  readonly rails: RailOptions;
  readonly resources?: ResourceSpec;
  /** optimal: search nodes before giving up (the result is then not proven optimal) */
  readonly maxNodes?: number;
  /**
   * OVERCOMMIT_STRATEGIES: temporary extra VMs per hypervisor while an exchange is carried out
   * (0, the default: only through a free slot elsewhere; the API's `overcommit`, 0 or 1)
   */
  readonly overcommit?: number;
}

export function parseStrategies(value: string, vms = Infinity): StrategyName[] {
  // lookahead-staged runs the look-ahead twice: named, not part of "all"
  if (value === 'all') return STRATEGY_NAMES.filter((n) => n !== 'lookahead-staged' && (n !== 'optimal' || vms <= OPTIMAL_MAX_VMS));
  const out: StrategyName[] = [];
  for (const raw of value.split(',')) {
    const name = STRATEGY_ALIASES[raw.trim()];
    if (name === undefined) {
      throw new ScoreError('CLI_USAGE', `--strategies: unknown strategy "${raw}"; expected "all" or a list of ${Object.keys(STRATEGY_ALIASES).join(', ')}`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

// Streams of the seed: the random baseline must not share draws with the workload generator.
const RANDOM_STRATEGY_STREAM = 0x5eed;

export function strategyRunner(name: StrategyName, o: StrategyOptions): StrategyRunner {
  return (ctx: StrategyContext): StrategyRun => {
    const rails = Object.values(o.rails).some((v) => v !== undefined) ? o.rails : undefined;
    const model = o.migration ?? DEFAULT_MIGRATION_MODEL;
    const migrationCost: number | MigrationCostFn =
      o.migrationCost === 'precopy'
        ? preCopyMigrationCost({
            oracle: ctx.oracle,
            ...(ctx.resources === undefined ? {} : { vms: ctx.resources }),
            defaults: model.defaults,
            bandwidthBytesPerSec: model.bandwidthBytesPerSec,
            maxRounds: model.maxRounds,
            stopCopyBytes: model.stopCopyBytes,
            amortisationSeconds: o.amortisationSeconds ?? 300,
          })
        : o.migrationCost;
    const base = {
      vms: ctx.vms,
      placement: ctx.placement,
      traffic: ctx.traffic,
      oracle: ctx.oracle,
      capacity: ctx.capacity,
      rank: ctx.rank,
      migrationCost,
      maxRounds: o.maxRounds,
      ...(o.mode === undefined ? {} : { mode: o.mode }),
      ...(o.maxMigrations === undefined ? {} : { maxMigrations: o.maxMigrations }),
      ...(o.onRound === undefined ? {} : { onRound: o.onRound }),
      ...(rails === undefined ? {} : { rails }),
      ...(o.resources === undefined ? {} : { resources: o.resources }),
    };
    if (name === 'random') {
      const budget = o.maxMigrations ?? ctx.previous.get('load-aware')?.steps.length ?? ctx.vms.length;
      return runStrategy(name, { ...base, maxMigrations: budget, rng: seededRng((ctx.seed ^ RANDOM_STRATEGY_STREAM) >>> 0) });
    }
    if (name === 'optimal') {
      if (ctx.vms.length > OPTIMAL_MAX_VMS) {
        throw new ScoreError('CLI_USAGE', `the exact optimum is for small instances (at most ${OPTIMAL_MAX_VMS} VMs), not ${ctx.vms.length}`);
      }
      return runStrategy(name, { ...base, ...(o.maxNodes === undefined ? {} : { maxNodes: o.maxNodes }) });
    }
    // the gain-ordered planners look for room next to a full peer hypervisor among its rack mates
    if (OVERCOMMIT_STRATEGIES.includes(name)) return runStrategy(name, { ...base, nearby: rackMates(ctx.topology), ...(o.overcommit === undefined ? {} : { overcommit: o.overcommit }) });
    return runStrategy(name, base);
  };
}
