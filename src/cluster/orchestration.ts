/**
 * Orchestration across a failover: the leader keeps the state of its run in the cluster store
 * (`orchestration/state`), and a member that becomes leader takes over:
 *
 * 1. it reloads every migration record from the store (the ones the old leader wrote after this
 *    member started too), and registers the agents the store knows (agents.ts);
 * 2. it reconciles each record the old leader left unfinished (`started`) from that VM's source
 *    agent (GET /agent/v1/migrations/<id>): it waits while the agent still decides or migrates,
 *    then records what the agent did: succeeded (the VM is at the target), failed (the VM stayed
 *    at the source), declined, or, when the agent never got the request, failed without a move.
 *    The migration is never asked for again under its id, and the record is finished exactly once;
 * 3. it warms up: hosts of the old leader's published view (the snapshot read at the election,
 *    before this member published its own: onElected) that it has not re-learned yet are
 *    placed where that view had them (except the VMs just reconciled, which are waited for where
 *    the agent put them), then it waits until it sees as many switches and links as the old
 *    leader did, and for one full rate window, so the next decision reads measured rates;
 * 4. it resumes the run with the recorded options, round, migration count and rails/continuous
 *    state (cooldowns, no-return, stable choices), plus a migration the reconciliation found
 *    finished. A run the operator stopped, or one that ended, is not restarted. With no recorded
 *    run at all, continuous mode given on the command line (`--orchestrate`) starts here: it runs
 *    on the leader only.
 *
 * `orchestration/state` is written on every `orchestration` event of the leader (each round,
 * migration and state change); a member stopping on purpose stops writing first (`quiesce`), so
 * its own shutdown does not record the run as stopped.
 */
import type { MigrationRecord, NorthEvent, Orchestration } from '../api/contract.ts';
import { agentMigrationOutcome } from '../agent/server.ts';
import type { MigrationOutcome } from '../agent/agent.ts';
import * as ctl from '../controller/controller.ts';
import type { OfLog } from '../openflow/connection/index.ts';
import { type RunProgress, type StartOptions, railSnapshot, restoreRails } from '../orchestrator/orchestrator.ts';
import { noteMigration } from '../orchestrator/continuous.ts';
import { recordMigration } from '../core/rails.ts';
import { byOpening, inRun, isCounted, pruneCounted } from '../orchestrator/counted.ts';
import type { Runtime } from '../runtime/controller-runtime.ts';
import type { Service } from '../service/service.ts';
import type { AuditLog } from '../service/audit-file.ts';
import type { Store } from '../store/store.ts';
import { storedRecords } from './audit.ts';
import { loadAgents } from './agents.ts';
import type { PreviousView } from './view-publish.ts';

const KEY = 'orchestration/state';

/**
 * The reconciliation's wait for an agent still migrating: the QEMU driver's own limits (120 s
 * migration timeout, then up to 30 s for the destination to run, vm/fleet.ts) plus 30 s for the
 * agent's reports and the emulated driver's probes.
 */
export const RECONCILE_MS = 180_000;

/** What `orchestration/state` holds. */
export interface StoredOrchestration {
  readonly status: Orchestration;
  readonly progress: RunProgress | null;
  /** the writing leader, and when */
  readonly by: string;
  readonly at: string;
}

export interface OrchestrationShareOptions {
  readonly store: Store;
  readonly service: Service;
  readonly runtime: Runtime;
  readonly audit: AuditLog;
  readonly memberId: string;
  isLeader(): boolean;
  /**
   * calls `fn` at each election of this member with the previous leader's view as read once at
   * that election, before this member published its own (attach.ts): the same snapshot the
   * takeover routes from. Read later from the store, it is mostly this leader's own view already,
   * and the warm-up would wait for nothing.
   */
  onElected(fn: (previous: Promise<PreviousView>) => void): void;
  /** the controller's call token for a hypervisor's agent */
  agentToken(hypervisor: string): string;
  /** starts continuous mode as given on the command line: called by a leader of a cluster with no recorded run */
  readonly cliStart?: () => void;
  readonly log: OfLog;
  /** how long the warm-up may wait for the old leader's switches, links and hosts (default 20 s) */
  readonly warmMs?: number;
  /** one rate window, waited after the view is complete (default 6 s) */
  readonly rateWindowMs?: number;
  /**
   * how long to wait for an agent still deciding or migrating (default RECONCILE_MS): longer than
   * the driver may take, or the record would say failed while the migration goes on
   */
  readonly reconcileMs?: number;
  /** how long to wait for the agent of a migration left in flight to be registered (default 15 s) */
  readonly agentWaitMs?: number;
}

