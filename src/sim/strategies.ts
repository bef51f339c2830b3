import { ScoreError } from '../errors/errors.ts';
import { runPolicy, type PolicyRun } from '../core/policies.ts';
import type { StrategyContext, StrategyRunner } from './scale.ts';

/**
 * Strategy names as the command line takes them, and the runner each name stands for.
 */
export const STRATEGY_ALIASES: Readonly<Record<string, string>> = {
  rr: 'round-robin',
  'round-robin': 'round-robin',
  la: 'load-aware',
  'load-aware': 'load-aware',
  none: 'none',
};

export const ALL_STRATEGIES = ['none', 'round-robin', 'load-aware'] as const;

export interface RailOptions {
  readonly cooldownRounds?: number;
  readonly stableRounds?: number;
  readonly maxPerRound?: number;
  readonly maxPerHypervisor?: number;
}

export interface StrategyOptions {
  readonly migrationCost: number;
  readonly maxRounds: number;
  readonly rails: RailOptions;
  readonly onRound?: (round: number, migrations: number) => void;
}

export function parseStrategies(value: string): string[] {
  if (value === 'all') return [...ALL_STRATEGIES];
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const name = STRATEGY_ALIASES[raw.trim()];
    if (name === undefined) {
      throw new ScoreError('CLI_USAGE', `--strategies: unknown strategy "${raw}"; expected "all" or a list of ${Object.keys(STRATEGY_ALIASES).join(', ')}`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

export function strategyRunner(name: string, o: StrategyOptions): StrategyRunner {
  return (ctx: StrategyContext): PolicyRun => {
    const base = { vms: ctx.vms, placement: ctx.placement, traffic: ctx.traffic, oracle: ctx.oracle, capacity: ctx.capacity, rank: ctx.rank, migrationCost: o.migrationCost, maxRounds: o.maxRounds };
    switch (name) {
      case 'round-robin':
      case 'load-aware':
        return runPolicy({ ...base, policy: name });
      case 'none':
        return runPolicy({ ...base, policy: 'round-robin', maxRounds: 0 });
      default:
        throw new ScoreError('CLI_USAGE', `unknown strategy "${name}"`);
    }
  };
}
