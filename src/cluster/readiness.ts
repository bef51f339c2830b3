/**
 * Whether this member, as leader, can re-route a VM now: the answer of `GET /api/v1/cluster/ready`
 * (forwarded to the leader by any member), which an agent waits for before it switches a VM over
 * (agent/drivers/driver.ts MigrationHooks.awaitControl). A switch-over reported to a leader that
 * is not MASTER yet, or that has not re-discovered its predecessor's links, would be taken but not
 * routed until it is; waited for instead, the VM runs on at its source meanwhile.
 */
import type { StandbySwitch } from './role-plane.ts';
import type { MemberRole } from './member.ts';

export interface ReadinessInput {
  readonly memberId: string;
  readonly role: MemberRole;
  readonly generation: bigint | undefined;
  /** this member's role on each connected switch (role-plane.ts switchesView) */
  readonly switches: readonly StandbySwitch[];
  /** switches and links the runtime (discovery) holds now */
  readonly runtimeSwitches: number;
  readonly links: number;
  /**
   * what the previous leader's published view had when this member was elected; 'pending' while
   * it is being read (the view is not republished meanwhile); none for a cluster's first leader
   */
  readonly expected: { readonly switches: number; readonly links: number } | 'pending';
  /**
   * the catch-up with the previous leader's view is over: reached once this term (latched), or
   * its bound passed (cluster/attach.ts CATCH_UP_MS). The view is a plain put that may be from an
   * earlier run or name a switch or link that is gone for good: after that, only MASTER on the
   * switches connected now is required.
   */
  readonly caughtUp?: boolean;
}

export interface Readiness {
  readonly ready: boolean;
  readonly member: string;
  readonly generation: string | null;
  readonly switches: { readonly master: number; readonly connected: number; readonly discovered: number; readonly expected: number | null };
  readonly links: { readonly discovered: number; readonly expected: number | null };
  /** the previous leader's switches and links are back, or no longer waited for (ReadinessInput.caughtUp) */
  readonly caughtUp: boolean;
  /** why not ready (empty when ready) */
  readonly reason: string;
}

/**
 * Pure: ready when leader, MASTER and handed to the runtime on every connected switch, and (until
 * the catch-up is over, `caughtUp`) as many switches and links as the previous leader's view.
 */
export function readiness(i: ReadinessInput): Readiness {
  const master = i.switches.filter((s) => s.role === 'MASTER' && s.active).length;
  const over = i.caughtUp === true;
  const exp = i.expected === 'pending' ? null : i.expected;
  const behind = !over && exp !== null && (i.runtimeSwitches < exp.switches || i.links < exp.links);
  let reason = '';
  if (i.role !== 'leader') reason = `${i.memberId} is not the leader`;
  else if (i.expected === 'pending' && !over) reason = 'reading the previous leader\'s view';
  else if (i.switches.length === 0) reason = 'no switch connected';
  else if (master < i.switches.length) reason = `MASTER on ${master} of ${i.switches.length} connected switches`;
  else if (!over && exp !== null && i.runtimeSwitches < exp.switches) reason = `${i.runtimeSwitches} of ${exp.switches} switches back`;
  else if (!over && exp !== null && i.links < exp.links) reason = `${i.links} of ${exp.links} links re-discovered`;
  return {
    ready: reason === '',
    member: i.memberId,
    generation: i.generation?.toString() ?? null,
    switches: { master, connected: i.switches.length, discovered: i.runtimeSwitches, expected: exp?.switches ?? null },
    links: { discovered: i.links, expected: exp?.links ?? null },
    caughtUp: over || (i.expected !== 'pending' && !behind),
    reason,
  };
}

/**
 * The catch-up state of one leadership term (ReadinessInput.caughtUp): over once the readiness
 * of this term reported it caught up (latched until the next election), or once `boundMs` passed
 * since the election. `now` in ms (Date.now in production).
 */
export function catchUpLatch(boundMs: number, now: () => number = Date.now): { elected(): void; over(): boolean; saw(r: Readiness, leader: boolean): void } {
  let electedAt = now();
  let latched = false;
  return {
    elected() {
      electedAt = now();
      latched = false;
    },
    over: () => latched || now() - electedAt >= boundMs,
    saw(r, leader) {
      if (leader && r.caughtUp) latched = true;
    },
  };
}
