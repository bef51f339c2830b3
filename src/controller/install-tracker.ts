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
  /** path cookie -> the switches that have not confirmed its rule yet */
  readonly unconfirmed: Map<bigint, Set<Dpid>>;
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

/** The rules of `cookie` were just sent to `dpids`. */
export function expectConfirmation(s: InstallState, cookie: bigint, dpids: Iterable<Dpid>): void {
  const set = s.unconfirmed.get(cookie) ?? new Set<Dpid>();
  for (const d of dpids) set.add(d);
  s.unconfirmed.set(cookie, set);
}

export function forgetCookie(s: InstallState, cookie: bigint): void {
  s.unconfirmed.delete(cookie);
}

export function isConfirmed(s: InstallState, cookie: bigint): boolean {
  return !s.unconfirmed.has(cookie);
}

/** True while the direction is waiting out its back-off. */
export function inBackoff(s: InstallState, key: string, now: number): boolean {
  const b = s.backoff.get(key);
  return b !== undefined && now < b.retryAt;
}

/**
 * `dpid` accepted the rule of `cookie`. Returns the back-off the direction had when this
 * completed its installation (the path had been refused before), else undefined.
 */
export function onAccepted(s: InstallState, key: string | undefined, cookie: bigint, dpid: Dpid): Backoff | undefined {
  const set = s.unconfirmed.get(cookie);
  if (set === undefined) return undefined;
  set.delete(dpid);
  if (set.size > 0) return undefined;
  s.unconfirmed.delete(cookie);
  if (key === undefined) return undefined;
  const b = s.backoff.get(key);
  s.backoff.delete(key);
  return b;
}

/** A switch refused the direction's rule: schedules the next try. Returns the wait in ms. */
export function onRefused(s: InstallState, key: string, cookie: bigint, now: number, error: string, dpid?: Dpid): number {
  s.unconfirmed.delete(cookie);
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
