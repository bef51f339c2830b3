import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Command } from 'commander';
import { ScoreError } from '../../errors/errors.ts';
import * as ctl from '../../controller/controller.ts';
import { openflowDataPlane, type OfLog, type LogLevel, type OpenflowDataPlane } from '../../openflow/connection/index.ts';
import { DEFAULT_OPENFLOW_PORT } from '../../openflow/connection/server.ts';
import { realClock } from '../../runtime/clock.ts';
import type { Runtime } from '../../runtime/controller-runtime.ts';
import type { Model } from '../../scenario/model.ts';
import type { ApiTokens } from '../../api/contract.ts';
import { newTokens, startStack, type Stack } from '../../system/stack.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import { formatBps } from '../../scenario/bandwidth.ts';
import { parseNumberOption, parseTolerance } from './simulate.ts';
import { scenarioDpids } from '../../scenario/dpids.ts';
import type { Dpid } from '../../controller/commands.ts';
import { matchScenario, missingWarning, strangerWarning } from '../../controller/scenario-match.ts';
import { continuousStart, parseDuration, pricedOutLine, type ContinuousCliOptions } from '../continuous-options.ts';
import { consoleOut } from '../../logging/console.ts';
import { hostLineLimiter } from './host-lines.ts';
import { type ClusterHandle, type ClusterOptions, joinCluster, prepareCluster } from '../../cluster/attach.ts';
import { parseClusterUrl } from '../../cluster/member.ts';
import { installClusterApi } from '../../cluster/api.ts';
import { clusterAuditLog } from '../../cluster/audit.ts';
import { startClusterIdentity } from '../../cluster/identity.ts';
import type { JoinedCluster } from '../../cluster/attach.ts';
import type { Orchestration, OrchestrationStart } from '../../api/contract.ts';

/**
 * `score controller`: the S-CORE controller over real OpenFlow 1.3 switches. This is a
 * composition root: it picks the real clock, real sockets and a random LLDP nonce.
 */
export interface ControllerRunOptions {
  readonly port: number;
  readonly host: string;
  readonly scenario?: string;
  readonly pollMs: number;
  readonly probeMs?: number;
  readonly reportMs: number;
  readonly tls?: { cert: string; key: string; ca?: string };
  readonly echoIntervalMs?: number;
  readonly echoTimeoutMs?: number;
  readonly verbose?: boolean;
  readonly out?: (line: string) => void;
  /** northbound API address (default 127.0.0.1, any free port) */
  readonly apiHost?: string;
  readonly apiPort?: number;
  readonly tokens?: ApiTokens;
  /** accept `tokens.agent` as one token for every hypervisor (test set-ups only; warns) */
  readonly allowSharedAgentToken?: boolean;
  /** audit log file (JSON lines), kept across restarts */
  readonly auditPath?: string;
  /** with a scenario: warn about its switches not connected this long after start (default 15 s) */
  readonly missingAfterMs?: number;
  /** most hosts learned behind one switch port (default 4,096; Infinity: no limit) */
  readonly maxHostsPerPort?: number;
  /** measured rates this close (relative) count as equal when orchestrating (service default 0.05) */
  readonly rateTolerance?: number;
  /** ms the orchestrator waits after a migration before its next decision (service default 3,000) */
  readonly settleMs?: number;
  /** cluster mode (docs/cluster.md): etcd election, OpenFlow roles, shared store */
  readonly cluster?: ClusterOptions;
  /** cluster mode: the API URL other members forward writes to (default from --api-host and the port) */
  readonly advertiseUrl?: string;
  /** cluster mode: continuous orchestration from the command line, started by a leader (never by a standby) */
  readonly orchestrate?: OrchestrationStart;
}

export interface RunningController {
  readonly runtime: Runtime;
  readonly dataPlane: OpenflowDataPlane;
  readonly port: number;
  readonly stack: Stack;
  readonly cluster?: ClusterHandle;
  /** cluster mode: stop recording the orchestration's state (before stopping it on purpose) */
  quiesce(): void;
  stop(): Promise<void>;
}

