// fast-check generators for OpenFlow messages, in the canonical form the decoder returns
// (absent optional keys, lowercase MACs, RFC 5952 IPv6 text, sorted version lists), so that
// decode(encode(m)) can be compared with deepStrictEqual. Sizes stay small enough that every
// message fits the 16-bit length.
import fc from 'fast-check';
import type { Action } from './actions.ts';
import { formatIpv4, formatIpv6, formatMac } from './bytes.ts';
import type { Instruction } from './instructions.ts';
import type {
  Bucket,
  FlowStats,
  FlowStatsRequestBody,
  HelloElement,
  MeterBand,
  MultipartReplyBody,
  MultipartRequestBody,
  OfMessage,
  Port,
  QueueProperty,
  TableFeatureProperty,
  TableFeatures,
} from './messages.ts';
import { OXM_FIELDS, type Match, type OxmField } from './oxm.ts';

// fast-check builds null-prototype records by default; decoders return ordinary objects.
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u24 = fc.integer({ min: 0, max: 0xffffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
export const bytes = (maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength, maxLength }).map((b) => Uint8Array.from(b));
/** Lengths that keep a structure a multiple of 8 bytes. */
const bytes8 = (maxWords: number): fc.Arbitrary<Uint8Array> =>
  fc.integer({ min: 0, max: maxWords }).chain((n) => bytes(8 * n, 8 * n));
const fixed = (n: number): fc.Arbitrary<Uint8Array> => bytes(n, n);
export const mac = fixed(6).map((b) => formatMac(b, 0));
export const ipv4 = u32.map(formatIpv4);
// Zeroed groups make the "::" compression cases common.
export const ipv6 = fc.tuple(fixed(16), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })).map(([b, zero]) => {
  zero.forEach((z, i) => {
    if (z) b[2 * i] = b[2 * i + 1] = 0;
  });
  return formatIpv6(b, 0);
});
const ascii = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 1, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: max });
const list = <T>(a: fc.Arbitrary<T>, max = 3): fc.Arbitrary<T[]> => fc.array(a, { maxLength: max });

const uintOf = (size: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** (8 * size) - 1 });

const basicOxm: fc.Arbitrary<OxmField> = fc.constantFrom(...OXM_FIELDS).chain((spec) => {
  const value: fc.Arbitrary<unknown> =
    spec.kind === 'uint' ? uintOf(spec.size) : spec.kind === 'u64' ? u64 : spec.kind === 'mac' ? mac : spec.kind === 'ipv4' ? ipv4 : ipv6;
  return fc
    .tuple(value, fc.option(value, { nil: undefined }))
    .map(([v, m]) => (m === undefined ? { field: spec.name, value: v } : { field: spec.name, value: v, mask: m }) as OxmField);
});

const rawOxm: fc.Arbitrary<OxmField> = fc
  .record({
    oxmClass: fc.oneof(fc.constantFrom(0x0000, 0x0001, 0xffff), u16.filter((c) => c !== 0x8000)),
    oxmField: fc.integer({ min: 0, max: 127 }),
    hasMask: fc.boolean(),
    payload: bytes(24),
  })
  .map((r) => ({ field: 'raw' as const, ...r }));

// Basic class, field numbers 1.3 does not define: kept raw too.
const unassignedBasicOxm: fc.Arbitrary<OxmField> = fc
  .record({ oxmField: fc.integer({ min: 40, max: 127 }), hasMask: fc.boolean(), payload: bytes(16) })
  .map((r) => ({ field: 'raw' as const, oxmClass: 0x8000, ...r }));

export const oxmField: fc.Arbitrary<OxmField> = fc.oneof({ arbitrary: basicOxm, weight: 6 }, rawOxm, unassignedBasicOxm);
export const match: fc.Arbitrary<Match> = list(oxmField, 5);

