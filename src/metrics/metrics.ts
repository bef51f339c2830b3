import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentDecide, AgentDecideResult, ControllerService, NorthEvent } from '../api/contract.ts';
import type { ControllerEvent } from '../controller/controller.ts';
import type { Dpid } from '../controller/commands.ts';
import type { ConnectionStats } from '../openflow/connection/connection.ts';
import { ETHERTYPE } from '../packet/ethernet.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Runtime } from '../runtime/controller-runtime.ts';
import type { DataPlane } from '../runtime/dataplane.ts';

/**
 * Prometheus metrics for one stack. Each stack owns its Registry: tests and the demo run several
 * stacks in one process, and prom-client's default registry would mix them (and refuse the second
 * registration of a name). Gauges are read from the live controller at scrape time, so there is
 * no second copy of the state to drift; only what leaves no trace in that state (packet-ins,
 * poll durations, decisions, API requests, migration outcomes) is counted as it happens.
 */

/** What the metrics read at scrape time; bound once the stack's parts exist. */
export interface MetricsSources {
  readonly runtime: Pick<Runtime, 'controller' | 'channels' | 'stats'>;
  readonly service: Pick<ControllerService, 'cost' | 'subscribe'>;
  /** the data plane as given, before instrument(): an OpenFlow one has connection statistics */
  readonly dataPlane: DataPlane;
}

export type PacketKind = 'lldp' | 'arp' | 'rarp' | 'ipv4' | 'ipv6' | 'other';
export type OpenflowErrorCode = 'switch_error' | 'malformed_message' | 'malformed_packet_in';
export type CountedMigrationStatus = 'started' | 'succeeded' | 'failed' | 'declined' | 'timeout';

export const PACKET_KINDS: readonly PacketKind[] = ['lldp', 'arp', 'rarp', 'ipv4', 'ipv6', 'other'];
export const OPENFLOW_ERROR_CODES: readonly OpenflowErrorCode[] = ['switch_error', 'malformed_message', 'malformed_packet_in'];
export const MIGRATION_STATUSES: readonly CountedMigrationStatus[] = ['started', 'succeeded', 'failed', 'declined', 'timeout'];

/** Requests that matched no route share one label value, so probing URLs cannot grow the series. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface StackMetrics {
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8` */
  readonly contentType: string;
  /** the exposition text, collecting the live gauges first */
  render(): Promise<string>;
  /** start reading live state; returns the unsubscribe for the service's events */
  bind(sources: MetricsSources): () => void;
  /** the same data plane with its packet-ins counted on the way to the controller */
  instrument(dataPlane: DataPlane): DataPlane;
  /** after each statistics round (reads the runtime's PollStats) */
  pollDone(): void;
  controllerEvent(e: ControllerEvent): void;
  /** wraps the service's agent caller to time ask -> answer */
  timeDecisions(call: (url: string, body: AgentDecide) => Promise<AgentDecideResult>): (url: string, body: AgentDecide) => Promise<AgentDecideResult>;
  /** one finished API request, by route pattern (never the raw URL) */
  apiRequest(method: string, route: string | undefined, statusCode: number): void;
}

/** The EtherType a controller would dispatch on, looking through VLAN tags. */
export function packetKind(frame: Uint8Array): PacketKind {
  let off = 12;
  if (frame.length < off + 2) return 'other';
  let type = (frame[off]! << 8) | frame[off + 1]!;
  while ((type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ) && frame.length >= off + 6) {
    off += 4;
    type = (frame[off]! << 8) | frame[off + 1]!;
  }
  switch (type) {
    case ETHERTYPE.LLDP:
      return 'lldp';
    case ETHERTYPE.ARP:
      return 'arp';
    case ETHERTYPE.RARP:
      return 'rarp';
    case ETHERTYPE.IPV4:
      return 'ipv4';
    case ETHERTYPE.IPV6:
      return 'ipv6';
    default:
      return 'other';
  }
}

type WithConnectionStats = DataPlane & { connectionStats(dpid: Dpid): Readonly<ConnectionStats> | undefined };
const hasConnectionStats = (dp: DataPlane): dp is WithConnectionStats => typeof (dp as Partial<WithConnectionStats>).connectionStats === 'function';