/**
 * LLDP probes of a period sent in this many parts (runtime `probeShares`): all 1,024 HMAC'd probes
 * of 256 switches at once held the event loop for milliseconds, every packet-in behind them. On 6
 * December one run of bench/leader-polling with ten parts found fat-tree(16)'s links in 46 s (14-16
 * s before), and they were turned off; that run also had the statistics requests sent 32 switches
 * a turn (since taken out). With ten parts alone, three runs found all 2,048 links in 6.7, 11.7 and
 * 12.0 s, against 10.4, 6.7 and 17.2 s all at once, alternating, same session (docs/cluster.md).
 * A hundred since the C generator could time the light-load tail (6 December 14:50): with ten, each
 * part of 256 switches' probes (~100) delayed the packet-ins behind it by 1.5-5 ms every 100 ms,
 * 1-2% of all round trips; with a hundred no 10 ms pattern was left in the round trips.
 */
const PROBE_SHARES = 100;

/**
 * Statistics requests of a round sent in this many parts over the first half of the poll period
 * (runtime `pollShares`): 256 switches' flow and port statistics at once held the event loop
 * ~15-20 ms once a second, 17-27 packet-ins behind it (0.4-0.5% of all at 1,000/s); in fifty
 * parts that once-a-second cluster was gone (C generator, `--dump`, 6 December 14:55).
 */
const POLL_SHARES = 50;

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

