import type { Placement } from './cost.ts';

/**
 * Safety rails, as plain data and pure functions so the simulator's planners and the
 * controller's orchestrator can share them. A `RailState` is mutable bookkeeping owned by one
 * run; nothing here reads a clock: "round" is whatever the caller counts (a policy round in the
 * planners, an orchestration round in the controller).
 *
 * Rails and their semantics (every one is off by default, so a run without rails behaves exactly
 * as before they existed):
 *  - cooldown (K rounds): a VM that migrated in round r may not migrate in rounds r .. r+K.
 *  - no-return (R rounds, default K): a VM that left hypervisor h in round r may not move back
 *    to h in rounds r .. r+R. With R = K it is implied by the cooldown; a longer R lets a VM move
 *    on soon but keeps it from flapping back.
 *  - stable (N rounds): a move is made only once the VM chose the same target in N consecutive
 *    rounds' evaluations; N = 1 is the paper's behaviour.
 *  - max-per-round (G): at most G migrations per round, all hypervisors together.
 *  - max-per-hypervisor (H): at most H migrations per round touching one hypervisor, as source or
 *    target.
 * Capacity in CPU and memory is not a rail (it is never relaxed by waiting): see `ResourceSpec`.
 */
export interface RailConfig {
  readonly cooldownRounds?: number;
  readonly noReturnRounds?: number;
  readonly stableRounds?: number;
  readonly maxPerRound?: number;
  readonly maxPerHypervisor?: number;
}

/** `plan`: not a rail of its own: the operator approved a planned move, so every other target is off. */
export type RailCode = 'cooldown' | 'no-return' | 'stable' | 'max-per-round' | 'max-per-hypervisor' | 'plan';

export type RailCheck = { readonly ok: true } | { readonly ok: false; readonly code: RailCode; readonly reason: string };

export interface RailState {
  readonly cooldown: number;
  readonly noReturn: number;
  readonly stable: number;
  readonly maxPerRound: number;
  readonly maxPerHypervisor: number;
  round: number;
  /** migrations made in `round` */
  movesThisRound: number;
  /** migrations in `round` touching each hypervisor */
  readonly perHypervisor: Map<string, number>;
  /** round of each VM's last migration */
  readonly lastMoved: Map<string, number>;
  /** hypervisors each VM left, with the round it left them (pruned once they no longer bind) */
  readonly left: Map<string, { host: string; round: number }[]>;
  /** each VM's latest chosen target and in how many consecutive rounds it chose it */
  readonly choice: Map<string, { to: string; count: number; round: number }>;
}

const OK: RailCheck = { ok: true };

export function createRailState(config: RailConfig = {}): RailState {
  const cooldown = nonNegative(config.cooldownRounds, 0, 'cooldownRounds');
  return {
    cooldown,
    noReturn: nonNegative(config.noReturnRounds, cooldown, 'noReturnRounds'),
    stable: Math.max(1, nonNegative(config.stableRounds, 1, 'stableRounds')),
    maxPerRound: nonNegative(config.maxPerRound, Infinity, 'maxPerRound'),
    maxPerHypervisor: nonNegative(config.maxPerHypervisor, Infinity, 'maxPerHypervisor'),
    round: 0,
    movesThisRound: 0,
    perHypervisor: new Map(),
    lastMoved: new Map(),
    left: new Map(),
    choice: new Map(),
  };
}

/** True when some rail can block a move; callers skip all rail work otherwise. */
export function railsActive(config: RailConfig | undefined): boolean {
  if (config === undefined) return false;
  const s = createRailState(config);
  return s.cooldown > 0 || s.noReturn > 0 || s.stable > 1 || s.maxPerRound !== Infinity || s.maxPerHypervisor !== Infinity;
}

/** Starts a round: the concurrency counters are per round. */
export function beginRound(state: RailState, round: number): void {
  state.round = round;
  state.movesThisRound = 0;
  state.perHypervisor.clear();
}

/** Whether the VM may migrate `from` → `to` in `round` (the round begun last). Checks the VM first, then the target. */
export function railsAllow(state: RailState, vm: string, from: string, to: string, round: number): RailCheck {
  const vmOnly = vmRailsAllow(state, vm, from, round);
  return vmOnly.ok ? targetRailsAllow(state, vm, to, round) : vmOnly;
}

/** The rails that block a VM whatever its target: cooldown, the global cap, the source's cap. */
export function vmRailsAllow(state: RailState, vm: string, from: string, round: number): RailCheck {
  if (state.cooldown > 0) {
    const last = state.lastMoved.get(vm);
    if (last !== undefined && round - last <= state.cooldown) {
      return { ok: false, code: 'cooldown', reason: `${vm} migrated in round ${last}; cooldown of ${state.cooldown} round(s) lasts until round ${last + state.cooldown}` };
    }
  }
  if (state.movesThisRound >= state.maxPerRound) {
    return { ok: false, code: 'max-per-round', reason: `round ${round} already has ${state.movesThisRound} migration(s), the limit per round` };
  }
  const atSource = state.perHypervisor.get(from) ?? 0;
  if (atSource >= state.maxPerHypervisor) {
    return { ok: false, code: 'max-per-hypervisor', reason: `${from} already has ${atSource} migration(s) this round, the limit per hypervisor` };
  }
  return OK;
}

/** The rails that block one target: no-return and the target's cap. */
export function targetRailsAllow(state: RailState, vm: string, to: string, round: number): RailCheck {
  if (state.noReturn > 0) {
    for (const l of state.left.get(vm) ?? []) {
      if (l.host === to && round - l.round <= state.noReturn) {
        return { ok: false, code: 'no-return', reason: `${vm} left ${to} in round ${l.round}; it may not return before round ${l.round + state.noReturn + 1}` };
      }
    }
  }
  const atTarget = state.perHypervisor.get(to) ?? 0;
  if (atTarget >= state.maxPerHypervisor) {
    return { ok: false, code: 'max-per-hypervisor', reason: `${to} already has ${atTarget} migration(s) this round, the limit per hypervisor` };
  }
  return OK;
}

