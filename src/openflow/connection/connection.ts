/**
 * One switch connection: a small explicit state machine driven by OfStreamParser.
 *
 *   hello ──HELLO ok──> features ──FEATURES_REPLY──> port-desc ──PORT_DESC reply──> ready
 *     └────────────── any failure, timeout, socket close, close() ──────────────────> closed
 *
 * We send HELLO on accept. The switch's HELLO is negotiated (version bitmap, or the header
 * version when it has none); anything but 1.3 gets OFPT_ERROR HELLO_FAILED/INCOMPATIBLE and the
 * connection ends. Then FEATURES_REQUEST (the dpid), SET_CONFIG miss_send_len = NO_BUFFER (whole
 * frames in packet-ins) and PORT_DESC. Only in `ready` are asynchronous messages passed on.
 *
 * Nothing that arrives on the socket may throw out of here: malformed messages are answered,
 * logged and skipped; a broken stream closes only this connection.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ScoreError, isScoreError } from '../../errors/errors.ts';
import {
  OFP_VERSION,
  OFPBAC,
  OFPBIC,
  OFPBMC,
  OFPBRC,
  OFPCML,
  OFPCR,
  OFPET,
  OFPHFC,
  OFPPR,
  OFPRRFC,
  OFPT,
  describeError,
  nameOf,
} from '../constants.ts';
import { echoReply, errorMsg, hello } from '../builders.ts';
import { Writer } from '../bytes.ts';
import { encodeInto, encodeMessage } from '../encode.ts';
import type { FeaturesReply, MultipartKind, MultipartReplyBody, MultipartRequestBody, OfMessage, OfMessageType, Port } from '../messages.ts';
import { OfStreamParser, type StreamItem } from '../stream.ts';
import { type OfLog, hex, silentLog } from './log.ts';
import { RequestTracker, mergeMultipart } from './requests.ts';

export type ConnectionState = 'hello' | 'features' | 'port-desc' | 'ready' | 'closed';

const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  hello: ['features', 'closed'],
  features: ['port-desc', 'closed'],
  'port-desc': ['ready', 'closed'],
  ready: ['closed'],
  closed: [],
};

export interface ConnectionTimers {
  /** ECHO_REQUEST period once ready (default 5000) */
  readonly echoIntervalMs: number;
  /** close after this long without a byte from the switch (default 15000) */
  readonly echoTimeoutMs: number;
  /** per request, restarted by each multipart part (default 10000) */
  readonly requestTimeoutMs: number;
  /** HELLO to ready (default 15000) */
  readonly handshakeTimeoutMs: number;
  /** bytes queued while the socket is not draining before we give up on the switch (default 8 MiB) */
  readonly maxQueueBytes: number;
}

export const DEFAULT_TIMERS: ConnectionTimers = {
  echoIntervalMs: 5_000,
  echoTimeoutMs: 15_000,
  requestTimeoutMs: 10_000,
  handshakeTimeoutMs: 15_000,
  maxQueueBytes: 8 * 1024 * 1024,
};

export interface ConnectionOptions extends Partial<ConnectionTimers> {
  readonly log?: OfLog;
  /**
   * Called once the dpid is known (FEATURES_REPLY), before PORT_DESC. The server uses it to
   * retire an older connection of the same switch before this one can come up.
   */
  readonly onDpid?: (c: OfConnection, dpid: bigint) => void;
}

export interface ConnectionEvents {
  ready: [];
  /**
   * asynchronous switch messages once ready: PACKET_IN, PORT_STATUS, FLOW_REMOVED, and ERRORs
   * answering a fire-and-forget message (a refused FLOW_MOD: its xid is what post/postAll returned)
   */
  message: [OfMessage];
  close: [reason: ScoreError, wasReady: boolean];
  /** our role on this switch changed: a ROLE_REPLY, or the switch refusing a write with IS_SLAVE */
  role: [role: ControllerRole, generationId: bigint | undefined];
}

/**
 * Our role on one switch (OpenFlow 1.3 section 6.3.5). EQUAL is where every switch starts
 * (a controller that never sent ROLE_REQUEST is EQUAL); only a SLAVE is refused writes.
 */
export type ControllerRole = 'EQUAL' | 'MASTER' | 'SLAVE';

/**
 * For postEach: writes an item's message straight into `w` (any xid: postEach writes its own over
 * it) and returns its type, or returns undefined, having written nothing, for an item it does not
 * encode itself (postEach then encodes `message(item)`). The bytes must be those `message(item)`
 * encodes to: it only skips building the message.
 */
export type DirectEncoder<T> = (w: Writer, item: T) => OfMessageType | undefined;

const ROLE_NUMBER: Readonly<Record<ControllerRole, number>> = { EQUAL: OFPCR.ROLE_EQUAL, MASTER: OFPCR.ROLE_MASTER, SLAVE: OFPCR.ROLE_SLAVE };

