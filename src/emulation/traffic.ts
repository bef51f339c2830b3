/**
 * The scenario's traffic, made by real generators inside the VM namespaces of an emulated data
 * centre (datacentre.ts), as the paper made it with nping.
 *
 * Which tool: an entry's `generator`; without one, nping when it gives `packetBytes` and `pps`
 * (packet-shaped traffic), iperf3 when it gives `rate` (a bandwidth).
 * - nping: raw packets at `pps` (`--rate`), until stopped (`-c 0`), sized so the IP packet is
 *   `packetBytes` long (`--data-length` = packetBytes - IP and TCP/UDP headers). TCP means SYNs
 *   to port 80 (the destination answers with RSTs, as in the paper's set-up).
 * - iperf3: a server in the destination namespace (own port per entry, 5201 + index) and a client
 *   in the source at the entry's bit rate (`-b`), UDP or TCP per `protocol`, for iperf3's longest
 *   run (`-t 86400`); with UDP and `packetBytes`, datagrams are sized like nping's packets.
 *
 * Generators are supervised: one that exits while traffic is running is restarted after
 * `restartDelayMs` (an iperf3 client gives up when its controller has not routed it yet), and its
 * exit is recorded. Everything stays inside namespaces this run created; the destination is
 * always another VM of the scenario.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ScoreError } from '../errors/errors.ts';
import { parseBandwidth } from '../scenario/bandwidth.ts';
import type { TrafficEntry } from '../scenario/schema.ts';
import type { Model } from '../scenario/model.ts';
import type { DataCentre } from './datacentre.ts';
import { VM_IFACE } from './datacentre.ts';
import { resolveTool, run } from './exec.ts';
import { sleep, terminate } from './procs.ts';

export const IPERF3_BASE_PORT = 5201;
export const NPING_TCP_PORT = 80;
/** iperf3's upper limit for `-t`. */
export const IPERF3_MAX_SECONDS = 86_400;
const IPV4_HEADER = 20;
const HEADER: Record<'tcp' | 'udp', number> = { tcp: IPV4_HEADER + 20, udp: IPV4_HEADER + 8 };

// ---- pure: what to run ------------------------------------------------------------------------

export interface ProcessSpec {
  /** VM whose namespace runs it. */
  readonly vm: string;
  readonly tool: 'nping' | 'iperf3';
  readonly args: readonly string[];
  readonly role: 'sender' | 'server';
}

export interface FlowPlan {
  readonly index: number;
  /** `src->dst` */
  readonly flow: string;
  readonly src: string;
  readonly dst: string;
  readonly generator: 'nping' | 'iperf3';
  readonly protocol: 'tcp' | 'udp';
  /** Servers first: they must listen before the senders start. */
  readonly processes: readonly ProcessSpec[];
  /** Port the iperf3 server listens on (TCP control connection). */
  readonly serverPort?: number;
}

export function npingArgs(o: { dstIp: string; protocol: 'tcp' | 'udp'; packetBytes: number; pps: number }): string[] {
  const data = Math.max(0, o.packetBytes - HEADER[o.protocol]);
  return [
    o.protocol === 'tcp' ? '--tcp' : '--udp',
    '-p', String(NPING_TCP_PORT),
    '--rate', String(o.pps),
    '-c', '0',
    '--data-length', String(data),
    // Only the summary would be printed, and nobody reads it: keep the pipe quiet.
    '-q', '-q', '-q',
    o.dstIp,
  ];
}

export function iperf3ServerArgs(o: { dstIp: string; port: number }): string[] {
  return ['-s', '-B', o.dstIp, '-p', String(o.port)];
}

export function iperf3ClientArgs(o: { dstIp: string; port: number; protocol: 'tcp' | 'udp'; bitsPerSecond: number; packetBytes?: number }): string[] {
  const args = ['-c', o.dstIp, '-p', String(o.port), '-b', String(Math.max(1, Math.round(o.bitsPerSecond))), '-t', String(IPERF3_MAX_SECONDS)];
  if (o.protocol === 'udp') {
    args.push('-u');
    if (o.packetBytes !== undefined) args.push('-l', String(Math.max(1, o.packetBytes - HEADER.udp)));
  }
  return args;
}

