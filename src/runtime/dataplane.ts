import type { Dpid, SwitchCommand } from '../controller/commands.ts';
import type { FlowStatEntry, PortStatEntry } from '../controller/controller.ts';
import type { SwitchPortInfo } from '../controller/discovery.ts';

/**
 * What the controller runtime needs from a data plane, and what every data plane provides: the
 * OpenFlow 1.3 server for real switches, the simulated (in-memory) data plane, test fakes.
 */
export interface SwitchChannel {
  readonly dpid: Dpid;
  readonly ports: readonly SwitchPortInfo[];
  send(commands: readonly SwitchCommand[]): void;
  /**
   * The switch's flows (OpenFlow 1.3.5 section 7.3.5.2, every table), or with `filter` only those
   * whose cookie matches it under the mask (the request's cookie and cookie_mask, section 7.3.4.1):
   * the switch selects them, so a large table is not sent whole. A data plane without a switch-side
   * filter may return more; callers check the cookies they get.
   */
  flowStats(filter?: CookieFilter): Promise<FlowStatEntry[]>;
  portStats(): Promise<PortStatEntry[]>;
}

/** Flows whose cookie & mask equals cookie & mask. */
export interface CookieFilter {
  readonly cookie: bigint;
  readonly cookieMask: bigint;
}

export interface DataPlaneEvents {
  switchUp(channel: SwitchChannel): void;
  switchDown(dpid: Dpid): void;
  packetIn(dpid: Dpid, inPort: number, frame: Uint8Array): void;
  portStatus(dpid: Dpid, port: SwitchPortInfo, reason: 'add' | 'delete' | 'modify'): void;
  flowRemoved(dpid: Dpid, cookie: bigint): void;
  /** the switch refused a flow-add of ours (an ERROR answering its FLOW_MOD) */
  flowRejected(dpid: Dpid, cookie: bigint, error: string): void;
  /** the switch confirmed (barrier) that it holds the rules of these cookies */
  flowsAccepted(dpid: Dpid, cookies: readonly bigint[]): void;
}

export interface DataPlane {
  start(events: DataPlaneEvents): Promise<void>;
  stop(): Promise<void>;
}
