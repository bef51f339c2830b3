import { ScoreError } from '../errors/errors.ts';
import { preCopyMigrationCost, qemuStopCopyBytes, type MigrationCostFn } from '../core/migration-cost.ts';
import { worthMigrating } from '../core/cost.ts';
import type { PathOracle } from '../core/paths.ts';

/**
 * Continuous orchestration: re-plan every period from the rates measured over the controller's
 * window, and move a VM only when the move stays worth it. Pure decisions and plain, JSON-
 * serialisable state (another process may persist it); the loop that asks agents lives in
 * orchestrator.ts.
 *
 * Against oscillation, three independent guards (each sufficient for the case it names):
 *  - price: a move must save more than its pre-copy migration traffic amortised over a horizon
 *    (Eq. 3 with c_m from migration-cost.ts), so a move and its reverse cannot both pay under
 *    the same traffic;
 *  - stable (N periods): a VM moves only after choosing the same target in N consecutive
 *    periods (the authors' Ryu prototype used N = 3), so a transient in the measured rates
 *    (a phase change half-way through the window) moves nothing;
 *  - no-return (R periods): a VM never goes back to a hypervisor it left within R periods,
 *    whatever the traffic says.
 * A per-period migration budget caps how much migration traffic one period puts on the network.
 */
export interface ContinuousConfig {
  /** period between planning rounds, ms */
  readonly everyMs: number;
  /** N consecutive periods choosing the same target before a move (default 3) */
  readonly stableRounds: number;
  /** a VM may not return to a hypervisor it left within this many periods (default 20) */
  readonly noReturnRounds: number;
  /** a VM that moved may not move again for this many periods (default 1) */
  readonly cooldownRounds: number;
  /** migrations per period, all hypervisors together (default 4) */
  readonly maxPerPeriod: number;
  /** after the network changed (link, switch), wait this long before planning again (default 10 s) */
  readonly quietMs: number;
  /** how moves are priced: a fixed c_m, or the pre-copy model (default) */
  readonly pricing: { readonly kind: 'fixed'; readonly migrationCost: number } | ({ readonly kind: 'precopy' } & PreCopyPricing);
}

export interface PreCopyPricing {
  readonly memoryBytes: number;
  readonly dirtyRateBytesPerSec: number;
  readonly bandwidthBytesPerSec: number;
  readonly maxRounds: number;
  /** stop-copy threshold, bytes; when not given, QEMU's: `qemuStopCopyBytes(bandwidthBytesPerSec)` */
  readonly stopCopyBytes: number;
  /** seconds a move's saving is counted over */
  readonly amortisationSeconds: number;
}

/**
 * 4 GiB VMs dirtying 10 MB/s over 1 Gb/s, Xen's 30 rounds, savings over 5 min (as the scale
 * simulator's); the stop-copy threshold fitted to QEMU 7.2, bandwidth × 6 ms = 0.75 MB
 * (`qemuStopCopyBytes`, bench/precopy-model.bench.ts, docs/vms.md). `continuousConfig` recomputes
 * it from the bandwidth when a request sets the bandwidth but not the threshold.
 */
export const DEFAULT_PRECOPY_PRICING: PreCopyPricing = {
  memoryBytes: 4 * 2 ** 30,
  dirtyRateBytesPerSec: 10e6,
  bandwidthBytesPerSec: 125e6,
  maxRounds: 30,
  stopCopyBytes: qemuStopCopyBytes(125e6),
  amortisationSeconds: 300,
};

export interface ContinuousRequest {
  readonly everyMs: number;
  readonly stableRounds?: number;
  readonly noReturnRounds?: number;
  readonly cooldownRounds?: number;
  readonly maxPerPeriod?: number;
  readonly quietMs?: number;
  /** a number: fixed c_m; absent: pre-copy pricing */
  readonly migrationCost?: number;
  readonly precopy?: Partial<PreCopyPricing>;
}