export const action: fc.Arbitrary<Action> = fc.oneof(
  record({ type: fc.constant('OUTPUT' as const), port: u32, maxLen: u16 }),
  fc.constantFrom(
    ...(['COPY_TTL_OUT', 'COPY_TTL_IN', 'DEC_MPLS_TTL', 'POP_VLAN', 'DEC_NW_TTL', 'POP_PBB'] as const).map((type) => ({ type })),
  ).map((a) => ({ ...a })),
  record({ type: fc.constant('SET_MPLS_TTL' as const), mplsTtl: u8 }),
  record({ type: fc.constant('SET_NW_TTL' as const), nwTtl: u8 }),
  record({ type: fc.constantFrom('PUSH_VLAN' as const, 'PUSH_MPLS' as const, 'POP_MPLS' as const, 'PUSH_PBB' as const), ethertype: u16 }),
  record({ type: fc.constant('SET_QUEUE' as const), queueId: u32 }),
  record({ type: fc.constant('GROUP' as const), groupId: u32 }),
  record({ type: fc.constant('SET_FIELD' as const), field: oxmField }),
  record({ type: fc.constant('EXPERIMENTER' as const), experimenter: u32, data: bytes8(3) }),
);
export const actions = list(action, 4);

export const instruction: fc.Arbitrary<Instruction> = fc.oneof(
  record({ type: fc.constant('GOTO_TABLE' as const), tableId: u8 }),
  record({ type: fc.constant('WRITE_METADATA' as const), metadata: u64, metadataMask: u64 }),
  record({ type: fc.constantFrom('WRITE_ACTIONS' as const, 'APPLY_ACTIONS' as const), actions }),
  fc.constant(null).map(() => ({ type: 'CLEAR_ACTIONS' as const })),
  record({ type: fc.constant('METER' as const), meterId: u32 }),
  record({ type: fc.constant('EXPERIMENTER' as const), experimenter: u32, data: bytes8(3) }),
);
export const instructions = list(instruction, 4);

const port: fc.Arbitrary<Port> = record({
  portNo: u32,
  hwAddr: mac,
  name: ascii(16),
  config: u32,
  state: u32,
  curr: u32,
  advertised: u32,
  supported: u32,
  peer: u32,
  currSpeed: u32,
  maxSpeed: u32,
});

const bucket: fc.Arbitrary<Bucket> = record({ weight: u16, watchPort: u32, watchGroup: u32, actions });
const meterBand: fc.Arbitrary<MeterBand> = fc.oneof(
  record({ type: fc.constant('DROP' as const), rate: u32, burstSize: u32 }),
  record({ type: fc.constant('DSCP_REMARK' as const), rate: u32, burstSize: u32, precLevel: u8 }),
  record({ type: fc.constant('EXPERIMENTER' as const), rate: u32, burstSize: u32, experimenter: u32, data: bytes8(2) }),
);

const helloElement: fc.Arbitrary<HelloElement> = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 0, max: 70 }), { maxLength: 6 }).map((v) => ({ type: 'VERSIONBITMAP' as const, versions: v.sort((a, b) => a - b) })),
  // a peer that sends more bitmap words than needed (kept so re-encoding gives its bytes)
  fc
    .tuple(fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 4 }), fc.integer({ min: 1, max: 3 }))
    .map(([v, extra]) => {
      const versions = v.sort((a, b) => a - b);
      const max = versions.length === 0 ? -1 : (versions[versions.length - 1] as number);
      return { type: 'VERSIONBITMAP' as const, versions, words: (max < 0 ? 0 : (max >>> 5) + 1) + extra };
    }),
  record({ type: fc.constant('UNKNOWN' as const), elementType: u16.filter((t) => t !== 1), data: bytes(12) }),
);

const featureId = record({ type: u16, data: bytes(6) });
const oxmId = fc
  .record({ oxmClass: fc.oneof(u16, fc.constant(0xffff)), oxmField: fc.integer({ min: 0, max: 127 }), hasMask: fc.boolean(), length: u8, experimenter: u32 }, { noNullPrototype: true })
  .map(({ experimenter, ...id }) => (id.oxmClass === 0xffff ? { ...id, experimenter } : id));
