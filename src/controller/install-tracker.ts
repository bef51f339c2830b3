import type { Dpid } from './commands.ts';

/**
 * Whether a path is really in the switches. Sending FLOW_MODs is not installing them: a switch
 * may refuse one (a full table, a match it cannot do) and says so only with an OFPT_ERROR
 * carrying the refused message's xid (OpenFlow 1.3.5 section 6.4). The data plane follows each
 * batch with a barrier, so for every switch a path crosses we learn either "refused" (ERROR
 * before the BARRIER_REPLY) or "accepted" (the BARRIER_REPLY with no ERROR for it). A path is
 * installed when every switch on it accepted; a refused path is taken out of every switch,
 * reported, and tried again after an exponential back-off (base, 2 base, 4 base, ... up to max),
 * so it lands as soon as the switch has room again. Pure: times are the caller's `now` (ms).
 */
export interface Backoff {
  attempts: number;
  /** ms; the path is not tried before this */
  retryAt: number;
  lastError: string;
  /** the cookie of the path last refused, and the switch that refused it */
  cookie?: bigint;
  refusedBy?: Dpid;
}

export interface InstallState {
  /**
   * path id (commands.ts pathIdOf) -> the switches that have not confirmed its rule yet. An array,
   * not a Set: a path crosses a few switches, and a Set per new path (cbench: thousands a second)
   * was a large part of the garbage. A number key, not the BigInt cookie, for the same reason.
   */
  readonly unconfirmed: Map<number, Dpid[]>;
  /** direction key (`src>dst`) -> its back-off after a refusal */
  readonly backoff: Map<string, Backoff>;
  readonly baseMs: number;
  readonly maxMs: number;
  /** refused paths since start */
  rejections: number;
}

export function createInstallState(baseMs = 1_000, maxMs = 30_000): InstallState {
  return { unconfirmed: new Map(), backoff: new Map(), baseMs, maxMs, rejections: 0 };
}

/**
 * The rules of path `id` were just sent to `dpids`. The array is kept (not copied) when the path
 * had no switch waiting: the caller hands over a fresh one.
 */
export function expectConfirmation(s: InstallState, id: number, dpids: Dpid[]): void {
  const waiting = s.unconfirmed.get(id);
  if (waiting === undefined) {
    s.unconfirmed.set(id, dpids);
    return;
  }
  for (const d of dpids) if (!waiting.includes(d)) waiting.push(d);
}

export function forgetPath(s: InstallState, id: number): void {
  s.unconfirmed.delete(id);
}

export function isConfirmed(s: InstallState, id: number): boolean {
  return !s.unconfirmed.has(id);
}

/** Whether any path waits for `dpid` to confirm its rule. */
export function waitsOn(s: InstallState, dpid: Dpid): boolean {
  for (const waiting of s.unconfirmed.values()) if (waiting.includes(dpid)) return true;
  return false;
}

/** True while the direction is waiting out its back-off. */
export function inBackoff(s: InstallState, key: string, now: number): boolean {
  const b = s.backoff.get(key);
  return b !== undefined && now < b.retryAt;
}

/**
 * `dpid` accepted the rule of path `id`, the direction `key`'s. Returns the back-off the direction
 * had when this completed its installation (the path had been refused before), else undefined.
 */
export function onAccepted(s: InstallState, key: string, id: number, dpid: Dpid): Backoff | undefined {
  const waiting = s.unconfirmed.get(id);
  if (waiting === undefined) return undefined;
  const i = waiting.indexOf(dpid);
  if (i >= 0) {
    waiting[i] = waiting[waiting.length - 1]!;
    waiting.pop();
  }
  if (waiting.length > 0) return undefined;
  s.unconfirmed.delete(id);
  const b = s.backoff.get(key);
  s.backoff.delete(key);
  return b;
}

/** A switch refused the direction's rule (path `id`, `cookie`): schedules the next try. Returns the wait in ms. */
export function onRefused(s: InstallState, key: string, id: number, cookie: bigint, now: number, error: string, dpid?: Dpid): number {
  s.unconfirmed.delete(id);
  s.rejections += 1;
  const b: Backoff = s.backoff.get(key) ?? { attempts: 0, retryAt: now, lastError: error };
  const wait = Math.min(s.maxMs, s.baseMs * 2 ** b.attempts);
  b.attempts += 1;
  b.retryAt = now + wait;
  b.lastError = error;
  b.cookie = cookie;
  if (dpid === undefined) delete b.refusedBy;
  else b.refusedBy = dpid;
  s.backoff.set(key, b);
  return wait;
}

/** Directions whose back-off is over, to try again now. */
export function dueRetries(s: InstallState, now: number): string[] {
  return [...s.backoff].filter(([, b]) => now >= b.retryAt).map(([k]) => k);
}
