import { Type, type Static } from 'typebox';

/**
 * The northbound API's data, as TypeBox schemas: the server validates with them, the OpenAPI
 * document is generated from them, and the TypeScript types below are derived from them.
 * Rates are bytes per second; costs are bytes/s × path weight (the paper's units).
 */
export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
});

export const SwitchDto = Type.Object({
  name: Type.String(),
  dpid: Type.String({ description: 'hex, 00:00:...' }),
  kind: Type.Union([Type.Literal('hypervisor'), Type.Literal('switch')]),
  layer: Type.Union([Type.Integer(), Type.Null()], { description: 'hops from the nearest hypervisor; null if unreachable' }),
});

export const LinkDto = Type.Object({
  id: Type.String(),
  a: Type.Object({ switch: Type.String(), port: Type.Integer() }),
  b: Type.Object({ switch: Type.String(), port: Type.Integer() }),
  layer: Type.Integer(),
  weight: Type.Number(),
  capacityBps: Type.Number(),
  abBps: Type.Number({ description: 'bits/s from a to b, from port counters' }),
  baBps: Type.Number(),
  utilisation: Type.Number({ description: 'busier direction / capacity' }),
});

export const TopologyDto = Type.Object({ switches: Type.Array(SwitchDto), links: Type.Array(LinkDto) });

export const HostDto = Type.Object({
  vm: Type.String({ description: 'the scenario name, or the MAC when there is none' }),
  mac: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  hypervisor: Type.String(),
  port: Type.Integer(),
});

export const HypervisorDto = Type.Object({
  name: Type.String(),
  dpid: Type.String(),
  capacity: Type.Integer(),
  vms: Type.Array(Type.String()),
  agent: Type.Union([Type.String(), Type.Null()], { description: 'registered agent URL' }),
});

export const PeerTrafficDto = Type.Object({
  vm: Type.String(),
  mac: Type.String(),
  hypervisor: Type.String(),
  outBytesPerSecond: Type.Number(),
  inBytesPerSecond: Type.Number(),
  lambda: Type.Number({ description: 'λ(u, v): both directions' }),
  pathCost: Type.Number({ description: 'weight of the path between the two hypervisors now' }),
  ageMs: Type.Number({ description: 'age of the oldest sample used' }),
});

export const VmTrafficDto = Type.Object({
  vm: Type.String(),
  mac: Type.String(),
  hypervisor: Type.String(),
  cost: Type.Number({ description: 'C_A(u), Eq. 1' }),
  peers: Type.Array(PeerTrafficDto),
});

export const WeightsDto = Type.Object({
  layers: Type.Record(Type.String(), Type.Number()),
  links: Type.Record(Type.String(), Type.Number()),
});

export const WeightBody = Type.Object({ weight: Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }) }, { additionalProperties: false });

export const PathCostDto = Type.Object({ from: Type.String(), to: Type.String(), cost: Type.Number(), links: Type.Array(Type.String()) });

export const CostMatrixDto = Type.Object({ hypervisors: Type.Array(Type.String()), cost: Type.Array(Type.Array(Type.Number())) });

export const CostDto = Type.Object({ at: Type.Number({ description: 'ms since epoch (or virtual ms)' }), cost: Type.Number(), layers: Type.Array(Type.Object({ layer: Type.Integer(), meanUtilisation: Type.Number(), activeLinks: Type.Integer() })) });

export const CandidateDto = Type.Object({
  hypervisor: Type.String(),
  viaPeer: Type.String(),
  flowCost: Type.Number(),
  costThere: Type.Union([Type.Number(), Type.Null()]),
  verdict: Type.String(),
  rail: Type.Optional(Type.String({ description: "verdict 'rail': which safety rail held this move back" })),
  railReason: Type.Optional(Type.String()),
});

export const DecisionDto = Type.Object({
  vm: Type.String(),
  from: Type.String(),
  to: Type.Union([Type.String(), Type.Null()]),
  costBefore: Type.Number(),
  costAfter: Type.Number(),
  migrationCost: Type.Number(),
  mode: Type.String(),
  candidates: Type.Array(CandidateDto),
  reason: Type.String(),
});

export const ConnectivityDto = Type.Object({
  sent: Type.Integer({ description: 'probes the peers sent to the moving VM' }),
  received: Type.Integer(),
  blackoutMs: Type.Number({ description: 'longest run of lost probes, ms' }),
});

