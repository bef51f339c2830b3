/**
 * `score controller --cluster`: the glue between a controller stack and its cluster membership.
 * Small on purpose so the controller command only gains a few lines (src/cli/commands/controller.ts).
 */
import type { Runtime } from '../runtime/controller-runtime.ts';
import type { OfLog, OpenflowDataPlane } from '../openflow/connection/index.ts';
import type { Registry } from 'prom-client';
import { etcdStore } from '../store/etcd.ts';
import type { Store } from '../store/store.ts';
import { ClusterMember } from './member.ts';
import { publishEvents } from './events.ts';
import { type WeightService, shareWeights } from './weights.ts';
import { registerClusterMetrics } from './metrics.ts';
import { type ClusterDataPlane, clusterDataPlane } from './role-plane.ts';
import { shareAgents } from './agents.ts';
import { type OrchestrationShare, shareOrchestration } from './orchestration.ts';
import type { Service } from '../service/service.ts';
import type { AuditLog } from '../service/audit-file.ts';
import { type Readiness, catchUpLatch, readiness } from './readiness.ts';
import * as ctl from '../controller/controller.ts';
import type { DiscoveryState } from '../controller/discovery.ts';
import { generationSlot } from '../controller/commands.ts';
import { type TakeoverEffects, cleanLateSwitch, runTakeover, settleSwitch } from './takeover.ts';
import { storedRecords } from './audit.ts';
import { type PreviousView, type ViewPublisher, SUMMARY_KEY, readPreviousView, viewPublisher } from './view-publish.ts';

/**
 * A VM whose migration was in flight at the election, or ended this recently before it (ms), is
 * not placed from the previous leader's view: the view is published once a second and may show
 * it where it was; its agent's report or its next frame places it.
 */
const UNSETTLED_MS = 10_000;

/** How long a takeover waits for the switches to confirm its new paths before deleting the older generations anyway, ms. */
export const TAKEOVER_CONFIRM_MS = 2_000;

export interface ClusterOptions {
  /** etcd client URLs (parseClusterUrl) */
  readonly endpoints: readonly string[];
  readonly id: string;
  /** lease TTL, s (default 2) */
  readonly ttlSec?: number;
  /** cluster name, keys under `score/<name>/` (default "default") */
  readonly name?: string;
}

export interface ClusterHandle {
  readonly member: ClusterMember;
  readonly plane: ClusterDataPlane;
  /** shared state: reads anywhere, writes only while leader (fenced) */
  readonly store: Store;
  /** the leader's last published view (what a standby knows of the leader's world) */
  leaderView(): Promise<unknown>;
}

/** Step 1, before the stack starts: the member (not yet campaigning) and the role-aware data plane. */
export function prepareCluster(inner: OpenflowDataPlane, o: ClusterOptions, log: OfLog): ClusterHandle {
  const member = new ClusterMember({
    endpoints: o.endpoints,
    info: { id: o.id },
    ...(o.ttlSec === undefined ? {} : { ttlSec: o.ttlSec }),
    ...(o.name === undefined ? {} : { cluster: o.name }),
    log: (level, message) => log(level, message),
  });
  const plane = clusterDataPlane(inner, member, log);
  const store = etcdStore(member.client, { prefix: `${member.prefix}state/`, fence: () => member.fence() });
  return { member, plane, store, leaderView: () => store.get(SUMMARY_KEY) };
}

export interface JoinedCluster {
  /** resigns (a follower takes over at once) and stops publishing */
  leave(): Promise<void>;
  /** the orchestration's store link (quiesce it before stopping the orchestrator on purpose) */
  readonly orchestration: OrchestrationShare;
  /** whether this member, as leader, can re-route a VM now (`GET /api/v1/cluster/ready`) */
  ready(): Readiness;
}

/**
 * How long after its election a leader's readiness waits for its predecessor's switches and links
 * (ms): a few LLDP rounds, well inside the agents' switch-over wait (agent.ts SWITCHOVER_WAIT_MS).
 */
export const CATCH_UP_MS = 5_000;

/**
 * Step 2, once the stack listens: cluster metrics on its registry, weights, agent registrations
 * and orchestration shared through the store (a new leader takes them over), the campaign
 * (announcing the API URL followers forward to), and the leader publishing its view every `publishMs`.
 */