const KNOWN_TFPT = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 0xfffe, 0xffff]);
const tableFeatureProperty: fc.Arbitrary<TableFeatureProperty> = fc.oneof(
  record({ type: fc.constantFrom('INSTRUCTIONS' as const, 'INSTRUCTIONS_MISS' as const), instructionIds: list(featureId) }),
  record({ type: fc.constantFrom('NEXT_TABLES' as const, 'NEXT_TABLES_MISS' as const), tableIds: list(u8, 6) }),
  record({
    type: fc.constantFrom('WRITE_ACTIONS' as const, 'WRITE_ACTIONS_MISS' as const, 'APPLY_ACTIONS' as const, 'APPLY_ACTIONS_MISS' as const),
    actionIds: list(featureId),
  }),
  record({
    type: fc.constantFrom(
      'MATCH' as const,
      'WILDCARDS' as const,
      'WRITE_SETFIELD' as const,
      'WRITE_SETFIELD_MISS' as const,
      'APPLY_SETFIELD' as const,
      'APPLY_SETFIELD_MISS' as const,
    ),
    oxmIds: list(oxmId, 4),
  }),
  record({ type: fc.constantFrom('EXPERIMENTER' as const, 'EXPERIMENTER_MISS' as const), experimenter: u32, expType: u32, data: bytes(12) }),
  record({ type: fc.constant('UNKNOWN' as const), propertyType: u16.filter((t) => !KNOWN_TFPT.has(t)), data: bytes(12) }),
);
const tableFeatures: fc.Arbitrary<TableFeatures> = record({
  tableId: u8,
  name: ascii(32),
  metadataMatch: u64,
  metadataWrite: u64,
  config: u32,
  maxEntries: u32,
  properties: list(tableFeatureProperty, 4),
});

const flowStatsRequest: fc.Arbitrary<FlowStatsRequestBody> = record({
  tableId: u8,
  outPort: u32,
  outGroup: u32,
  cookie: u64,
  cookieMask: u64,
  match,
});

export const flowStats: fc.Arbitrary<FlowStats> = record({
  tableId: u8,
  durationSec: u32,
  durationNsec: u32,
  priority: u16,
  idleTimeout: u16,
  hardTimeout: u16,
  flags: u16,
  cookie: u64,
  packetCount: u64,
  byteCount: u64,
  match,
  instructions,
});

const k = <K extends string>(kind: K) => fc.constant(kind);

const multipartRequestBody: fc.Arbitrary<MultipartRequestBody> = fc.oneof(
  fc.constantFrom('DESC', 'TABLE', 'GROUP_DESC', 'GROUP_FEATURES', 'METER_FEATURES', 'PORT_DESC').map((kind) => ({ kind })),
  fc.tuple(fc.constantFrom('FLOW' as const, 'AGGREGATE' as const), flowStatsRequest).map(([kind, b]) => ({ kind, ...b })),
  record({ kind: k('PORT_STATS'), portNo: u32 }),
  record({ kind: k('QUEUE'), portNo: u32, queueId: u32 }),
  record({ kind: k('GROUP'), groupId: u32 }),
  record({ kind: fc.constantFrom('METER' as const, 'METER_CONFIG' as const), meterId: u32 }),
  record({ kind: k('TABLE_FEATURES'), tables: list(tableFeatures, 2) }),
  record({ kind: k('EXPERIMENTER'), experimenter: u32, expType: u32, data: bytes(16) }),
);

