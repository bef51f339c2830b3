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
  flowStats(): Promise<FlowStatEntry[]>;
  portStats(): Promise<PortStatEntry[]>;
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