export interface OrchestrationShare {
  /** stop writing (a member shutting down on purpose must not record its run as stopped) */
  quiesce(): void;
  /** resolves when the last takeover (reconcile, warm-up, resume) is done */
  takeover(): Promise<void>;
  stop(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The record an agent's answer finishes (pure): the same record, final, never a second migration. */
export function reconciled(r: MigrationRecord, x: MigrationOutcome | null, step: number, now: number, unreachable?: string): MigrationRecord {
  const base = { ...r, finishedAt: now };
  if (unreachable !== undefined) {
    return { ...base, status: 'failed', error: { code: 'AGENT_UNREACHABLE', message: `the leader changed during this migration and the agent of ${r.from} did not answer (${unreachable}); the VM is where the network sees it` } };
  }
  if (x === null) return { ...base, status: 'failed', error: { code: 'MIGRATION_FAILED', message: `the leader changed before the agent of ${r.from} received this migration; nothing moved, ${r.vm} stayed on ${r.from}` } };
  switch (x.state) {
    case 'succeeded':
      return { ...base, status: 'succeeded', to: x.to, step, error: null };
    case 'declined':
      return { ...base, status: 'declined', error: null };
    default:
      // failed, or still deciding/running when we gave up waiting
      return {
        ...base,
        status: 'failed',
        error: x.state === 'failed' && x.error !== null ? x.error : { code: 'MIGRATION_TIMEOUT', message: `the agent of ${r.from} still reports this migration ${x.state} after the new leader's wait` },
      };
  }
}

/**
 * The run to continue (pure): the recorded progress plus each succeeded migration of the run
 * (`all`: every record, after reconciliation) it does not count yet (RunProgress.counted): the
 * record's final write and the progress go to the store separately, and either may be the one
 * the old leader's death cut off. Progress without `counted` (older versions): plus the
 * migrations the reconciliation found finished.
 */
export function resumeOptions(p: RunProgress, finished: readonly MigrationRecord[], all: readonly MigrationRecord[] = finished): StartOptions {
  let migrations = p.migrations;
  let rails = p.rails;
  const continuous = p.continuous === null ? null : structuredClone(p.continuous);
  const counted = p.counted === undefined ? undefined : new Set(p.counted);
  const since = p.since ?? Number.NEGATIVE_INFINITY;
  // a migration's record has its step once it succeeded; an exchange's pair record does not (its legs do)
  const toCount = counted === undefined ? finished : all.filter((r) => !isCounted(counted, p.countedThrough, r.id) && r.step !== null && inRun(r.id, r.startedAt, p.sinceId, since));
  const added: string[] = [];
  for (const r of toCount) {
    if (r.status !== 'succeeded' || r.to === null) continue;
    migrations += 1;
    counted?.add(r.id);
    added.push(r.id);
    if (rails !== null) {
      const st = restoreRails(p.options.rails, rails);
      recordMigration(st, r.vm, r.from, r.to, r.round);
      rails = railSnapshot(st);
    }
    if (continuous !== null) noteMigration(continuous, r.vm, r.from, r.to);
  }
  // the listed ids in counting order (records opened earlier first), kept short
  const list = counted === undefined ? undefined : pruneCounted([...(p.counted ?? []), ...added.sort(byOpening)], p.countedThrough);
  return {
    ...p.options,
    resume: {
      round: p.round,
      migrations,
      rails,
      continuous,
      ...(list === undefined ? {} : { counted: list.ids, ...(list.through === undefined ? {} : { countedThrough: list.through }), ...(p.since === undefined ? {} : { since: p.since }), ...(p.sinceId === undefined ? {} : { sinceId: p.sinceId }) }),
    },
  };
}

export function shareOrchestration(o: OrchestrationShareOptions): OrchestrationShare {
  let quiet = false;
  let chain: Promise<void> = Promise.resolve();
  let last: Promise<void> = Promise.resolve();
  const write = (status: Orchestration): void => {
    if (quiet || !o.isLeader()) return;
    // a copy as of this event: the put runs later, after the run changed its live state
    const value: StoredOrchestration = { status, progress: structuredClone(o.service.orchestrator.progress()), by: o.memberId, at: new Date().toISOString() };
    chain = chain.then(() => o.store.put(KEY, value)).catch((e: unknown) => o.log('warn', `cluster: orchestration state not stored: ${errText(e)}`));
  };
  const unsubscribe = o.service.subscribe((e: NorthEvent) => {
    if (e.type === 'orchestration') write(e.data as unknown as Orchestration);
  });

  async function outcomeOf(r: MigrationRecord, url: string): Promise<MigrationOutcome | null> {
    const end = Date.now() + (o.reconcileMs ?? RECONCILE_MS);
    for (;;) {
      const x = await agentMigrationOutcome(url, r.id, o.agentToken(r.from));
      if (x === null || (x.state !== 'deciding' && x.state !== 'running') || Date.now() > end) return x;
      await sleep(200);
    }
  }

  async function reconcile(): Promise<MigrationRecord[]> {
    const records = await storedRecords(o.store);
    const mine = o.service.orchestrator.records;
    mine.splice(0, mine.length, ...records);
    const open = records.filter((r) => r.finishedAt === null && r.status === 'started');
    const done: MigrationRecord[] = [];
    for (const r of open) {
      // an agent not known from the store registers again within its --check-ms
      const urlEnd = Date.now() + (o.agentWaitMs ?? 15_000);
      const urlOf = (): string | null => o.service.hypervisors().find((h) => h.name === r.from)?.agent ?? null;
      while (urlOf() === null && Date.now() < urlEnd) await sleep(100);
      const url = urlOf();
      let final: MigrationRecord;
      const step = Math.max(0, ...mine.map((m) => m.step ?? 0)) + 1;
      if (url === null) {
        final = reconciled(r, null, step, Date.now(), 'no agent registered');
      } else {
        try {
          final = reconciled(r, await outcomeOf(r, url), step, Date.now());
        } catch (e) {
          final = reconciled(r, null, step, Date.now(), errText(e));
        }
      }
      Object.assign(r, final);
      // the agent's final report may still be on its way: it is accepted for this record (api/identity.ts)
      o.service.reconciled.add(r.id);
      await o.audit.append(r);
      done.push(r);
      o.log('info', `cluster: migration ${r.id} (${r.vm} ${r.from} -> ${r.to ?? '?'}) left in flight by the old leader: reconciled from the agent as ${r.status}`);
    }
    return done;
  }

  type Summary = { readonly switches?: readonly string[]; readonly links?: number; readonly hosts?: readonly { mac: string; dpid: string; port: number }[] } | undefined;

  /**
   * Until this leader holds as many switches as the previous leader's view (read at the election)
   * lists, or `end` (ms since the epoch) passed: agents are registered per hypervisor switch.
   */
  async function switchesBack(summary: Summary, end: number): Promise<void> {
    const c = o.runtime.controller;
    while (c.disc.switches.size < (summary?.switches?.length ?? 0) && Date.now() < end) await sleep(50);
  }

  async function warmUp(summary: Summary, reconciledRecords: readonly MigrationRecord[], end: number): Promise<void> {
    const c = o.runtime.controller;
    const wantLinks = summary?.links ?? 0;
    while (c.disc.links.size < wantLinks && Date.now() < end) await sleep(100);
    // hosts that keep quiet are not re-learned from packets: place them where the old leader saw
    // them (a host that moved is re-learned from its next frame); the reconciled VMs are not
    // placed, their agents said where they went
    const skip = new Set(reconciledRecords.map((r) => r.vm));
    const names = new Map(o.service.hosts().map((h) => [h.mac.toLowerCase(), h.vm]));
    let placed = 0;
    for (const h of summary?.hosts ?? []) {
      if (c.hosts.byMac.has(h.mac) || skip.has(names.get(h.mac.toLowerCase()) ?? h.mac)) continue;
      const dpid = BigInt(`0x${h.dpid}`);
      if (!c.disc.switches.has(dpid)) continue;
      try {
        o.runtime.apply(ctl.vmMoved(c, h.mac, { dpid, port: h.port }, Date.now()));
        placed += 1;
      } catch (e) {
        o.log('warn', `cluster: host ${h.mac} from the old leader's view not placed: ${errText(e)}`);
      }
    }
    for (const r of reconciledRecords) {
      const at = r.status === 'succeeded' ? r.to : r.from;
      if (at === null) continue;
      while (o.service.hypervisorOf(r.vm) !== at && Date.now() < end) await sleep(100);
    }
    o.log('info', `cluster: warm-up: ${c.disc.switches.size} switches, ${c.disc.links.size} links, ${c.hosts.byMac.size} hosts (${placed} placed from the old leader's view); one rate window before orchestrating`);
    await sleep(o.rateWindowMs ?? 6000);
  }

  async function takeOver(previous: Promise<PreviousView>): Promise<void> {
    o.service.reconciled.clear();
    // agents' reports are checked against the records: the old leader's, not the ones this
    // process loaded at its start, from the first moment of this leadership (reconcile reloads)
    try {
      const records = await storedRecords(o.store);
      const mine = o.service.orchestrator.records;
      if (o.service.orchestrator.status().state === 'idle') mine.splice(0, mine.length, ...records);
    } catch (e) {
      o.log('warn', `cluster: migration records not loaded before the warm-up: ${errText(e)}`);
    }
    const prev = await previous.catch((e: unknown): PreviousView => ({ state: 'unread', error: errText(e), attempts: 0 }));
    if (prev.state === 'unread') o.log('warn', `cluster: the previous leader's view was not read (${prev.error}): the warm-up waits for no switch, link or host of it`);
    const summary: Summary = prev.state === 'read' ? prev.view : undefined;
    const end = Date.now() + (o.warmMs ?? 20_000);
    await switchesBack(summary, end);
    const n = await loadAgents(o.store, o.service, o.log);
    if (n > 0) o.log('info', `cluster: ${n} agent registration(s) from the store`);
    const stored = (await o.store.get(KEY)) as StoredOrchestration | undefined;
    const finished = await reconcile();
    const resume = stored?.status.state === 'running' && stored.progress !== null ? resumeOptions(stored.progress, finished, o.service.orchestrator.records) : undefined;
    const cli = stored === undefined ? o.cliStart : undefined;
    if (resume === undefined && cli === undefined) return;
    await warmUp(summary, finished, end);
    if (!o.isLeader()) return;
    if (o.service.orchestrator.status().state !== 'idle') return; // an operator started one meanwhile
    if (resume !== undefined) {
      o.service.orchestrator.start(resume);
      o.log('info', `cluster: orchestration (${resume.policy}${resume.continuous ? ', continuous' : ''}) continues from round ${resume.resume?.round ?? 0} after ${resume.resume?.migrations ?? 0} migration(s), as ${stored?.by ?? '?'} recorded it`);
    } else {
      cli?.();
      o.log('info', 'cluster: continuous orchestration from the command line starts on this leader');
    }
  }

  o.onElected((previous) => {
    last = takeOver(previous).catch((e: unknown) => o.log('warn', `cluster: orchestration takeover failed: ${errText(e)}`));
  });
  return {
    quiesce: () => {
      quiet = true;
    },
    takeover: () => last,
    stop: () => {
      quiet = true;
      unsubscribe();
    },
  };
}