export async function startController(o: ControllerRunOptions): Promise<RunningController> {
  const out = o.out ?? consoleOut('score-controller');
  const line = (s: string): void => out(`${stamp()} ${s}`);
  const minLevel = o.verbose === true ? 0 : 1;
  const log: OfLog = (level, message, details) => {
    if (LEVELS[level] < minLevel) return;
    const extra = level === 'info' || details === undefined ? '' : ` ${JSON.stringify(details, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`;
    line(`${level === 'info' ? '' : `${level.toUpperCase()} `}openflow: ${message}${extra}`);
  };

  let model: Model | undefined;
  let expected: { readonly name: string; readonly dpids: ReadonlyMap<string, Dpid> } | undefined;
  if (o.scenario !== undefined) {
    const loaded = loadScenarioFile(o.scenario);
    model = loaded.model;
    expected = { name: loaded.scenario.name, dpids: scenarioDpids(loaded.scenario) };
    line(`scenario ${loaded.scenario.name} (${loaded.file}): ${loaded.scenario.switches.length} switches, ${loaded.scenario.hypervisors.length} hypervisors; names by dpid`);
  }
  const vmNames = new Map([...(model?.vmInfo ?? [])].map(([vm, info]) => [info.mac.toLowerCase(), vm]));
  const withVmNames = (text: string): string => nameHosts(text, vmNames);
  // Switches that are not the scenario's, and scenario switches that never connect, are said
  // out loud: otherwise nothing gets a name and no host is learned, silently.
  const connected = new Set<Dpid>();
  const warned = new Set<Dpid>();
  let lastMissing: string | null = null;
  const started = realClock.now();
  const onSwitch = (e: ctl.ControllerEvent): void => {
    if (expected === undefined) return;
    if (e.type === 'switch-down') connected.delete(e.dpid);
    if (e.type !== 'switch-up') return;
    connected.add(e.dpid);
    if (![...expected.dpids.values()].includes(e.dpid) && !warned.has(e.dpid)) {
      warned.add(e.dpid);
      line(`WARN ${strangerWarning(expected.name, e.dpid, expected.dpids)}`);
    }
  };
  const checkMissing = (): void => {
    if (expected === undefined || realClock.now() - started < (o.missingAfterMs ?? 15_000)) return;
    const text = missingWarning(expected.name, matchScenario(expected.dpids, connected), expected.dpids.size);
    if (text !== null && text !== lastMissing) line(`WARN ${text}`);
    lastMissing = text;
  };
  const missingTimer = expected === undefined ? undefined : setInterval(checkMissing, 1000);
  missingTimer?.unref();

  const ofPlane = openflowDataPlane({
    port: o.port,
    host: o.host,
    tls: o.tls,
    echoIntervalMs: o.echoIntervalMs,
    echoTimeoutMs: o.echoTimeoutMs,
    log,
  });
  const cluster = o.cluster === undefined ? undefined : prepareCluster(ofPlane, o.cluster, log);
  const dataPlane: OpenflowDataPlane = cluster?.plane ?? ofPlane;
  // cluster mode: migration records in etcd (a file would be per machine)
  const clusterAudit = cluster === undefined ? undefined : await clusterAuditLog(cluster, log);
  // cluster mode: agent credentials and the agent-call key in etcd, the same on every member
  const identity =
    cluster === undefined
      ? undefined
      : await startClusterIdentity({ member: cluster.member, log: (level, message) => log(level, message) }).catch(async (e: unknown) => {
          await cluster.member.stop().catch(() => undefined); // closes its etcd client
          throw e;
        });
  let lastReport = 0;
  // set once the stack listens and the member joined (the readiness route answers "not ready" before)
  let joined: JoinedCluster | undefined;
  const hostLines = o.verbose === true ? undefined : hostLineLimiter();
  // the whole controller: runtime, northbound service and its HTTP API (agents attach there)
  let stack: Stack;
  try {
    stack = await startStack({
      ...(model ? { model } : {}),
      dataPlane,
      clock: realClock,
      // cluster mode: a new leader keeps its predecessor's rules forwarding until its own are in
      ...(cluster ? { keepPathRules: true } : {}),
      ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
      ...(o.probeMs !== undefined ? { probeMs: o.probeMs } : {}),
      probeShares: PROBE_SHARES,
      pollShares: POLL_SHARES,
      ...(o.maxHostsPerPort !== undefined ? { maxHostsPerPort: o.maxHostsPerPort } : {}),
      ...(o.rateTolerance !== undefined ? { rateTolerance: o.rateTolerance } : {}),
      ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
      apiHost: o.apiHost ?? '127.0.0.1',
      apiPort: o.apiPort ?? 0,
      ...(o.tokens ? { tokens: o.tokens } : {}),
      ...(o.auditPath ? { auditPath: o.auditPath } : {}),
      ...(o.allowSharedAgentToken === true ? { allowSharedAgentToken: true } : {}),
      onWarning: (m) => line(`WARN ${m}`),
      onRefusal: (r) => line(`WARN refused ${r.method} ${r.route} for ${r.credential}: ${r.code} ${r.message}${r.suppressed !== undefined ? ` (${r.suppressed} earlier refusals of it not logged: rate limit)` : ''}`),
      ...(clusterAudit ? { audit: clusterAudit } : {}),
      ...(identity ? { credentials: identity.credentials, controllerKey: identity.controllerKey } : {}),
      // cluster mode: record ids name the leader's generation, so they are unique across leaders
      ...(cluster ? { idPrefix: () => `g${cluster.member.generation ?? 0n}-` } : {}),
      ...(cluster && identity ? { beforeListen: (api: FastifyInstance) => installClusterApi(api, cluster, { credentials: identity.credentials, ready: () => joined?.ready() }) } : {}),
      onEvent: (e, text) => {
        for (const l of hostLines === undefined ? [text()] : hostLines.lines(e, text, realClock.now())) line(withVmNames(l));
        onSwitch(e);
      },
      onError: (message, err) => line(`WARN ${message}: ${err instanceof ScoreError ? `${err.code} ${err.message}` : String(err)}`),
      onPoll: (c) => {
        const now = realClock.now();
        const held = hostLines?.flush(now) ?? null;
        if (held !== null) line(held);
        if (now - lastReport < o.reportMs) return;
        lastReport = now;
        for (const l of report(c, now, vmNames)) out(l);
      },
    });
  } catch (e) {
    await identity?.close();
    await cluster?.member.stop().catch(() => undefined);
    throw e;
  }
  const port = dataPlane.address().port;
  if (cluster !== undefined && clusterAudit !== undefined) {
    const advertised = o.advertiseUrl ?? stack.apiUrl;
    if ((o.apiHost === '0.0.0.0' || o.apiHost === '::') && o.advertiseUrl === undefined) {
      line(`WARN cluster: the API listens on ${o.apiHost} but other members are told ${advertised}; give --advertise-url with an address they can reach`);
    }
    const orchestrate = o.orchestrate;
    try {
      joined = await joinCluster(
        cluster,
        {
          apiUrl: advertised,
          registry: stack.metrics.registry,
          runtime: stack.runtime,
          service: stack.service,
          audit: clusterAudit,
          agentToken: (hv) => stack.controllerCredential.tokenFor(hv),
          ...(orchestrate === undefined ? {} : { cliStart: () => void stack.service.startOrchestration(orchestrate) }),
        },
        log,
      );
    } catch (e) {
      await stack.stop();
      await identity?.close();
      throw e;
    }
  }
  const stop = async (): Promise<void> => {
    clearInterval(missingTimer);
    // identity first: its watch, heartbeat and a settle in progress use the member's client, which leave() closes
    await identity?.close();
    await joined?.leave();
    await stack.stop();
  };
  return { runtime: stack.runtime, dataPlane, port, stack, ...(cluster ? { cluster } : {}), quiesce: () => joined?.orchestration.quiesce(), stop };
}

