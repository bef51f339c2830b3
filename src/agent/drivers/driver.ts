/**
 * How an agent moves a VM. The agent decides; the driver only performs the move and says where
 * the VM's port is now when it knows (the controller takes that as authoritative).
 */
export interface Connectivity {
  /** probes the VM's peers sent to it while it moved, and how many came back */
  readonly sent: number;
  readonly received: number;
  /** the longest run of lost probes, in ms: the blackout the peers saw */
  readonly blackoutMs: number;
}

export interface MigrationResult {
  /** the VM's OpenFlow port on the destination hypervisor's switch, if the driver knows it */
  readonly port?: number;
  /** what the VM's peers saw while it moved, when the driver measured it */
  readonly connectivity?: Connectivity;
}

export interface MigrationDriver {
  readonly name: string;
  migrate(vm: string, from: string, to: string): Promise<MigrationResult>;
}