// Polls take milliseconds on a LAN and seconds when a switch is slow to answer; decisions include
// the agent's migration (seconds on real hypervisors).
const POLL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DECISION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createStackMetrics(o: { clock: Clock }): StackMetrics {
  const registry = new Registry();
  const registers = [registry];
  let src: MetricsSources | null = null;

  new Gauge({
    name: 'score_switches_connected',
    help: 'OpenFlow switches connected to the controller now',
    registers,
    collect() {
      if (src) this.set(src.runtime.channels.size);
    },
  });
  new Gauge({
    name: 'score_links_discovered',
    help: 'Switch-to-switch links discovered by LLDP and not yet expired',
    registers,
    collect() {
      if (src) this.set(src.runtime.controller.disc.links.size);
    },
  });
  new Gauge({
    name: 'score_hosts_known',
    help: 'VMs (hosts) the VM tracker knows a location for',
    registers,
    collect() {
      if (src) this.set(src.runtime.controller.hosts.byMac.size);
    },
  });

  // Counted in a plain map per packet-in and added to the counter when it is read: a labelled
  // inc() hashes and validates its labels, which cost more than the rest of a packet-in's metrics.
  const packetInCounts = new Map<PacketKind, number>(PACKET_KINDS.map((k) => [k, 0]));
  const packetIns = new Counter({
    name: 'score_packet_ins_total',
    help: 'PACKET_IN messages delivered to the controller, by EtherType of the frame (lldp, arp, rarp, ipv4, ipv6, other)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      for (const [k, n] of packetInCounts) {
        if (n === 0) continue;
        this.labels(k).inc(n);
        packetInCounts.set(k, 0);
      }
    },
  });
  for (const k of PACKET_KINDS) packetIns.labels(k).inc(0);

  // Connection statistics restart at zero with every connection; remembering the last value per
  // statistics object (one per connection) turns them into one monotonic counter across reconnects.
  const seen = new WeakMap<object, { switchErrors: number; malformed: number }>();
  const sweepConnections = (): void => {
    if (src === null || !hasConnectionStats(src.dataPlane)) return;
    for (const dpid of src.runtime.channels.keys()) {
      const st = src.dataPlane.connectionStats(dpid);
      if (st === undefined) continue;
      const before = seen.get(st) ?? { switchErrors: 0, malformed: 0 };
      if (st.switchErrors > before.switchErrors) ofErrors.labels('switch_error').inc(st.switchErrors - before.switchErrors);
      if (st.malformed > before.malformed) ofErrors.labels('malformed_message').inc(st.malformed - before.malformed);
      seen.set(st, { switchErrors: st.switchErrors, malformed: st.malformed });
    }
  };
  const ofErrors = new Counter({
    name: 'score_openflow_errors_total',
    help: 'OpenFlow errors by code: switch_error (ERROR messages from switches), malformed_message (undecodable OpenFlow messages), malformed_packet_in (PACKET_IN frames that do not parse)',
    labelNames: ['code'] as const,
    registers,
    collect: sweepConnections,
  });
  for (const c of OPENFLOW_ERROR_CODES) ofErrors.labels(c).inc(0);
  const untrusted = new Counter({
    name: 'score_rejected_total',
    help: 'What the controller did not take as true: path (a path a switch refused a rule of; retried with back-off), lldp_probe (an LLDP probe with our nonce that was forged, stale, replayed where a host lives or on a reserved port), host (a frame from a new source at a port already holding its limit of hosts, dropped unlearned)',
    labelNames: ['kind'] as const,
    registers,
  });
  for (const k of ['path', 'lldp_probe', 'host'] as const) untrusted.labels(k).inc(0);

  const pollDuration = new Histogram({
    name: 'score_stats_poll_duration_seconds',
    help: "Duration of a flow/port statistics round over all switches, on the controller's clock (virtual in the simulator)",
    buckets: POLL_BUCKETS,
    registers,
  });
  new Counter({
    name: 'score_stats_poll_failures_total',
    help: 'Statistics requests to a switch that failed or timed out',
    registers,
    collect() {
      if (src === null) return;
      // The runtime already counts these; mirror its total rather than keep a second tally.
      this.reset();
      this.inc(src.runtime.stats.failures);
    },
  });

  new Gauge({
    name: 'score_communication_cost',
    help: 'Overall communication cost now: sum over VM pairs of traffic rate (bytes/s) times path weight',
    registers,
    collect() {
      if (src === null) return;
      try {
        this.set(src.service.cost().cost);
      } catch {
        // NaN, not 0: while the view cannot price a path (a switch is down) the cost is unknown,
        // and 0 would read as "perfectly placed"
        this.set(NaN);
      }
    },
  });
  new Gauge({
    name: 'score_layer_mean_utilisation_ratio',
    help: 'Mean utilisation (0..1) of the links of each layer that carry VM traffic (1: hypervisor-ToR links)',
    labelNames: ['layer'] as const,
    registers,
    collect() {
      if (src === null) return;
      // Layers come and go with the topology; a stale layer must not keep its last value.
      this.reset();
      try {
        for (const l of src.service.cost().layers) this.labels(String(l.layer)).set(l.meanUtilisation);
      } catch {
        // as for the cost: leave the layers out
      }
    },
  });

  const migrations = new Counter({
    name: 'score_migrations_total',
    help: 'Migrations by outcome: started (the agent moved the VM), then succeeded (the network saw it arrive) or timeout; failed and declined never start',
    labelNames: ['status'] as const,
    registers,
  });
  for (const s of MIGRATION_STATUSES) migrations.labels(s).inc(0);

  const decisions = new Histogram({
    name: 'score_decision_duration_seconds',
    help: "Orchestrator ask to agent answer (the agent's decision and, when it migrates, the migration), on the controller's clock; outcome answered or error",
    labelNames: ['outcome'] as const,
    buckets: DECISION_BUCKETS,
    registers,
  });

  const requests = new Counter({
    name: 'score_api_requests_total',
    help: 'Northbound API requests by method, route pattern and HTTP status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers,
  });

  const onNorth = (e: NorthEvent): void => {
    if (e.type === 'migration-started') migrations.labels('started').inc();
    else if (e.type === 'migration-finished') {
      const status = e.data.status;
      if (typeof status === 'string' && (MIGRATION_STATUSES as readonly string[]).includes(status)) migrations.labels(status).inc();
    }
  };

  return {
    registry,
    contentType: registry.contentType,
    // prom-client 15 writes NaN as "Nan"; the format says "NaN", and stricter parsers than
    // Prometheus's own reject the other spelling.
    render: async () => (await registry.metrics()).replace(/^([^#].* )Nan$/gm, '$1NaN'),
    bind(sources) {
      src = sources;
      return sources.service.subscribe(onNorth);
    },
    instrument(dp) {
      return {
        start: (events) =>
          dp.start({
            switchUp: (ch) => events.switchUp(ch),
            switchDown: (dpid) => events.switchDown(dpid),
            packetIn(dpid, inPort, frame) {
              const kind = packetKind(frame);
              packetInCounts.set(kind, (packetInCounts.get(kind) ?? 0) + 1);
              events.packetIn(dpid, inPort, frame);
            },
            portStatus: (dpid, port, reason) => events.portStatus(dpid, port, reason),
            flowRemoved: (dpid, cookie) => events.flowRemoved(dpid, cookie),
            flowRejected: (dpid, cookie, error) => events.flowRejected(dpid, cookie, error),
            flowsAccepted: (dpid, cookies) => events.flowsAccepted(dpid, cookies),
          }),
        stop: () => dp.stop(),
      };
    },
    pollDone() {
      if (src === null) return;
      pollDuration.observe(src.runtime.stats.lastPollMs / 1000);
      // Also sweep here: errors on a connection that closes before the next scrape still count.
      sweepConnections();
    },
    controllerEvent(e) {
      if (e.type === 'packet-malformed') ofErrors.labels('malformed_packet_in').inc();
      else if (e.type === 'path-rejected') untrusted.labels('path').inc();
      else if (e.type === 'probe-rejected') untrusted.labels('lldp_probe').inc();
      else if (e.type === 'host-refused') untrusted.labels('host').inc();
    },
    timeDecisions(call) {
      return async (url, body) => {
        const t0 = o.clock.now();
        try {
          const r = await call(url, body);
          decisions.labels('answered').observe((o.clock.now() - t0) / 1000);
          return r;
        } catch (e) {
          decisions.labels('error').observe((o.clock.now() - t0) / 1000);
          throw e;
        }
      };
    },
    apiRequest(method, route, statusCode) {
      requests.labels(method, route ?? UNMATCHED_ROUTE, String(statusCode)).inc();
    },
  };
}
