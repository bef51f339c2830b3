/**
 * A cbench-style OpenFlow 1.3 load generator (after the Cbench tool of the OFlops suite): N
 * emulated switches connect to a controller, complete the handshake, and send PACKET_INs for new
 * flows (a fresh source MAC per packet, from a pool of `macs` per switch, to a destination the
 * controller has learned during warm-up).
 *
 * A packet-in counts as answered when the controller sends the PACKET_OUT carrying that frame
 * (every controller compared here sends one per packet-in when the switch has no buffers; flow-mods
 * come along but are not counted, as learning switches and S-CORE install different numbers).
 * Each frame carries its sequence number, so a reply is matched to its request exactly.
 *
 * - throughput mode: every switch keeps `window` packet-ins outstanding; responses/s over the run
 * - latency mode (cbench's): every switch has one packet-in outstanding, the next one sent as the
 *   answer arrives; round-trip times (p50, p99). With 16 switches this is a closed loop at the
 *   controller's full speed, not light load: it measures queueing in a saturated controller.
 * - paced mode (light load): `rate` packet-ins per second in all, spread evenly over time and
 *   round-robin over the switches, each sent when due whether or not earlier ones were answered
 *   (an open loop, so a slow answer cannot slow the offered load); round-trip times (p50, p99)
 *
 * The generator is one Node process (the bench runs it as its own, pinned to a core): at high
 * rates it could be the bottleneck itself, for every controller alike. It reports its own CPU
 * time over the measured run, and bench/cbench/null-controller.ts (a responder doing no work)
 * shows its ceiling.
 */
import { type Socket, createConnection } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeMessage } from '../../src/openflow/encode.ts';
import { decodeMessage } from '../../src/openflow/decode.ts';
import type { OfMessage } from '../../src/openflow/messages.ts';

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly switches: number;
  readonly mode: 'throughput' | 'latency' | 'paced';
  /** measured run, ms */
  readonly durationMs: number;
  /** before measuring: handshakes done, destinations learned (ms to wait for that at most) */
  readonly warmupMs?: number;
  /**
   * then the load itself, unmeasured, for this long (ms, default 1000): the controller's tables,
   * caches and JIT (or interpreter) get to a steady state before the measured run
   */
  readonly loadWarmupMs?: number;
  /** outstanding packet-ins per switch in throughput mode (default 32) */
  readonly window?: number;
  /** source MACs per switch (default 1000) */
  readonly macs?: number;
  /** paced mode: packet-ins per second, all switches together (default 1000) */
  readonly rate?: number;
  /** called when the measured run starts and ends (the bench reads the controller's CPU time then) */
  readonly onPhase?: (phase: 'start' | 'end') => void;
}

export interface LoadResult {
  readonly mode: 'throughput' | 'latency' | 'paced';
  readonly switches: number;
  readonly connected: number;
  readonly sent: number;
  readonly answered: number;
  readonly responsesPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly mean: number; readonly max: number } | null;
  readonly durationMs: number;
  /** paced mode: the offered rate, packet-ins/s */
  readonly offeredRate: number | null;
  /** the generator's own CPU time over the measured run, in cores (1 = one core saturated) */
  readonly generatorCpu: number;
  /**
   * how late the generator's own event loop ran over the measured run (monitorEventLoopDelay,
   * 1 ms sampling; ms): a round trip cannot be timed finer than this, for any controller
   */
  readonly generatorLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

const DST_PORT = 1;
const HOST_PORTS = 4;

