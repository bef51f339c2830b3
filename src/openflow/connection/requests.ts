/**
 * Request/reply bookkeeping for one switch connection: transaction ids, per-request timeouts,
 * multipart reassembly across OFPMPF_REPLY_MORE parts, and a short memory of fire-and-forget
 * messages so a later OFPT_ERROR can say which of our messages the switch refused.
 * No sockets here: the connection hands replies in and is told what to send.
 */
import { ScoreError } from '../../errors/errors.ts';
import { OFPMPF, describeError } from '../constants.ts';
import type { ErrorMsg, MultipartReplyBody, OfMessage, OfMessageType } from '../messages.ts';

type Settle = { resolve: (m: OfMessage[]) => void; reject: (e: ScoreError) => void };

interface Pending extends Settle {
  readonly xid: number;
  readonly what: string;
  /** reply types that answer this request */
  readonly expects: ReadonlySet<OfMessageType>;
  readonly parts: OfMessage[];
  readonly timer: NodeJS.Timeout;
}

/** How many fire-and-forget xids are remembered for error reports (oldest forgotten first). */
const SENT_MEMORY = 1024;
/**
 * parts of one multipart reply at most: a part is at most 64 KiB, so this bounds one reply near
 * 512 MiB, far past a real table (OVS packs ~600 flow entries a part: 8,192 parts ~ 5 M rules)
 */
export const MAX_REPLY_PARTS = 8192;

export class RequestTracker {
  private nextXid = 1;
  private readonly pending = new Map<number, Pending>();
  /**
   * the newest SENT_MEMORY remembered messages, oldest overwritten first: a ring rather than a
   * Map, since one is remembered per message sent and looked up only when a switch refuses one
   */
  private readonly sentXid = new Float64Array(SENT_MEMORY).fill(-1);
  private readonly sentWhat: (string | ((arg: never) => string) | undefined)[] = new Array<undefined>(SENT_MEMORY).fill(undefined);
  /** what a remembered describe function is called with */
  private readonly sentArg: unknown[] = new Array<undefined>(SENT_MEMORY).fill(undefined);
  private sentNext = 0;

  constructor(private readonly timeoutMs: number) {}

  get size(): number {
    return this.pending.size;
  }

  /** A fresh xid: never 0 (the codec's default, used by unsolicited messages), never one in use. */
  allocate(): number {
    for (;;) {
      const xid = this.nextXid;
      this.nextXid = this.nextXid >= 0xffffffff ? 1 : this.nextXid + 1;
      if (!this.pending.has(xid)) return xid;
    }
  }

  /**
   * Remembers a message we sent without waiting for a reply, e.g. a FLOW_MOD. `what`: its
   * description, or how to make it: a function, called with `arg` only if it is asked for.
   */
  remember<T>(xid: number, what: string | ((arg: T) => string), arg?: T): void {
    this.sentXid[this.sentNext] = xid;
    this.sentWhat[this.sentNext] = what;
    this.sentArg[this.sentNext] = arg;
    this.sentNext = (this.sentNext + 1) % SENT_MEMORY;
  }

