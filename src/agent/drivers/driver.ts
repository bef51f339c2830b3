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

/**
 * The migration's own figures, the same shape from every driver. QEMU's come from its
 * `query-migrate` (libvirt's from the job info, which reads the same counters); a driver that has
 * no such counter says null, never a made-up value.
 */
export interface MigrationFigures {
  /** who measured: QEMU itself, libvirt's job info, or the driver's wall clock (namespace, simulated) */
  readonly source: 'qemu' | 'libvirt' | 'wall-clock' | 'simulated';
  /** from the start of the migration until the VM runs at the destination, ms */
  readonly totalTimeMs: number;
  /** the stop-and-copy pause (QEMU's `downtime`), ms; null when not measured */
  readonly downtimeMs: number | null;
  /** QEMU's `setup-time`, ms */
  readonly setupTimeMs: number | null;
  /** memory pages sent, bytes (QEMU's `ram.transferred`); 0 when no memory was copied */
  readonly transferredBytes: number;
  /** the guest's dirty-page rate during pre-copy, pages/s (QEMU's `ram.dirty-pages-rate`, last seen while active) */
  readonly dirtyPagesRate: number | null;
  /** the guest's memory, bytes (QEMU's `ram.total`); null when there is no guest memory */
  readonly memoryBytes: number | null;
}

export interface MigrationResult {
  /** the VM's OpenFlow port on the destination hypervisor's switch, if the driver knows it */
  readonly port?: number;
  /** what the VM's peers saw while it moved, when the driver measured it */
  readonly connectivity?: Connectivity;
  /** how the move went, as the hypervisor measured it */
  readonly figures?: MigrationFigures;
  /** what went wrong after the VM ran at its destination without undoing the move (e.g. its announcement failed) */
  readonly warnings?: readonly string[];
}

/**
 * What a driver tells its caller while a migration runs. `onSwitchover(hypervisor, port)`: the VM
 * is about to run at (hypervisor, port) and nowhere else: QEMU paused the source for its last
 * copy, so from now on the network should deliver to the destination port (packets wait in its
 * tap until the guest resumes, instead of being lost at the paused source). Called again with the
 * source when that switch-over fails and the source runs on. The agent passes it to the
 * controller at once (the same report as "migration done": authoritative). Errors are the
 * caller's to swallow: the migration does not wait for the network.
 */
export interface MigrationHooks {
  readonly onSwitchover?: (hypervisor: string, port: number) => void | Promise<void>;
  /**
   * Cluster mode: the switch-over waits for a controller that can re-route the VM. Called before
   * the driver touches the VM; resolves once the controller cluster has a leader that is MASTER on
   * its switches and knows the links its predecessor knew (`GET /api/v1/cluster/ready`), at once
   * when the controller is not a cluster (then with undefined). Resolves with `claim(hypervisor,
   * port)`: the driver calls it with the VM paused at the source (it sends nothing there any more)
   * and not yet running at its destination port (emulated: the port chosen, not plugged; QEMU:
   * the destination QEMU plugged but without the device state, at QEMU's pre-switchover); it reports the switch-over to the leader,
   * which installs the VM's paths to that port before the VM arrives there, so the switch-over
   * needs no controller afterwards. `claim` rejects with CLUSTER_NOT_LEADER when no leader took the
   * report (the leader died since the wait, a 503, the controller unreachable): the driver puts the
   * VM back on its source and waits again. Any other refusal (UNKNOWN_VM, AGENT_VM_NOT_OURS,
   * NOT_A_HOST_PORT, ...) rejects with its own code: the driver puts the VM back and the migration
   * fails with that code. Rejects with SWITCHOVER_NO_LEADER when no leader is ready within the
   * agent's bound (AgentOptions.switchoverWaitMs, counted from the first wait), or after
   * AgentOptions.maxClaims claims no leader took: the migration fails, the VM at its source. QEMU (src/agent/drivers/qemu.ts) calls it at QEMU's pre-switchover pause; libvirt waits for it before it starts the migration but has no pause before the switch-over, so it never calls `claim` (the VM switches over when the migration converges).
   */
  readonly awaitControl?: () => Promise<((hypervisor: string, port: number) => Promise<void>) | undefined>;
}

export interface MigrationDriver {
  readonly name: string;
  migrate(vm: string, from: string, to: string, hooks?: MigrationHooks): Promise<MigrationResult>;
}
