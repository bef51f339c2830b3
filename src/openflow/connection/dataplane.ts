/**
 * Real switches as the controller runtime's DataPlane: the OpenFlow server's switches become
 * SwitchChannels, their asynchronous messages become DataPlaneEvents. The sibling of
 * src/dataplane/sim.ts; the runtime cannot tell them apart.
 */
import type { Dpid, SwitchCommand } from '../../controller/commands.ts';
import type { SwitchPortInfo } from '../../controller/discovery.ts';
import type { DataPlane, DataPlaneEvents, SwitchChannel } from '../../runtime/dataplane.ts';
import { ScoreError, isScoreError } from '../../errors/errors.ts';
import { OFPP, OFPTT, OFPG, describeError } from '../constants.ts';
import type { OfMessage } from '../messages.ts';
import type { ConnectionStats, OfConnection } from './connection.ts';
import { formatDpidHex } from './connection.ts';
import { type OfLog, silentLog } from './log.ts';
import { OfServer, type TlsOptions } from './server.ts';
import { commandToMessage, describeSummary, encodeCommandInto, flowStatEntry, isSwitchPort, portInfo, portStatEntries, portStatusReason, summarizeCommand } from './translate.ts';

export interface OpenflowDataPlaneOptions {
  /** default 6653; 0 for any free port */
  readonly port?: number;
  readonly host?: string;
  readonly tls?: TlsOptions;
  readonly echoIntervalMs?: number;
  readonly echoTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxQueueBytes?: number;
  readonly log?: OfLog;
}

export interface OpenflowDataPlane extends DataPlane {
  /** the listening port (after start) */
  address(): { port: number };
  /** live connection statistics per dpid (echo round trip, messages, errors) */
  connectionStats(dpid: Dpid): Readonly<ConnectionStats> | undefined;
  /** the live connection of a switch, for tests and diagnostics */
  connection(dpid: Dpid): OfConnection | undefined;
}

