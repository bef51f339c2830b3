/**
 * The OpenFlow data plane of a clustered controller: every switch connects to every controller,
 * and this layer decides what the controller runtime may see and do.
 *
 * - Leader: each switch is asked ROLE_REQUEST MASTER with the leader's generation id (the etcd
 *   election key's create revision, member.ts); only after the switch's ROLE_REPLY is the switch
 *   handed to the runtime (discovery, routing, statistics, orchestration run there).
 * - Follower: each switch is asked ROLE_REQUEST SLAVE with the current leader's generation (never
 *   a larger one, which would make the switch refuse its own leader). A SLAVE gets no packet-ins
 *   and may send no flow-mods or packet-outs (OpenFlow 1.3 section 6.3.5), so the runtime sees
 *   nothing; the connection keeps the switch's ports (PORT_DESC, PORT_STATUS) and role.
 * - Elected: every connected switch is re-asked as MASTER, then handed to the runtime, which
 *   starts it (table-miss rule, LLDP probes) keeping the rules it holds: the previous leader's go
 *   only once this leader's own are in (takeover.ts, via onHandover). A failed role request is
 *   sent again a bounded number of times (ROLE_RETRY_DELAYS_MS).
 * - Stepped down: every write through a channel is refused here (CLUSTER_NOT_LEADER) and every
 *   switch is asked SLAVE. Switches fence independently: the new leader's larger generation makes
 *   them refuse the old master (OFPBRC_IS_SLAVE, OFPRRFC_STALE).
 */
import type { Dpid } from '../controller/commands.ts';
import { ScoreError, isScoreError } from '../errors/errors.ts';
import type { ControllerRole, OfLog, OpenflowDataPlane } from '../openflow/connection/index.ts';
import { formatDpidHex } from '../openflow/connection/index.ts';
import type { DataPlaneEvents, SwitchChannel } from '../runtime/dataplane.ts';
import type { ClusterMember } from './member.ts';

export interface StandbySwitch {
  readonly dpid: string;
  readonly role: ControllerRole;
  readonly ports: number;
  /** handed to this controller's runtime (only while leader) */
  readonly active: boolean;
}

export interface ClusterDataPlane extends OpenflowDataPlane {
  /** What this controller knows of each connected switch, leader or not. */
  switchesView(): StandbySwitch[];
  /** Resolves when every connected switch has answered the role request of the current term. */
  settled(): Promise<void>;
  /** Calls `fn` after each switch is handed to the runtime (the runtime's switch-up commands were sent). */
  onHandover(fn: (dpid: Dpid) => void): void;
}

/**
 * The waits before re-sending a ROLE_REQUEST that failed (no reply in time, an error other than
 * STALE, a send refused while the connection was busy), ms: a switch whose request failed once
 * would otherwise stay without this controller's role (MASTER: not handed to the runtime, so the
 * leader is never ready) until it reconnects. Bounded: 5 tries after the first, 3.1 s in all.
 */
export const ROLE_RETRY_DELAYS_MS: readonly number[] = [100, 200, 400, 800, 1600];

/** Pure: the wait before retry number `attempt` (1-based), or null when no retry is left. */
export function roleRetryDelay(attempt: number, delays: readonly number[] = ROLE_RETRY_DELAYS_MS): number | null {
  return attempt >= 1 && attempt <= delays.length ? (delays[attempt - 1] as number) : null;
}

export interface ClusterDataPlaneOptions {
  /** role request retry waits (default ROLE_RETRY_DELAYS_MS) */
  readonly roleRetryDelaysMs?: readonly number[];
}