export async function joinCluster(
  h: ClusterHandle,
  o: {
    apiUrl: string;
    registry: Registry;
    runtime: Runtime;
    service: Service & WeightService;
    audit: AuditLog;
    agentToken: (hypervisor: string) => string;
    /** continuous mode from the command line (it runs on the leader only) */
    cliStart?: () => void;
    publishMs?: number;
    /** how long readiness waits for the previous leader's switches and links after an election, ms (default CATCH_UP_MS) */
    catchUpMs?: number;
  },
  log: OfLog,
): Promise<JoinedCluster> {
  registerClusterMetrics(o.registry, h.member, h.plane);
  const unpublish = publishEvents(h, o.service, log);
  const isLeader = (): boolean => h.member.role === 'leader';
  const onElected = (fn: () => void): void => {
    h.member.on('elected', fn);
  };
  const unshare = shareWeights({ store: h.store, service: o.service, isLeader, onElected, log });
  const unshareAgents = shareAgents({ store: h.store, dir: o.service, isLeader, log });
  // called from this member's election handler below with the read of the previous view it
  // started, so the orchestration's warm-up gets that same snapshot (an `elected` listener of its
  // own would read the store later, after this member published over it)
  const withPrevious: ((previous: Promise<PreviousView>) => void)[] = [];
  const orchestration = shareOrchestration({
    store: h.store,
    service: o.service,
    runtime: o.runtime,
    audit: o.audit,
    memberId: h.member.id,
    isLeader,
    onElected: (fn) => {
      withPrevious.push(fn);
    },
    agentToken: o.agentToken,
    ...(o.cliStart === undefined ? {} : { cliStart: o.cliStart }),
    log,
  });
  // The previous leader's view as this member was elected: the links and switches a new leader
  // must hold again before it is ready to re-route a VM. Read before this member republishes it.
  let expected: { switches: number; links: number } | 'pending' = { switches: 0, links: 0 };
  /** undefined while it is being read (with retries, up to the catch-up bound) */
  let previous: PreviousView | undefined;
  // the term's publisher (chunked lists under versions: view-publish.ts); one publish at a time
  let publisher: ViewPublisher | undefined;
  let publishing = false;
  /** VMs not to place from the previous view (UNSETTLED_MS); undefined until the records are read */
  let unsettled: ReadonlySet<string> | 'all' | undefined;
  // Caught up once this term (latched), or given up on after the bound: the view may be stale or
  // name what is gone for good, and readiness must not stay false for the whole term.
  const catchUp = catchUpLatch(o.catchUpMs ?? CATCH_UP_MS);
  /** false until this term's takeover starts cleaning */
  let cleaning = false;
  // how many links each switch had while connected this term: what a switch handed over again waits for
  const linksSeen = linkMemory();
  const names = (): Map<string, string> => new Map(o.service.hosts().map((x) => [x.mac.toLowerCase(), x.vm]));
  const effects = takeoverEffects(
    h,
    o.runtime,
    {
      view: () => previous,
      viewKnown: () => previous !== undefined,
      // undefined while the records are being read
      placeable: () => {
        const u = unsettled;
        if (u === undefined) return undefined;
        const byMac = names();
        return (mac) => u !== 'all' && !u.has(byMac.get(mac.toLowerCase()) ?? mac);
      },
      ready: () => ready().ready,
      linksSeen: (dpid) => linksSeen.of(dpid),
      boundPassed: () => catchUp.over(),
      cleaningStarts: () => {
        cleaning = true;
      },
    },
    log,
  );
  h.member.on('elected', (generation) => {
    // before any switch is handed over (the role requests are under way): this term's cookies
    ctl.useGeneration(o.runtime.controller, generation);
    catchUp.elected();
    expected = 'pending';
    previous = undefined;
    unsettled = undefined;
    cleaning = false;
    const electedAt = Date.now();
    storedRecords(h.store)
      .then((records) => {
        unsettled = new Set(records.filter((r) => r.status === 'started' || (r.finishedAt !== null && r.finishedAt > electedAt - UNSETTLED_MS)).map((r) => r.vm));
      })
      .catch((e: unknown) => {
        log('warn', `cluster takeover: migration records not read (${e instanceof Error ? e.message : String(e)}); no host is placed from the previous leader's view`);
        unsettled = 'all';
      });
    publisher = viewPublisher(h.store, String(generation));
    // Read once here, before this member publishes (it publishes once `expected` is set below),
    // and handed to everything that needs it: the takeover (via `previous`) and the
    // orchestration's warm-up. Read again later, the store mostly holds this leader's own view.
    // Retried up to the catch-up bound: a view not read is not "none published" (takeover.ts).
    const read = readPreviousView(h.store, o.catchUpMs ?? CATCH_UP_MS, { wanted: () => h.member.generation === generation && h.member.role === 'leader' });
    for (const fn of withPrevious) fn(read);
    read
      .then((p) => {
        if (h.member.generation !== generation) return; // a later term reads its own
        previous = p;
        if (p.state === 'unread') {
          log('warn', `cluster: the previous leader's view was not read after ${p.attempts} attempts (${p.error}); ready once MASTER everywhere, older generations not deleted this term`);
        }
        const v = p.state === 'read' ? p.view : undefined;
        expected = { switches: v?.switches?.length ?? 0, links: v?.links ?? 0 };
      })
      .catch((e: unknown) => log('warn', `cluster: reading the previous leader's view failed: ${e instanceof Error ? e.message : String(e)}`));
    const t0 = Date.now();
    runTakeover(effects, generationSlot(generation))
      .then((r) => {
        log(
          r.abandoned ? 'warn' : 'info',
          `cluster takeover: ${r.pairs} pairs of the previous leader routed${r.confirmed ? ' and confirmed' : ' (not all confirmed)'}${r.refused.length > 0 ? `, ${r.refused.length} refused (to the controller until their retry lands)` : ''}, ${r.viewRead ? `older generations deleted on ${r.switches} switches (${r.deletes} deletes)` : 'no older generation deleted (the previous view was not read)'} ${Date.now() - t0} ms after election${r.abandoned ? '; abandoned: no longer leader' : ''}`,
        );
      })
      .catch((e: unknown) => log('warn', `cluster takeover failed: ${e instanceof Error ? e.message : String(e)}`));
  });
  // a switch handed over later in the term (it reconnected): its older generations go once its
  // links are back and the paths through it confirmed (make before break for it too)
  h.plane.onHandover((dpid) => {
    if (cleaning === false || h.member.generation === undefined) return;
    cleanLateSwitch(effects, dpid, generationSlot(h.member.generation)).catch((e: unknown) =>
      log('warn', `cluster: switch ${dpid.toString(16)} not cleaned of older generations: ${e instanceof Error ? e.message : String(e)}`),
    );
  });
  await h.member.start({ apiUrl: o.apiUrl });
  const timer = setInterval(() => {
    if (h.member.role !== 'leader') return;
    const c = o.runtime.controller;
    linksSeen.update(c.disc);
    if (expected === 'pending' || publisher === undefined || publishing) return;
    const view = {
      leader: h.member.id,
      generation: String(h.member.generation ?? 0n),
      at: new Date().toISOString(),
      switches: [...c.disc.switches.keys()].map((d) => d.toString(16)),
      links: c.disc.links.size,
      hosts: [...c.hosts.byMac.entries()].map(([mac, hst]) => ({ mac, dpid: hst.at.dpid.toString(16), port: hst.at.port })),
      // the directions routed: a successor installs them before it deletes these rules (takeover.ts)
      pairs: [...c.routing.wanted.values()].map((w): [string, string] => [w.src, w.dst]),
    };
    publishing = true;
    publisher
      .publish(view)
      .catch((e: unknown) => log('warn', `cluster: publishing the view failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        publishing = false;
      });
  }, o.publishMs ?? 1000);
  timer.unref();
  const ready = (): Readiness => {
    const r = readiness({
        memberId: h.member.id,
        role: h.member.role,
        generation: h.member.generation,
        switches: h.plane.switchesView(),
        runtimeSwitches: o.runtime.controller.disc.switches.size,
        links: o.runtime.controller.disc.links.size,
        expected,
        caughtUp: catchUp.over(),
    });
    catchUp.saw(r, h.member.role === 'leader');
    return r;
  };
  return {
    orchestration,
    ready,
    async leave() {
      clearInterval(timer);
      unpublish();
      unshare();
      unshareAgents();
      orchestration.stop();
      await h.member.stop();
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The discovered links per switch (a link counts at both its ends). */
function linkCounts(disc: DiscoveryState): Map<bigint, number> {
  const n = new Map<bigint, number>();
  for (const { link } of disc.links.values()) {
    n.set(link.a.dpid, (n.get(link.a.dpid) ?? 0) + 1);
    n.set(link.b.dpid, (n.get(link.b.dpid) ?? 0) + 1);
  }
  return n;
}

/** Per switch, how many links it had the last time it had any (updated by the caller, e.g. every second). */
function linkMemory(): { update(disc: DiscoveryState): void; of(dpid: bigint): number } {
  const seen = new Map<bigint, number>();
  return {
    update(disc) {
      for (const [d, n] of linkCounts(disc)) seen.set(d, n);
    },
    of: (dpid) => seen.get(dpid) ?? 0,
  };
}

/** The takeover's effects on this member's runtime, data plane and the previous leader's view. */
function takeoverEffects(
  h: ClusterHandle,
  runtime: Runtime,
  t: {
    /** what is known of the previous leader's view; undefined while it is being read */
    view(): PreviousView | undefined;
    viewKnown(): boolean;
    /** which hosts of the view may be placed from it; undefined until that is known */
    placeable(): ((mac: string) => boolean) | undefined;
    ready(): boolean;
    /** the links the switch had when last seen with some this term (0: none seen) */
    linksSeen(dpid: bigint): number;
    boundPassed(): boolean;
    cleaningStarts(): void;
  },
  log: OfLog,
): TakeoverEffects {
  const c = (): ctl.Controller => runtime.controller;
  const isLeader = (): boolean => h.member.role === 'leader';
  return {
    isLeader,
    async caughtUp() {
      // the moment an agent may switch a VM over too: MASTER everywhere, the old switches and links back
      while (isLeader() && (!t.ready() || t.placeable() === undefined) && !t.boundPassed()) await sleep(50);
      // the view's read ends within about the same bound (its retries): wait for its answer
      while (isLeader() && !t.viewKnown()) await sleep(50);
    },
    installPaths() {
      const known = t.view();
      const v = known?.state === 'read' ? known.view : undefined;
      const may = t.placeable() ?? ((): boolean => false);
      // quiet hosts are not re-learned from packets (their pairs ride the old rules): place them
      // where the previous leader saw them, all at once (one view rebuild); a host that moved
      // since is re-learned from its next frame (the rules match the port it came in by) or
      // reported by its agent
      const places = (v?.hosts ?? [])
        .filter((hst) => !c().hosts.byMac.has(hst.mac) && may(hst.mac))
        .map((hst) => ({ mac: hst.mac, at: { dpid: BigInt(`0x${hst.dpid}`), port: hst.port } }))
        .filter((p) => c().disc.switches.has(p.at.dpid));
      const placing = ctl.placeHosts(c(), places, Date.now());
      runtime.apply(placing);
      for (const r of placing.refused) log('warn', `cluster takeover: host ${r.mac} from the previous leader's view not placed: ${r.error.message}`);
      const placed = placing.placed;
      const pairs = (v?.pairs ?? []).map(([src, dst]) => ({ src, dst }));
      const r = ctl.routePairs(c(), pairs, Date.now());
      runtime.apply(r);
      log('info', `cluster takeover: ${placed} hosts placed from the previous leader's view, ${r.cookies.length} of its ${pairs.length} directions routed`);
      return { paths: r.routed, pairs: pairs.length, viewRead: known !== undefined && known.state !== 'unread' };
    },
    async confirmed(paths) {
      // a refused path is no confirmed one (install-tracker's isConfirmed alone says it is)
      const end = Date.now() + TAKEOVER_CONFIRM_MS;
      const pending = (): boolean => paths.some((p) => ctl.pathPending(c(), p.cookie));
      while (isLeader() && pending() && Date.now() < end) await sleep(20);
      return new Map(paths.map((p) => [p.cookie, ctl.pathStatus(c(), p)]));
    },
    switches() {
      t.cleaningStarts();
      return [...runtime.channels.keys()];
    },
    switchSettled(dpid) {
      return settleSwitch(
        dpid,
        {
          isLeader,
          present: () => c().disc.switches.has(dpid),
          links: () => linkCounts(c().disc).get(dpid) ?? 0,
          linksSeen: t.linksSeen(dpid),
          pathsPending: () => ctl.pathsPendingOn(c(), dpid),
          now: Date.now,
          sleep,
          log: (level, message) => log(level, message),
        },
        CATCH_UP_MS,
        TAKEOVER_CONFIRM_MS,
      );
    },
    async barrier(dpid) {
      const conn = h.plane.connection(dpid);
      if (conn === undefined) throw new Error('the switch is not connected');
      await conn.barrier();
    },
    async pathRules(dpid, filter) {
      const ch = runtime.channels.get(dpid);
      if (ch === undefined) throw new Error('the switch is not handed to the runtime');
      // the switch selects the rules (a big table read whole may time out)
      return ch.flowStats(filter);
    },
    send(dpid, commands) {
      const ch = runtime.channels.get(dpid);
      if (ch === undefined) throw new Error('the switch is not handed to the runtime');
      ch.send(commands);
    },
    log: (level, message) => log(level, message),
  };
}
