/**
 * What the controller's modules decide, as data. The OpenFlow shim turns these into FLOW_MOD and
 * PACKET_OUT messages for a real switch; the simulated data plane and the tests' fake switches
 * execute them directly. Keeping decisions as data is what lets the same modules run unchanged
 * over every data plane.
 */
export type Dpid = bigint;

export interface FlowMatch {
  readonly inPort?: number;
  readonly ethSrc?: string;
  readonly ethDst?: string;
  readonly ethType?: number;
}

export type FlowAction =
  | { readonly type: 'output'; readonly port: number }
  /** to the controller, whole packet (no buffering) */
  | { readonly type: 'controller' };

export interface FlowRule {
  readonly priority: number;
  readonly match: FlowMatch;
  /** empty = drop */
  readonly actions: readonly FlowAction[];
  readonly cookie: bigint;
  /** seconds without a packet before the switch removes the rule; 0 = never */
  readonly idleTimeout: number;
  /** always 0 for path rules: the byte counters must keep counting */
  readonly hardTimeout: number;
}

export type SwitchCommand =
  | { readonly kind: 'flow-add'; readonly dpid: Dpid; readonly rule: FlowRule }
  /** removes every rule whose cookie matches under the mask: a path goes as a whole */
  | { readonly kind: 'flow-delete'; readonly dpid: Dpid; readonly cookie: bigint; readonly cookieMask: bigint }
  | { readonly kind: 'packet-out'; readonly dpid: Dpid; readonly inPort?: number; readonly ports: readonly number[]; readonly frame: Uint8Array };

export interface PortRef {
  readonly dpid: Dpid;
  readonly port: number;
}

export function portKey(p: PortRef): string {
  return `${p.dpid.toString(16)}:${p.port}`;
}

/** 00:00:00:00:00:00:0c:01, the way Open vSwitch prints a datapath id */
export function formatDpid(dpid: Dpid): string {
  return dpid
    .toString(16)
    .padStart(16, '0')
    .replace(/(..)(?!$)/g, '$1:');
}

/** Cookie space: the top byte marks S-CORE's path rules, so a cookie mask can clear them all. */
export const PATH_COOKIE_TAG = 0x5c00_0000_0000_0000n;
export const PATH_COOKIE_TAG_MASK = 0xff00_0000_0000_0000n;
export const ALL_ONES_64 = 0xffff_ffff_ffff_ffffn;