export function clusterDataPlane(inner: OpenflowDataPlane, member: ClusterMember, log: OfLog, opts: ClusterDataPlaneOptions = {}): ClusterDataPlane {
  const ready = new Map<Dpid, SwitchChannel>();
  const handover: ((dpid: Dpid) => void)[] = [];
  const active = new Set<Dpid>();
  let events: DataPlaneEvents | undefined;
  let pending: Promise<void> = Promise.resolve();

  const fenced = (ch: SwitchChannel): SwitchChannel => ({
    dpid: ch.dpid,
    get ports() {
      return ch.ports;
    },
    send(commands) {
      // the lease's validity, not only the role: between the lease running out and the member's
      // next check (100 ms) the role still says leader
      if (member.role !== 'leader' || member.fence() === undefined) {
        throw new ScoreError('CLUSTER_NOT_LEADER', `not sent to ${formatDpidHex(ch.dpid)}: this controller is no longer the cluster leader${member.role === 'leader' ? ' (its lease is not surely alive)' : ''}`, { commands: commands.length });
      }
      ch.send(commands);
    },
    flowStats: (filter) => ch.flowStats(filter),
    portStats: () => ch.portStats(),
  });

  const assign = async (dpid: Dpid): Promise<void> => {
    const conn = inner.connection(dpid);
    const ch = ready.get(dpid);
    if (conn === undefined || ch === undefined) return;
    // what this request is for: a retry only while it still is (same connection, role, own
    // generation). Not the leader's generation as this member sees it: that view is refreshed by
    // its own watch, which may land after 'elected', and would cancel the very retry a takeover
    // needs; a SLAVE retry reads the leader's generation afresh each attempt.
    const term = (): string => `${member.role}/${String(member.generation)}`;
    const asked = term();
    for (let attempt = 0; ; attempt++) {
      const generation = member.generation;
      try {
        if (member.role === 'leader' && generation !== undefined) {
          await conn.requestRole('MASTER', generation);
          if (member.role !== 'leader' || inner.connection(dpid) !== conn || active.has(dpid)) return;
          active.add(dpid);
          events?.switchUp(fenced(ch));
          for (const fn of handover) fn(dpid);
        } else if (member.role !== 'stopped') {
          // the leader's own generation: a larger one would make the switch refuse the leader
          await conn.requestRole('SLAVE', member.leader?.generation ?? 0n);
        }
        return;
      } catch (e) {
        if (isScoreError(e, 'OF_ROLE_STALE')) {
          // a newer generation reached the switch first: we are SLAVE there, which is what fencing
          // wants of a member that lost the lead; a leader refused has a generation below what the
          // switch has seen (etcd restored or rebuilt): it controls nothing there, loudly
          if (member.role === 'leader' && asked === term()) log('error', `CLUSTER_GENERATION_STALE: dpid ${formatDpidHex(dpid)} refused this leader's MASTER request with generation ${String(generation)} (${e.message}): the switch has seen a newer one; an etcd cluster restored or rebuilt restarts revisions low (docs/cluster.md)`);
          else log('warn', `dpid ${formatDpidHex(dpid)}: role request refused as stale (${e.message})`);
          return;
        }
        const wait = roleRetryDelay(attempt + 1, opts.roleRetryDelaysMs);
        const why = e instanceof Error ? e.message : String(e);
        if (wait === null || isScoreError(e, 'OF_DISCONNECTED')) {
          log('warn', `dpid ${formatDpidHex(dpid)}: role request failed${attempt > 0 ? ` (${attempt + 1} tries)` : ''}: ${why}`);
          return;
        }
        log('warn', `dpid ${formatDpidHex(dpid)}: role request failed (${why}); again in ${wait} ms`);
        await new Promise((r) => setTimeout(r, wait));
        // superseded: the switch reconnected (its own assign runs) or the term changed (assignAll runs)
        if (inner.connection(dpid) !== conn || ready.get(dpid) !== ch || term() !== asked || member.role === 'stopped') return;
      }
    }
  };

  const assignAll = (): Promise<void> => {
    const round = Promise.all([...ready.keys()].map((d) => assign(d))).then(() => undefined);
    pending = round;
    return round;
  };

  member.on('elected', (generation) => {
    const t0 = Date.now();
    void assignAll().then(() => {
      const master = [...ready.keys()].filter((d) => inner.connection(d)?.role === 'MASTER').length;
      log('info', `cluster: MASTER on ${master} of ${ready.size} switches (generation ${generation}) ${Date.now() - t0} ms after election`);
    });
  });
  member.on('stepped-down', (reason) => {
    log('warn', `cluster: stepped down (${reason}); asking every switch for SLAVE; nothing more is written`);
    const held = [...active];
    active.clear();
    for (const d of held) events?.switchDown(d);
    void assignAll();
  });

  return {
    ...inner,
    async start(ev) {
      events = ev;
      await inner.start({
        switchUp(ch) {
          ready.set(ch.dpid, ch);
          pending = assign(ch.dpid);
        },
        switchDown(dpid) {
          ready.delete(dpid);
          if (active.delete(dpid)) ev.switchDown(dpid);
        },
        packetIn(dpid, inPort, frame) {
          if (active.has(dpid)) ev.packetIn(dpid, inPort, frame);
        },
        portStatus(dpid, port, reason) {
          if (active.has(dpid)) ev.portStatus(dpid, port, reason);
        },
        flowRemoved(dpid, cookie) {
          if (active.has(dpid)) ev.flowRemoved(dpid, cookie);
        },
        flowRejected(dpid, cookie, error) {
          if (active.has(dpid)) ev.flowRejected(dpid, cookie, error);
        },
        flowsAccepted(dpid, cookies) {
          if (active.has(dpid)) ev.flowsAccepted(dpid, cookies);
        },
      });
    },
    stop: () => inner.stop(),
    address: () => inner.address(),
    connectionStats: (d) => inner.connectionStats(d),
    connection: (d) => inner.connection(d),
    switchesView() {
      return [...ready.keys()].map((d) => {
        const conn = inner.connection(d);
        return { dpid: formatDpidHex(d), role: conn?.role ?? 'EQUAL', ports: conn?.ports.size ?? 0, active: active.has(d) };
      });
    },
    settled: () => pending,
    onHandover(fn) {
      handover.push(fn);
    },
  };
}
