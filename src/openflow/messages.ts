/**
 * The typed view of every OpenFlow 1.3 message. `OfMessage` is a discriminated union on `type`
 * (the OFPT_* name). Field names follow the specification in camelCase; 64-bit fields are
 * bigint. Length fields are absent: the encoder computes them.
 */
import type { Action } from './actions.ts';
import type { Instruction } from './instructions.ts';
import type { Match } from './oxm.ts';

interface Base {
  /** Transaction id; encodeMessage uses 0 when it is left out. */
  xid: number;
}

export type HelloElement =
  | {
      type: 'VERSIONBITMAP';
      versions: number[];
      /** Bitmap words on the wire, kept only when a peer sends more than the versions need. */
      words?: number;
    }
  | { type: 'UNKNOWN'; elementType: number; data: Uint8Array };

export interface Hello extends Base {
  type: 'HELLO';
  /**
   * Header version when it is not 0x04. HELLO is the one message every version shares, and a
   * peer's HELLO of another version must still be readable to negotiate.
   */
  version?: number;
  elements: HelloElement[];
}

export interface ErrorMsg extends Base {
  type: 'ERROR';
  /** OFPET_*; 0xffff is an experimenter error, which also carries `experimenter`. */
  errType: number;
  /** OFP*C_* for the type; for an experimenter error, the experimenter's exp_type. */
  code: number;
  experimenter?: number;
  /** At least 64 bytes of the offending request, or an ASCII text for HELLO_FAILED. */
  data: Uint8Array;
}

export interface Echo<T extends 'ECHO_REQUEST' | 'ECHO_REPLY'> extends Base {
  type: T;
  data: Uint8Array;
}

export interface Experimenter extends Base {
  type: 'EXPERIMENTER';
  experimenter: number;
  expType: number;
  data: Uint8Array;
}

export interface Empty<T extends string> extends Base {
  type: T;
}

export interface FeaturesReply extends Base {
  type: 'FEATURES_REPLY';
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  auxiliaryId: number;
  capabilities: number;
  reserved: number;
}

export interface SwitchConfig<T extends 'GET_CONFIG_REPLY' | 'SET_CONFIG'> extends Base {
  type: T;
  flags: number;
  missSendLen: number;
}

export interface PacketIn extends Base {
  type: 'PACKET_IN';
  bufferId: number;
  totalLen: number;
  reason: number;
  tableId: number;
  cookie: bigint;
  match: Match;
  data: Uint8Array;
}

export interface FlowRemoved extends Base {
  type: 'FLOW_REMOVED';
  cookie: bigint;
  priority: number;
  reason: number;
  tableId: number;
  durationSec: number;
  durationNsec: number;
  idleTimeout: number;
  hardTimeout: number;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
}

export interface Port {
  portNo: number;
  hwAddr: string;
  name: string;
  config: number;
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number;
  maxSpeed: number;
}

export interface PortStatus extends Base {
  type: 'PORT_STATUS';
  reason: number;
  desc: Port;
}

export interface PacketOut extends Base {
  type: 'PACKET_OUT';
  bufferId: number;
  inPort: number;
  actions: Action[];
  data: Uint8Array;
}

export interface FlowMod extends Base {
  type: 'FLOW_MOD';
  cookie: bigint;
  cookieMask: bigint;
  tableId: number;
  command: number;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  outPort: number;
  outGroup: number;
  flags: number;
  match: Match;
  instructions: Instruction[];
}

export interface Bucket {
  weight: number;
  watchPort: number;
  watchGroup: number;
  actions: Action[];
}

export interface GroupMod extends Base {
  type: 'GROUP_MOD';
  command: number;
  groupType: number;
  groupId: number;
  buckets: Bucket[];
}

export interface PortMod extends Base {
  type: 'PORT_MOD';
  portNo: number;
  hwAddr: string;
  config: number;
  mask: number;
  advertise: number;
}

export interface TableMod extends Base {
  type: 'TABLE_MOD';
  tableId: number;
  config: number;
}

export type QueueProperty =
  | { type: 'MIN_RATE'; rate: number }
  | { type: 'MAX_RATE'; rate: number }
  | { type: 'EXPERIMENTER'; experimenter: number; data: Uint8Array }
  | { type: 'UNKNOWN'; propertyType: number; data: Uint8Array };