/** Books a migration that was carried out. */
export function recordMigration(state: RailState, vm: string, from: string, to: string, round: number): void {
  state.movesThisRound += 1;
  state.perHypervisor.set(from, (state.perHypervisor.get(from) ?? 0) + 1);
  state.perHypervisor.set(to, (state.perHypervisor.get(to) ?? 0) + 1);
  state.lastMoved.set(vm, round);
  state.choice.delete(vm);
  if (state.noReturn > 0) {
    const kept = (state.left.get(vm) ?? []).filter((l) => round - l.round <= state.noReturn && l.host !== from);
    kept.push({ host: from, round });
    state.left.set(vm, kept);
  }
}

/**
 * The N-rounds-stable rule: notes what the VM chose in this round's evaluation (null: stay) and
 * says whether the move may go ahead. Choosing the same target in consecutive rounds counts up;
 * anything else (another target, staying, skipping a round) starts again.
 */
export function noteChoice(state: RailState, vm: string, to: string | null, round: number): RailCheck {
  if (to === null) {
    state.choice.delete(vm);
    return OK;
  }
  const prev = state.choice.get(vm);
  const count = prev !== undefined && prev.to === to && prev.round === round - 1 ? prev.count + 1 : prev !== undefined && prev.to === to && prev.round === round ? prev.count : 1;
  state.choice.set(vm, { to, count, round });
  if (count >= state.stable) return OK;
  return { ok: false, code: 'stable', reason: `${vm} chose ${to} in ${count} of the ${state.stable} consecutive round(s) the stability rule asks for` };
}

/**
 * Capacity in CPU and memory, beside the slot counts (`capacity` maps, which keep working alone).
 * A dimension a hypervisor does not list is unlimited; a VM without a demand needs nothing.
 */
export interface HostCapacity {
  readonly slots?: number;
  readonly cpu?: number;
  readonly memoryBytes?: number;
}

export interface VmDemand {
  readonly cpu?: number;
  readonly memoryBytes?: number;
}

export interface ResourceSpec {
  readonly hosts: ReadonlyMap<string, HostCapacity>;
  readonly demand: ReadonlyMap<string, VmDemand>;
}

export type ResourceDimension = 'slots' | 'cpu' | 'memory';

/** What each hypervisor's VMs use now; planners keep it current with `moveUse`. */
export interface ResourceUse {
  readonly slots: Map<string, number>;
  readonly cpu: Map<string, number>;
  readonly memoryBytes: Map<string, number>;
}

export interface Resources {
  readonly spec: ResourceSpec;
  readonly use: ResourceUse;
}

export function resourceUse(spec: ResourceSpec, placement: Placement): ResourceUse {
  const use: ResourceUse = { slots: new Map(), cpu: new Map(), memoryBytes: new Map() };
  for (const [vm, host] of placement) add(use, spec, vm, host, 1);
  return use;
}

export function resources(spec: ResourceSpec, placement: Placement): Resources {
  return { spec, use: resourceUse(spec, placement) };
}

/** The first dimension that adding `vm` to `host` would exceed, or null if it fits. */
export function exceeds(r: Resources, vm: string, host: string): ResourceDimension | null {
  const cap = r.spec.hosts.get(host);
  if (cap === undefined) return null;
  const d = r.spec.demand.get(vm);
  // callers ask only about a hypervisor the VM is not on, so it always adds one slot and its demand
  if (cap.slots !== undefined && (r.use.slots.get(host) ?? 0) + 1 > cap.slots) return 'slots';
  if (cap.cpu !== undefined && (r.use.cpu.get(host) ?? 0) + (d?.cpu ?? 0) > cap.cpu + 1e-9) return 'cpu';
  if (cap.memoryBytes !== undefined && (r.use.memoryBytes.get(host) ?? 0) + (d?.memoryBytes ?? 0) > cap.memoryBytes) return 'memory';
  return null;
}

export function moveUse(r: Resources, vm: string, from: string, to: string): void {
  add(r.use, r.spec, vm, from, -1);
  add(r.use, r.spec, vm, to, 1);
}

/** True when every hypervisor is within its limits in every dimension. */
export function withinResources(spec: ResourceSpec, placement: Placement): boolean {
  const use = resourceUse(spec, placement);
  for (const [h, cap] of spec.hosts) {
    if (cap.slots !== undefined && (use.slots.get(h) ?? 0) > cap.slots) return false;
    if (cap.cpu !== undefined && (use.cpu.get(h) ?? 0) > cap.cpu + 1e-9) return false;
    if (cap.memoryBytes !== undefined && (use.memoryBytes.get(h) ?? 0) > cap.memoryBytes) return false;
  }
  return true;
}

function add(use: ResourceUse, spec: ResourceSpec, vm: string, host: string, sign: 1 | -1): void {
  const d = spec.demand.get(vm);
  use.slots.set(host, (use.slots.get(host) ?? 0) + sign);
  if (d?.cpu !== undefined) use.cpu.set(host, (use.cpu.get(host) ?? 0) + sign * d.cpu);
  if (d?.memoryBytes !== undefined) use.memoryBytes.set(host, (use.memoryBytes.get(host) ?? 0) + sign * d.memoryBytes);
}

function nonNegative(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!(v >= 0)) throw new RangeError(`${name} must be a non-negative number, got ${v}`);
  return v;
}
