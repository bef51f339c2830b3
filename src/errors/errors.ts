/**
 * One place for every error S-CORE reports to a user or a peer. The codes are stable: scripts,
 * API clients and log searches may rely on them, so a code is never renamed or reused.
 */
export const ERROR_CODES = {
  // Scenario files and CLI input
  SCENARIO_NOT_FOUND: 'the scenario file or built-in name does not exist',
  SCENARIO_PARSE: 'the scenario file is not valid YAML or JSON',
  SCENARIO_INVALID: 'the scenario does not match the schema or is inconsistent',
  CLI_USAGE: 'a command-line option has a bad value',
  WORKLOAD_PARSE: 'a workload file (traffic matrix, flow trace, placement CSV) is malformed',
  WORKLOAD_INVALID: 'a workload does not fit the topology or its parameters are inconsistent',
  TIMELINE_PARSE: 'a traffic trace (time,src,dst,rate CSV) is malformed',
  TIMELINE_INVALID: 'traffic phases or trace changes are out of time order or name unknown VMs',
  // Core model
  TOPOLOGY_INVALID: 'the topology is inconsistent (unknown node, duplicate link, disconnected)',
  NO_PATH: 'there is no path between two nodes',
  UNKNOWN_VM: 'no such VM',
  UNKNOWN_HYPERVISOR: 'no such hypervisor',
  CAPACITY_EXCEEDED: 'a hypervisor would host more VMs than its capacity',
  // Analysis (src/sim: bounds and searches under a migration budget, reference placements)
  PLACEMENT_INVALID: 'a placement given to an analysis leaves a VM without a hypervisor, or puts it on one that has no capacity entry',
  BUDGET_EXCEEDED: 'a start placement given to a budgeted search moves more VMs away from their placement than the migration budget',
  SPLITS_INVALID: 'the split-star bound\'s splits break its conditions (μ ≥ 0; α ≥ 0 and the two α of a pair sum to 1; π ≥ 0 and a VM\'s π sum to at most μ): the bound would not hold',
  // OpenFlow codec and connections
  OF_TRUNCATED: 'an OpenFlow message or structure is shorter than its length says',
  OF_BAD_LENGTH: 'an OpenFlow length field is impossible (too small, not aligned, past the end)',
  OF_BAD_VERSION: 'the OpenFlow version is not 1.3 (0x04)',
  OF_UNKNOWN_TYPE: 'an OpenFlow message, multipart, action, instruction or field type is unknown',
  OF_BAD_VALUE: 'an OpenFlow field holds a value the specification does not allow',
  OF_ENCODE: 'a message cannot be encoded (value out of range, missing field)',
  OF_TIMEOUT: 'a switch did not answer a request in time',
  OF_REPLY_TOO_LARGE: 'a switch kept sending parts of one multipart reply past the bound (MAX_REPLY_PARTS)',
  OF_DISCONNECTED: 'the switch connection closed',
  OF_HANDSHAKE: 'the OpenFlow handshake failed (no common version, no features reply)',
  OF_SWITCH_ERROR: 'the switch answered with an OpenFlow ERROR message',
  OF_NOT_MASTER: 'this controller is not MASTER on the switch (a SLAVE sends no flow-mods or packet-outs)',
  OF_DPID_CONFLICT: 'two switches seem to share one datapath id: each connection keeps replacing the other (a log line, not thrown)',
  OF_ROLE_STALE: 'the switch refused a role request: its generation id is older than one the switch has seen (OFPRRFC_STALE)',
  PACKET_MALFORMED: 'a packet (Ethernet, ARP, IPv4, LLDP, ...) is malformed',
  RESERVED_PORT: 'a reserved OpenFlow port (LOCAL, CONTROLLER, ...) was given where a host or link port is needed',
  // Northbound API, agents, orchestration
  API_BAD_REQUEST: 'the request body, path or query does not match the API schema',
  API_UNAUTHORIZED: 'no valid token was given',
  API_FORBIDDEN: 'the token is valid but not for this operation (agent vs operator)',
  API_NOT_FOUND: 'no such API route',
  UNKNOWN_LINK: 'no such link',
  ORCHESTRATION_RUNNING: 'orchestration is already running (stop it first)',
  ORCHESTRATION_IDLE: 'orchestration is not running',
  CONTINUOUS_INVALID: 'continuous orchestration options are out of range (period, stable rounds, budget, pricing)',
  MIGRATION_IN_PROGRESS: 'this VM is already being migrated',
  MIGRATION_FAILED: 'the migration driver failed; the VM stays where it was',
  MIGRATION_TIMEOUT: 'the migration did not finish in time; the VM stays where the network sees it',
  RAIL_HELD: 'a safety rail (cooldown, per-round or per-hypervisor limit) held a migration back this round',
  SWAP_NO_ROOM: 'an exchange needs a free slot elsewhere (or a temporary overcommit) to be carried out one VM at a time; there is none',
  AGENT_UNREACHABLE: 'the hypervisor agent did not answer',
  CONTROLLER_UNREACHABLE: "the controller's API did not answer (a hypervisor agent, or a command-line client such as `score credentials`)",
  NO_AGENT: 'no agent is registered for this hypervisor',
  UNKNOWN_MIGRATION: 'no migration record with this id',
  PLAN_NOT_PENDING: 'the record is not a planned action awaiting approval (not planned, already reviewed, superseded, or nothing to move)',
  AGENT_IDENTITY_MISMATCH: "an agent credential was used for another hypervisor than the one it is bound to",
  AGENT_VM_NOT_OURS: 'an agent reported a migration it may not: the VM neither arrived at its hypervisor nor is in a running migration from it to the reported target',
  NOT_A_HOST_PORT: 'a migration report named a switch-to-switch link port as the VM\'s port',
  SHARED_AGENT_TOKEN_MISUSED: 'the shared agent token looks like a per-hypervisor credential (cred-...): the controller\'s and the agent\'s token variables were mixed up',
  CREDENTIAL_REVOKED: 'the credential was revoked',
  UNKNOWN_CREDENTIAL: 'no credential with this id',
  SHARED_AGENT_TOKEN_DISABLED: 'a shared agent token was configured without the explicit opt-in for test set-ups',
  WEB_NOT_BUILT: 'the dashboard bundle has not been built (npm run build:web)',
  // Controller cluster (etcd)
  CLUSTER_UNAVAILABLE: 'the cluster store (etcd) cannot be reached or refused the request',
  CLUSTER_NOT_LEADER: 'this controller is not (or no longer) the cluster leader: the write was not done',
  CLUSTER_GENERATION_STALE: "a switch refused the leader's MASTER request: it has seen a newer generation id than the leader's (an etcd cluster restored or rebuilt restarts revisions low); the leader controls no such switch until the generation passes it",
  CLUSTER_UNCONFIRMED: 'the change is stored in etcd, but some live members did not confirm it within the lease TTL (they refuse agent credentials until they catch up)',
  SWITCHOVER_NO_LEADER: 'no controller leader was ready to re-route the VM within the switch-over wait: the migration was not switched over and the VM stays at its source',
  // Emulation and system
  EMULATION_NOT_ROOT: 'the emulated data centre needs root',
  EMULATION_MISSING_TOOL: 'a system tool (ovs-vsctl, ip, nping, ...) is not installed',
  EMULATION_COMMAND: 'a system command failed',
  LISTEN_FAILED: 'a listening socket could not be opened (port in use, address not available, no permission)',
  TLS_INVALID: 'the TLS certificate, key or CA cannot be read or used',
  // Real guests (QEMU, libvirt)
  IMAGE_BUILD: 'the guest image could not be built (kernel package, busybox, initramfs)',
  VM_BOOT: 'a QEMU guest did not start or did not come up in time',
  QMP_PROTOCOL: 'the QEMU monitor (QMP) connection failed or answered with an error',
  INTERNAL: 'a bug in S-CORE',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ScoreError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ScoreError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isScoreError(e: unknown, code?: ErrorCode): e is ScoreError {
  return e instanceof ScoreError && (code === undefined || e.code === code);
}

/**
 * Codes that mean the user's input was wrong (a command line, a file, a name): the `score`
 * command exits 2 for these and 1 for every other failure, which happened at run time (an
 * unreachable controller, a failed system command, a bug).
 */
const INPUT_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SCENARIO_NOT_FOUND',
  'SCENARIO_PARSE',
  'SCENARIO_INVALID',
  'CLI_USAGE',
  'WORKLOAD_PARSE',
  'WORKLOAD_INVALID',
  'TOPOLOGY_INVALID',
  'UNKNOWN_VM',
  'UNKNOWN_HYPERVISOR',
  'UNKNOWN_LINK',
  'CAPACITY_EXCEEDED',
  'EMULATION_NOT_ROOT',
  'TLS_INVALID',
  'SHARED_AGENT_TOKEN_DISABLED',
  'SHARED_AGENT_TOKEN_MISUSED',
  'UNKNOWN_CREDENTIAL',
  'TIMELINE_PARSE',
  'TIMELINE_INVALID',
  'CONTINUOUS_INVALID',
  'PLACEMENT_INVALID',
  'BUDGET_EXCEEDED',
  'SPLITS_INVALID',
]);

/** The `score` command's exit code for an error: 2 bad input, 1 a failure at run time. */
export function exitCodeFor(code: ErrorCode): 1 | 2 {
  return INPUT_ERRORS.has(code) ? 2 : 1;
}
