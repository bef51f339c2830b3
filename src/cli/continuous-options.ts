import { ScoreError } from '../errors/errors.ts';
import type { Orchestration, OrchestrationStart } from '../api/contract.ts';

/**
 * `score controller --orchestrate POLICY --every DURATION [...]`: the continuous-mode start body
 * the controller gives its own orchestrator, from command-line text. Errors: CLI_USAGE.
 */
export interface ContinuousCliOptions {
  readonly orchestrate?: string;
  readonly every?: string;
  readonly stableRounds?: string;
  readonly maxPerPeriod?: string;
  readonly quiet?: string;
  /** a fixed c_m instead of pre-copy pricing */
  readonly cm?: string;
  readonly vmMemory?: string;
}

/** "500ms", "10s", "2m", "1h", or a plain number of seconds → ms. */
export function parseDuration(option: string, text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) throw new ScoreError('CLI_USAGE', `${option}: expected a duration such as 500ms, 10s, 2m or 1h, got "${text}"`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(ms);
}

/** "4GiB", "512MiB", "64KiB", "1e9" (bytes) → bytes. */
export function parseBytes(option: string, text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*(B|KiB|MiB|GiB|kB|MB|GB)?\s*$/.exec(text);
  if (m === null) throw new ScoreError('CLI_USAGE', `${option}: expected a size such as 4GiB, 512MiB or a number of bytes, got "${text}"`);
  const scale = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1e3, MB: 1e6, GB: 1e9 }[(m[2] ?? 'B') as 'B'];
  return Number(m[1]) * scale;
}

function int(option: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new ScoreError('CLI_USAGE', `${option}: expected an integer >= ${min}, got "${text}"`);
  return n;
}

export const CONTINUOUS_KEYS = ['every', 'stableRounds', 'maxPerPeriod', 'quiet', 'cm', 'vmMemory'] as const;

/**
 * Refuses the first of `keys` (continuous-mode options, camelCase) given in `o` without the option
 * they go with (`needs`, e.g. "--orchestrate POLICY"). Errors: CLI_USAGE.
 */
export function refuseStray(o: ContinuousCliOptions, keys: readonly (typeof CONTINUOUS_KEYS)[number][], needs: string): void {
  // only these keys: o may be the whole command's option object
  const k = keys.find((key) => o[key] !== undefined);
  if (k !== undefined) throw new ScoreError('CLI_USAGE', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs ${needs}`);
}

/** null when --orchestrate is not given; --every without --orchestrate is an error. */
export function continuousStart(o: ContinuousCliOptions): OrchestrationStart | null {
  if (o.orchestrate === undefined) {
    refuseStray(o, CONTINUOUS_KEYS, '--orchestrate POLICY');
    return null;
  }
  const policy = o.orchestrate;
  if (policy !== 'rr' && policy !== 'la' && policy !== 'round-robin' && policy !== 'load-aware' && policy !== 'gain' && policy !== 'gain-order') {
    throw new ScoreError('CLI_USAGE', `--orchestrate: expected rr, la, gain (or round-robin, load-aware, gain-order), got "${policy}"`);
  }
  const everyMs = parseDuration('--every', o.every ?? '10s');
  if (everyMs < 100) throw new ScoreError('CLI_USAGE', `--every: at least 100ms, got "${o.every}"`);
  const stableRounds = int('--stable-rounds', o.stableRounds, 1);
  const maxPerPeriod = int('--max-per-period', o.maxPerPeriod, 1);
  const quietMs = o.quiet === undefined ? undefined : parseDuration('--quiet', o.quiet);
  let migrationCost: number | undefined;
  if (o.cm !== undefined) {
    migrationCost = Number(o.cm);
    if (!Number.isFinite(migrationCost) || migrationCost < 0) throw new ScoreError('CLI_USAGE', `--cm: expected a number >= 0, got "${o.cm}"`);
  }
  // a fixed c_m replaces the pre-copy price, whose VM memory would be dropped silently (the API refuses it too)
  if (o.cm !== undefined && o.vmMemory !== undefined) throw new ScoreError('CLI_USAGE', '--cm and --vm-memory do not go together: --cm is a fixed migration cost, --vm-memory sizes the pre-copy price it replaces');
  const memoryBytes = o.vmMemory === undefined ? undefined : parseBytes('--vm-memory', o.vmMemory);
  return {
    policy,
    ...(migrationCost !== undefined ? { migrationCost } : {}),
    continuous: {
      everyMs,
      ...(stableRounds !== undefined ? { stableRounds } : {}),
      ...(maxPerPeriod !== undefined ? { maxPerPeriod } : {}),
      ...(quietMs !== undefined ? { quietMs } : {}),
      ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    },
  };
}

/**
 * The console line for a continuous run stuck on the price (converged with moves priced out:
 * docs/api.md), or null. The controller says it when it starts, not every period.
 */
export function pricedOutLine(o: Orchestration): string | null {
  const p = o.continuous?.lastPeriod;
  if (!o.converged || p == null || p.pricedOut === 0) return null;
  const l = p.largestSaving;
  const largest = l === null ? '' : `; largest saving ${l.vm} -> ${l.to}: ${l.saving.toFixed(0)} against c_m ${l.migrationCost.toFixed(0)}`;
  return `continuous orchestration moves nothing: ${p.pricedOut} of ${p.asked} VM(s) would save, none more than its migration cost${largest} (a smaller --vm-memory, or --cm)`;
}