export const MigrationFiguresDto = Type.Object({
  source: Type.Union([Type.Literal('qemu'), Type.Literal('libvirt'), Type.Literal('wall-clock'), Type.Literal('simulated')], { description: 'who measured' }),
  totalTimeMs: Type.Number(),
  downtimeMs: Type.Union([Type.Number(), Type.Null()]),
  setupTimeMs: Type.Union([Type.Number(), Type.Null()]),
  transferredBytes: Type.Number(),
  dirtyPagesRate: Type.Union([Type.Number(), Type.Null()], { description: 'pages/s' }),
  memoryBytes: Type.Union([Type.Number(), Type.Null()]),
});

export const PlanReviewDto = Type.Object({
  verdict: Type.Union([Type.Literal('approved'), Type.Literal('skipped'), Type.Literal('superseded')], {
    description: 'superseded: a newer orchestration run started before anyone reviewed it',
  }),
  at: Type.Number(),
  migration: Type.Union([Type.String(), Type.Null()], { description: 'approved: the id of the record that carried the action out' }),
});

export const MigrationStatus = Type.Union([
  Type.Literal('planned'),
  Type.Literal('declined'),
  Type.Literal('held'),
  Type.Literal('started'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('timeout'),
]);

export const MigrationRecordDto = Type.Object({
  id: Type.String(),
  vm: Type.String(),
  from: Type.String(),
  to: Type.Union([Type.String(), Type.Null()]),
  policy: Type.String(),
  round: Type.Integer(),
  step: Type.Union([Type.Integer(), Type.Null()], { description: 'migration number when it moved' }),
  status: MigrationStatus,
  startedAt: Type.Number(),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  totalCostBefore: Type.Number(),
  totalCostAfter: Type.Union([Type.Number(), Type.Null()]),
  decision: Type.Union([DecisionDto, Type.Null()]),
  inputs: Type.Object({
    rates: Type.Array(Type.Object({ src: Type.String(), dst: Type.String(), bytesPerSecond: Type.Number() })),
    weights: Type.Record(Type.String(), Type.Number()),
    policyKey: Type.Number({ description: "Load-Aware's C_A(u) when it chose this VM" }),
  }),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  connectivity: Type.Optional(Type.Union([ConnectivityDto, Type.Null()], { description: "what the VM's peers saw while it moved, when the driver measured it" })),
  figures: Type.Optional(Type.Union([MigrationFiguresDto, Type.Null()], { description: "the migration's own figures (QEMU's query-migrate for real guests)" })),
  review: Type.Optional(Type.Union([PlanReviewDto, Type.Null()], { description: 'planned records only: what the operator did with the proposed action' })),
});

/** Safety rails for a live run (src/core/rails.ts); every one is off unless given. */
export const RailsBody = Type.Object(
  {
    cooldownRounds: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'a VM that migrated in round r may not move again in rounds r..r+K' })),
    noReturnRounds: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'nor go back to the hypervisor it left (default: the cooldown)' })),
    maxPerRound: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'migrations per round, all hypervisors together' })),
    maxPerHypervisor: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'migrations per round touching one hypervisor, as source or target' })),
  },
  { additionalProperties: false },
);

export const RailCodeDto = Type.Union([Type.Literal('cooldown'), Type.Literal('no-return'), Type.Literal('stable'), Type.Literal('max-per-round'), Type.Literal('max-per-hypervisor'), Type.Literal('plan')]);

export const OrchestrationStartBody = Type.Object(
  {
    policy: Type.Union([Type.Literal('round-robin'), Type.Literal('load-aware'), Type.Literal('rr'), Type.Literal('la')]),
    mode: Type.Optional(Type.Union([Type.Literal('first'), Type.Literal('best')])),
    plan: Type.Optional(Type.Boolean({ description: 'dry run: decide, migrate nothing' })),
    maxRounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    migrationCost: Type.Optional(Type.Number({ minimum: 0 })),
    rails: Type.Optional(RailsBody),
  },
  { additionalProperties: false },
);

export const OrchestrationDto = Type.Object({
  state: Type.Union([Type.Literal('idle'), Type.Literal('running'), Type.Literal('stopping')]),
  policy: Type.Union([Type.String(), Type.Null()]),
  plan: Type.Boolean(),
  round: Type.Integer(),
  migrations: Type.Integer(),
  converged: Type.Boolean(),
  lastError: Type.Union([Type.String(), Type.Null()]),
});

export const AgentRegisterBody = Type.Object(
  { hypervisor: Type.String({ minLength: 1, maxLength: 64 }), url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 512 }) },
  { additionalProperties: false },
);