export function openflowDataPlane(o: OpenflowDataPlaneOptions = {}): OpenflowDataPlane {
  const log = o.log ?? silentLog;
  let server: OfServer | undefined;
  let events: DataPlaneEvents | undefined;
  /** per connection: xid of a flow-add still unanswered -> its cookie */
  const flowAdds = new WeakMap<OfConnection, Map<number, bigint>>();
  /** per connection: the barrier not sent yet, and the flow-adds it will confirm */
  const awaiting = new WeakMap<OfConnection, { readonly barrier: Promise<void>; readonly xids: number[] }>();

  /**
   * Flow-adds are followed by a barrier (one per received chunk: barrierSoon). The switch answers
   * every message before the barrier first (OpenFlow 1.3.5 section 6.2), so an ERROR for a
   * flow-add arrives before the BARRIER_REPLY: what is still unanswered then was accepted.
   */
  const confirm = (conn: OfConnection, xids: readonly number[], commands: readonly SwitchCommand[]): void => {
    let pending = flowAdds.get(conn);
    let batch: number[] | undefined;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i] as SwitchCommand;
      const xid = xids[i];
      if (c.kind !== 'flow-add' || xid === undefined) continue;
      if (pending === undefined) flowAdds.set(conn, (pending = new Map<number, bigint>()));
      pending.set(xid, c.rule.cookie);
      batch ??= batchFor(conn, pending);
      batch.push(xid);
    }
  };

  /** The flow-adds the connection's next barrier confirms (barrierSoon: the same one until it is sent). */
  const batchFor = (conn: OfConnection, table: Map<number, bigint>): number[] => {
    const barrier = conn.barrierSoon();
    const open = awaiting.get(conn);
    if (open !== undefined && open.barrier === barrier) return open.xids;
    const xids: number[] = [];
    awaiting.set(conn, { barrier, xids });
    const dpid = conn.dpid as bigint;
    /** the batch's cookies still waiting (a refused one was reported already), taken out of the table */
    const take = (): bigint[] => {
      const cookies: bigint[] = [];
      for (const x of xids) {
        const cookie = table.get(x);
        if (cookie === undefined) continue;
        table.delete(x);
        cookies.push(cookie);
      }
      return cookies;
    };
    const accept = (): void => {
      const accepted = take();
      if (accepted.length > 0) events?.flowsAccepted(dpid, accepted);
    };
    const unconfirmed = (why: string, asRefused: boolean): void => {
      const cookies = take();
      if (!asRefused) {
        log('debug', `dpid ${formatDpidHex(dpid)}: no barrier reply, flow-adds unconfirmed: ${why}`);
        return;
      }
      log('warn', `dpid ${formatDpidHex(dpid)}: no barrier reply twice (${why}): ${cookies.length} flow-add(s) handled as refused`);
      for (const cookie of cookies) events?.flowRejected(dpid, cookie, `no barrier reply: ${why}`);
    };
    const gone = (e: unknown): boolean => isScoreError(e, 'OF_DISCONNECTED') || conn.state === 'closed';
    barrier.then(accept, (e: unknown) => {
      // gone with its connection: the switch going down takes these paths with it. Still
      // connected (a busy switch, or the barrier queued behind a backlog when its timer started):
      // one more barrier settles it; without its reply either, the rules may or may not be there
      // and a late ERROR is no longer matched, so they are handled as refused (the path taken out
      // everywhere, tried again after a back-off) rather than left pending for good.
      if (gone(e)) return unconfirmed(e instanceof Error ? e.message : String(e), false);
      // barrierSoon: batches that time out together share the second barrier
      conn.barrierSoon().then(accept, (e2: unknown) => unconfirmed(e2 instanceof Error ? e2.message : String(e2), !gone(e2)));
    });
    return xids;
  };

  const channel = (conn: OfConnection): SwitchChannel => {
    const dpid = conn.dpid as bigint;
    return {
      dpid,
      get ports(): SwitchPortInfo[] {
        return [...conn.ports.values()].filter((p) => isSwitchPort(p.portNo)).map(portInfo);
      },
      send(commands: readonly SwitchCommand[]) {
        const xids = conn.postEach(commands, commandToMessage, describeSummary, summarizeCommand, encodeCommandInto);
        confirm(conn, xids, commands);
      },
      async flowStats(filter) {
        const bodies = await conn.multipart({
          kind: 'FLOW',
          tableId: OFPTT.ALL,
          outPort: OFPP.ANY,
          outGroup: OFPG.ANY,
          cookie: filter?.cookie ?? 0n,
          cookieMask: filter?.cookieMask ?? 0n,
          match: [],
        });
        return bodies.flatMap((b) => b.flows.map(flowStatEntry));
      },
      async portStats() {
        const bodies = await conn.multipart({ kind: 'PORT_STATS', portNo: OFPP.ANY });
        return bodies.flatMap((b) => portStatEntries(b.ports));
      },
    };
  };

  const dispatch = (events: DataPlaneEvents, conn: OfConnection, m: OfMessage): void => {
    const dpid = conn.dpid as bigint;
    switch (m.type) {
      case 'PACKET_IN': {
        let inPort: (typeof m.match)[number] | undefined;
        for (const f of m.match) {
          if (f.field !== 'in_port') continue;
          inPort = f;
          break;
        }
        if (inPort === undefined || inPort.field !== 'in_port') {
          log('warn', `dpid ${formatDpidHex(dpid)}: PACKET_IN without in_port dropped`, { bytes: m.data.length });
          return;
        }
        events.packetIn(dpid, inPort.value, m.data);
        return;
      }
      case 'PORT_STATUS':
        if (!isSwitchPort(m.desc.portNo)) return;
        events.portStatus(dpid, portInfo(m.desc), portStatusReason(m.reason));
        return;
      case 'FLOW_REMOVED':
        events.flowRemoved(dpid, m.cookie);
        return;
      case 'ERROR': {
        const pending = flowAdds.get(conn);
        const cookie = pending?.get(m.xid);
        if (cookie === undefined) return;
        pending?.delete(m.xid);
        events.flowRejected(dpid, cookie, describeError(m.errType, m.code));
        return;
      }
      default:
        return;
    }
  };

  return {
    async start(ev) {
      events = ev;
      if (server !== undefined) throw new ScoreError('INTERNAL', 'the OpenFlow data plane is already started', {});
      const s = new OfServer({
        port: o.port,
        host: o.host ?? '0.0.0.0',
        tls: o.tls,
        echoIntervalMs: o.echoIntervalMs,
        echoTimeoutMs: o.echoTimeoutMs,
        requestTimeoutMs: o.requestTimeoutMs,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        maxQueueBytes: o.maxQueueBytes,
        log,
      });
      s.on('switch-up', (conn) => ev.switchUp(channel(conn)));
      s.on('switch-down', (conn, reason) => {
        log('info', `switch ${formatDpidHex(conn.dpid as bigint)} down (${reason.code}): ${reason.message}`);
        ev.switchDown(conn.dpid as bigint);
      });
      s.on('message', (conn, m) => dispatch(ev, conn, m));
      server = s;
      try {
        await s.listen();
      } catch (e) {
        server = undefined;
        throw e;
      }
    },
    async stop() {
      const s = server;
      server = undefined;
      await s?.close();
    },
    address() {
      if (server === undefined) throw new ScoreError('INTERNAL', 'the OpenFlow data plane is not started', {});
      return server.address();
    },
    connectionStats(dpid) {
      return server?.switches.get(dpid)?.stats;
    },
    connection(dpid) {
      return server?.switches.get(dpid);
    },
  };
}