/** Fills defaults and checks ranges; throws ScoreError CONTINUOUS_INVALID. */
export function continuousConfig(r: ContinuousRequest): ContinuousConfig {
  const int = (v: number | undefined, d: number, min: number, name: string): number => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < min) throw new ScoreError('CONTINUOUS_INVALID', `continuous: ${name} must be an integer ≥ ${min}, got ${String(v)}`, { [name]: v });
    return x;
  };
  if (!(r.everyMs >= 100) || !Number.isFinite(r.everyMs)) throw new ScoreError('CONTINUOUS_INVALID', `continuous: everyMs must be at least 100 ms, got ${r.everyMs}`, { everyMs: r.everyMs });
  const given = { ...DEFAULT_PRECOPY_PRICING, ...r.precopy };
  for (const [k, v] of Object.entries(given)) {
    if (!(v >= 0) || !Number.isFinite(v) || ((k === 'bandwidthBytesPerSec' || k === 'amortisationSeconds' || k === 'maxRounds') && !(v > 0))) {
      throw new ScoreError('CONTINUOUS_INVALID', `continuous: precopy.${k} must be a finite number${k === 'bandwidthBytesPerSec' || k === 'amortisationSeconds' || k === 'maxRounds' ? ' > 0' : ' ≥ 0'}, got ${v}`, { [k]: v });
    }
  }
  // QEMU's threshold scales with the bandwidth (it is what the bandwidth sends in 6 ms)
  const pre = r.precopy?.stopCopyBytes === undefined ? { ...given, stopCopyBytes: qemuStopCopyBytes(given.bandwidthBytesPerSec) } : given;
  if (r.migrationCost !== undefined && !(r.migrationCost >= 0)) throw new ScoreError('CONTINUOUS_INVALID', `continuous: migrationCost must be ≥ 0, got ${r.migrationCost}`, {});
  return {
    everyMs: r.everyMs,
    stableRounds: int(r.stableRounds, 3, 1, 'stableRounds'),
    noReturnRounds: int(r.noReturnRounds, 20, 0, 'noReturnRounds'),
    cooldownRounds: int(r.cooldownRounds, 1, 0, 'cooldownRounds'),
    maxPerPeriod: int(r.maxPerPeriod, 4, 1, 'maxPerPeriod'),
    quietMs: int(r.quietMs, 10_000, 0, 'quietMs'),
    pricing: r.migrationCost !== undefined ? { kind: 'fixed', migrationCost: r.migrationCost } : { kind: 'precopy', ...pre },
  };
}

/** c_m(vm, from, to) under the config's pricing, in Eq. 3's units (bytes/s × path weight). */
export function pricingFn(c: ContinuousConfig, oracle: PathOracle): MigrationCostFn {
  const p = c.pricing;
  if (p.kind === 'fixed') return () => p.migrationCost;
  return preCopyMigrationCost({ oracle, defaults: p, bandwidthBytesPerSec: p.bandwidthBytesPerSec, maxRounds: p.maxRounds, stopCopyBytes: p.stopCopyBytes, amortisationSeconds: p.amortisationSeconds });
}

/** Everything continuous mode remembers between periods: plain data only. */
export interface ContinuousState {
  readonly config: ContinuousConfig;
  period: number;
  migrations: number;
  /** why planning is held off now, and since when (ms); null when planning */
  holdOff: { reason: string; since: number } | null;
  /** each VM's latest chosen target and in how many consecutive periods it chose it */
  choices: Record<string, { to: string; count: number; period: number }>;
  /** period of each VM's last migration */
  lastMoved: Record<string, number>;
  /** hypervisors each VM left, with the period (pruned once they no longer bind) */
  left: Record<string, { host: string; period: number }[]>;
  /** the latest migrations (at most MOVES_KEPT), for the oscillation count */
  moves: { vm: string; from: string; to: string; period: number }[];
  /** per VM, the error code its agent last answered with (recorded once, not every period) */
  errors: Record<string, string>;
  /** what the last planning period did (absent in state written by older versions) */
  lastPeriod?: PeriodSummary | null;
  /** why the last planning period moved nothing although moves would save (`PRICED_OUT`), null otherwise; audited when it changes */
  idle?: string | null;
  /** per VM, the stable move its agent declined, not asked again while it stands (declineStands; absent in older state) */
  declined?: Record<string, DeclinedMove>;
}

