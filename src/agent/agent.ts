import type { RailCheck } from '../core/rails.ts';
import { trafficMatrix, vmCost } from '../core/cost.ts';
import { decide, fmt, type Decision, type DecisionMode } from '../core/decision.ts';
import { decideWithSwap } from '../core/swap.ts';
import type { PathOracle } from '../core/paths.ts';
import type { AgentDecide, AgentDecideResult } from '../api/contract.ts';
import { ScoreError, isScoreError } from '../errors/errors.ts';
import type { ControllerApi } from './api-client.ts';
import type { Connectivity, MigrationDriver, MigrationFigures, MigrationHooks } from './drivers/driver.ts';

/**
 * The hypervisor agent's logic: it asks the network for what Algorithm 1 needs (the VM's traffic
 * per peer, where the peers are, path costs between hypervisors, free capacity), runs the S-CORE
 * decision of the core, and migrates through its driver. One migration per VM at a time.
 */
export interface AgentOptions {
  readonly hypervisor: string;
  readonly api: ControllerApi;
  readonly driver: MigrationDriver;
  readonly mode?: DecisionMode;
  readonly migrationCost?: number;
  /**
   * ms to wait before each retry of a report nothing later makes up for (default
   * CORRECTION_BACKOFF_MS): that a VM whose switch-over failed runs on at its source (it undoes the
   * early switch-over report), and the final report of a finished migration
   */
  readonly correctionBackoffMs?: readonly number[];
  /** where the agent says what it could not do but went on (default: stderr) */
  readonly log?: (line: string) => void;
  /**
   * cluster mode: how long a migration may wait for a controller leader ready to re-route the VM
   * before it is switched over (MigrationHooks.awaitControl), ms, counted from the first wait and
   * anew after each claim no leader took; default SWITCHOVER_WAIT_MS
   */
  readonly switchoverWaitMs?: number;
  /** how often that wait asks the controller, ms (default 50) */
  readonly controlPollMs?: number;
  /** switch-over reports a migration makes at most (claims no leader took), default MAX_CLAIMS */
  readonly maxClaims?: number;
}

/**
 * The switch-over's wait for a controller leader: an election (lease TTL 2 s, then about 2 s)
 * plus the new leader's role requests and link discovery, several times over; short against the
 * new leader's reconciliation wait (180 s, cluster/orchestration.ts), so the migration ends before it.
 */
export const SWITCHOVER_WAIT_MS = 15_000;

/** switch-over reports (claims) a migration makes at most before it fails SWITCHOVER_NO_LEADER */
export const MAX_CLAIMS = 5;

/** retries of the correction report: long enough together (~4 s) to outlast a cluster leader change's 503s */
export const CORRECTION_BACKOFF_MS: readonly number[] = [250, 500, 1000, 2000];

export interface Agent {
  readonly hypervisor: string;
  cost(vm: string): Promise<{ vm: string; hypervisor: string; cost: number }>;
  decide(body: AgentDecide): Promise<AgentDecideResult>;
  /** how many times the driver was called (plan mode must leave it at 0) */
  readonly driverCalls: () => number;
  /**
   * What became of a migration this agent was asked to carry out, by the orchestrator's id:
   * a new cluster leader reconciles a migration its predecessor left in flight from this
   * (src/cluster/orchestration.ts). Undefined: never asked to migrate with this id (or forgotten:
   * the agent keeps the latest OUTCOMES_KEPT, in memory).
   */
  outcome(migrationId: string): MigrationOutcome | undefined;
  /**
   * The agent is stopping (SIGTERM, its parent gone): a migration waiting at its switch-over for
   * a controller leader gives up now instead of after SWITCHOVER_WAIT_MS (SWITCHOVER_NO_LEADER,
   * the VM stays at its source, as when the wait runs out), and none waits from now on, so the
   * agent's HTTP server, which closes after its requests, is not held up to 15 s by each.
   */
  stopWaiting(): void;
}

export interface MigrationOutcome {
  readonly id: string;
  readonly vm: string;
  readonly from: string;
  /** null while deciding and when declined */
  readonly to: string | null;
  /**
   * deciding: Algorithm 1 runs (to not known yet); running: the driver is moving the VM;
   * declined: the decision was to stay; failed: the VM stayed at `from`
   */
  readonly state: 'deciding' | 'declined' | 'running' | 'succeeded' | 'failed';
  readonly error: { code: string; message: string } | null;
}