export interface PacketQueue {
  queueId: number;
  port: number;
  properties: QueueProperty[];
}

export interface QueueGetConfigRequest extends Base {
  type: 'QUEUE_GET_CONFIG_REQUEST';
  port: number;
}

export interface QueueGetConfigReply extends Base {
  type: 'QUEUE_GET_CONFIG_REPLY';
  port: number;
  queues: PacketQueue[];
}

export interface Role<T extends 'ROLE_REQUEST' | 'ROLE_REPLY'> extends Base {
  type: T;
  role: number;
  generationId: bigint;
}

export interface AsyncConfig<T extends 'GET_ASYNC_REPLY' | 'SET_ASYNC'> extends Base {
  type: T;
  /** [master/equal, slave] bitmaps, as in ofp_async_config. */
  packetInMask: [number, number];
  portStatusMask: [number, number];
  flowRemovedMask: [number, number];
}

export type MeterBand =
  | { type: 'DROP'; rate: number; burstSize: number }
  | { type: 'DSCP_REMARK'; rate: number; burstSize: number; precLevel: number }
  | { type: 'EXPERIMENTER'; rate: number; burstSize: number; experimenter: number; data: Uint8Array };

export interface MeterMod extends Base {
  type: 'METER_MOD';
  command: number;
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

// ---- multipart ----

export interface FlowStatsRequestBody {
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

export type TableFeatureProperty =
  | { type: 'INSTRUCTIONS' | 'INSTRUCTIONS_MISS'; instructionIds: FeatureId[] }
  | { type: 'NEXT_TABLES' | 'NEXT_TABLES_MISS'; tableIds: number[] }
  | {
      type: 'WRITE_ACTIONS' | 'WRITE_ACTIONS_MISS' | 'APPLY_ACTIONS' | 'APPLY_ACTIONS_MISS';
      actionIds: FeatureId[];
    }
  | {
      type:
        | 'MATCH'
        | 'WILDCARDS'
        | 'WRITE_SETFIELD'
        | 'WRITE_SETFIELD_MISS'
        | 'APPLY_SETFIELD'
        | 'APPLY_SETFIELD_MISS';
      oxmIds: OxmId[];
    }
  | { type: 'EXPERIMENTER' | 'EXPERIMENTER_MISS'; experimenter: number; expType: number; data: Uint8Array }
  | { type: 'UNKNOWN'; propertyType: number; data: Uint8Array };

/** An instruction or action id: its type and, for experimenter ones, the bytes after the header. */
export interface FeatureId {
  type: number;
  data: Uint8Array;
}

/** An OXM header as listed in table features (class, field, has-mask, length byte). */
export interface OxmId {
  oxmClass: number;
  oxmField: number;
  hasMask: boolean;
  length: number;
  /** Present when the class is 0xffff (experimenter). */
  experimenter?: number;
}

export interface TableFeatures {
  tableId: number;
  name: string;
  metadataMatch: bigint;
  metadataWrite: bigint;
  config: number;
  maxEntries: number;
  properties: TableFeatureProperty[];
}

export type MultipartRequestBody =
  | { kind: 'DESC' }
  | ({ kind: 'FLOW' } & FlowStatsRequestBody)
  | ({ kind: 'AGGREGATE' } & FlowStatsRequestBody)
  | { kind: 'TABLE' }
  | { kind: 'PORT_STATS'; portNo: number }
  | { kind: 'QUEUE'; portNo: number; queueId: number }
  | { kind: 'GROUP'; groupId: number }
  | { kind: 'GROUP_DESC' }
  | { kind: 'GROUP_FEATURES' }
  | { kind: 'METER'; meterId: number }
  | { kind: 'METER_CONFIG'; meterId: number }
  | { kind: 'METER_FEATURES' }
  | { kind: 'TABLE_FEATURES'; tables: TableFeatures[] }
  | { kind: 'PORT_DESC' }
  | { kind: 'EXPERIMENTER'; experimenter: number; expType: number; data: Uint8Array };

export interface Desc {
  mfrDesc: string;
  hwDesc: string;
  swDesc: string;
  serialNum: string;
  dpDesc: string;
}

export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  instructions: Instruction[];
}

export interface AggregateStats {
  packetCount: bigint;
  byteCount: bigint;
  flowCount: number;
}

export interface TableStats {
  tableId: number;
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}

export interface PortStats {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxFrameErr: bigint;
  rxOverErr: bigint;
  rxCrcErr: bigint;
  collisions: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface QueueStats {
  portNo: number;
  queueId: number;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  bucketStats: { packetCount: bigint; byteCount: bigint }[];
}

export interface GroupDesc {
  groupType: number;
  groupId: number;
  buckets: Bucket[];
}

export interface GroupFeatures {
  types: number;
  capabilities: number;
  maxGroups: [number, number, number, number];
  actions: [number, number, number, number];
}

export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: bigint;
  byteInCount: bigint;
  durationSec: number;
  durationNsec: number;
  bandStats: { packetBandCount: bigint; byteBandCount: bigint }[];
}

export interface MeterConfig {
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

export interface MeterFeatures {
  maxMeter: number;
  bandTypes: number;
  capabilities: number;
  maxBands: number;
  maxColor: number;
}

export type MultipartReplyBody =
  | { kind: 'DESC'; desc: Desc }
  | { kind: 'FLOW'; flows: FlowStats[] }
  | { kind: 'AGGREGATE'; stats: AggregateStats }
  | { kind: 'TABLE'; tables: TableStats[] }
  | { kind: 'PORT_STATS'; ports: PortStats[] }
  | { kind: 'QUEUE'; queues: QueueStats[] }
  | { kind: 'GROUP'; groups: GroupStats[] }
  | { kind: 'GROUP_DESC'; groups: GroupDesc[] }
  | { kind: 'GROUP_FEATURES'; features: GroupFeatures }
  | { kind: 'METER'; meters: MeterStats[] }
  | { kind: 'METER_CONFIG'; meters: MeterConfig[] }
  | { kind: 'METER_FEATURES'; features: MeterFeatures }
  | { kind: 'TABLE_FEATURES'; tables: TableFeatures[] }
  | { kind: 'PORT_DESC'; ports: Port[] }
  | { kind: 'EXPERIMENTER'; experimenter: number; expType: number; data: Uint8Array };

export type MultipartKind = MultipartRequestBody['kind'];

export interface MultipartRequest extends Base {
  type: 'MULTIPART_REQUEST';
  /** OFPMPF_REQ_MORE when more parts follow. */
  flags: number;
  body: MultipartRequestBody;
}

export interface MultipartReply extends Base {
  type: 'MULTIPART_REPLY';
  /** OFPMPF_REPLY_MORE when more parts follow. */
  flags: number;
  body: MultipartReplyBody;
}

export type OfMessage =
  | Hello
  | ErrorMsg
  | Echo<'ECHO_REQUEST'>
  | Echo<'ECHO_REPLY'>
  | Experimenter
  | Empty<'FEATURES_REQUEST'>
  | FeaturesReply
  | Empty<'GET_CONFIG_REQUEST'>
  | SwitchConfig<'GET_CONFIG_REPLY'>
  | SwitchConfig<'SET_CONFIG'>
  | PacketIn
  | FlowRemoved
  | PortStatus
  | PacketOut
  | FlowMod
  | GroupMod
  | PortMod
  | TableMod
  | MultipartRequest
  | MultipartReply
  | Empty<'BARRIER_REQUEST'>
  | Empty<'BARRIER_REPLY'>
  | QueueGetConfigRequest
  | QueueGetConfigReply
  | Role<'ROLE_REQUEST'>
  | Role<'ROLE_REPLY'>
  | Empty<'GET_ASYNC_REQUEST'>
  | AsyncConfig<'GET_ASYNC_REPLY'>
  | AsyncConfig<'SET_ASYNC'>
  | MeterMod;

export type OfMessageType = OfMessage['type'];
/** The message of one type, e.g. `MessageOf<'FLOW_MOD'>`. */
export type MessageOf<T extends OfMessageType> = Extract<OfMessage, { type: T }>;
