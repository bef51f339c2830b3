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

/**
 * A path cookie's layout (64 bits): tag (8) | generation (24) | path id (32). The generation is the
 * cluster leader's generation id (its etcd election revision) modulo 2^24, 0 for a single
 * controller, so a new leader's rules never share a cookie with its predecessor's and the
 * predecessor's can be deleted as a whole by cookie and mask (OFPFC_DELETE with cookie_mask,
 * OpenFlow 1.3.5 section 7.3.4.1) once the new ones are in: make before break at a takeover.
 * Two generations 2^24 apart share a slot; etcd revisions of two successive leaders are not.
 */
export const COOKIE_GENERATION_BITS = 24n;
export const COOKIE_GENERATION_SHIFT = 32n;
const GENERATION_SLOTS = 1n << COOKIE_GENERATION_BITS;
/** tag and generation: the mask that selects one generation's path rules */
export const GENERATION_COOKIE_MASK = PATH_COOKIE_TAG_MASK | ((GENERATION_SLOTS - 1n) << COOKIE_GENERATION_SHIFT);
const PATH_ID_MASK = (1n << COOKIE_GENERATION_SHIFT) - 1n;

/** A generation id's slot in the cookie (0 ≤ slot < 2^24): its low 24 bits. */
export function generationSlot(generation: bigint): bigint {
  return generation & (GENERATION_SLOTS - 1n);
}

/** The cookie of path `id` (1 ≤ id < 2^32) of a generation slot. */
export function pathCookie(slot: bigint, id: bigint): bigint {
  return PATH_COOKIE_TAG | (slot << COOKIE_GENERATION_SHIFT) | (id & PATH_ID_MASK);
}

/**
 * The path id (1 ≤ id < 2^32) of a path cookie, as a number: the controller keys its paths by it,
 * since a BigInt key is a heap object per entry and hashed digit by digit on every lookup.
 */
export function pathIdOf(cookie: bigint): number {
  return Number(cookie & PATH_ID_MASK);
}

/** The cookie value (under GENERATION_COOKIE_MASK) of every path rule of a generation slot. */
export function generationCookie(slot: bigint): bigint {
  return PATH_COOKIE_TAG | (slot << COOKIE_GENERATION_SHIFT);
}

/** The generation slot of a path rule's cookie, or null for a cookie that is not a path rule's. */
export function slotOfCookie(cookie: bigint): bigint | null {
  if ((cookie & PATH_COOKIE_TAG_MASK) !== PATH_COOKIE_TAG) return null;
  return (cookie >> COOKIE_GENERATION_SHIFT) & (GENERATION_SLOTS - 1n);
}