export const MigrationDoneBody = Type.Object(
  {
    vm: Type.String({ minLength: 1, maxLength: 64 }),
    hypervisor: Type.String({ minLength: 1, maxLength: 64 }),
    migrationId: Type.Optional(Type.String({ maxLength: 128 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 0xffffff00, description: "the VM's OpenFlow port on the new hypervisor's switch, when the driver knows it" })),
  },
  { additionalProperties: false },
);

export const NorthEventDto = Type.Object({
  type: Type.Union([
    Type.Literal('link-added'),
    Type.Literal('link-removed'),
    Type.Literal('weight-changed'),
    Type.Literal('vm-moved'),
    Type.Literal('host-added'),
    Type.Literal('migration-started'),
    Type.Literal('migration-finished'),
    Type.Literal('orchestration'),
    Type.Literal('cost'),
    Type.Literal('plan-reviewed'),
  ]),
  at: Type.Number(),
  data: Type.Record(Type.String(), Type.Unknown()),
});

// Controller -> agent
export const AgentCostBody = Type.Object({ vm: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export const AgentCostDto = Type.Object({ vm: Type.String(), hypervisor: Type.String(), cost: Type.Number() });
export const AgentDecideBody = Type.Object(
  {
    vm: Type.String({ minLength: 1, maxLength: 64 }),
    migrate: Type.Boolean({ description: 'false: decide only (plan mode); the driver is not called' }),
    migrationId: Type.String({ maxLength: 128 }),
    mode: Type.Optional(Type.Union([Type.Literal('first'), Type.Literal('best')])),
    migrationCost: Type.Optional(Type.Number({ minimum: 0 })),
    blocked: Type.Optional(
      Type.Array(Type.Object({ hypervisor: Type.String({ minLength: 1, maxLength: 64 }), rail: RailCodeDto, reason: Type.String({ maxLength: 512 }) }, { additionalProperties: false }), {
        maxItems: 100000,
        description: 'targets a safety rail forbids for this VM now: Algorithm 1 skips them with verdict "rail"',
      }),
    ),
  },
  { additionalProperties: false },
);
export const AgentDecideDto = Type.Object({
  decision: DecisionDto,
  migrated: Type.Boolean(),
  connectivity: Type.Optional(ConnectivityDto),
  figures: Type.Optional(MigrationFiguresDto),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
});

export type Topology = Static<typeof TopologyDto>;
export type Host = Static<typeof HostDto>;
export type Hypervisor = Static<typeof HypervisorDto>;
export type VmTraffic = Static<typeof VmTrafficDto>;
export type Weights = Static<typeof WeightsDto>;
export type PathCost = Static<typeof PathCostDto>;
export type CostMatrix = Static<typeof CostMatrixDto>;
export type Cost = Static<typeof CostDto>;
export type MigrationRecord = Static<typeof MigrationRecordDto>;
export type OrchestrationStart = Static<typeof OrchestrationStartBody>;
export type Orchestration = Static<typeof OrchestrationDto>;
export type NorthEvent = Static<typeof NorthEventDto>;
export type AgentDecide = Static<typeof AgentDecideBody>;
export type AgentDecideResult = Static<typeof AgentDecideDto>;
export type AgentCost = Static<typeof AgentCostDto>;
export type Decision = Static<typeof DecisionDto>;
export type PlanReview = Static<typeof PlanReviewDto>;
export type PlanVerdict = 'approve' | 'skip';

/** What the HTTP layer calls. Methods throw ScoreError with a stable code on bad input. */
export interface ControllerService {
  topology(): Topology;
  hosts(): Host[];
  hypervisors(): Hypervisor[];
  vmTraffic(vm: string): VmTraffic;
  weights(): Weights;
  setLinkWeight(link: string, weight: number): Weights;
  setLayerWeight(layer: number, weight: number): Weights;
  pathCost(from: string, to: string): PathCost;
  costMatrix(): CostMatrix;
  cost(): Cost;
  costHistory(): Cost[];
  migrations(): MigrationRecord[];
  orchestration(): Orchestration;
  startOrchestration(body: OrchestrationStart): Orchestration;
  stopOrchestration(): Promise<Orchestration>;
  /**
   * Approve or skip one action of a plan (a `planned` record with a target). Approving carries it
   * out as a one-migration run; answers the planned record with its review.
   */
  reviewPlan(id: string, verdict: PlanVerdict): MigrationRecord;
  registerAgent(hypervisor: string, url: string): Hypervisor;
  migrationDone(vm: string, hypervisor: string, migrationId?: string, port?: number): Host;
  subscribe(listener: (e: NorthEvent) => void): () => void;
}

/** Tokens: agents and operators have distinct ones; operator endpoints refuse an agent token. */
export interface ApiTokens {
  readonly operator: string;
  readonly agent: string;
}