/** `--advertise-url`: an http(s) URL without path, query or credentials. */
export function parseAdvertiseUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ScoreError('CLI_USAGE', `--advertise-url: "${text}" is not a URL (want http://HOST:PORT)`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new ScoreError('CLI_USAGE', `--advertise-url: want http(s)://HOST:PORT without a path, got "${text}"`);
  }
  return `${u.protocol}//${u.host}`;
}

/** A log line with every MAC the scenario knows shown as its VM, `vm3 (00:00:00:00:00:03)`, as the summary names them. */
export function nameHosts(text: string, vmNames: ReadonlyMap<string, string>): string {
  if (vmNames.size === 0) return text;
  return text.replace(/(?<![0-9a-f:])(?:[0-9a-f]{2}:){5}[0-9a-f]{2}(?![0-9a-f:])/gi, (mac) => {
    const vm = vmNames.get(mac.toLowerCase());
    return vm === undefined ? mac : `${vm} (${mac})`;
  });
}

/** The periodic summary: measured VM-pair rates and link utilisation per layer. */
export function report(c: ctl.Controller, now: number, vmNames: ReadonlyMap<string, string> = new Map()): string[] {
  const lines: string[] = [];
  const name = (mac: string): string => vmNames.get(mac.toLowerCase()) ?? mac;
  const pairs = ctl.pairRates(c, now).filter((p) => p.bytesPerSecond > 0).sort((a, b) => b.bytesPerSecond - a.bytesPerSecond);
  const links = ctl.linkUtilisation(c);
  lines.push(`-- ${stamp()} ${c.disc.switches.size} switches, ${links.length} links, ${c.hosts.byMac.size} hosts, ${pairs.length} measured VM pairs`);
  if (pairs.length > 0) {
    const w = Math.max(...pairs.map((p) => `${name(p.src)} -> ${name(p.dst)}`.length));
    for (const p of pairs.slice(0, 20)) {
      lines.push(`   ${`${name(p.src)} -> ${name(p.dst)}`.padEnd(w)}  ${formatBps(p.bytesPerSecond * 8).padStart(12)}  path weight ${p.pathWeight}`);
    }
    if (pairs.length > 20) lines.push(`   ... ${pairs.length - 20} more`);
  }
  const byLayer = new Map<number, ctl.LinkUtilisation[]>();
  for (const l of links) byLayer.set(l.layer, [...(byLayer.get(l.layer) ?? []), l]);
  for (const [layer, ls] of [...byLayer].sort((a, b) => a[0] - b[0])) {
    const mean = ls.reduce((s, l) => s + l.utilisation, 0) / ls.length;
    const top = ls.reduce((a, b) => (b.utilisation > a.utilisation ? b : a));
    lines.push(
      `   layer ${layer}: ${ls.length} links, mean ${(mean * 100).toFixed(1)}%, max ${(top.utilisation * 100).toFixed(1)}% on ${top.link} (${formatBps(Math.max(top.abBps, top.baBps))} of ${formatBps(top.capacityBps)})`,
    );
  }
  return lines;
}

