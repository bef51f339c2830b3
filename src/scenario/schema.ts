import { Type, type Static } from 'typebox';

/**
 * The scenario file format (YAML or JSON). docs/scenario-format.md explains every field; this
 * schema is the single source of the types (Static<...>) and of validation.
 */
const Id = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.:-]{0,31}$', description: 'a name: letter first, then letters, digits, _ . : -' });

/** a rate or capacity: a number of bits per second, or a string with a unit: "2.5Mbps", "4 kbps", "1Gbps" */
const Bandwidth = Type.Union([
  Type.Number({ exclusiveMinimum: 0 }),
  Type.String({ pattern: '^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKMG]?(bps|bit/s)|[kKMG]?B/s)\\s*$' }),
]);

export const SwitchSchema = Type.Object(
  {
    id: Id,
    role: Type.Optional(Type.String({ description: 'informational: core, aggregation, tor, spine, leaf, edge' })),
    dpid: Type.Optional(Type.String({ pattern: '^(0x)?[0-9a-fA-F]{1,16}$' })),
  },
  { additionalProperties: false },
);

export const HypervisorSchema = Type.Object(
  {
    id: Id,
    capacity: Type.Optional(Type.Integer({ minimum: 0, description: 'VMs it may host' })),
    dpid: Type.Optional(Type.String({ pattern: '^(0x)?[0-9a-fA-F]{1,16}$' })),
  },
  { additionalProperties: false },
);

export const LinkSchema = Type.Object(
  {
    a: Id,
    b: Id,
    capacity: Bandwidth,
  },
  { additionalProperties: false },
);

export const VmSchema = Type.Object(
  {
    name: Id,
    ip: Type.String({ pattern: '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$' }),
    mac: Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' }),
    host: Id,
  },
  { additionalProperties: false },
);

export const TrafficSchema = Type.Object(
  {
    src: Id,
    dst: Id,
    rate: Type.Optional(Bandwidth),
    packetBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    pps: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    generator: Type.Optional(Type.Union([Type.Literal('nping'), Type.Literal('iperf3')])),
    protocol: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp')])),
  },
  { additionalProperties: false },
);

/** A change to the traffic at `at` seconds: `traffic` replaces the whole matrix; `set` starts or re-rates flows; `stop` ends flows. */
export const PhaseSchema = Type.Object(
  {
    at: Type.Number({ minimum: 0, description: 'seconds from the start of the experiment' }),
    description: Type.Optional(Type.String()),
    traffic: Type.Optional(Type.Array(TrafficSchema)),
    set: Type.Optional(Type.Array(TrafficSchema)),
    stop: Type.Optional(Type.Array(Type.Object({ src: Id, dst: Id }, { additionalProperties: false }))),
  },
  { additionalProperties: false },
);

export const ScenarioSchema = Type.Object(
  {
    name: Id,
    description: Type.Optional(Type.String()),
    assumptions: Type.Optional(Type.Array(Type.String())),
    switches: Type.Array(SwitchSchema),
    hypervisors: Type.Array(HypervisorSchema, { minItems: 1 }),
    links: Type.Array(LinkSchema, { minItems: 1 }),
    vms: Type.Array(VmSchema),
    traffic: Type.Array(TrafficSchema),
    phases: Type.Optional(Type.Array(PhaseSchema)),
    trace: Type.Optional(Type.String({ minLength: 1, description: 'a time,src,dst,rate CSV, relative to the scenario file' })),
    weights: Type.Optional(
      Type.Object(
        {
          layers: Type.Optional(Type.Record(Type.String({ pattern: '^[1-9][0-9]*$' }), Type.Number({ exclusiveMinimum: 0 }))),
          links: Type.Optional(Type.Record(Type.String(), Type.Number({ exclusiveMinimum: 0 }))),
        },
        { additionalProperties: false },
      ),
    ),
    migrationCost: Type.Optional(Type.Number({ minimum: 0 })),
    defaults: Type.Optional(
      Type.Object({ hypervisorCapacity: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
    ),
    simulation: Type.Optional(
      Type.Object(
        {
          stepSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          maxRounds: Type.Optional(Type.Integer({ minimum: 1 })),
          decisionMode: Type.Optional(Type.Union([Type.Literal('first'), Type.Literal('best')])),
        },
        { additionalProperties: false },
      ),
    ),
    emulation: Type.Optional(
      Type.Object(
        {
          // what a VM with traffic is in `score emulate`: a network namespace or a QEMU guest (docs/vms.md)
          vms: Type.Optional(Type.Union([Type.Literal('namespace'), Type.Literal('qemu')])),
          guestMemoryMiB: Type.Optional(Type.Integer({ minimum: 64, maximum: 4096 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type ScenarioFile = Static<typeof ScenarioSchema>;
export type TrafficEntry = Static<typeof TrafficSchema>;
export type PhaseEntry = Static<typeof PhaseSchema>;
