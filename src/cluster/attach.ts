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
  return { member, plane, store, leaderView: () => store.get('view/summary') };
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
  const orchestration = shareOrchestration({
    store: h.store,
    service: o.service,
    runtime: o.runtime,
    audit: o.audit,
    memberId: h.member.id,
    isLeader,
    onElected,
    agentToken: o.agentToken,
    ...(o.cliStart === undefined ? {} : { cliStart: o.cliStart }),
    log,
  });
  // The previous leader's view as this member was elected: the links and switches a new leader
  // must hold again before it is ready to re-route a VM. Read before this member republishes it.
  let expected: { switches: number; links: number } | 'pending' = { switches: 0, links: 0 };
  // Caught up once this term (latched), or given up on after the bound: the view may be stale or
  // name what is gone for good, and readiness must not stay false for the whole term.
  const catchUp = catchUpLatch(o.catchUpMs ?? CATCH_UP_MS);
  h.member.on('elected', () => {
    catchUp.elected();
    expected = 'pending';
    h.store
      .get('view/summary')
      .then((v) => {
        const s = v as { switches?: unknown[]; links?: number } | undefined;
        expected = { switches: s?.switches?.length ?? 0, links: s?.links ?? 0 };
      })
      .catch((e: unknown) => {
        log('warn', `cluster: the previous leader's view was not read (${e instanceof Error ? e.message : String(e)}); ready once MASTER everywhere`);
        expected = { switches: 0, links: 0 };
      });
  });
  await h.member.start({ apiUrl: o.apiUrl });
  const timer = setInterval(() => {
    if (h.member.role !== 'leader' || expected === 'pending') return;
    const c = o.runtime.controller;
    const summary = {
      leader: h.member.id,
      generation: String(h.member.generation ?? 0n),
      at: new Date().toISOString(),
      switches: [...c.disc.switches.keys()].map((d) => d.toString(16)),
      links: c.disc.links.size,
      hosts: [...c.hosts.byMac.entries()].map(([mac, hst]) => ({ mac, dpid: hst.at.dpid.toString(16), port: hst.at.port })),
    };
    h.store.put('view/summary', summary).catch((e: unknown) => log('warn', `cluster: publishing the view failed: ${e instanceof Error ? e.message : String(e)}`));
  }, o.publishMs ?? 1000);
  timer.unref();
  return {
    orchestration,
    ready: () => {
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
    },
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