/**
 * A stable move the VM's own agent declined when asked to carry it out (its Eq. 3 on the inputs
 * of that moment, no room at the target, a rail), with what the move was judged on then.
 */
export interface DeclinedMove {
  readonly from: string;
  readonly to: string;
  /** the period it was declined in */
  readonly period: number;
  /** the last period it stood (the VM was asked and picked it again); endPeriod forgets it after a period without */
  checked: number;
  /**
   * why, from the agent's verdict on the target (Decision.candidates): `no-gain` (its Eq. 3),
   * `full` (no slot, CPU or memory), a rail code, or `not-a-candidate` (no peer of the VM there)
   */
  readonly code: string;
  /** the agent's reason (Decision.reason) */
  readonly reason: string;
  /** the saving before price (C_A(u) now minus at the target, bytes/s × path weight) the probe offered */
  readonly saving: number;
  /** free VM slots at the target (capacity − VMs there) in the controller's view; null when unknown */
  readonly free: number | null;
}

/** A declined move is asked again once its probe's saving differs from the declined one by more than this fraction (the traffic changed). */
export const DECLINE_SAVING_TOLERANCE = 0.1;
/** ... or after this many periods, whatever changed (an agent's view the controller does not see). */
export const DECLINE_RETRY_PERIODS = 20;

/**
 * What one planning period did, for `GET /orchestration` (`continuous.lastPeriod`): a user sees
 * why nothing moves without reading the audit log. Counts are VMs.
 */
export interface PeriodSummary {
  readonly period: number;
  /** VMs whose agent was asked what it would do */
  asked: number;
  /** VMs migrated */
  moved: number;
  /** VMs whose best move saves something, but no more than its migration cost c_m (Eq. 3) */
  pricedOut: number;
  /** VMs whose move pays but has not yet been chosen in `stableRounds` consecutive periods */
  waitingStable: number;
  /** VMs with a stable move that did not happen this period: cooldown, the period's budget, or a failed migration */
  heldBack: number;
  /**
   * VMs whose stable move their agent declined, this period or earlier with nothing changed since
   * (declineStands): not asked again, not pending (`converged` may be true); absent in older state
   */
  declined: number;
  /** VMs whose agent could not be asked */
  errors: number;
  /**
   * the largest saving (C_A(u) before minus after, bytes/s × path weight) any candidate offered
   * this period, with the c_m it was priced at; null when no candidate saved anything
   */
  largestSaving: { vm: string; to: string; saving: number; migrationCost: number } | null;
}

export function emptyPeriodSummary(period: number): PeriodSummary {
  return { period, asked: 0, moved: 0, pricedOut: 0, waitingStable: 0, heldBack: 0, declined: 0, errors: 0, largestSaving: null };
}

/** A candidate continuous mode may move `vm` to: evaluated, not its own hypervisor, not full or railed, not barred by no-return. */
function eligible(s: ContinuousState, vm: string, from: string, c: Candidate): c is Candidate & { costThere: number } {
  return c.costThere !== null && c.hypervisor !== from && c.verdict !== 'full' && c.verdict !== 'rail' && barredReturn(s, vm, c.hypervisor) === null;
}

/**
 * The candidate with the largest saving before its price, among those pickTarget considers
 * (evaluated, not the VM's own hypervisor, not barred by no-return), or null when none saves.
 */
export function largestSaving(s: ContinuousState, vm: string, from: string, costBefore: number, candidates: readonly Candidate[], cm: MigrationCostFn): { to: string; saving: number; migrationCost: number } | null {
  let best: { to: string; saving: number } | null = null;
  for (const c of candidates) {
    if (!eligible(s, vm, from, c)) continue;
    const saving = costBefore - c.costThere;
    if (saving > 0 && (best === null || saving > best.saving)) best = { to: c.hypervisor, saving };
  }
  return best === null ? null : { ...best, migrationCost: cm(vm, from, best.to) };
}

