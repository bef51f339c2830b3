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
}

export interface Readiness {
  readonly ready: boolean;
  readonly member: string;
  readonly generation: string | null;
  readonly switches: { readonly master: number; readonly connected: number; readonly discovered: number; readonly expected: number | null };
  readonly links: { readonly discovered: number; readonly expected: number | null };
  /** why not ready (empty when ready) */
  readonly reason: string;
}

/** Pure: ready when leader, MASTER and handed to the runtime on every connected switch, and as many switches and links as the previous leader's view. */
export function readiness(i: ReadinessInput): Readiness {
  const master = i.switches.filter((s) => s.role === 'MASTER' && s.active).length;
  const exp = i.expected === 'pending' ? null : i.expected;
  let reason = '';
  if (i.role !== 'leader') reason = `${i.memberId} is not the leader`;
  else if (i.expected === 'pending') reason = 'reading the previous leader\'s view';
  else if (i.switches.length === 0) reason = 'no switch connected';
  else if (master < i.switches.length) reason = `MASTER on ${master} of ${i.switches.length} connected switches`;
  else if (exp !== null && i.runtimeSwitches < exp.switches) reason = `${i.runtimeSwitches} of ${exp.switches} switches back`;
  else if (exp !== null && i.links < exp.links) reason = `${i.links} of ${exp.links} links re-discovered`;
  return {
    ready: reason === '',
    member: i.memberId,
    generation: i.generation?.toString() ?? null,
    switches: { master, connected: i.switches.length, discovered: i.runtimeSwitches, expected: exp?.switches ?? null },
    links: { discovered: i.links, expected: exp?.links ?? null },
    reason,
  };
}