export const OUTCOMES_KEPT = 1000;

function matrixOracle(m: { hypervisors: string[]; cost: number[][] }): PathOracle {
  const index = new Map(m.hypervisors.map((h, i) => [h, i]));
  return {
    cost(a, b) {
      const c = m.cost[index.get(a) ?? -1]?.[index.get(b) ?? -1];
      if (c === undefined || c < 0) throw new ScoreError('NO_PATH', `no path between ${a} and ${b}`, { a, b });
      return c;
    },
    path() {
      return [];
    },
  };
}

export function createAgent(o: AgentOptions): Agent {
  const busy = new Set<string>();
  let calls = 0;
  const stop = { stopping: false };
  const outcomes = new Map<string, MigrationOutcome>();
  const note = (x: MigrationOutcome): void => {
    outcomes.delete(x.id);
    outcomes.set(x.id, x);
    if (outcomes.size > OUTCOMES_KEPT) outcomes.delete(outcomes.keys().next().value as string);
  };

  async function inputs(vm: string) {
    const [traffic, matrix, hvs] = await Promise.all([o.api.vmTraffic(vm), o.api.costMatrix(), o.api.hypervisors()]);
    if (traffic.hypervisor !== o.hypervisor) {
      throw new ScoreError('UNKNOWN_VM', `${vm} is on ${traffic.hypervisor}, not on this agent's hypervisor ${o.hypervisor}`, { vm, hypervisor: traffic.hypervisor });
    }
    const placement = new Map<string, string>([[vm, traffic.hypervisor]]);
    const flows = [];
    for (const p of traffic.peers) {
      placement.set(p.vm, p.hypervisor);
      if (p.lambda > 0) flows.push({ src: vm, dst: p.vm, rate: p.lambda });
    }
    // lower MAC = lower VM number: the same tie-break as the orchestrator's
    const byMac = [{ vm, mac: traffic.mac }, ...traffic.peers.map((p) => ({ vm: p.vm, mac: p.mac }))].sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
    return {
      traffic,
      placement,
      matrix: trafficMatrix(flows),
      oracle: matrixOracle(matrix),
      rank: new Map(byMac.map((x, i) => [x.vm, i])),
      capacity: new Map(hvs.map((h) => [h.name, h.capacity])),
      load: new Map(hvs.map((h) => [h.name, h.vms.length])),
      members: new Map(hvs.map((h) => [h.name, h.vms])),
      flows,
    };
  }

  /**
   * Algorithm 1 with exchanges (core/swap.ts): the partners' traffic comes from the API like u's,
   * one request per VM on a full candidate.
   */
  async function decideSwap(body: AgentDecide, x: Awaited<ReturnType<typeof inputs>>, d: Decision): Promise<Decision> {
    const full = d.candidates.filter((c) => c.verdict === 'full' && c.limit === undefined).map((c) => c.hypervisor);
    if (full.length === 0) return d;
    const placement = new Map(x.placement);
    const flows = [...x.flows];
    const rank = new Map(x.rank);
    for (const h of full) {
      for (const w of x.members.get(h) ?? []) {
        if (w === body.vm) continue;
        const t = await o.api.vmTraffic(w);
        placement.set(w, t.hypervisor);
        if (!rank.has(w)) rank.set(w, rank.size);
        for (const p of t.peers) {
          if (!placement.has(p.vm)) placement.set(p.vm, p.hypervisor);
          if (!rank.has(p.vm)) rank.set(p.vm, rank.size);
          // u's own flows are already in; the matrix adds both directions of each flow once
          if (p.lambda > 0 && p.vm !== body.vm) flows.push({ src: w, dst: p.vm, rate: p.lambda });
        }
      }
    }
    const seen = new Set<string>();
    const unique = flows.filter((f) => {
      const k = f.src < f.dst ? `${f.src} ${f.dst}` : `${f.dst} ${f.src}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    return decideWithSwap({
      vm: body.vm,
      placement,
      traffic: trafficMatrix(unique),
      oracle: x.oracle,
      capacity: x.capacity,
      load: x.load,
      rank,
      members: x.members,
      migrationCost: body.migrationCost ?? o.migrationCost ?? 0,
      mode: body.mode ?? o.mode ?? 'first',
      ...decisionRail(body),
    });
  }

  const leg = (body: AgentDecide, x: Awaited<ReturnType<typeof inputs>>): Promise<AgentDecideResult> => legOf({ ...o, driver: noting(o.driver, body.migrationId, note) }, body, x, () => (calls += 1), stop);

  return {
    hypervisor: o.hypervisor,
    driverCalls: () => calls,
    outcome: (id) => outcomes.get(id),
    stopWaiting: () => {
      stop.stopping = true;
    },
    async cost(vm) {
      const x = await inputs(vm);
      return { vm, hypervisor: o.hypervisor, cost: vmCost(vm, x.placement, x.matrix, x.oracle) };
    },
    async decide(body) {
      // an exchange moves the partner back to this VM's host, which `only` would veto: never both
      if (body.only !== undefined && body.swaps === true) throw new ScoreError('API_BAD_REQUEST', '`only` (one allowed target) and `swaps` (an exchange, whose partner leg goes elsewhere) cannot be combined', { vm: body.vm });
      if (busy.has(body.vm)) throw new ScoreError('MIGRATION_IN_PROGRESS', `${body.vm} is already being migrated`, { vm: body.vm });
      busy.add(body.vm);
      if (body.migrate) note({ id: body.migrationId, vm: body.vm, from: o.hypervisor, to: null, state: 'deciding', error: null });
      try {
        const x = await inputs(body.vm);
        if (body.target !== undefined) return await leg(body, x);
        let d: Decision = decide({
          vm: body.vm,
          placement: x.placement,
          traffic: x.matrix,
          oracle: x.oracle,
          capacity: x.capacity,
          load: x.load,
          rank: x.rank,
          migrationCost: body.migrationCost ?? o.migrationCost ?? 0,
          mode: body.mode ?? o.mode ?? 'first',
          ...decisionRail(body),
        });
        if (d.to === null && body.swaps === true) d = await decideSwap(body, x, d);
        const decision = { ...d, candidates: [...d.candidates] };
        // an exchange is two VMs on two hypervisors: the orchestrator carries it out leg by leg
        if (!body.migrate || d.to === null || 'swap' in d) {
          if (body.migrate) note({ id: body.migrationId, vm: body.vm, from: o.hypervisor, to: null, state: 'declined', error: null });
          return { decision, migrated: false, error: null };
        }
        calls += 1;
        let port: number | undefined;
        let connectivity: Connectivity | undefined;
        let figures: MigrationFigures | undefined;
        let warnings: readonly string[] | undefined;
        try {
          ({ port, connectivity, figures, warnings } = await noting(o.driver, body.migrationId, note).migrate(body.vm, d.from, d.to, switchoverHook(o, body.vm, d.from, body.migrationId, stop)));
        } catch (e) {
          const err = isScoreError(e) ? e : new ScoreError('MIGRATION_FAILED', e instanceof Error ? e.message : String(e));
          return { decision, migrated: false, error: { code: err.code === 'MIGRATION_FAILED' ? err.code : 'MIGRATION_FAILED', message: err.message } };
        }
        await finalReport(o, body.vm, d.to, body.migrationId, port);
        return { decision, migrated: true, error: null, ...(connectivity ? { connectivity } : {}), ...(figures ? { figures } : {}), ...(warnings !== undefined && warnings.length > 0 ? { warnings: [...warnings] } : {}) };
      } catch (e) {
        // nothing moved: Algorithm 1's inputs failed (the driver's own failures are noted by it)
        const x = outcomes.get(body.migrationId);
        if (body.migrate && x?.state === 'deciding') note({ ...x, state: 'failed', error: { code: isScoreError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) } });
        throw e;
      } finally {
        busy.delete(body.vm);
      }
    },
  };
}

/** One leg of an exchange: the orchestrator chose the target; the agent checks it has room and migrates. */
async function legOf(o: AgentOptions, body: AgentDecide, x: { traffic: { hypervisor: string }; placement: Map<string, string>; matrix: ReturnType<typeof trafficMatrix>; oracle: PathOracle; capacity: Map<string, number>; load: Map<string, number> }, count: () => void, stop: { readonly stopping: boolean }): Promise<AgentDecideResult> {
  const to = body.target!;
  const from = x.traffic.hypervisor;
  if (!x.capacity.has(to)) throw new ScoreError('UNKNOWN_HYPERVISOR', `no hypervisor "${to}"`, { hypervisor: to });
  const before = vmCost(body.vm, x.placement, x.matrix, x.oracle);
  const after = vmCost(body.vm, x.placement, x.matrix, x.oracle, to);
  const decision = {
    vm: body.vm,
    from,
    to,
    costBefore: before,
    costAfter: after,
    migrationCost: body.migrationCost ?? o.migrationCost ?? 0,
    mode: body.mode ?? o.mode ?? 'first',
    candidates: [],
    reason: `${body.exchange !== undefined ? `one leg (${body.migrationId}) of the exchange decided in ${body.exchange}, which the orchestrator carries out` : `one leg of an exchange the orchestrator carries out (${body.migrationId})`}: ${body.vm} ${from} -> ${to}, C_A(${body.vm}) ${fmt(before)} -> ${fmt(after)}`,
  };
  if (!body.migrate) return { decision, migrated: false, error: null };
  count();
  let port: number | undefined;
  let connectivity: Connectivity | undefined;
  try {
    ({ port, connectivity } = await o.driver.migrate(body.vm, from, to, switchoverHook(o, body.vm, from, body.migrationId, stop)));
  } catch (e) {
    const err = isScoreError(e) ? e : new ScoreError('MIGRATION_FAILED', e instanceof Error ? e.message : String(e));
    return { decision, migrated: false, error: { code: 'MIGRATION_FAILED', message: err.message } };
  }
  await finalReport(o, body.vm, to, body.migrationId, port);
  return { decision, migrated: true, error: null, ...(connectivity ? { connectivity } : {}) };
}

/** The driver, with each migration's outcome noted under the orchestrator's id as it starts and ends. */
function noting(driver: MigrationDriver, id: string, note: (x: MigrationOutcome) => void): MigrationDriver {
  return {
    name: driver.name,
    async migrate(vm, from, to, hooks) {
      note({ id, vm, from, to, state: 'running', error: null });
      try {
        const r = await driver.migrate(vm, from, to, hooks);
        note({ id, vm, from, to, state: 'succeeded', error: null });
        return r;
      } catch (e) {
        note({ id, vm, from, to, state: 'failed', error: { code: isScoreError(e) ? e.code : 'MIGRATION_FAILED', message: e instanceof Error ? e.message : String(e) } });
        throw e;
      }
    },
  };
}

/**
 * The driver's switch-over, told to the controller the moment it happens (the same authoritative
 * report as the one after the migration), so the network follows the VM during QEMU's pause
 * rather than after it. A report to the target that fails is not the migration's failure: the
 * final one follows. The report back to the source (`from`: the switch-over failed, the VM runs
 * on there) has no later one to make up for it, so it is retried with a short backoff: lost, the
 * controller would keep the VM at the target while it runs at the source.
 */
function switchoverHook(o: AgentOptions, vm: string, from: string, migrationId: string, stop: { readonly stopping: boolean }): MigrationHooks {
  let deadline: number | undefined;
  let claims = 0;
  const waitMs = o.switchoverWaitMs ?? SWITCHOVER_WAIT_MS;
  const noLeader = (why: string): ScoreError =>
    new ScoreError('SWITCHOVER_NO_LEADER', `no controller leader ready to re-route ${vm} within ${waitMs} ms (${why}); not switched over, ${vm} stays on ${from}`, { vm, hypervisor: from, migrationId, claims });
  return {
    async awaitControl() {
      const ask = o.api.controlReady?.bind(o.api);
      if (ask === undefined) return undefined;
      // the bound is on waiting for a leader: each round after a claim no leader took waits anew
      // (a QEMU round re-copies the memory first, which can take longer than the wait itself);
      // the rounds are bounded by maxClaims
      deadline ??= Date.now() + waitMs;
      if (claims >= (o.maxClaims ?? MAX_CLAIMS)) throw noLeader(`${claims} switch-over reports not taken`);
      for (;;) {
        const r = await ask();
        if (!r.cluster) return undefined;
        if (r.ready) break;
        if (Date.now() >= deadline || stop.stopping) throw noLeader(stop.stopping ? 'the agent is stopping' : `last answer: ${r.reason}`);
        await new Promise((res) => setTimeout(res, o.controlPollMs ?? 50));
      }
      return async (hypervisor: string, port: number) => {
        claims++;
        try {
          await o.api.migrationDone(vm, hypervisor, migrationId, port);
        } catch (e) {
          // a refusal no other leader would answer differently (UNKNOWN_VM, AGENT_VM_NOT_OURS,
          // NOT_A_HOST_PORT, ...) keeps its code: the migration fails with it, no new round
          if (!retryableClaimError(e)) throw e;
          deadline = undefined;
          throw new ScoreError('CLUSTER_NOT_LEADER', `the switch-over of ${vm} to ${hypervisor} port ${port} was not taken by a leader: ${e instanceof Error ? e.message : String(e)}`, { vm, hypervisor, port }, { cause: e });
        }
      };
    },
    async onSwitchover(hypervisor, port) {
      const waits = hypervisor === from ? (o.correctionBackoffMs ?? CORRECTION_BACKOFF_MS) : [];
      // given up: the orchestrator corrects the controller's view from the failed result
      await report(o, vm, hypervisor, migrationId, port, waits, () => true);
    },
  };
}

/**
 * The report after a migration the driver finished: the VM runs at `to` whatever the controller
 * answers, so this never throws (a throw would make the decide call fail and the orchestrator
 * record "failed, the VM stayed" for a VM that moved). A retryable refusal (a leader change, the
 * controller unreachable: retryableClaimError) is retried after each of correctionBackoffMs; given
 * up, or refused for good, it is logged and the orchestrator's tracker decides (it waits for the
 * network to see the VM at `to`, and records a timeout it keeps watching otherwise).
 */
async function finalReport(o: AgentOptions, vm: string, to: string, migrationId: string, port: number | undefined): Promise<void> {
  const failed = await report(o, vm, to, migrationId, port, o.correctionBackoffMs ?? CORRECTION_BACKOFF_MS, retryableClaimError);
  if (failed === undefined) return;
  (o.log ?? ((l: string) => console.error(`agent ${o.hypervisor}: ${l}`)))(`${vm} runs on ${to} (migration ${migrationId}) but the controller did not take the report after ${failed.attempts} attempt(s): ${failed.error instanceof Error ? failed.error.message : String(failed.error)}; the network's view decides`);
}

/**
 * The report `migration-done` (VM at `hypervisor`), retried after each of `waits` (ms) while
 * `retryable` says the refusal may change. Undefined once taken; else the last error and attempts.
 */
async function report(o: AgentOptions, vm: string, hypervisor: string, migrationId: string, port: number | undefined, waits: readonly number[], retryable: (e: unknown) => boolean): Promise<{ error: unknown; attempts: number } | undefined> {
  for (let i = 0; ; i++) {
    try {
      await o.api.migrationDone(vm, hypervisor, migrationId, port);
      return undefined;
    } catch (e) {
      const wait = waits[i];
      if (wait === undefined || !retryable(e)) return { error: e, attempts: i + 1 };
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Whether a failed switch-over report may go to another (or a recovered) leader: the cluster's
 * codes (no leader, store unreachable), a 503, or the controller not reachable at all. Anything
 * else is the controller's definite answer about this VM or port.
 */
export function retryableClaimError(e: unknown): boolean {
  if (!isScoreError(e)) return true;
  if (e.code.startsWith('CLUSTER_') || e.code === 'CONTROLLER_UNREACHABLE') return true;
  return e.details['status'] === 503;
}

/**
 * The controller's rail verdicts for this VM's targets (AgentDecide.blocked, .only), as the veto
 * Algorithm 1 takes: `{}` when there are none.
 */
export function decisionRail(body: Pick<AgentDecide, 'blocked' | 'only'>): { rail?: (vm: string, from: string, to: string) => RailCheck } {
  const byHost = new Map((body.blocked ?? []).map((b) => [b.hypervisor, b]));
  const only = body.only;
  if (byHost.size === 0 && only === undefined) return {};
  return {
    rail: (_vm, _from, to) => {
      if (only !== undefined && to !== only.hypervisor) return { ok: false, code: only.rail, reason: only.reason };
      const b = byHost.get(to);
      return b === undefined ? { ok: true } : { ok: false, code: b.rail, reason: b.reason };
    },
  };
}
