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

export const CostDto = Type.Object({
  at: Type.Number({ description: 'ms since epoch (or virtual ms)' }),
  cost: Type.Number(),
  layers: Type.Array(Type.Object({ layer: Type.Integer(), meanUtilisation: Type.Number(), activeLinks: Type.Integer() })),
  settling: Type.Optional(Type.Boolean({ description: 'history and cost events: taken while a migration settled; cost and layers repeat the last settled sample' })),
  measuredCost: Type.Optional(Type.Number({ description: 'with settling: the cost measured at that moment (not a real saving)' })),
});

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
  swap: Type.Optional(
    Type.Object(
      {
        vm: Type.String(),
        from: Type.String(),
        to: Type.String(),
        costBefore: Type.Number(),
        costAfter: Type.Number(),
        migrationCost: Type.Number(),
        saving: Type.Number({ description: 'drop of the total C_A for the pair (Eq. 3 for a pair: above both moves\' c_m)' }),
      },
      { description: 'an exchange: the partner VM moves from the full target back to this VM\'s hypervisor; the orchestrator carries the pair out' },
    ),
  ),
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
  warnings: Type.Optional(Type.Array(Type.String(), { description: 'what the driver could not do but the migration did not depend on (e.g. the moved VM\'s announcement failed)' })),
  review: Type.Optional(Type.Union([PlanReviewDto, Type.Null()], { description: 'planned records only: what the operator did with the proposed action' })),
  exchange: Type.Optional(Type.String({ description: "one leg of an exchange an agent proposed: the id of the pair's record (the decision that proposed it, whose reason says how the exchange is carried out)" })),
  confirmedLateAt: Type.Optional(
    Type.Number({ description: 'a migration that timed out waiting for the network (MIGRATION_TIMEOUT) and was seen at its target later in the run: when (ms), it then counts as succeeded' }),
  ),
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

/** Continuous mode (src/orchestrator/continuous.ts): re-plan every `everyMs` until stopped. */
export const ContinuousBody = Type.Object(
  {
    everyMs: Type.Integer({ minimum: 100, maximum: 86_400_000, description: 'period between planning rounds' }),
    stableRounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'a VM moves only after choosing the same target in N consecutive periods (default 3)' })),
    noReturnRounds: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'a VM never returns to a hypervisor it left within R periods (default 20)' })),
    cooldownRounds: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'periods a VM stays put after it moved (default 1)' })),
    maxPerPeriod: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'migration budget per period (default 4)' })),
    quietMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'hold off this long after a link or switch changed (default 10 s)' })),
    memoryBytes: Type.Optional(Type.Number({ minimum: 0, description: 'pre-copy pricing: VM memory (default 4 GiB); refused together with migrationCost' })),
    dirtyRateBytesPerSec: Type.Optional(Type.Number({ minimum: 0 })),
    bandwidthBytesPerSec: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    amortisationSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'seconds a move must keep saving to pay for its migration traffic (default 300)' })),
  },
  { additionalProperties: false },
);