export function mac(sw: number, n: number): Uint8Array {
  return Uint8Array.from([0x02, (sw >> 8) & 0xff, sw & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** Ethernet + IPv4 + UDP, 64 bytes, with the sequence number in the UDP payload (cbench-gen.c's frame()). */
export function frame(src: Uint8Array, dst: Uint8Array, seq: number, srcIp: number, dstIp: number): Uint8Array {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  f.set(dst, 0);
  f.set(src, 6);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 50); // IPv4 total length
  v.setUint8(22, 64); // ttl
  v.setUint8(23, 17); // UDP
  v.setUint32(26, srcIp);
  v.setUint32(30, dstIp);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(24, ~sum & 0xffff);
  v.setUint16(34, 40000);
  v.setUint16(36, 40001);
  v.setUint16(38, 30); // UDP length
  v.setUint32(42, seq);
  return f;
}

function encodePacketIn(data: Uint8Array, inPort: number): Uint8Array {
  return encodeMessage({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: data.length, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: inPort }], data });
}

/** Byte offsets in the PACKET_IN this generator sends (OpenFlow 1.3: header, buffer id, total
 * length, reason, table, cookie, an OXM match holding only in_port, 2 bytes pad, the frame). */
const PI_IN_PORT = 32;
const PI_DATA = 42;
const PI_LEN = PI_DATA + 64;
/** OpenFlow 1.3 message types the fast path reads without the codec */
const T_PACKET_OUT = 13;
const T_FLOW_MOD = 14;
const T_BARRIER_REQUEST = 20;
const T_BARRIER_REPLY = 21;

/**
 * When each packet-in was sent, by sequence number: two typed arrays used as a ring (at most
 * switches x window are outstanding, far below its size), so matching an answer allocates nothing.
 */
export class Ledger {
  private static readonly SIZE = 1 << 20;
  private readonly seqs = new Uint32Array(Ledger.SIZE);
  private readonly at = new Float64Array(Ledger.SIZE);
  private next = 1;

  /** a fresh sequence number, sent now */
  open(now: number): number {
    const seq = this.next;
    this.next = this.next >= 0xfffffffe ? 1 : this.next + 1;
    const i = seq & (Ledger.SIZE - 1);
    this.seqs[i] = seq;
    this.at[i] = now;
    return seq;
  }

  /** the send time of an outstanding packet-in, which is then closed; undefined for an unknown or repeated answer */
  close(seq: number): number | undefined {
    const i = seq & (Ledger.SIZE - 1);
    if (seq === 0 || this.seqs[i] !== seq) return undefined;
    this.seqs[i] = 0;
    return this.at[i];
  }
}

/** Cabling between emulated switches: a packet-out on a cabled port arrives as a packet-in at its peer. */
export interface Wiring {
  /** ports of switch `id` (1-based), cabled or not */
  portCount(id: number): number;
  peer(id: number, port: number): { readonly sw: number; readonly port: number } | undefined;
}

/**
 * One emulated switch. The load itself (PACKET_IN out, PACKET_OUT / FLOW_MOD / BARRIER in) is
 * read and written as raw bytes at fixed offsets, and everything one received chunk triggers
 * leaves in one socket write, as cbench (C) does: a generator that decoded every message into
 * objects would measure itself. The handshake, statistics and the fabric mode go through the
 * codec.
 */
export class EmulatedSwitch {
  private socket: Socket | undefined;
  ready = false;
  private nextMac = 0;
  private readonly dst: Uint8Array;
  /** unparsed tail of the previous chunk */
  private rest: Buffer | undefined;
  /** while a chunk is handled: what it triggers, written once at the end */
  private out: Buffer = Buffer.allocUnsafe(16 * 1024);
  private outLen = 0;
  private batching = false;
  /** when the chunk being handled arrived (performance.now(), ms) */
  private arrivedAt = 0;
  /** a PACKET_IN of this switch (in_port, source MAC, IPs, seq patched per packet) */
  private readonly template: Buffer;

  /** set by runFabric: where packet-outs go */
  fabric: { readonly wiring: Wiring; readonly byId: ReadonlyMap<number, EmulatedSwitch> } | undefined;
  packetOuts = 0;

  constructor(
    readonly id: number,
    private readonly o: Required<LoadOptions>,
    private readonly onAnswer: (sw: EmulatedSwitch, rttMs: number) => void,
    private readonly ledger: Ledger,
  ) {
    this.dst = mac(id, 0xffffff);
    this.template = Buffer.from(encodePacketIn(frame(mac(id, 0), this.dst, 0, 0x0b000000, 0x0a000000 | id), 2));
    if (this.template.length !== PI_LEN || this.template.readUInt32BE(PI_IN_PORT - 4) !== 0x80000004) {
      throw new Error('PACKET_IN layout is not the one the generator patches');
    }
  }

  /** Resolves either way: a controller that accepts fewer switches (ovs-testcontroller takes 16) leaves the rest unconnected. */
  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const s = createConnection({ host: this.o.host, port: this.o.port }, () => resolve());
      s.setNoDelay(true);
      s.setTimeout(timeoutMs, () => {
        s.destroy();
        resolve();
      });
      s.once('connect', () => s.setTimeout(0));
      s.once('error', () => resolve());
      s.on('error', () => undefined);
      s.on('data', (b: Buffer) => this.onData(b));
      this.socket = s;
      this.send({ type: 'HELLO', xid: 1, elements: [{ type: 'VERSIONBITMAP', versions: [4] }] });
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private send(m: OfMessage): void {
    this.sendBytes(encodeMessage(m));
  }

  private sendBytes(b: Uint8Array): void {
    if (!this.batching) {
      this.socket?.write(b);
      return;
    }
    this.reserve(b.length).set(b, this.outLen - b.length);
  }

  /** room for n more bytes in the batch; returns the batch buffer (the n bytes end at outLen) */
  private reserve(n: number): Buffer {
    if (this.outLen + n > this.out.length) {
      const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outLen + n));
      this.out.copy(next, 0, 0, this.outLen);
      this.out = next;
    }
    this.outLen += n;
    return this.out;
  }

  /** The destination host says hello once, so learning controllers know where it is. */
  announceDestination(): void {
    this.packetIn(frame(this.dst, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0, 0x0a000000 | this.id, 0x0a0000ff), DST_PORT);
  }

  /** A PACKET_IN for a new flow: the next source MAC of this switch, a fresh sequence number. */
  sendNew(): void {
    const n = this.nextMac++ % this.o.macs;
    const seq = this.ledger.open(performance.now());
    let b: Buffer;
    let at: number;
    if (this.batching) {
      b = this.reserve(PI_LEN);
      at = this.outLen - PI_LEN;
    } else {
      b = Buffer.allocUnsafe(PI_LEN);
      at = 0;
    }
    this.template.copy(b, at);
    b.writeUInt32BE(2 + (n % (HOST_PORTS - 1)), at + PI_IN_PORT);
    const f = at + PI_DATA;
    // source MAC 02:ss:ss:nn:nn:nn (as mac()), source IP 11.n
    b[f + 9] = (n >> 16) & 0xff;
    b[f + 10] = (n >> 8) & 0xff;
    b[f + 11] = n & 0xff;
    b.writeUInt32BE((0x0b000000 | n) >>> 0, f + 26);
    b.writeUInt16BE(0, f + 24);
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += b.readUInt16BE(f + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, f + 24);
    b.writeUInt32BE(seq, f + 42);
    if (!this.batching) this.socket?.write(b);
  }

  packetIn(data: Uint8Array, inPort: number): void {
    this.sendBytes(encodePacketIn(data, inPort));
  }

  private onData(chunk: Buffer): void {
    // the arrival time of every answer in this chunk: taken first, before any parsing
    this.arrivedAt = performance.now();
    const buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = undefined;
    this.batching = true;
    this.outLen = 0;
    let off = 0;
    try {
      while (buf.length - off >= 8) {
        const len = buf.readUInt16BE(off + 2);
        if (len < 8) {
          this.socket?.destroy();
          return;
        }
        if (buf.length - off < len) break;
        const type = buf[off + 1];
        if (type === T_PACKET_OUT && this.fabric === undefined) this.onPacketOut(buf, off, len);
        else if (type === T_BARRIER_REQUEST) {
          const b = this.reserve(8);
          buf.copy(b, this.outLen - 8, off, off + 8);
          b[this.outLen - 7] = T_BARRIER_REPLY;
          b.writeUInt16BE(8, this.outLen - 6);
        } else if (type !== T_FLOW_MOD || this.fabric !== undefined) {
          this.onMessage(decodeMessage(buf.subarray(off, off + len)));
        }
        off += len;
      }
      if (off < buf.length) this.rest = Buffer.from(buf.subarray(off));
    } finally {
      this.batching = false;
      if (this.outLen > 0) this.socket?.write(Buffer.from(this.out.subarray(0, this.outLen)));
      this.outLen = 0;
    }
  }

  /** PACKET_OUT: actions_len at 16, the frame after the actions; our sequence number in its UDP payload */
  private onPacketOut(buf: Buffer, off: number, len: number): void {
    this.packetOuts += 1;
    const data = off + 24 + buf.readUInt16BE(off + 16);
    if (off + len - data < 46 || buf[data + 12] !== 0x08 || buf[data + 13] !== 0x00 || buf[data + 23] !== 17) return;
    const t = this.ledger.close(buf.readUInt32BE(data + 42));
    if (t !== undefined) this.onAnswer(this, this.arrivedAt - t);
  }

  private onMessage(m: OfMessage): void {
    switch (m.type) {
      case 'FEATURES_REQUEST':
        this.send({ type: 'FEATURES_REPLY', xid: m.xid, datapathId: BigInt(this.id), nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x47, reserved: 0 });
        // not every controller asks for PORT_DESC (ovs-testcontroller does not): the features
        // reply is where all of them have the switch
        this.ready = true;
        return;
      case 'GET_CONFIG_REQUEST':
        this.send({ type: 'GET_CONFIG_REPLY', xid: m.xid, flags: 0, missSendLen: 0xffff });
        return;
      case 'ECHO_REQUEST':
        this.send({ type: 'ECHO_REPLY', xid: m.xid, data: m.data });
        return;
      case 'BARRIER_REQUEST':
        this.send({ type: 'BARRIER_REPLY', xid: m.xid });
        return;
      case 'ROLE_REQUEST':
        this.send({ type: 'ROLE_REPLY', xid: m.xid, role: m.role, generationId: m.generationId });
        return;
      case 'MULTIPART_REQUEST':
        this.answerMultipart(m);
        return;
      case 'PACKET_OUT': {
        this.packetOuts += 1;
        if (this.fabric === undefined) return;
        for (const a of m.actions) {
          if (a.type !== 'OUTPUT') continue;
          const peer = this.fabric.wiring.peer(this.id, a.port);
          if (peer !== undefined) this.fabric.byId.get(peer.sw)?.packetIn(m.data, peer.port);
        }
        return;
      }
      default:
        return;
    }
  }

  private answerMultipart(m: Extract<OfMessage, { type: 'MULTIPART_REQUEST' }>): void {
    const count = this.fabric?.wiring.portCount(this.id) ?? HOST_PORTS;
    const ports = Array.from({ length: count }, (_, i) => ({
      portNo: i + 1,
      hwAddr: `02:ff:00:00:${(this.id & 0xff).toString(16).padStart(2, '0')}:${(i + 1).toString(16).padStart(2, '0')}`,
      name: `s${this.id}-p${i + 1}`,
      config: 0,
      state: 0,
      curr: 0,
      advertised: 0,
      supported: 0,
      peer: 0,
      currSpeed: 10_000_000,
      maxSpeed: 0,
    }));
    switch (m.body.kind) {
      case 'PORT_DESC':
        this.send({ type: 'MULTIPART_REPLY', xid: m.xid, flags: 0, body: { kind: 'PORT_DESC', ports } });
        return;
      case 'FLOW':
        this.send({ type: 'MULTIPART_REPLY', xid: m.xid, flags: 0, body: { kind: 'FLOW', flows: [] } });
        return;
      case 'PORT_STATS': {
        const z = 0n;
        const stats = ports.map((p) => ({ portNo: p.portNo, rxPackets: z, txPackets: z, rxBytes: z, txBytes: z, rxDropped: z, txDropped: z, rxErrors: z, txErrors: z, rxFrameErr: z, rxOverErr: z, rxCrcErr: z, collisions: z, durationSec: 1, durationNsec: 0 }));
        this.send({ type: 'MULTIPART_REPLY', xid: m.xid, flags: 0, body: { kind: 'PORT_STATS', ports: stats } });
        return;
      }
      default:
        return;
    }
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Runs one measurement against a listening controller. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const o: Required<LoadOptions> = { warmupMs: 15_000, loadWarmupMs: 1000, window: 32, macs: 1000, rate: 1000, onPhase: () => undefined, ...opts };
  const paced = o.mode === 'paced';
  const ledger = new Ledger();
  let measuring = false;
  let answered = 0;
  let sent = 0;
  const rtts: number[] = [];
  const onAnswer = (sw: EmulatedSwitch, rtt: number): void => {
    if (measuring) {
      answered += 1;
      if (o.mode !== 'throughput') rtts.push(rtt);
    }
    if (!running || paced) return;
    sw.sendNew();
    if (measuring) sent += 1;
  };
  let running = false;
  const switches = Array.from({ length: o.switches }, (_, i) => new EmulatedSwitch(i + 1, o, onAnswer, ledger));
  try {
    await Promise.all(switches.map((s) => s.connect(5000)));
    const deadline = Date.now() + Math.min(o.warmupMs, 10_000);
    while (switches.some((s) => !s.ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const connected = switches.filter((s) => s.ready).length;
    for (const s of switches) if (s.ready) s.announceDestination();
    await new Promise((r) => setTimeout(r, 500));
    // warm-up traffic: every controller has learned the destination and seen the first sources
    running = true;
    const ready = switches.filter((s) => s.ready);
    let pacer: NodeJS.Timeout | undefined;
    if (paced && ready.length > 0) {
      // every millisecond (as often as a timer fires), the packet-ins due by now, one switch
      // after another: spread evenly, and independent of when answers come
      const start = performance.now();
      let due = 0;
      let next = 0;
      pacer = setInterval(() => {
        const target = Math.floor(((performance.now() - start) * o.rate) / 1000);
        for (; due < target; due++) {
          (ready[next] as EmulatedSwitch).sendNew();
          next = (next + 1) % ready.length;
          if (measuring) sent += 1;
        }
      }, 1);
    } else {
      const perSwitch = o.mode === 'latency' ? 1 : o.window;
      for (const s of ready) for (let k = 0; k < perSwitch; k++) s.sendNew();
    }
    await new Promise((r) => setTimeout(r, o.loadWarmupMs));
    o.onPhase('start');
    measuring = true;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    await new Promise((r) => setTimeout(r, o.durationMs));
    measuring = false;
    running = false;
    if (pacer !== undefined) clearInterval(pacer);
    o.onPhase('end');
    loop.disable();
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    rtts.sort((a, b) => a - b);
    return {
      mode: o.mode,
      switches: o.switches,
      connected,
      sent,
      answered,
      responsesPerSecond: Math.round((answered / elapsed) * 1000),
      latencyMs:
        o.mode !== 'throughput' && rtts.length > 0
          ? { p50: round3(percentile(rtts, 50)), p99: round3(percentile(rtts, 99)), mean: round3(rtts.reduce((a, b) => a + b, 0) / rtts.length), max: round3(rtts[rtts.length - 1] as number) }
          : null,
      durationMs: Math.round(elapsed),
      offeredRate: paced ? o.rate : null,
      generatorCpu: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 100) / 100,
      generatorLoopDelayMs: { p50: round3(loop.percentile(50) / 1e6), p99: round3(loop.percentile(99) / 1e6), max: round3(loop.max / 1e6) },
    };
  } finally {
    for (const s of switches) s.close();
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Switches cabled per `wiring` (dpids 1..n), connected to a controller, answering its handshake,
 * statistics and LLDP probes (packet-outs on cabled ports come back as packet-ins at the peer), so
 * the controller discovers the topology. Resolves with a stop function once all are connected.
 */
export async function startFabric(o: { host: string; port: number; switches: number; wiring: Wiring }): Promise<{ readonly switches: readonly EmulatedSwitch[]; stop(): void }> {
  const opts: Required<LoadOptions> = { host: o.host, port: o.port, switches: o.switches, mode: 'latency', durationMs: 0, warmupMs: 15_000, loadWarmupMs: 0, window: 1, macs: 1, rate: 0, onPhase: () => undefined };
  const byId = new Map<number, EmulatedSwitch>();
  const switches = Array.from({ length: o.switches }, (_, i) => {
    const s = new EmulatedSwitch(i + 1, opts, () => undefined, new Ledger());
    byId.set(i + 1, s);
    s.fabric = { wiring: o.wiring, byId };
    return s;
  });
  await Promise.all(switches.map((s) => s.connect(10_000)));
  return { switches, stop: () => switches.forEach((s) => s.close()) };
}