/** Messages that change the switch's state or send packets: a SLAVE may not send them (spec 6.3.5). */
const MASTER_ONLY = new Set<OfMessageType>(['PACKET_OUT', 'FLOW_MOD', 'GROUP_MOD', 'PORT_MOD', 'TABLE_MOD', 'METER_MOD']);

export interface ConnectionStats {
  rxMessages: number;
  txMessages: number;
  malformed: number;
  echoSent: number;
  echoReplies: number;
  echoRequestsAnswered: number;
  lastEchoRttMs: number | undefined;
  switchErrors: number;
  /** most bytes ever waiting for 'drain' */
  maxQueuedBytes: number;
  /** socket writes (each holds a turn's messages, or a held-up batch) */
  txWrites: number;
}

/** Types only a controller sends: a switch sending one is answered BAD_REQUEST/BAD_TYPE. */
const CONTROLLER_ONLY = new Set<OfMessageType>([
  'FEATURES_REQUEST',
  'GET_CONFIG_REQUEST',
  'SET_CONFIG',
  'PACKET_OUT',
  'FLOW_MOD',
  'GROUP_MOD',
  'PORT_MOD',
  'TABLE_MOD',
  'MULTIPART_REQUEST',
  'BARRIER_REQUEST',
  'QUEUE_GET_CONFIG_REQUEST',
  'ROLE_REQUEST',
  'GET_ASYNC_REQUEST',
  'SET_ASYNC',
  'METER_MOD',
]);

const ASYNC = new Set<OfMessageType>(['PACKET_IN', 'PORT_STATUS', 'FLOW_REMOVED']);

const ECHO_MEMORY = 8;
/** postAll's buffer while writes are held up (blocked): its result is copied out before anything else can encode */
const batchWriter = new Writer(4096);
/**
 * a turn's output is sent once it holds this many bytes, without waiting for the turn to end: the
 * socket's answer (write() false) then holds up the rest, within maxQueueBytes, as for any write
 */
const TURN_MAX_BYTES = 64 * 1024;
/** a turn buffer grown past this (by one large batch) is dropped once sent, not kept */
const TURN_KEEP_BYTES = 2 * TURN_MAX_BYTES;

/**
 * The serial of the connection whose received chunk is being handled (0: none). What that chunk makes the
 * controller send to other switches (a flood: a packet-out to every switch) leaves with their
 * next write after the current poll phase (setImmediate), not one write per switch per chunk:
 * 256 switches each announcing a host were 65,536 socket writes in the first second of a run
 * (docs/cluster.md, Capacity run 9). The answers to the chunk itself still leave at the end of
 * this turn (process.nextTick), as before.
 */
let reading = 0;
/** the last OfConnection.serial given */
let serials = 0;
/** asynchronous messages held during the handshake, and their bytes (packet-ins' frames): a peer that never finishes it cannot make us hold more */
const EARLY_MAX = 10_000;
const EARLY_MAX_BYTES = 4 * 1024 * 1024;

const itemMessage = (i: { msg: OfMessage }): OfMessage => i.msg;
const itemWhat = (i: { what: string | (() => string) }): string | (() => string) => i.what;
const describeWhat = (what: string | (() => string)): string => (typeof what === 'string' ? what : what());

export function formatDpidHex(dpid: bigint): string {
  return dpid.toString(16).padStart(16, '0');
}

/** The OFPT_ERROR (type, code) the spec asks for, given why the codec refused a message. */
export function errorReplyFor(e: ScoreError): { errType: number; code: number } {
  const d = e.details;
  switch (e.code) {
    case 'OF_BAD_VERSION':
      return { errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_VERSION };
    case 'OF_UNKNOWN_TYPE':
      if ('multipartType' in d) return { errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_MULTIPART };
      if ('actionType' in d) return { errType: OFPET.BAD_ACTION, code: OFPBAC.BAD_TYPE };
      if ('instructionType' in d) return { errType: OFPET.BAD_INSTRUCTION, code: OFPBIC.UNKNOWN_INST };
      if ('matchType' in d) return { errType: OFPET.BAD_MATCH, code: OFPBMC.BAD_TYPE };
      return { errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE };
    default:
      // OF_TRUNCATED, OF_BAD_LENGTH and anything else structural: the lengths do not add up.
      return { errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN };
  }
}

export class OfConnection extends EventEmitter<ConnectionEvents> {
  private stateValue: ConnectionState = 'hello';
  private readonly parser = new OfStreamParser();
  private readonly tracker: RequestTracker;
  private readonly timers: ConnectionTimers;
  private readonly log: OfLog;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private blocked = false;
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly silenceTimer: NodeJS.Timeout;
  private echoTimer: NodeJS.Timeout | undefined;
  private readonly echoOut = new Map<number, number>();
  private wasReady = false;
  /** receive order of decoded messages, to tell which early messages the PORT_DESC reply already covers */
  private seq = 0;
  private readonly seqOf = new WeakMap<OfMessage, number>();
  private early: { seq: number; m: OfMessage }[] = [];
  private earlyBytes = 0;
  private closeReason: ScoreError | undefined;
  /** the barrier barrierSoon() callers wait for, not sent yet */
  private nextBarrier: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  private handlingChunk = false;
  /**
   * everything written to the switch in this turn of the event loop, sent as one socket write
   * when the turn ends (sendTurn); messages are encoded straight into it
   */
  private turnOut: Writer | undefined;
  private turnPending = false;
  /** a write after the poll phase is scheduled (scheduleTurn, written while another switch's chunk was handled) */
  private turnDeferred = false;
  /** this connection's number for `reading` (1, 2, ...) */
  private readonly serial = ++serials;
  private roleValue: ControllerRole = 'EQUAL';
  private generation: bigint | undefined;