function generatorOf(t: TrafficEntry): 'nping' | 'iperf3' {
  if (t.generator !== undefined) return t.generator;
  return t.packetBytes !== undefined && t.pps !== undefined ? 'nping' : 'iperf3';
}

/** The processes that make each traffic entry (default: the scenario's). Pure. */
export function planTraffic(model: Model, entries: readonly TrafficEntry[] = model.scenario.traffic): FlowPlan[] {
  return entries.map((t, index) => {
    const protocol = t.protocol ?? 'tcp';
    const generator = generatorOf(t);
    const ip = (vm: string): string => {
      const info = model.vmInfo.get(vm);
      if (info === undefined) throw new ScoreError('UNKNOWN_VM', `traffic names unknown VM "${vm}"`, { vm });
      return info.ip;
    };
    const base = { index, flow: `${t.src}->${t.dst}`, src: t.src, dst: t.dst, generator, protocol };
    const bits = t.rate !== undefined ? parseBandwidth(t.rate) : (t.packetBytes ?? 0) * (t.pps ?? 0) * 8;
    if (generator === 'nping') {
      const packetBytes = t.packetBytes ?? HEADER[protocol];
      const pps = t.pps ?? Math.max(1, Math.round(bits / 8 / packetBytes));
      return {
        ...base,
        processes: [{ vm: t.src, tool: 'nping', role: 'sender', args: npingArgs({ dstIp: ip(t.dst), protocol, packetBytes, pps }) }],
      };
    }
    const port = IPERF3_BASE_PORT + index;
    const client = iperf3ClientArgs({ dstIp: ip(t.dst), port, protocol, bitsPerSecond: bits, ...(t.packetBytes === undefined ? {} : { packetBytes: t.packetBytes }) });
    return {
      ...base,
      serverPort: port,
      processes: [
        { vm: t.dst, tool: 'iperf3', role: 'server', args: iperf3ServerArgs({ dstIp: ip(t.dst), port }) },
        { vm: t.src, tool: 'iperf3', role: 'sender', args: client },
      ],
    };
  });
}

// ---- running ----------------------------------------------------------------------------------

export interface ExitRecord {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Last lines the process wrote to stderr. */
  readonly stderr: string;
}

export interface Generator {
  readonly flow: string;
  readonly spec: ProcessSpec;
  /** PID of the running process (that of `ip netns exec`, which execs the tool), if any. */
  pid(): number | undefined;
  /** Unexpected exits so far (each was followed by a restart). */
  exits(): readonly ExitRecord[];
}

export interface TrafficHandle {
  readonly flows: readonly FlowPlan[];
  readonly generators: readonly Generator[];
  /** Kills every generator; safe to call twice. */
  stop(): Promise<void>;
}

export interface TrafficOptions {
  /** Traffic to make instead of the scenario's (same shape as scenario entries). */
  readonly entries?: readonly TrafficEntry[];
  /** Only these entries (indexes into the traffic); default all. */
  readonly only?: readonly number[];
  readonly restartDelayMs?: number;
  /** How long to wait for an iperf3 server to listen. */
  readonly serverTimeoutMs?: number;
  /** Told about every unexpected exit (the generator is restarted anyway). */
  readonly onExit?: (g: Generator, exit: ExitRecord) => void;
}