const multipartReplyBody: fc.Arbitrary<MultipartReplyBody> = fc.oneof(
  record({
    kind: k('DESC'),
    desc: record({ mfrDesc: ascii(256), hwDesc: ascii(40), swDesc: ascii(40), serialNum: ascii(32), dpDesc: ascii(256) }),
  }),
  record({ kind: k('FLOW'), flows: list(flowStats, 4) }),
  record({ kind: k('AGGREGATE'), stats: record({ packetCount: u64, byteCount: u64, flowCount: u32 }) }),
  record({ kind: k('TABLE'), tables: list(record({ tableId: u8, activeCount: u32, lookupCount: u64, matchedCount: u64 })) }),
  record({
    kind: k('PORT_STATS'),
    ports: list(
      record({
        portNo: u32,
        rxPackets: u64,
        txPackets: u64,
        rxBytes: u64,
        txBytes: u64,
        rxDropped: u64,
        txDropped: u64,
        rxErrors: u64,
        txErrors: u64,
        rxFrameErr: u64,
        rxOverErr: u64,
        rxCrcErr: u64,
        collisions: u64,
        durationSec: u32,
        durationNsec: u32,
      }),
    ),
  }),
  record({
    kind: k('QUEUE'),
    queues: list(record({ portNo: u32, queueId: u32, txBytes: u64, txPackets: u64, txErrors: u64, durationSec: u32, durationNsec: u32 })),
  }),
  record({
    kind: k('GROUP'),
    groups: list(
      record({
        groupId: u32,
        refCount: u32,
        packetCount: u64,
        byteCount: u64,
        durationSec: u32,
        durationNsec: u32,
        bucketStats: list(record({ packetCount: u64, byteCount: u64 })),
      }),
    ),
  }),
  record({ kind: k('GROUP_DESC'), groups: list(record({ groupType: u8, groupId: u32, buckets: list(bucket) })) }),
  record({
    kind: k('GROUP_FEATURES'),
    features: record({ types: u32, capabilities: u32, maxGroups: fc.tuple(u32, u32, u32, u32), actions: fc.tuple(u32, u32, u32, u32) }),
  }),
  record({
    kind: k('METER'),
    meters: list(
      record({
        meterId: u32,
        flowCount: u32,
        packetInCount: u64,
        byteInCount: u64,
        durationSec: u32,
        durationNsec: u32,
        bandStats: list(record({ packetBandCount: u64, byteBandCount: u64 })),
      }),
    ),
  }),
  record({ kind: k('METER_CONFIG'), meters: list(record({ flags: u16, meterId: u32, bands: list(meterBand) })) }),
  record({ kind: k('METER_FEATURES'), features: record({ maxMeter: u32, bandTypes: u32, capabilities: u32, maxBands: u8, maxColor: u8 }) }),
  record({ kind: k('TABLE_FEATURES'), tables: list(tableFeatures, 2) }),
  record({ kind: k('PORT_DESC'), ports: list(port) }),
  record({ kind: k('EXPERIMENTER'), experimenter: u32, expType: u32, data: bytes(16) }),
);

const queueProperty: fc.Arbitrary<QueueProperty> = fc.oneof(
  record({ type: fc.constantFrom('MIN_RATE' as const, 'MAX_RATE' as const), rate: u16 }),
  record({ type: k('EXPERIMENTER'), experimenter: u32, data: bytes(12) }),
  record({ type: k('UNKNOWN'), propertyType: u16.filter((t) => t !== 1 && t !== 2 && t !== 0xffff), data: bytes(12) }),
);

const t = <T extends string>(type: T) => fc.constant(type);
const empty = (type: 'FEATURES_REQUEST' | 'GET_CONFIG_REQUEST' | 'BARRIER_REQUEST' | 'BARRIER_REPLY' | 'GET_ASYNC_REQUEST') =>
  record({ type: t(type), xid: u32 });
const pair = fc.tuple(u32, u32);

export const flowMod = record({
  type: t('FLOW_MOD'),
  xid: u32,
  cookie: u64,
  cookieMask: u64,
  tableId: u8,
  command: u8,
  idleTimeout: u16,
  hardTimeout: u16,
  priority: u16,
  bufferId: u32,
  outPort: u32,
  outGroup: u32,
  flags: u16,
  match,
  instructions,
});