  /**
   * Registers a request and returns the promise of its reply messages (several for a multipart
   * reply). The timer restarts with every part, so a long reply that keeps coming is not cut off.
   */
  expect(xid: number, what: string, expects: readonly OfMessageType[], timeoutMs = this.timeoutMs): Promise<OfMessage[]> {
    return new Promise<OfMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new ScoreError('OF_TIMEOUT', `${what} (xid ${xid}): no reply within ${timeoutMs} ms`, { xid, what, timeoutMs }));
      }, timeoutMs);
      timer.unref();
      this.pending.set(xid, { xid, what, expects: new Set(expects), parts: [], timer, resolve, reject });
    });
  }

  /**
   * Offers a received message. Returns true when it answered one of our requests (it is then
   * consumed here), false when the caller should handle it as unsolicited.
   */
  offer(m: OfMessage): boolean {
    const p = this.pending.get(m.xid);
    if (m.type === 'ERROR') {
      if (p === undefined) return false;
      this.settle(p, switchError(m, p.what));
      return true;
    }
    if (p === undefined || !p.expects.has(m.type)) return false;
    p.parts.push(m);
    if (m.type === 'MULTIPART_REPLY') {
      if ((m.flags & OFPMPF.REPLY_MORE) !== 0) {
        // each part restarts the timer, so without a bound a switch could stream one reply forever
        if (p.parts.length >= MAX_REPLY_PARTS) {
          this.settle(p, new ScoreError('OF_REPLY_TOO_LARGE', `${p.what} (xid ${m.xid}): more than ${MAX_REPLY_PARTS} parts and still more to come`, { xid: m.xid, parts: p.parts.length }));
          return true;
        }
        p.timer.refresh();
        return true;
      }
    }
    this.settle(p, p.parts);
    return true;
  }

  /** A reply the codec could not decode: fail the request now instead of letting it time out. */
  fail(xid: number, error: ScoreError): boolean {
    const p = this.pending.get(xid);
    if (p === undefined) return false;
    this.settle(p, new ScoreError(error.code, `${p.what} (xid ${xid}): undecodable reply: ${error.message}`, { ...error.details, xid }, { cause: error }));
    return true;
  }

  /** What we sent with this xid, for error reports. */
  describe(xid: number): string | undefined {
    const p = this.pending.get(xid);
    if (p !== undefined) return p.what;
    // newest first: an xid remembered twice (after wrapping around) is the later message
    for (let k = 1; k <= SENT_MEMORY; k++) {
      const i = (this.sentNext - k + SENT_MEMORY) % SENT_MEMORY;
      if (this.sentXid[i] !== xid) continue;
      const what = this.sentWhat[i] as string | ((arg: unknown) => string) | undefined;
      return typeof what === 'function' ? what(this.sentArg[i]) : what;
    }
    return undefined;
  }

  /** Connection gone: every waiting request fails with the reason. */
  failAll(reason: ScoreError): void {
    for (const p of [...this.pending.values()]) {
      this.settle(p, new ScoreError(reason.code, `${p.what} (xid ${p.xid}): ${reason.message}`, { ...reason.details, xid: p.xid }, { cause: reason }));
    }
    this.sentXid.fill(-1);
    this.sentWhat.fill(undefined);
    this.sentArg.fill(undefined);
  }

  private settle(p: Pending, result: OfMessage[] | ScoreError): void {
    clearTimeout(p.timer);
    this.pending.delete(p.xid);
    if (result instanceof ScoreError) p.reject(result);
    else p.resolve(result);
  }
}

export function switchError(m: ErrorMsg, what: string): ScoreError {
  const name = describeError(m.errType, m.code);
  return new ScoreError('OF_SWITCH_ERROR', `switch refused ${what} (xid ${m.xid}): ${name}`, {
    xid: m.xid,
    errType: m.errType,
    code: m.code,
    name,
    data: Buffer.from(m.data).toString('hex'),
  });
}

/** Joins the bodies of a multipart reply's parts into one body of the same kind. */
export function mergeMultipart<K extends MultipartReplyBody['kind']>(kind: K, parts: readonly OfMessage[]): Extract<MultipartReplyBody, { kind: K }>[] {
  const out: Extract<MultipartReplyBody, { kind: K }>[] = [];
  for (const m of parts) {
    if (m.type !== 'MULTIPART_REPLY' || m.body.kind !== kind) {
      throw new ScoreError('OF_BAD_VALUE', `expected a ${kind} multipart reply, got ${m.type === 'MULTIPART_REPLY' ? m.body.kind : m.type}`, { xid: m.xid });
    }
    out.push(m.body as Extract<MultipartReplyBody, { kind: K }>);
  }
  return out;
}