/**
 * Ends a planning period: forgets choices and declines not renewed in it (a VM the round no longer
 * asks, e.g. because a peer joined it, has no choice to confirm: a gap starts the stable count over anyway)
 * and says whether continuous mode has converged: the period ran to its end, moved nothing, and
 * no VM has a current choice pending under the stable rule. Moves priced out (saving ≤ c_m) are
 * not pending: on the same traffic nothing would ever move (as in a one-shot run, where Eq. 3
 * declines them); `PeriodSummary.pricedOut` says so.
 */
export function endPeriod(s: ContinuousState, summary: PeriodSummary, cutShort: boolean): boolean {
  for (const [vm, c] of Object.entries(s.choices)) if (c.period !== s.period) delete s.choices[vm];
  // likewise a decline the period did not see stand: its VM was not asked (a peer joined it, ...)
  for (const [vm, d] of Object.entries(s.declined ?? {})) if (d.checked !== s.period) delete s.declined![vm];
  s.lastPeriod = summary;
  return !cutShort && summary.moved === 0 && Object.keys(s.choices).length === 0;
}

/**
 * Why a converged period moved nothing although moves would save, or null: every such move is
 * priced out (the audit log says it once, when it starts).
 */
export function idleReason(s: ContinuousState, summary: PeriodSummary, converged: boolean): string | null {
  if (!converged || summary.pricedOut === 0) return null;
  const l = summary.largestSaving;
  const pricing = s.config.pricing;
  const how = pricing.kind === 'fixed' ? `the fixed c_m ${pricing.migrationCost}` : `the pre-copy price of a ${pricing.memoryBytes}-byte VM dirtying ${pricing.dirtyRateBytesPerSec} B/s, amortised over ${pricing.amortisationSeconds} s`;
  // a declined move is set aside, not priced out: said apart, so "every move" stays true
  const which = summary.declined > 0 ? `every move not declined by its agent (${summary.declined} declined: continuous.declined) is priced out` : 'every move is priced out';
  return `${which}: ${summary.pricedOut} of ${summary.asked} VM(s) asked would save, none more than its migration cost${l === null ? '' : ` (largest: ${l.vm} -> ${l.to} saves ${l.saving.toFixed(1)} against c_m ${l.migrationCost.toFixed(1)})`}; c_m is ${how} (docs/api.md, continuous mode)`;
}

export const MOVES_KEPT = 10_000;

export function createContinuousState(config: ContinuousConfig): ContinuousState {
  return { config, period: 0, migrations: 0, holdOff: null, choices: {}, lastMoved: {}, left: {}, moves: [], errors: {} };
}

export interface Candidate {
  readonly hypervisor: string;
  /** C_A(u) there; null when not evaluated (full, rail) */
  readonly costThere: number | null;
  readonly verdict: string;
}

/**
 * The best move for one VM: the candidate with the largest saving net of c_m, if it passes Eq. 3, among
 * those the decision evaluated and that are not barred by no-return. Ties: first listed.
 */
export function pickTarget(s: ContinuousState, vm: string, from: string, costBefore: number, candidates: readonly Candidate[], cm: MigrationCostFn): { to: string; costAfter: number; migrationCost: number; net: number } | null {
  let best: { to: string; costAfter: number; migrationCost: number; net: number } | null = null;
  for (const c of candidates) {
    if (!eligible(s, vm, from, c)) continue;
    const m = cm(vm, from, c.hypervisor);
    const net = costBefore - c.costThere - m;
    // the agent's own Eq. 3 (worthMigrating) asks for more than the sums' rounding noise: a move
    // it would decline is no pick (it would be asked, and declined, every period)
    if (worthMigrating(costBefore, c.costThere, m) && (best === null || net > best.net)) best = { to: c.hypervisor, costAfter: c.costThere, migrationCost: m, net };
  }
  return best;
}