  /** "ip:port" of the switch, for logs before the dpid is known */
  readonly remote: string;
  dpid: bigint | undefined;
  features: FeaturesReply | undefined;
  /** the switch's ports as last described (PORT_DESC, then PORT_STATUS updates) */
  readonly ports = new Map<number, Port>();
  readonly stats: ConnectionStats = {
    rxMessages: 0,
    txMessages: 0,
    malformed: 0,
    echoSent: 0,
    echoReplies: 0,
    echoRequestsAnswered: 0,
    lastEchoRttMs: undefined,
    switchErrors: 0,
    maxQueuedBytes: 0,
    txWrites: 0,
  };

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions = {},
  ) {
    super();
    this.timers = { ...DEFAULT_TIMERS, ...definedOnly(options) };
    this.log = options.log ?? silentLog;
    this.tracker = new RequestTracker(this.timers.requestTimeoutMs);
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.flush());
    socket.on('error', (e: NodeJS.ErrnoException) => this.close(new ScoreError('OF_DISCONNECTED', `socket error: ${e.code ?? e.message}`, { errno: e.code })));
    socket.on('close', () => {
      for (const item of this.parser.finish()) {
        if (item.kind === 'fatal') this.log('warn', `${this.label()}: ${item.error.message}`, { code: item.error.code });
      }
      this.close(new ScoreError('OF_DISCONNECTED', 'the switch closed the connection', {}));
    });
    this.handshakeTimer = setTimeout(
      () => this.close(new ScoreError('OF_HANDSHAKE', `handshake not complete after ${this.timers.handshakeTimeoutMs} ms (state ${this.stateValue})`, { state: this.stateValue })),
      this.timers.handshakeTimeoutMs,
    ).unref();
    this.silenceTimer = setTimeout(
      () => this.close(new ScoreError('OF_TIMEOUT', `nothing from the switch for ${this.timers.echoTimeoutMs} ms`, { echoTimeoutMs: this.timers.echoTimeoutMs })),
      this.timers.echoTimeoutMs,
    ).unref();
    this.log('debug', `${this.remote}: connected, sending HELLO`);
    this.write(hello(this.tracker.allocate()));
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Bytes held for this connection's per-turn output buffer (diagnostics, tests). */
  get turnBufferBytes(): number {
    return this.turnOut?.buf.length ?? 0;
  }

  /** Why the connection closed (undefined while open). */
  get reason(): ScoreError | undefined {
    return this.closeReason;
  }

  /** Our role as the switch last confirmed it (EQUAL until a ROLE_REQUEST is answered). */
  get role(): ControllerRole {
    return this.roleValue;
  }

  /** The generation id of our last accepted MASTER/SLAVE role request. */
  get generationId(): bigint | undefined {
    return this.generation;
  }

  /**
   * OFPT_ROLE_REQUEST (OpenFlow 1.3 section 7.3.9): asks the switch to make us MASTER or SLAVE
   * (generationId: u64, compared by the switch in wrap-around order; it must only grow between
   * masters) or EQUAL (generation ignored). Resolves with the role and generation id of the
   * switch's ROLE_REPLY. Until the reply, our own role is unchanged.
   * @throws ScoreError OF_ROLE_STALE when the switch has seen a newer generation id (it then
   *   also treats us as SLAVE, so we record that); OF_SWITCH_ERROR for any other refusal;
   *   OF_DISCONNECTED, OF_TIMEOUT
   */
  async requestRole(role: ControllerRole, generationId: bigint): Promise<{ role: ControllerRole; generationId: bigint }> {
    let replies: OfMessage[];
    try {
      replies = await this.request({ type: 'ROLE_REQUEST', xid: 0, role: ROLE_NUMBER[role], generationId }, ['ROLE_REPLY'], `ROLE_REQUEST ${role} generation ${generationId}`);
    } catch (e) {
      if (isScoreError(e, 'OF_SWITCH_ERROR') && e.details.errType === OFPET.ROLE_REQUEST_FAILED && e.details.code === OFPRRFC.STALE) {
        this.setRole('SLAVE', this.generation);
        throw new ScoreError('OF_ROLE_STALE', `${this.label()} refused ROLE_REQUEST ${role} with generation ${generationId}: a newer generation id is known to the switch`, {
          dpid: this.dpid === undefined ? undefined : formatDpidHex(this.dpid),
          role,
          generationId: generationId.toString(),
        }, { cause: e });
      }
      throw e;
    }
    const reply = replies[0];
    if (reply?.type !== 'ROLE_REPLY') throw new ScoreError('INTERNAL', 'ROLE_REQUEST answered by something else', {});
    const got = (Object.keys(ROLE_NUMBER) as ControllerRole[]).find((k) => ROLE_NUMBER[k] === reply.role);
    if (got === undefined) throw new ScoreError('OF_BAD_VALUE', `ROLE_REPLY with unknown role ${reply.role}`, { role: reply.role });
    this.setRole(got, reply.generationId);
    return { role: got, generationId: reply.generationId };
  }

  private setRole(role: ControllerRole, generationId: bigint | undefined): void {
    const changed = role !== this.roleValue || generationId !== this.generation;
    this.roleValue = role;
    this.generation = generationId;
    if (changed) {
      this.log('info', `${this.label()}: role ${role}${generationId === undefined ? '' : ` (generation ${generationId})`}`);
      this.emitSafely('role', role, generationId);
    }
  }

  /** A SLAVE's writes are refused here, before the switch would refuse them (fencing, spec 6.3.5). */
  private assertMayWrite(type: OfMessageType, what: string): void {
    if (this.roleValue === 'SLAVE' && MASTER_ONLY.has(type)) {
      throw new ScoreError('OF_NOT_MASTER', `${what}: this controller is SLAVE on ${this.label()}`, { dpid: this.dpid === undefined ? undefined : formatDpidHex(this.dpid), type });
    }
  }

  label(): string {
    return this.dpid === undefined ? this.remote : `dpid ${formatDpidHex(this.dpid)}`;
  }

  // ---- sending --------------------------------------------------------------------------------

  /**
   * Sends a message we expect no reply to, under a fresh xid remembered for error reports.
   * @throws ScoreError OF_DISCONNECTED when the connection is closed
   */
  post(msg: OfMessage, what: string = msg.type): number {
    this.assertOpen(what);
    this.assertMayWrite(msg.type, what);
    const xid = this.tracker.allocate();
    this.tracker.remember(xid, what);
    this.write({ ...msg, xid });
    return xid;
  }

  /**
   * Several messages as one write: one syscall, and back-pressure counts the batch once. Returns
   * their xids, in order. `what` (for error reports) may be a function, called only if the switch
   * refuses the message: building a description per message costs more than encoding it.
   */
  postAll(items: readonly { msg: OfMessage; what: string | (() => string) }[]): number[] {
    // the description is kept, not the item: the message may carry a frame
    return this.postEach(items, itemMessage, describeWhat, itemWhat);
  }

  /**
   * postAll for items of the caller's own type: `message` makes each one's OpenFlow message and
   * `describe` its description for error reports, called only if the switch refuses it. Nothing
   * is allocated per item to carry the description (a closure per FLOW_MOD was a measurable part
   * of a new flow's cost at 256 switches). With `keep`, what is remembered for that is
   * `keep(item)`, and `describe` is called with it: the last 1,024 messages' items stay in memory
   * per switch, and an item holding a frame (an LLDP probe, a flood) kept ~150 MiB of them at 320
   * switches. With `encode`, items it encodes itself skip `message` (a packet-in's PACKET_OUT).
   */
  postEach<T>(items: readonly T[], message: (item: T) => OfMessage, describe: (item: T) => string): number[];
  postEach<T, K>(items: readonly T[], message: (item: T) => OfMessage, describe: (kept: K) => string, keep: (item: T) => K, encode?: DirectEncoder<T>): number[];
  postEach<T, K>(items: readonly T[], message: (item: T) => OfMessage, describe: (kept: K | T) => string, keep?: (item: T) => K, encode?: DirectEncoder<T>): number[] {
    this.assertOpen('send');
    if (items.length === 0) return [];
    if (this.roleValue === 'SLAVE') for (const item of items) this.assertMayWrite(message(item).type, describe(keep === undefined ? item : keep(item)));
    // Encoded straight into this turn's output, unless writes are held up (then queued as one
    // message, as before). A message that cannot be encoded leaves none of the batch behind.
    const direct = !this.blocked;
    const w = direct ? this.turnWriter() : batchWriter;
    const mark = direct ? w.pos : 0;
    if (!direct) w.reset();
    const xids: number[] = [];
    let onlyPacketOuts = true;
    try {
      for (const item of items) {
        const xid = this.tracker.allocate();
        this.tracker.remember(xid, describe, keep === undefined ? item : keep(item));
        const start = w.pos;
        const written = encode === undefined ? undefined : encode(w, item);
        if (written === undefined) {
          const m = message(item);
          if (m.type !== 'PACKET_OUT') onlyPacketOuts = false;
          encodeInto(w, m);
        } else if (written !== 'PACKET_OUT') onlyPacketOuts = false;
        // the xid is written over the message's own, rather than encoding a copy of the message
        w.dv.setUint32(start + 4, xid);
        xids.push(xid);
      }
    } catch (e) {
      w.pos = mark;
      throw e;
    }
    if (direct) {
      this.stats.txMessages += items.length;
      this.turnWritten(w, onlyPacketOuts);
    } else {
      this.stats.txMessages += items.length - 1;
      this.writeBytes(w.result());
    }
    return xids;
  }

  private turnWriter(): Writer {
    this.turnOut ??= new Writer(4096);
    return this.turnOut;
  }

  /**
   * After bytes went into this turn's output: a long burst is sent on, so back-pressure still
   * bounds it. `deferrable`: only PACKET_OUTs were written (see scheduleTurn).
   */
  private turnWritten(w: Writer, deferrable = false): void {
    if (w.pos >= TURN_MAX_BYTES) this.sendTurn();
    else this.scheduleTurn(deferrable);
  }

  /**
   * The end of this turn's output: at the end of the turn (process.nextTick), in the order the
   * connections were first written to. PACKET_OUTs alone written while another switch's chunk is
   * handled (a flood's copies) wait for the poll phase's end (setImmediate): one write per switch
   * for all of the phase's chunks. Anything else is never deferred: routing writes a path's
   * FLOW_MODs downstream switch first, so a packet sent along it meets rules, and a FLOW_MOD to
   * switch B held back while A's answers leave would reverse that (review of run 9).
   */
  private scheduleTurn(deferrable: boolean): void {
    if (this.turnPending) return;
    if (deferrable && reading !== 0 && reading !== this.serial) {
      if (this.turnDeferred) return;
      this.turnDeferred = true;
      setImmediate(() => {
        this.turnDeferred = false;
        this.sendTurn();
      });
      return;
    }
    this.turnPending = true;
    process.nextTick(() => this.sendTurn());
  }

  /**
   * Everything written to this switch in one turn of the event loop leaves in one socket write:
   * the answers to a chunk of PACKET_INs, or the packet-outs of a flood reaching every switch (a
   * burst spent most of the controller's busy time in per-message socket writes). Same bytes,
   * same order.
   */
  private sendTurn(): void {
    this.turnPending = false;
    const w = this.turnOut;
    if (w === undefined || w.pos === 0) return;
    const bytes = w.result();
    w.reset();
    // one big batch (a re-route of thousands of paths) grows the buffer past what a turn needs:
    // let it go rather than keep megabytes per switch for good
    if (w.buf.length > TURN_KEEP_BYTES) this.turnOut = undefined;
    if (this.stateValue === 'closed') return;
    this.stats.txWrites += 1;
    if (!this.socket.write(bytes)) this.blocked = true;
  }

  /** Sends a request and resolves with its reply (all parts, for multipart). */
  request(msg: OfMessage, expects: readonly OfMessageType[], what: string = msg.type): Promise<OfMessage[]> {
    if (this.stateValue === 'closed') return Promise.reject(this.disconnected(what));
    if (this.roleValue === 'SLAVE' && MASTER_ONLY.has(msg.type)) {
      return Promise.reject(new ScoreError('OF_NOT_MASTER', `${what}: this controller is SLAVE on ${this.label()}`, { type: msg.type }));
    }
    const xid = this.tracker.allocate();
    const reply = this.tracker.expect(xid, what, expects);
    this.write({ ...msg, xid });
    return reply;
  }

  /** A multipart request; resolves with every part's body, however many REPLY_MORE parts it took. */
  async multipart<K extends MultipartKind>(
    body: Extract<MultipartRequestBody, { kind: K }>,
  ): Promise<Extract<MultipartReplyBody, { kind: K }>[]> {
    const parts = await this.request({ type: 'MULTIPART_REQUEST', xid: 0, flags: 0, body }, ['MULTIPART_REPLY'], `${body.kind} multipart request`);
    return mergeMultipart<K>(body.kind, parts);
  }

  /**
   * One barrier shared by every caller until it is sent: at the end of the received chunk being
   * handled (inside the same write as the answers to it), else a microtask later. Resolves once
   * the switch has processed everything sent before the call. A burst of packet-ins, each
   * installing rules to confirm, costs one barrier (one request, one timer, one reply) per
   * chunk instead of one per packet-in.
   */
  barrierSoon(): Promise<void> {
    if (this.nextBarrier !== undefined) return this.nextBarrier.promise;
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.nextBarrier = { promise, ...settle };
    if (!this.handlingChunk) queueMicrotask(() => this.sendNextBarrier());
    return promise;
  }

  private sendNextBarrier(): void {
    const b = this.nextBarrier;
    if (b === undefined) return;
    this.nextBarrier = undefined;
    this.barrier().then(b.resolve, b.reject);
  }

  /** Resolves once the switch has processed everything sent before it. */
  barrier(): Promise<void> {
    return this.request({ type: 'BARRIER_REQUEST', xid: 0 }, ['BARRIER_REPLY'], 'BARRIER_REQUEST').then(() => undefined);
  }

  /** Ends the connection; safe to call more than once (only the first reason counts). */
  close(reason: ScoreError = new ScoreError('OF_DISCONNECTED', 'closed by the controller', {}), graceful = false): void {
    if (this.stateValue === 'closed') return;
    this.to('closed');
    this.closeReason = reason;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.silenceTimer);
    if (this.echoTimer !== undefined) clearInterval(this.echoTimer);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.tracker.failAll(new ScoreError('OF_DISCONNECTED', `connection closed: ${reason.message}`, { reason: reason.code }, { cause: reason }));
    if (graceful) {
      // what this turn wrote (the final ERROR) goes before the end
      this.turnPending = false;
      if (this.turnOut !== undefined && this.turnOut.pos > 0) {
        this.stats.txWrites += 1;
        this.socket.write(this.turnOut.result());
      }
      this.turnOut?.reset();
      // Lets a final ERROR reach the switch; a peer that never closes its side is cut after 1 s.
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 1000).unref();
      this.socket.once('close', () => clearTimeout(t));
    } else {
      this.socket.destroy();
    }
    const level = reason.code === 'OF_DISCONNECTED' ? 'info' : 'warn';
    this.log(level, `${this.label()}: connection closed (${reason.code}): ${reason.message}`, { code: reason.code, ...reason.details });
    this.emitSafely('close', reason, this.wasReady);
  }

  /** A method, not a field read: the state changes under TypeScript's narrowing (listeners, timers). */
  private isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  private assertOpen(what: string): void {
    if (this.stateValue === 'closed') throw this.disconnected(what);
  }

  private disconnected(what: string): ScoreError {
    return new ScoreError('OF_DISCONNECTED', `${what}: connection to ${this.label()} is closed`, { reason: this.closeReason?.code });
  }

  private write(msg: OfMessage): void {
    this.writeBytes(encodeMessage(msg));
  }

  /** Back-pressure: after write() says false, hold messages until 'drain', within a bound. */
  private writeBytes(bytes: Uint8Array): void {
    if (this.stateValue === 'closed') return;
    this.stats.txMessages += 1;
    if (this.blocked) {
      this.queue.push(bytes);
      this.queuedBytes += bytes.length;
      this.stats.maxQueuedBytes = Math.max(this.stats.maxQueuedBytes, this.queuedBytes);
      if (this.queuedBytes > this.timers.maxQueueBytes) {
        this.close(
          new ScoreError('OF_DISCONNECTED', `send queue over ${this.timers.maxQueueBytes} bytes: the switch is not reading`, {
            queuedBytes: this.queuedBytes,
            maxQueueBytes: this.timers.maxQueueBytes,
          }),
        );
      }
      return;
    }
    const w = this.turnWriter();
    w.bytes(bytes, 'message');
    this.turnWritten(w);
  }

  private flush(): void {
    this.blocked = false;
    while (this.queue.length > 0 && !this.blocked && this.stateValue !== 'closed') {
      const b = this.queue.shift() as Uint8Array;
      this.queuedBytes -= b.length;
      this.stats.txWrites += 1;
      if (!this.socket.write(b)) this.blocked = true;
    }
  }

  /** Answers a message the codec refused (never an ERROR with an ERROR: that could loop). */
  private sendError(xid: number, errType: number, code: number, offending: Uint8Array): void {
    if (offending[1] === OFPT.ERROR) return;
    this.write(errorMsg(xid, errType, code, offending));
  }

  // ---- receiving ------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.stateValue === 'closed') return;
    this.silenceTimer.refresh();
    let items: StreamItem[];
    try {
      items = this.parser.push(chunk);
    } catch (e) {
      this.close(new ScoreError('INTERNAL', `stream parser threw: ${String(e)}`, {}, { cause: e }));
      return;
    }
    // the answers to the messages of one chunk leave in one write (writeBytes corks until the
    // turn ends), with one barrier for all of them at the end
    this.handlingChunk = true;
    const outer = reading;
    reading = this.serial;
    try {
      for (const item of items) {
        if (this.isClosed()) return;
        try {
          this.onItem(item);
        } catch (e) {
          // A bug here or in a listener must not take the process, or other switches, down.
          this.log('error', `${this.label()}: handling a message failed: ${String(e)}`, { error: isScoreError(e) ? e.toJSON() : String(e) });
        }
      }
    } finally {
      this.handlingChunk = false;
      this.sendNextBarrier();
      reading = outer;
    }
  }

  private onItem(item: StreamItem): void {
    if (item.kind === 'fatal') {
      this.log('error', `${this.label()}: unreadable stream (${item.error.code}): ${item.error.message}`, { ...item.error.details });
      this.close(item.error);
      return;
    }
    if (item.kind === 'error') {
      this.onMalformed(item.error, item.raw, item.xid, item.msgType);
      return;
    }
    this.onMessage(item.message);
  }

  private onMalformed(error: ScoreError, raw: Uint8Array, xid: number, msgType: number): void {
    this.stats.malformed += 1;
    const typeName = nameOf(OFPT, msgType) ?? `type ${msgType}`;
    this.log('warn', `${this.label()}: malformed ${typeName} (xid ${xid}, ${error.code}): ${error.message}`, { code: error.code, bytes: hex(raw) });
    if (this.stateValue === 'hello' && msgType === OFPT.HELLO) {
      // A HELLO whose elements we cannot read still has a version in its header: negotiate on that.
      this.negotiate(raw[0] as number, undefined);
      return;
    }
    const { errType, code } = errorReplyFor(error);
    this.sendError(xid, errType, code, raw);
    // A reply we cannot read must fail its request now rather than time out later.
    this.tracker.fail(xid, error);
  }

  private onMessage(m: OfMessage): void {
    this.stats.rxMessages += 1;
    const seq = ++this.seq;
    // only the handshake asks which message came first
    if (this.stateValue !== 'ready') this.seqOf.set(m, seq);
    if (this.stateValue === 'hello') {
      if (m.type !== 'HELLO') {
        this.close(new ScoreError('OF_HANDSHAKE', `expected HELLO first, got ${m.type}`, { type: m.type }));
        return;
      }
      const bitmap = m.elements.find((e) => e.type === 'VERSIONBITMAP');
      this.negotiate(m.version ?? OFP_VERSION, bitmap?.versions);
      return;
    }
    switch (m.type) {
      case 'HELLO':
        this.log('debug', `${this.label()}: extra HELLO ignored`);
        return;
      case 'ECHO_REQUEST':
        this.stats.echoRequestsAnswered += 1;
        this.write(echoReply(m));
        return;
      case 'ECHO_REPLY': {
        const sentAt = this.echoOut.get(m.xid);
        if (sentAt !== undefined) {
          this.echoOut.delete(m.xid);
          this.stats.echoReplies += 1;
          this.stats.lastEchoRttMs = performance.now() - sentAt;
        }
        return;
      }
      default:
        break;
    }
    if (m.type === 'ERROR' && m.errType === OFPET.BAD_REQUEST && m.code === OFPBRC.IS_SLAVE && this.roleValue !== 'SLAVE') {
      // The switch made another controller MASTER (OpenFlow 1.3 has no ROLE_STATUS to tell us):
      // its refusal is how a demoted master learns it, and from now on we refuse writes ourselves.
      this.setRole('SLAVE', this.generation);
    }
    if (this.tracker.offer(m)) return;
    if (m.type === 'ERROR') {
      this.stats.switchErrors += 1;
      const what = this.tracker.describe(m.xid) ?? (m.xid === 0 ? 'an unsolicited message' : 'a message we no longer remember');
      this.log('warn', `${this.label()}: switch ERROR ${describeError(m.errType, m.code)} for ${what} (xid ${m.xid})`, {
        errType: m.errType,
        code: m.code,
        data: hex(m.data),
      });
      if (this.stateValue === 'ready' && m.xid !== 0) this.emit('message', m);
      return;
    }
    if (ASYNC.has(m.type)) {
      if (this.stateValue === 'ready') this.deliver(m);
      // The handshake resumes a microtask after its last reply, so messages right behind that
      // reply in the same TCP chunk land here first: keep them, and sort them out when ready.
      else {
        const bytes = 64 + (m.type === 'PACKET_IN' ? m.data.length : 0);
        if (this.early.length < EARLY_MAX && this.earlyBytes + bytes <= EARLY_MAX_BYTES) {
          // a small frame is a view into the decoder's shared slab: held, it would keep the whole
          // slab alive past the bound above; so a held one gets its own copy
          this.early.push({ seq, m: m.type === 'PACKET_IN' ? { ...m, data: m.data.slice() } : m });
          this.earlyBytes += bytes;
        } else this.log('warn', `${this.label()}: ${m.type} before ready dropped (over ${EARLY_MAX} messages or ${EARLY_MAX_BYTES} bytes waiting)`);
      }
      return;
    }
    if (CONTROLLER_ONLY.has(m.type)) {
      this.log('warn', `${this.label()}: switch sent ${m.type}, a controller-to-switch message`);
      this.sendError(m.xid, OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE, encodeMessage(m));
      return;
    }
    if (m.type === 'EXPERIMENTER') {
      this.sendError(m.xid, OFPET.BAD_REQUEST, OFPBRC.BAD_EXPERIMENTER, encodeMessage(m));
      return;
    }
    this.log('debug', `${this.label()}: unexpected ${m.type} (xid ${m.xid}) dropped (late reply?)`);
  }

  /**
   * OpenFlow 1.3 section 6.3.1: with both bitmaps, the highest common version; without the
   * peer's, the smaller of the two header versions.
   */
  private negotiate(peerVersion: number, bitmap: readonly number[] | undefined): void {
    const ok = bitmap !== undefined ? bitmap.includes(OFP_VERSION) : peerVersion >= OFP_VERSION;
    if (!ok) {
      const offers = bitmap !== undefined ? `versions [${bitmap.map((v) => `0x${v.toString(16)}`).join(', ')}]` : `version 0x${peerVersion.toString(16)}`;
      const text = `S-CORE speaks OpenFlow 1.3 (0x04) only; the switch offers ${offers}`;
      // Not the errorMsg builder: it cuts data to 64 bytes, which suits a copied request, not this text.
      const err = encodeMessage({ type: 'ERROR', xid: 0, errType: OFPET.HELLO_FAILED, code: OFPHFC.INCOMPATIBLE, data: new TextEncoder().encode(text) });
      // The codec writes 0x04 into every header but HELLO's; the peer reads this ERROR in its own
      // version (HELLO_FAILED's layout is the same in every version), so patch the byte.
      err[0] = Math.min(peerVersion, OFP_VERSION);
      this.writeBytes(err);
      this.close(new ScoreError('OF_HANDSHAKE', text, { peerVersion, bitmap }), true);
      return;
    }
    this.to('features');
    void this.handshake();
  }

  private async handshake(): Promise<void> {
    try {
      const [reply] = await this.request({ type: 'FEATURES_REQUEST', xid: 0 }, ['FEATURES_REPLY']);
      if (reply?.type !== 'FEATURES_REPLY' || this.stateValue === 'closed') return;
      if (reply.auxiliaryId !== 0) {
        throw new ScoreError('OF_HANDSHAKE', `auxiliary connection ${reply.auxiliaryId} refused (only main connections are used)`, {});
      }
      this.features = reply;
      this.dpid = reply.datapathId;
      this.options.onDpid?.(this, reply.datapathId);
      if (this.isClosed()) return;
      this.to('port-desc');
      this.post({ type: 'SET_CONFIG', xid: 0, flags: 0, missSendLen: OFPCML.NO_BUFFER }, 'SET_CONFIG miss_send_len=NO_BUFFER');
      const parts = await this.request({ type: 'MULTIPART_REQUEST', xid: 0, flags: 0, body: { kind: 'PORT_DESC' } }, ['MULTIPART_REPLY'], 'PORT_DESC multipart request');
      if (this.stateValue !== 'port-desc') return;
      // A port status sent before its PORT_DESC reply, the reply already reflects. Packet-ins
      // and flow-removeds are news whenever they came (a host's first packet, during the
      // handshake, must not be lost).
      const cutoff = this.seqOf.get(parts[parts.length - 1] as OfMessage) ?? 0;
      const later = this.early.filter((e) => e.m.type !== 'PORT_STATUS' || e.seq > cutoff).map((e) => e.m);
      this.early = [];
      this.earlyBytes = 0;
      for (const b of mergeMultipart('PORT_DESC', parts)) for (const p of b.ports) this.ports.set(p.portNo, p);
      this.to('ready');
      this.wasReady = true;
      clearTimeout(this.handshakeTimer);
      this.echoTimer = setInterval(() => this.echo(), this.timers.echoIntervalMs).unref();
      this.log('debug', `${this.label()}: ready (${this.remote}, ${this.ports.size} ports, ${reply.nTables} tables)`);
      this.emitSafely('ready');
      for (const m of later) {
        if (this.isClosed()) break;
        try {
          this.deliver(m);
        } catch (e) {
          this.log('error', `${this.label()}: a 'message' listener threw: ${String(e)}`, {});
        }
      }
    } catch (e) {
      if (this.stateValue === 'closed') return;
      const err = isScoreError(e) ? e : new ScoreError('INTERNAL', String(e), {}, { cause: e });
      this.close(err.code === 'OF_HANDSHAKE' ? err : new ScoreError('OF_HANDSHAKE', `handshake failed: ${err.message}`, { cause: err.code }, { cause: err }));
    }
  }

  private deliver(m: OfMessage): void {
    if (m.type === 'PORT_STATUS') {
      if (m.reason === OFPPR.DELETE) this.ports.delete(m.desc.portNo);
      else this.ports.set(m.desc.portNo, m.desc);
    }
    this.emit('message', m);
  }

  private echo(): void {
    if (this.stateValue !== 'ready') return;
    const xid = this.tracker.allocate();
    this.echoOut.set(xid, performance.now());
    if (this.echoOut.size > ECHO_MEMORY) {
      const oldest = this.echoOut.keys().next().value;
      if (oldest !== undefined) this.echoOut.delete(oldest);
    }
    this.stats.echoSent += 1;
    this.write({ type: 'ECHO_REQUEST', xid, data: new Uint8Array(0) });
  }

  private to(next: ConnectionState): void {
    if (!TRANSITIONS[this.stateValue].includes(next)) {
      throw new ScoreError('INTERNAL', `connection state ${this.stateValue} -> ${next} is not allowed`, { from: this.stateValue, to: next });
    }
    this.stateValue = next;
  }

  private emitSafely<K extends keyof ConnectionEvents>(event: K, ...args: ConnectionEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: ConnectionEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this.log('error', `${this.label()}: a '${event}' listener threw: ${String(e)}`, { error: isScoreError(e) ? e.toJSON() : String(e) });
    }
  }
}

function definedOnly(o: ConnectionOptions): Partial<ConnectionTimers> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(DEFAULT_TIMERS) as (keyof ConnectionTimers)[]) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
