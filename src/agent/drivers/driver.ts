/**
 * How an agent moves a VM. The agent decides; the driver only performs the move and says where
 * the VM's port is now when it knows (the controller takes that as authoritative).
 */
export interface MigrationResult {
  /** the VM's OpenFlow port on the destination hypervisor's switch, if the driver knows it */
  readonly port?: number;
}

export interface MigrationDriver {
  readonly name: string;
  migrate(vm: string, from: string, to: string): Promise<MigrationResult>;
}