/** Why the VM may not go back to `to` now, or null. */
export function barredReturn(s: ContinuousState, vm: string, to: string): string | null {
  for (const l of s.left[vm] ?? []) {
    if (l.host === to && s.period - l.period <= s.config.noReturnRounds) return `${vm} left ${to} in period ${l.period}; it may not return before period ${l.period + s.config.noReturnRounds + 1}`;
  }
  return null;
}

/** Hypervisors the VM may not go back to now (for the agent's `blocked` list). */
export function barredTargets(s: ContinuousState, vm: string): { hypervisor: string; reason: string }[] {
  return (s.left[vm] ?? []).filter((l) => s.period - l.period <= s.config.noReturnRounds).map((l) => ({ hypervisor: l.host, reason: barredReturn(s, vm, l.host)! }));
}

/** Why this VM may not move at all this period (cooldown, budget), or null. */
export function vmHeld(s: ContinuousState, vm: string, movedThisPeriod: number): { code: 'cooldown' | 'max-per-round'; reason: string } | null {
  const last = s.lastMoved[vm];
  if (last !== undefined && s.period - last <= s.config.cooldownRounds) return { code: 'cooldown', reason: `${vm} migrated in period ${last}; cooldown of ${s.config.cooldownRounds} period(s)` };
  if (movedThisPeriod >= s.config.maxPerPeriod) return { code: 'max-per-round', reason: `period ${s.period} already has ${movedThisPeriod} migration(s), the budget per period` };
  return null;
}

/**
 * Notes this period's choice (null: stay) and says whether the move is stable: chosen in
 * `stableRounds` consecutive periods. A different target, a gap, or a "stay" starts over.
 */
export function noteChoice(s: ContinuousState, vm: string, to: string | null): { stable: boolean; count: number } {
  if (to === null) {
    delete s.choices[vm];
    return { stable: false, count: 0 };
  }
  const prev = s.choices[vm];
  const count = prev !== undefined && prev.to === to && prev.period === s.period - 1 ? prev.count + 1 : prev !== undefined && prev.to === to && prev.period === s.period ? prev.count : 1;
  s.choices[vm] = { to, count, period: s.period };
  return { stable: count >= s.config.stableRounds, count };
}

export function noteMigration(s: ContinuousState, vm: string, from: string, to: string): void {
  s.migrations += 1;
  s.lastMoved[vm] = s.period;
  s.left[vm] = [...(s.left[vm] ?? []).filter((l) => s.period - l.period <= s.config.noReturnRounds), { host: from, period: s.period }];
  delete s.choices[vm];
  if (s.declined !== undefined) delete s.declined[vm];
  s.moves.push({ vm, from, to, period: s.period });
  if (s.moves.length > MOVES_KEPT) s.moves.splice(0, s.moves.length - MOVES_KEPT);
}

/**
 * Notes that the agent declined `vm`'s stable move: its choice is dropped (a declined move is not
 * pending) and the move is not asked again while declineStands says so.
 */
export function noteDecline(s: ContinuousState, vm: string, d: Omit<DeclinedMove, 'period' | 'checked'>): void {
  delete s.choices[vm];
  s.declined = { ...s.declined, [vm]: { ...d, period: s.period, checked: s.period } };
}

/**
 * The agent's decline that still stands for this period's pick of `vm` (null: ask as usual). It
 * stands while the pick is the declined move (same source and target), its saving is within
 * DECLINE_SAVING_TOLERANCE of the declined one, the target has no more free slots than then
 * (`free()`: null when unknown), and fewer than DECLINE_RETRY_PERIODS periods have passed. Once
 * any of these changes, or the VM picks something else or nothing, the decline is forgotten: a
 * pick made again is a new choice, moved only once the stable rule confirms it.
 */
export function declineStands(s: ContinuousState, vm: string, from: string, pick: { readonly to: string; readonly saving: number } | null, free: () => number | null): DeclinedMove | null {
  const d = s.declined?.[vm];
  if (d === undefined) return null;
  const f = pick === null || d.from !== from || d.to !== pick.to ? null : free();
  const stands =
    pick !== null &&
    d.from === from &&
    d.to === pick.to &&
    Math.abs(pick.saving - d.saving) <= DECLINE_SAVING_TOLERANCE * Math.abs(d.saving) &&
    !(f !== null && (d.free === null || f > d.free)) &&
    s.period - d.period < DECLINE_RETRY_PERIODS;
  if (stands) {
    d.checked = s.period;
    return d;
  }
  delete s.declined![vm];
  return null;
}