// Generators of this process, killed synchronously if it exits without stopping them: they run
// in namespaces, which ovs.ts deletes on exit, but a deleted namespace does not stop a process.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  for (const c of running) {
    try {
      c.kill('SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

class Supervised implements Generator {
  private child: ChildProcess | undefined;
  private readonly exitRecords: ExitRecord[] = [];
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly flow: string,
    readonly spec: ProcessSpec,
    private readonly namespace: string,
    private readonly opts: TrafficOptions,
  ) {}

  pid(): number | undefined {
    return this.child?.pid;
  }

  exits(): readonly ExitRecord[] {
    return this.exitRecords;
  }

  start(): void {
    const child = spawn(resolveTool('ip'), ['netns', 'exec', this.namespace, resolveTool(this.spec.tool), ...this.spec.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    running.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.on('error', () => undefined);
    child.once('close', (code, signal) => {
      running.delete(child);
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      const record = { code, signal, stderr: stderr.trim() };
      this.exitRecords.push(record);
      this.opts.onExit?.(this, record);
      this.restartTimer = setTimeout(() => {
        // Its namespace gone (the data centre stopped without us), a restart could only fail.
        if (!existsSync(`/run/netns/${this.namespace}`)) this.stopped = true;
        if (!this.stopped) this.start();
      }, this.opts.restartDelayMs ?? 1000);
      // A pending restart alone must not keep the process alive.
      this.restartTimer.unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    const pid = child?.pid;
    if (pid !== undefined) await terminate(pid, 1000);
    // terminate() sees the process gone before Node's 'close' event for it may have run: the
    // generator is stopped now, so it must not go on reporting the dead pid.
    if (this.child === child) this.child = undefined;
  }
}

async function waitListening(dc: DataCentre, vm: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await dc.exec(vm, resolveTool('ss'), '-Hltn', `sport = :${port}`);
    if (out.trim() !== '') return;
    if (Date.now() > deadline) {
      throw new ScoreError('EMULATION_COMMAND', `iperf3 server in ${vm} did not listen on port ${port} within ${timeoutMs} ms`, { vm, port });
    }
    await sleep(25);
  }
}

/**
 * Starts the scenario's generators in the data centre's VM namespaces. They are stopped by the
 * returned handle, by dc.stop(), or (killed) when this process exits. If starting fails half
 * way, what was started is stopped before the error propagates.
 */
export async function startTraffic(dc: DataCentre, opts: TrafficOptions = {}): Promise<TrafficHandle> {
  const flows = planTraffic(dc.model, opts.entries).filter((f) => opts.only === undefined || opts.only.includes(f.index));
  for (const f of flows) for (const p of f.processes) resolveTool(p.tool);
  resolveTool('ss');
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllOnExit);
  }
  const generators: Supervised[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= Promise.all(generators.map((g) => g.stop())).then(() => undefined);
    return stopping;
  };
  try {
    // Servers first, all at once; then every sender.
    for (const role of ['server', 'sender'] as const) {
      const started: Array<Promise<void>> = [];
      for (const f of flows) {
        for (const spec of f.processes.filter((p) => p.role === role)) {
          const g = new Supervised(f.flow, spec, dc.vmNamespace(spec.vm), opts);
          generators.push(g);
          g.start();
          if (role === 'server' && f.serverPort !== undefined) started.push(waitListening(dc, spec.vm, f.serverPort, opts.serverTimeoutMs ?? 5000));
        }
      }
      await Promise.all(started);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  dc.onStop(stop);
  return { flows, generators, stop };
}

// ---- counters ---------------------------------------------------------------------------------

export interface IfaceCounters {
  readonly rxBytes: number;
  readonly rxPackets: number;
  readonly txBytes: number;
  readonly txPackets: number;
}

/** Counters from `ip -s -j link show DEV` (stats64 where the kernel gives it). */
export function parseLinkStats(json: string): IfaceCounters {
  const parsed = JSON.parse(json) as Array<{ stats64?: Stats; stats?: Stats }>;
  const st = parsed[0]?.stats64 ?? parsed[0]?.stats;
  if (st === undefined) throw new ScoreError('EMULATION_COMMAND', 'ip -s -j link printed no counters', { json: json.slice(0, 200) });
  return { rxBytes: st.rx.bytes, rxPackets: st.rx.packets, txBytes: st.tx.bytes, txPackets: st.tx.packets };
}

interface Stats {
  readonly rx: { readonly bytes: number; readonly packets: number };
  readonly tx: { readonly bytes: number; readonly packets: number };
}

/** The VM's own view of its traffic: its eth0 counters. */
export async function vmCounters(dc: DataCentre, vm: string): Promise<IfaceCounters> {
  const r = await run('ip', ['-n', dc.vmNamespace(vm), '-s', '-j', 'link', 'show', 'dev', VM_IFACE]);
  return parseLinkStats(r.stdout);
}