export const OrchestrationStartBody = Type.Object(
  {
    policy: Type.Union([Type.Literal('round-robin'), Type.Literal('load-aware'), Type.Literal('rr'), Type.Literal('la'), Type.Literal('gain-order'), Type.Literal('gain')]),
    mode: Type.Optional(Type.Union([Type.Literal('first'), Type.Literal('best')])),
    plan: Type.Optional(Type.Boolean({ description: 'dry run: decide, migrate nothing' })),
    maxRounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    migrationCost: Type.Optional(Type.Number({ minimum: 0 })),
    rails: Type.Optional(RailsBody),
    continuous: Type.Optional(ContinuousBody),
    swaps: Type.Optional(Type.Boolean({ description: 'let agents propose exchanges with a VM on a full hypervisor; carried out as single migrations, a VM always at exactly one place' })),
    overcommit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1, description: 'temporary extra VMs per hypervisor while an exchange is carried out (0: through a free slot elsewhere)' })),
    lookahead: Type.Optional(Type.Boolean({ description: 'gain-order only: the controller plans centrally with the look-ahead (moves, exchanges, ejections, pair moves, largest gain first) and carries each action out as single confirmed migrations' })),
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
  lastErrorCode: Type.Optional(
    Type.Union([Type.String(), Type.Null()], { description: "the error code of lastError (src/errors/errors.ts; INTERNAL for a bug), null when there is none; absent before a run started" }),
  ),
  continuous: Type.Optional(
    Type.Object({
      everyMs: Type.Integer(),
      period: Type.Integer(),
      migrations: Type.Integer(),
      holdOff: Type.Union([Type.String(), Type.Null()], { description: 'why planning waits now (network changing), null when planning' }),
      lastPeriod: Type.Optional(
        Type.Union(
          [
            Type.Object({
              period: Type.Integer(),
              asked: Type.Integer({ description: 'VMs whose agent was asked what it would do' }),
              moved: Type.Integer(),
              pricedOut: Type.Integer({ description: 'VMs whose best move saves, but no more than its migration cost c_m (Eq. 3)' }),
              waitingStable: Type.Integer({ description: 'VMs whose move pays but is not yet chosen in stableRounds consecutive periods' }),
              heldBack: Type.Integer({ description: 'VMs with a stable move that did not happen: cooldown, the period budget, or a failed migration' }),
              declined: Type.Optional(
                Type.Integer({ description: 'VMs whose stable move their agent declined, this period or earlier with nothing changed since: not asked again, not pending (absent in state written by older versions)' }),
              ),
              errors: Type.Integer({ description: 'VMs whose agent could not be asked' }),
              largestSaving: Type.Union(
                [Type.Object({ vm: Type.String(), to: Type.String(), saving: Type.Number(), migrationCost: Type.Number() }), Type.Null()],
                { description: 'the largest saving (bytes/s × path weight) any candidate offered, with the c_m it was priced at; null when none saved anything' },
              ),
            }),
            Type.Null(),
          ],
          { description: 'what the last planning period did; null before the first' },
        ),
      ),
      declined: Type.Optional(
        Type.Array(
          Type.Object({
            vm: Type.String(),
            from: Type.String(),
            to: Type.String(),
            period: Type.Integer({ description: 'the period the agent declined it in' }),
            code: Type.String({ description: "from the agent's verdict on the target: no-gain (its Eq. 3), full, a rail code, not-a-candidate" }),
            reason: Type.String({ description: "the agent's reason" }),
          }),
          { description: 'stable moves their agent declined, not asked again until the saving changes by more than 10 %, the target has more free slots, or 20 periods passed' },
        ),
      ),
    }),
  ),
});

export const AgentRegisterBody = Type.Object(
  { hypervisor: Type.String({ minLength: 1, maxLength: 64 }), url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 512 }) },
  { additionalProperties: false },
);

/** The register answer: the hypervisor, and how its agent recognises the controller's calls. */
export const AgentRegisteredDto = Type.Object({
  ...HypervisorDto.properties,
  controllerCall: Type.Union([Type.Object({ sha256: Type.String({ description: "hex SHA-256 of the token the controller sends to this hypervisor's agent" }) }), Type.Null()]),
});

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
    swaps: Type.Optional(Type.Boolean({ description: 'when no single move qualifies, consider an exchange with a VM on a full candidate; the agent migrates nothing then and answers the pair' })),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'one leg of an exchange the orchestrator carries out: migrate to this hypervisor, no decision of the agent\'s own' })),
    exchange: Type.Optional(Type.String({ maxLength: 128, description: "with target: the id of the exchange's pair record, which the leg's reason cites" })),
    blocked: Type.Optional(
      Type.Array(Type.Object({ hypervisor: Type.String({ minLength: 1, maxLength: 64 }), rail: RailCodeDto, reason: Type.String({ maxLength: 512 }) }, { additionalProperties: false }), {
        maxItems: 100000,
        description: 'targets a safety rail forbids for this VM now: Algorithm 1 skips them with verdict "rail"',
      }),
    ),
    only: Type.Optional(
      Type.Object({ hypervisor: Type.String({ minLength: 1, maxLength: 64 }), rail: RailCodeDto, reason: Type.String({ maxLength: 512 }) }, {
        additionalProperties: false,
        description: 'the one target Algorithm 1 may choose (continuous mode\'s stable choice, an approved plan action): every other candidate is skipped with verdict "rail", this rail and reason',
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
  warnings: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 32 })),
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
export type AgentRegistered = Static<typeof AgentRegisteredDto>;
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
  /**
   * ids of migration records this controller finished by reconciling them from their agents since
   * it last became cluster leader (their agents' late migration-done reports are still accepted)
   */
  readonly reconciled?: ReadonlySet<string>;
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

/**
 * Tokens: the operator's, and optionally one agent token shared by every hypervisor (test set-ups
 * only, behind an explicit opt-in). Agents normally hold per-hypervisor credentials instead
 * (src/api/credential-store.ts).
 */
export interface ApiTokens {
  readonly operator: string;
  readonly agent?: string;
}