/** Why the agent declined a move to `to`, as DeclinedMove.code, from its verdict on that candidate. */
export function declineCode(candidates: readonly { readonly hypervisor: string; readonly verdict: string; readonly rail?: string }[], to: string): string {
  const c = candidates.find((x) => x.hypervisor === to);
  if (c === undefined) return 'not-a-candidate';
  return c.verdict === 'rail' ? (c.rail ?? 'rail') : c.verdict;
}

/**
 * Oscillations in a move history: a VM arriving back at a hypervisor it left within `k` periods
 * (epochs). The count the simulator reports and the live tests assert to be zero.
 */
export function countOscillations(moves: readonly { vm: string; from: string; to: string; period: number }[], k: number): number {
  const leftAt = new Map<string, { host: string; period: number }[]>();
  let n = 0;
  for (const m of moves) {
    const past = leftAt.get(m.vm) ?? [];
    if (past.some((l) => l.host === m.to && m.period - l.period <= k)) n += 1;
    past.push({ host: m.from, period: m.period });
    leftAt.set(m.vm, past);
  }
  return n;
}

/** What the network is doing, as the service sees it. */
export interface NetworkSignals {
  /** ms of the last topology change (link or switch up/down), null if none */
  readonly lastChangeAt: number | null;
  readonly lastChange: string | null;
  /** switches known but not connected now, since when (ms) */
  readonly switchesDown: readonly { readonly name: string; readonly since: number }[];
  /** links known down now, since when (ms) */
  readonly linksDown: readonly { readonly id: string; readonly since: number }[];
  /** migrations started and not finished (by anyone) */
  readonly inFlight: readonly string[];
  /**
   * paths a switch refused (OFPT_ERROR on their FLOW_MOD, controller event `path-rejected`) and
   * not installed since, with when they were first refused (ms): their traffic goes through the
   * controller meanwhile, so measured rates and costs are not those of the installed network
   */
  readonly pathsRejected?: readonly { readonly id: string; readonly since: number }[];
}

/** A switch or link down this long is the network as it now is, not a change in progress: planning resumes on it. */
export const DOWN_IS_NEW_NORMAL_QUIET_PERIODS = 6;

/**
 * Why planning must wait now, or null: a migration in flight; a switch not (re)connected, a
 * link down or a path a switch refused and the controller has not installed since, for up to 6
 * quiet periods (longer, the network is re-planned as it now is); any topology change within
 * the last quiet period. Reasons name what changed, for the audit log.
 */
export function holdOffReason(n: NetworkSignals, now: number, quietMs: number): string | null {
  if (n.inFlight.length > 0) return `migration in flight: ${n.inFlight.join(', ')}`;
  const recent = (since: number): boolean => now - since < DOWN_IS_NEW_NORMAL_QUIET_PERIODS * quietMs;
  const sw = n.switchesDown.filter((x) => recent(x.since)).map((x) => x.name);
  if (sw.length > 0) return `switch(es) reconnecting: ${sw.join(', ')}`;
  const links = n.linksDown.filter((x) => recent(x.since)).map((x) => x.id);
  if (links.length > 0) return `link(s) down: ${links.join(', ')}`;
  const refused = (n.pathsRejected ?? []).filter((x) => recent(x.since)).map((x) => x.id);
  if (refused.length > 0) return `path(s) refused by a switch, not installed yet: ${refused.join(', ')}`;
  if (n.lastChangeAt !== null && now - n.lastChangeAt < quietMs) {
    return `network changed: ${n.lastChange ?? 'topology'} ${((now - n.lastChangeAt) / 1000).toFixed(1)} s ago; waiting ${(quietMs / 1000).toFixed(1)} s for it to settle`;
  }
  return null;
}