export const packetIn = record({
  type: t('PACKET_IN'),
  xid: u32,
  bufferId: u32,
  totalLen: u16,
  reason: u8,
  tableId: u8,
  cookie: u64,
  match,
  data: bytes(64),
});

export const message: fc.Arbitrary<OfMessage> = fc.oneof(
  fc.tuple(u32, list(helloElement), fc.option(fc.integer({ min: 1, max: 0xff }).filter((v) => v !== 4), { nil: undefined, freq: 5 })).map(
    ([xid, elements, version]) => (version === undefined ? { type: 'HELLO' as const, xid, elements } : { type: 'HELLO' as const, xid, elements, version }),
  ),
  fc
    .tuple(u32, u16, u16, u32, bytes(64))
    .map(([xid, errType, code, experimenter, data]) =>
      errType === 0xffff ? { type: 'ERROR' as const, xid, errType, code, experimenter, data } : { type: 'ERROR' as const, xid, errType, code, data },
    ),
  record({ type: fc.constantFrom('ECHO_REQUEST' as const, 'ECHO_REPLY' as const), xid: u32, data: bytes(32) }),
  record({ type: t('EXPERIMENTER'), xid: u32, experimenter: u32, expType: u32, data: bytes(32) }),
  empty('FEATURES_REQUEST'),
  empty('GET_CONFIG_REQUEST'),
  empty('BARRIER_REQUEST'),
  empty('BARRIER_REPLY'),
  empty('GET_ASYNC_REQUEST'),
  record({ type: t('FEATURES_REPLY'), xid: u32, datapathId: u64, nBuffers: u32, nTables: u8, auxiliaryId: u8, capabilities: u32, reserved: u32 }),
  record({ type: fc.constantFrom('GET_CONFIG_REPLY' as const, 'SET_CONFIG' as const), xid: u32, flags: u16, missSendLen: u16 }),
  packetIn,
  record({
    type: t('FLOW_REMOVED'),
    xid: u32,
    cookie: u64,
    priority: u16,
    reason: u8,
    tableId: u8,
    durationSec: u32,
    durationNsec: u32,
    idleTimeout: u16,
    hardTimeout: u16,
    packetCount: u64,
    byteCount: u64,
    match,
  }),
  record({ type: t('PORT_STATUS'), xid: u32, reason: u8, desc: port }),
  record({ type: t('PACKET_OUT'), xid: u32, bufferId: u32, inPort: u32, actions, data: bytes(64) }),
  flowMod,
  record({ type: t('GROUP_MOD'), xid: u32, command: u16, groupType: u8, groupId: u32, buckets: list(bucket) }),
  record({ type: t('PORT_MOD'), xid: u32, portNo: u32, hwAddr: mac, config: u32, mask: u32, advertise: u32 }),
  record({ type: t('TABLE_MOD'), xid: u32, tableId: u8, config: u32 }),
  record({ type: t('MULTIPART_REQUEST'), xid: u32, flags: u16, body: multipartRequestBody }),
  record({ type: t('MULTIPART_REPLY'), xid: u32, flags: u16, body: multipartReplyBody }),
  record({ type: t('QUEUE_GET_CONFIG_REQUEST'), xid: u32, port: u32 }),
  record({
    type: t('QUEUE_GET_CONFIG_REPLY'),
    xid: u32,
    port: u32,
    queues: list(record({ queueId: u32, port: u32, properties: list(queueProperty) })),
  }),
  record({ type: fc.constantFrom('ROLE_REQUEST' as const, 'ROLE_REPLY' as const), xid: u32, role: u32, generationId: u64 }),
  record({ type: fc.constantFrom('GET_ASYNC_REPLY' as const, 'SET_ASYNC' as const), xid: u32, packetInMask: pair, portStatusMask: pair, flowRemovedMask: pair }),
  record({ type: t('METER_MOD'), xid: u32, command: u16, flags: u16, meterId: u32, bands: list(meterBand) }),
);