interface CliOptions extends ContinuousCliOptions {
  port: string;
  host: string;
  scenario?: string;
  pollMs: string;
  reportMs: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  verbose?: boolean;
  apiHost: string;
  apiPort: string;
  audit?: string;
  allowSharedAgentToken?: boolean;
  cluster?: string;
  id?: string;
  leaseTtl: string;
  advertiseUrl?: string;
  maxHostsPerPort?: string;
  tolerance?: string;
  settle?: string;
}

/** `--max-hosts-per-port`: a whole number >= 1, or "none" (no limit: Infinity); CLI_USAGE otherwise */
export function parseMaxHosts(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return Number.POSITIVE_INFINITY;
  const n = parseNumberOption('--max-hosts-per-port', value, 1) as number;
  if (!Number.isInteger(n)) throw new ScoreError('CLI_USAGE', `--max-hosts-per-port: expected a whole number >= 1 or "none", got "${value}"`);
  return n;
}

function readPem(option: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScoreError('TLS_INVALID', `${option}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { path });
  }
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('run the S-CORE controller for real OpenFlow 1.3 switches (Open vSwitch, Mininet --controller remote)')
    .option('-p, --port <port>', 'TCP port to listen on for switches', String(DEFAULT_OPENFLOW_PORT))
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('-s, --scenario <file|name>', 'scenario for switch names (by dpid) and the hypervisor list, e.g. paper')
    .option('--poll-ms <ms>', 'flow and port statistics period', '1000')
    .option('--report-ms <ms>', 'period of the rates and utilisation summary', '5000')
    .option('--tls-cert <file>', 'PEM certificate: switches connect over TLS (ssl: targets)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--tls-ca <file>', 'PEM CA: switches must present a certificate it signed')
    .option('-v, --verbose', 'also log debug lines (handshake steps, dropped messages)')
    .option('--max-hosts-per-port <n>', 'most hosts (MACs) learned behind one switch port; frames from further sources there are dropped (default 4096; "none": no limit)')
    .option('--tolerance <fraction>', 'orchestration: measured rates this close count as equal, so ties break by VM number (default 0.05)')
    .option('--settle <duration>', 'orchestration: wait this long after a migration before the next decision, so the moved VM\'s rates are measured on its new paths (default 3s; the rate window is 5 s)')
    .option('--api-host <address>', 'northbound API address', '127.0.0.1')
    .option('--api-port <port>', 'northbound API port', '8080')
    .option('--audit <file>', 'keep the orchestration audit log in this file (JSON lines), restored at start')
    .option('--allow-shared-agent-token', 'test set-ups only: also accept one agent token (SCORE_SHARED_AGENT_TOKEN, else a fresh one) for every hypervisor')
    .option('--orchestrate <policy>', 'run continuous orchestration from the start: rr, la or gain (round-robin, load-aware, gain-order); re-plans every --every, until stopped')
    .option('--every <duration>', 'continuous mode: period between planning rounds, e.g. 10s, 500ms, 1m (default 10s)')
    .option('--stable-rounds <n>', 'continuous mode: a VM moves after choosing the same target in N consecutive periods (default 3)')
    .option('--max-per-period <n>', 'continuous mode: migration budget per period (default 4)')
    .option('--quiet <duration>', 'continuous mode: hold off this long after a link or switch changed (default 10s)')
    .option('--cm <cost>', 'continuous mode: fixed migration cost c_m instead of the pre-copy price (not with --vm-memory)')
    .option('--vm-memory <size>', 'continuous mode: VM memory for the pre-copy price, e.g. 4GiB (default), 64KiB (the paper scenario\'s 500 B/s flows pay for no move at 4GiB)')
    .option('--cluster <etcd://HOST:PORT[,...]>', 'run as one of several controllers: leader elected in etcd, MASTER on every switch (docs/cluster.md)')
    .option('--id <name>', 'this controller\'s name in the cluster (with --cluster)')
    .option('--lease-ttl <s>', 'cluster lease TTL: a dead leader is replaced this long after its last keepalive', '2')
    .option('--advertise-url <url>', 'cluster: the API URL other members forward writes to, e.g. http://10.0.0.11:8080 (default http://<api-host>:<api-port>)')
    .action(async (opts: CliOptions) => {
      const continuous = continuousStart(opts);
      const say = consoleOut('score-controller');
      const port = parseNumberOption('--port', opts.port, 0) as number;
      if (!Number.isInteger(port) || port > 65535) throw new ScoreError('CLI_USAGE', `--port: expected 0-65535, got "${opts.port}"`);
      const pollMs = parseNumberOption('--poll-ms', opts.pollMs, 50) as number;
      const reportMs = parseNumberOption('--report-ms', opts.reportMs, 0) as number;
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new ScoreError('CLI_USAGE', '--tls-cert and --tls-key go together');
      const tls =
        opts.tlsCert !== undefined && opts.tlsKey !== undefined
          ? {
              cert: readPem('--tls-cert', opts.tlsCert),
              key: readPem('--tls-key', opts.tlsKey),
              ...(opts.tlsCa === undefined ? {} : { ca: readPem('--tls-ca', opts.tlsCa) }),
            }
          : undefined;
      const apiPort = parseNumberOption('--api-port', opts.apiPort, 0) as number;
      const maxHostsPerPort = parseMaxHosts(opts.maxHostsPerPort);
      const rateTolerance = parseTolerance(opts.tolerance);
      const settleMs = opts.settle === undefined ? undefined : parseDuration('--settle', opts.settle);
      // The operator token from the environment, else a fresh one printed once. Agents get their
      // own credentials (score credentials issue); a shared agent token only on explicit request.
      const shared = opts.allowSharedAgentToken === true;
      // SCORE_AGENT_TOKEN is an agent's own credential (score agent); the controller ignores it.
      const envAgent = process.env.SCORE_SHARED_AGENT_TOKEN;
      if (!shared && envAgent) throw new ScoreError('SHARED_AGENT_TOKEN_DISABLED', 'SCORE_SHARED_AGENT_TOKEN is set: a shared agent token needs --allow-shared-agent-token (test set-ups only); agents normally get their own credential from `score credentials issue <hypervisor>`');
      const fresh = newTokens({ sharedAgent: shared });
      const envOperator = process.env.SCORE_OPERATOR_TOKEN;
      const tokens = { operator: envOperator || fresh.operator, ...(shared ? { agent: envAgent || fresh.agent! } : {}) };
      if ((opts.cluster === undefined) !== (opts.id === undefined)) throw new ScoreError('CLI_USAGE', '--cluster and --id go together');
      // Agent credentials live in etcd (src/cluster/identity.ts); the operator token is configuration,
      // not in etcd: a fresh one per member would make each member refuse the others' operator.
      // A shared agent token (opted in) must then be the same on every member too.
      if (opts.cluster !== undefined && (!envOperator || (shared && !envAgent))) {
        throw new ScoreError('CLI_USAGE', '--cluster needs the same operator token on every member: set SCORE_OPERATOR_TOKEN (and SCORE_SHARED_AGENT_TOKEN if --allow-shared-agent-token is given); agent credentials are shared through etcd (docs/cluster.md)');
      }
      const cluster =
        opts.cluster !== undefined && opts.id !== undefined
          ? { endpoints: parseClusterUrl(opts.cluster), id: opts.id, ttlSec: parseNumberOption('--lease-ttl', opts.leaseTtl, 1) as number }
          : undefined;
      if (opts.advertiseUrl !== undefined && opts.cluster === undefined) throw new ScoreError('CLI_USAGE', '--advertise-url needs --cluster');
      const advertiseUrl = opts.advertiseUrl === undefined ? undefined : parseAdvertiseUrl(opts.advertiseUrl);
      const running = await startController({
        port,
        host: opts.host,
        scenario: opts.scenario,
        pollMs,
        reportMs,
        tls,
        verbose: opts.verbose,
        apiHost: opts.apiHost,
        apiPort,
        tokens,
        ...(shared ? { allowSharedAgentToken: true } : {}),
        ...(maxHostsPerPort !== undefined ? { maxHostsPerPort } : {}),
        ...(rateTolerance !== undefined ? { rateTolerance } : {}),
        ...(settleMs !== undefined ? { settleMs } : {}),
        ...(opts.audit ? { auditPath: opts.audit } : {}),
        ...(cluster ? { cluster } : {}),
        ...(advertiseUrl === undefined ? {} : { advertiseUrl }),
        // in a cluster, continuous mode runs on the leader only: the member starts it when elected
        ...(cluster && continuous !== null ? { orchestrate: continuous } : {}),
        out: say,
      });
      running.cluster?.member.on('stepped-down', (reason) => {
        if (reason === 'stopped') return; // our own SIGINT/SIGTERM stop
        // A demoted leader's in-memory view is stale, and a follower that left the election never
        // campaigns again; a fresh process (systemd Restart=always) rejoins as a standby with the
        // current state from etcd and the switches.
        say(`${stamp()} cluster: left the election (${reason}); exiting with 75 so a fresh standby replaces this process`);
        process.exit(75);
      });
      say(`${stamp()} S-CORE controller up: OpenFlow on port ${running.port}, API at ${running.stack.apiUrl}/api/v1; Ctrl-C stops`);
      if (running.cluster) say(`${stamp()} cluster member ${running.cluster.member.id} (${running.cluster.member.role}), etcd ${opts.cluster ?? ''}`);
      say(`${stamp()} dashboard at ${running.stack.dashboardUrl} (it asks for the operator token)`);
      if (!envOperator) say(`${stamp()} operator token (set SCORE_OPERATOR_TOKEN to choose it): ${tokens.operator}`);
      if (shared && !envAgent) say(`${stamp()} shared agent token (test set-ups only): ${tokens.agent}`);
      say(`${stamp()} agents need their own credential: score credentials issue <hypervisor> --controller ${running.stack.apiUrl}`);
      if (continuous !== null) {
        const service = running.stack.service;
        let said: string | null = null;
        let pricedOut = false;
        service.subscribe((e) => {
          if (e.type === 'migration-finished') say(`${stamp()} migration ${String(e.data.id)}: ${String(e.data.vm)} ${String(e.data.from)} -> ${String(e.data.to)} ${String(e.data.status)}`);
          const hold = e.type === 'orchestration' ? ((e.data.continuous as { holdOff?: string | null } | undefined)?.holdOff ?? null) : said;
          if (hold !== said) say(`${stamp()} continuous orchestration ${hold === null ? 'planning again' : `holding off: ${hold}`}`);
          said = hold;
          if (e.type === 'orchestration') {
            const priced = pricedOutLine(e.data as unknown as Orchestration);
            if (priced !== null && !pricedOut) say(`${stamp()} ${priced}`);
            // a hold-off or a move ends the spell; a fresh one is said again
            pricedOut = priced !== null;
          }
        });
        if (running.cluster === undefined) {
          service.startOrchestration(continuous);
          say(`${stamp()} continuous orchestration (${continuous.policy}) every ${continuous.continuous!.everyMs} ms; stop it with POST /api/v1/orchestration/stop`);
        } else {
          say(`${stamp()} continuous orchestration (${continuous.policy}) every ${continuous.continuous!.everyMs} ms runs on the cluster leader (a recorded run continues instead); stop it with POST /api/v1/orchestration/stop`);
        }
      }
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      say(`${stamp()} ${signal}: stopping (switches disconnected, listener closed)`);
      // continuous mode runs until stopped: end it (after a migration in flight) before the controller;
      // in a cluster, without recording it as stopped: the next leader continues it
      running.quiesce();
      if (running.stack.service.orchestrator.status().state !== 'idle') await running.stack.service.orchestrator.stop().catch(() => undefined);
      await running.stop();
    });
}
