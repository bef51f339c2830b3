/**
 * Bytes to messages. Every failure is a ScoreError with an OF_* code: OF_TRUNCATED when bytes
 * run out, OF_BAD_LENGTH when a length field cannot be right, OF_BAD_VERSION, OF_UNKNOWN_TYPE.
 */
import { ScoreError } from '../errors/errors.ts';
import * as K from './constants.ts';
import { Reader } from './bytes.ts';
import * as bytesMod from './bytes.ts';
import * as actionsMod from './actions.ts';
import * as instructionsMod from './instructions.ts';
import * as oxmMod from './oxm.ts';
import type {
  Bucket,
  FeatureId,
  FlowStats,
  FlowStatsRequestBody,
  GroupStats,
  HelloElement,
  MeterBand,
  MeterConfig,
  MeterStats,
  MultipartReplyBody,
  MultipartRequestBody,
  OfMessage,
  OxmId,
  PacketQueue,
  Port,
  QueueProperty,
  TableFeatureProperty,
  TableFeatures,
} from './messages.ts';

// Under tsx (esbuild), every use of an imported binding is a getter call; the hot paths read
// module-local copies instead.
const { badLength, formatMac } = bytesMod;
const { readActions } = actionsMod;
const { readInstructions } = instructionsMod;
const { readMatch } = oxmMod;
const { OFP_HEADER_LEN, OFP_VERSION, OFPET, OFPHET_VERSIONBITMAP, OFPMBT, OFPMP, OFPQT, OFPT, OFPTFPT, OFPXMC } = K;

export interface OfHeader {
  version: number;
  type: number;
  length: number;
  xid: number;
}

/** The 8-byte header, without checking the version (the connection needs it to negotiate). */
export function decodeHeader(bytes: Uint8Array, offset = 0): OfHeader {
  if (bytes.length - offset < OFP_HEADER_LEN) {
    throw new ScoreError('OF_TRUNCATED', 'OpenFlow header: need 8 bytes', { available: bytes.length - offset });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  return { version: dv.getUint8(0), type: dv.getUint8(1), length: dv.getUint16(2), xid: dv.getUint32(4) };
}

const TYPE_NAMES: string[] = [];
for (const [k, v] of Object.entries(OFPT)) TYPE_NAMES[v] = k;

/** Decodes exactly one message; `bytes` must hold it and nothing more. */
export function decodeMessage(bytes: Uint8Array): OfMessage {
  if (!(bytes instanceof Uint8Array)) throw new ScoreError('OF_BAD_VALUE', 'decodeMessage needs a Uint8Array', {});
  // A Node Buffer's slice() is a view, not a copy: read through a plain Uint8Array so that
  // decoded byte fields never alias the caller's (possibly reused) socket buffer.
  if (bytes.constructor !== Uint8Array) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(bytes);
  r.need(OFP_HEADER_LEN, 'OpenFlow header');
  const version = r.u8();
  const type = r.u8();
  const length = r.u16();
  const xid = r.u32();
  if (length < OFP_HEADER_LEN) throw badLength('message', length, { type, xid });
  if (length > bytes.length) {
    throw new ScoreError('OF_TRUNCATED', `message says ${length} bytes, ${bytes.length} present`, {
      type,
      xid,
      length,
      available: bytes.length,
    });
  }
  if (length < bytes.length) throw badLength('message', length, { type, xid, available: bytes.length, trailing: true });
  if (version !== OFP_VERSION && type !== OFPT.HELLO) {
    throw new ScoreError('OF_BAD_VERSION', `OpenFlow version 0x${version.toString(16)} is not 1.3`, { version, type, xid });
  }
  r.end = length;
  const m = decodeBody(r, type, xid);
  if (m.type === 'HELLO' && version !== OFP_VERSION) m.version = version;
  if (r.pos !== r.end) throw badLength(`${m.type} message`, length, { type, xid, unread: r.end - r.pos });
  return m;
}

function decodeBody(r: Reader, type: number, xid: number): OfMessage {
  switch (type) {
    case OFPT.HELLO:
      return { type: 'HELLO', xid, elements: readHelloElements(r) };
    case OFPT.ERROR: {
      r.need(4, 'ERROR');
      const errType = r.u16();
      const code = r.u16();
      if (errType === OFPET.EXPERIMENTER) {
        r.need(4, 'experimenter ERROR');
        const experimenter = r.u32();
        return { type: 'ERROR', xid, errType, code, experimenter, data: r.rest() };
      }
      return { type: 'ERROR', xid, errType, code, data: r.rest() };
    }
    case OFPT.ECHO_REQUEST:
      return { type: 'ECHO_REQUEST', xid, data: r.rest() };
    case OFPT.ECHO_REPLY:
      return { type: 'ECHO_REPLY', xid, data: r.rest() };
    case OFPT.EXPERIMENTER:
      r.need(8, 'EXPERIMENTER');
      return { type: 'EXPERIMENTER', xid, experimenter: r.u32(), expType: r.u32(), data: r.rest() };
    case OFPT.FEATURES_REQUEST:
    case OFPT.GET_CONFIG_REQUEST:
    case OFPT.BARRIER_REQUEST:
    case OFPT.BARRIER_REPLY:
    case OFPT.GET_ASYNC_REQUEST:
      return { type: TYPE_NAMES[type] as 'BARRIER_REQUEST', xid };
    case OFPT.FEATURES_REPLY: {
      r.need(24, 'FEATURES_REPLY');
      const datapathId = r.u64();
      const nBuffers = r.u32();
      const nTables = r.u8();
      const auxiliaryId = r.u8();
      r.skip(2);
      return { type: 'FEATURES_REPLY', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities: r.u32(), reserved: r.u32() };
    }
    case OFPT.GET_CONFIG_REPLY:
    case OFPT.SET_CONFIG:
      r.need(4, 'switch config');
      return { type: type === OFPT.SET_CONFIG ? 'SET_CONFIG' : 'GET_CONFIG_REPLY', xid, flags: r.u16(), missSendLen: r.u16() };
    case OFPT.PACKET_IN: {
      r.need(16, 'PACKET_IN');
      const bufferId = r.u32();
      const totalLen = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const cookie = r.u64();
      const match = readMatch(r);
      r.need(2, 'PACKET_IN padding');
      r.skip(2);
      return { type: 'PACKET_IN', xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.rest() };
    }
    case OFPT.FLOW_REMOVED: {
      r.need(40, 'FLOW_REMOVED');
      const cookie = r.u64();
      const priority = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const durationSec = r.u32();
      const durationNsec = r.u32();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const packetCount = r.u64();
      const byteCount = r.u64();
      return {
        type: 'FLOW_REMOVED',
        xid,
        cookie,
        priority,
        reason,
        tableId,
        durationSec,
        durationNsec,
        idleTimeout,
        hardTimeout,
        packetCount,
        byteCount,
        match: readMatch(r),
      };
    }
    case OFPT.PORT_STATUS: {
      r.need(8, 'PORT_STATUS');
      const reason = r.u8();
      r.skip(7);
      return { type: 'PORT_STATUS', xid, reason, desc: readPort(r) };
    }
    case OFPT.PACKET_OUT: {
      r.need(16, 'PACKET_OUT');
      const bufferId = r.u32();
      const inPort = r.u32();
      const actionsLen = r.u16();
      r.skip(6);
      const actions = readActions(r, actionsLen);
      return { type: 'PACKET_OUT', xid, bufferId, inPort, actions, data: r.rest() };
    }
    case OFPT.FLOW_MOD: {
      r.need(40, 'FLOW_MOD');
      const cookie = r.u64();
      const cookieMask = r.u64();
      const tableId = r.u8();
      const command = r.u8();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const priority = r.u16();
      const bufferId = r.u32();
      const outPort = r.u32();
      const outGroup = r.u32();
      const flags = r.u16();
      r.skip(2);
      const match = readMatch(r);
      return {
        type: 'FLOW_MOD',
        xid,
        cookie,
        cookieMask,
        tableId,
        command,
        idleTimeout,
        hardTimeout,
        priority,
        bufferId,
        outPort,
        outGroup,
        flags,
        match,
        instructions: readInstructions(r),
      };
    }
    case OFPT.GROUP_MOD: {
      r.need(8, 'GROUP_MOD');
      const command = r.u16();
      const groupType = r.u8();
      r.skip(1);
      const groupId = r.u32();
      return { type: 'GROUP_MOD', xid, command, groupType, groupId, buckets: readBuckets(r) };
    }
    case OFPT.PORT_MOD: {
      r.need(32, 'PORT_MOD');
      const portNo = r.u32();
      r.skip(4);
      const hwAddr = formatMac(r.buf, r.pos);
      r.skip(8);
      const config = r.u32();
      const mask = r.u32();
      const advertise = r.u32();
      r.skip(4);
      return { type: 'PORT_MOD', xid, portNo, hwAddr, config, mask, advertise };
    }
    case OFPT.TABLE_MOD: {
      r.need(8, 'TABLE_MOD');
      const tableId = r.u8();
      r.skip(3);
      return { type: 'TABLE_MOD', xid, tableId, config: r.u32() };
    }
    case OFPT.MULTIPART_REQUEST: {
      r.need(8, 'MULTIPART_REQUEST');
      const mpType = r.u16();
      const flags = r.u16();
      r.skip(4);
      return { type: 'MULTIPART_REQUEST', xid, flags, body: readMultipartRequest(r, mpType) };
    }
    case OFPT.MULTIPART_REPLY: {
      r.need(8, 'MULTIPART_REPLY');
      const mpType = r.u16();
      const flags = r.u16();
      r.skip(4);
      return { type: 'MULTIPART_REPLY', xid, flags, body: readMultipartReply(r, mpType) };
    }
    case OFPT.QUEUE_GET_CONFIG_REQUEST: {
      r.need(8, 'QUEUE_GET_CONFIG_REQUEST');
      const port = r.u32();
      r.skip(4);
      return { type: 'QUEUE_GET_CONFIG_REQUEST', xid, port };
    }
    case OFPT.QUEUE_GET_CONFIG_REPLY: {
      r.need(8, 'QUEUE_GET_CONFIG_REPLY');
      const port = r.u32();
      r.skip(4);
      const queues: PacketQueue[] = [];
      while (r.pos < r.end) queues.push(readPacketQueue(r));
      return { type: 'QUEUE_GET_CONFIG_REPLY', xid, port, queues };
    }
    case OFPT.ROLE_REQUEST:
    case OFPT.ROLE_REPLY: {
      r.need(16, 'role');
      const role = r.u32();
      r.skip(4);
      return { type: type === OFPT.ROLE_REQUEST ? 'ROLE_REQUEST' : 'ROLE_REPLY', xid, role, generationId: r.u64() };
    }
    case OFPT.GET_ASYNC_REPLY:
    case OFPT.SET_ASYNC:
      r.need(24, 'async config');
      return {
        type: type === OFPT.SET_ASYNC ? 'SET_ASYNC' : 'GET_ASYNC_REPLY',
        xid,
        packetInMask: [r.u32(), r.u32()],
        portStatusMask: [r.u32(), r.u32()],
        flowRemovedMask: [r.u32(), r.u32()],
      };
    case OFPT.METER_MOD: {
      r.need(8, 'METER_MOD');
      const command = r.u16();
      const flags = r.u16();
      const meterId = r.u32();
      const bands: MeterBand[] = [];
      while (r.pos < r.end) bands.push(readMeterBand(r));
      return { type: 'METER_MOD', xid, command, flags, meterId, bands };
    }
    default:
      throw new ScoreError('OF_UNKNOWN_TYPE', `unknown OpenFlow message type ${type}`, { type, xid });
  }
}

function readHelloElements(r: Reader): HelloElement[] {
  const out: HelloElement[] = [];
  while (r.pos < r.end) {
    const start = r.pos;
    r.need(4, 'hello element');
    const type = r.u16();
    const len = r.u16();
    if (len < 4) throw badLength('hello element', len);
    const padded = (len + 7) & ~7;
    if (start + padded > r.end) throw badLength('hello element', len, { available: r.end - start });
    if (type === OFPHET_VERSIONBITMAP) {
      if (((len - 4) & 3) !== 0) throw badLength('version bitmap', len);
      const versions: number[] = [];
      for (let word = 0; word < (len - 4) / 4; word++) {
        const bits = r.u32();
        for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) versions.push(word * 32 + b);
      }
      const words = (len - 4) / 4;
      out.push(words === bitmapWords(versions) ? { type: 'VERSIONBITMAP', versions } : { type: 'VERSIONBITMAP', versions, words });
    } else {
      out.push({ type: 'UNKNOWN', elementType: type, data: r.bytes(len - 4) });
    }
    r.pos = start + padded;
  }
  return out;
}

export function bitmapWords(versions: readonly number[]): number {
  let max = -1;
  for (const v of versions) if (v > max) max = v;
  return max < 0 ? 0 : (max >>> 5) + 1;
}

function readPort(r: Reader): Port {
  r.need(64, 'port');
  const portNo = r.u32();
  r.skip(4);
  const hwAddr = formatMac(r.buf, r.pos);
  r.skip(8);
  const name = r.str(16);
  return {
    portNo,
    hwAddr,
    name,
    config: r.u32(),
    state: r.u32(),
    curr: r.u32(),
    advertised: r.u32(),
    supported: r.u32(),
    peer: r.u32(),
    currSpeed: r.u32(),
    maxSpeed: r.u32(),
  };
}

function readBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.pos < r.end) {
    const start = r.pos;
    r.need(16, 'bucket');
    const len = r.u16();
    if (len < 16) throw badLength('bucket', len);
    const weight = r.u16();
    const watchPort = r.u32();
    const watchGroup = r.u32();
    r.skip(4);
    const actions = readActions(r, len - 16);
    r.pos = start + len;
    out.push({ weight, watchPort, watchGroup, actions });
  }
  return out;
}

function readMeterBand(r: Reader): MeterBand {
  const start = r.pos;
  r.need(12, 'meter band');
  const type = r.u16();
  const len = r.u16();
  const rate = r.u32();
  const burstSize = r.u32();
  if (len < 16 || (len & 7) !== 0) throw badLength('meter band', len, { bandType: type });
  r.need(len - 12, 'meter band');
  let band: MeterBand;
  switch (type) {
    case OFPMBT.DROP:
      if (len !== 16) throw badLength('DROP band', len);
      band = { type: 'DROP', rate, burstSize };
      break;
    case OFPMBT.DSCP_REMARK:
      if (len !== 16) throw badLength('DSCP_REMARK band', len);
      band = { type: 'DSCP_REMARK', rate, burstSize, precLevel: r.u8() };
      break;
    case OFPMBT.EXPERIMENTER:
      band = { type: 'EXPERIMENTER', rate, burstSize, experimenter: r.u32(), data: r.bytes(start + len - r.pos) };
      break;
    default:
      throw new ScoreError('OF_UNKNOWN_TYPE', `unknown meter band type ${type}`, { bandType: type });
  }
  r.pos = start + len;
  return band;
}

function readPacketQueue(r: Reader): PacketQueue {
  const start = r.pos;
  r.need(16, 'packet queue');
  const queueId = r.u32();
  const port = r.u32();
  const len = r.u16();
  r.skip(6);
  if (len < 16) throw badLength('packet queue', len);
  return r.within(start, len, 'packet queue', () => {
    const properties: QueueProperty[] = [];
    while (r.pos < r.end) {
      const pstart = r.pos;
      r.need(8, 'queue property');
      const ptype = r.u16();
      const plen = r.u16();
      r.skip(4);
      if (plen < 8) throw badLength('queue property', plen);
      properties.push(
        r.within(pstart, plen, 'queue property', (): QueueProperty => {
          if (ptype === OFPQT.MIN_RATE || ptype === OFPQT.MAX_RATE) {
            if (plen !== 16) throw badLength('queue rate property', plen);
            const rate = r.u16();
            r.skip(6);
            return { type: ptype === OFPQT.MIN_RATE ? 'MIN_RATE' : 'MAX_RATE', rate };
          }
          if (ptype === OFPQT.EXPERIMENTER) {
            r.need(8, 'queue experimenter property');
            const experimenter = r.u32();
            r.skip(4);
            return { type: 'EXPERIMENTER', experimenter, data: r.rest() };
          }
          return { type: 'UNKNOWN', propertyType: ptype, data: r.rest() };
        }),
      );
    }
    return { queueId, port, properties };
  });
}

function readFlowStatsRequest(r: Reader): FlowStatsRequestBody {
  r.need(32, 'flow stats request');
  const tableId = r.u8();
  r.skip(3);
  const outPort = r.u32();
  const outGroup = r.u32();
  r.skip(4);
  const cookie = r.u64();
  const cookieMask = r.u64();
  return { tableId, outPort, outGroup, cookie, cookieMask, match: readMatch(r) };
}

function readMultipartRequest(r: Reader, mpType: number): MultipartRequestBody {
  let body: MultipartRequestBody;
  switch (mpType) {
    case OFPMP.DESC:
      body = { kind: 'DESC' };
      break;
    case OFPMP.FLOW:
      body = { kind: 'FLOW', ...readFlowStatsRequest(r) };
      break;
    case OFPMP.AGGREGATE:
      body = { kind: 'AGGREGATE', ...readFlowStatsRequest(r) };
      break;
    case OFPMP.TABLE:
      body = { kind: 'TABLE' };
      break;
    case OFPMP.PORT_STATS:
      r.need(8, 'port stats request');
      body = { kind: 'PORT_STATS', portNo: r.u32() };
      r.skip(4);
      break;
    case OFPMP.QUEUE:
      r.need(8, 'queue stats request');
      body = { kind: 'QUEUE', portNo: r.u32(), queueId: r.u32() };
      break;
    case OFPMP.GROUP:
      r.need(8, 'group stats request');
      body = { kind: 'GROUP', groupId: r.u32() };
      r.skip(4);
      break;
    case OFPMP.GROUP_DESC:
      body = { kind: 'GROUP_DESC' };
      break;
    case OFPMP.GROUP_FEATURES:
      body = { kind: 'GROUP_FEATURES' };
      break;
    case OFPMP.METER:
    case OFPMP.METER_CONFIG:
      r.need(8, 'meter request');
      body = { kind: mpType === OFPMP.METER ? 'METER' : 'METER_CONFIG', meterId: r.u32() };
      r.skip(4);
      break;
    case OFPMP.METER_FEATURES:
      body = { kind: 'METER_FEATURES' };
      break;
    case OFPMP.TABLE_FEATURES:
      body = { kind: 'TABLE_FEATURES', tables: readTableFeaturesList(r) };
      break;
    case OFPMP.PORT_DESC:
      body = { kind: 'PORT_DESC' };
      break;
    case OFPMP.EXPERIMENTER:
      r.need(8, 'experimenter multipart');
      body = { kind: 'EXPERIMENTER', experimenter: r.u32(), expType: r.u32(), data: r.rest() };
      break;
    default:
      throw new ScoreError('OF_UNKNOWN_TYPE', `unknown multipart type ${mpType}`, { multipartType: mpType });
  }
  return body;
}

function readMultipartReply(r: Reader, mpType: number): MultipartReplyBody {
  switch (mpType) {
    case OFPMP.DESC:
      r.need(1056, 'desc');
      return {
        kind: 'DESC',
        desc: { mfrDesc: r.str(256), hwDesc: r.str(256), swDesc: r.str(256), serialNum: r.str(32), dpDesc: r.str(256) },
      };
    case OFPMP.FLOW: {
      const flows: FlowStats[] = [];
      while (r.pos < r.end) flows.push(readFlowStats(r));
      return { kind: 'FLOW', flows };
    }
    case OFPMP.AGGREGATE: {
      r.need(24, 'aggregate stats');
      const packetCount = r.u64();
      const byteCount = r.u64();
      const flowCount = r.u32();
      r.skip(4);
      return { kind: 'AGGREGATE', stats: { packetCount, byteCount, flowCount } };
    }
    case OFPMP.TABLE: {
      const tables = [];
      while (r.pos < r.end) {
        r.need(24, 'table stats');
        const tableId = r.u8();
        r.skip(3);
        tables.push({ tableId, activeCount: r.u32(), lookupCount: r.u64(), matchedCount: r.u64() });
      }
      return { kind: 'TABLE', tables };
    }
    case OFPMP.PORT_STATS: {
      const ports = [];
      while (r.pos < r.end) {
        r.need(112, 'port stats');
        const portNo = r.u32();
        r.skip(4);
        ports.push({
          portNo,
          rxPackets: r.u64(),
          txPackets: r.u64(),
          rxBytes: r.u64(),
          txBytes: r.u64(),
          rxDropped: r.u64(),
          txDropped: r.u64(),
          rxErrors: r.u64(),
          txErrors: r.u64(),
          rxFrameErr: r.u64(),
          rxOverErr: r.u64(),
          rxCrcErr: r.u64(),
          collisions: r.u64(),
          durationSec: r.u32(),
          durationNsec: r.u32(),
        });
      }
      return { kind: 'PORT_STATS', ports };
    }
    case OFPMP.QUEUE: {
      const queues = [];
      while (r.pos < r.end) {
        r.need(40, 'queue stats');
        queues.push({
          portNo: r.u32(),
          queueId: r.u32(),
          txBytes: r.u64(),
          txPackets: r.u64(),
          txErrors: r.u64(),
          durationSec: r.u32(),
          durationNsec: r.u32(),
        });
      }
      return { kind: 'QUEUE', queues };
    }
    case OFPMP.GROUP: {
      const groups: GroupStats[] = [];
      while (r.pos < r.end) {
        const start = r.pos;
        r.need(40, 'group stats');
        const len = r.u16();
        if (len < 40 || ((len - 40) & 15) !== 0) throw badLength('group stats', len);
        r.skip(2);
        groups.push(
          r.within(start, len, 'group stats', () => {
            const groupId = r.u32();
            const refCount = r.u32();
            r.skip(4);
            const packetCount = r.u64();
            const byteCount = r.u64();
            const durationSec = r.u32();
            const durationNsec = r.u32();
            const bucketStats = [];
            while (r.pos < r.end) bucketStats.push({ packetCount: r.u64(), byteCount: r.u64() });
            return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, bucketStats };
          }),
        );
      }
      return { kind: 'GROUP', groups };
    }
    case OFPMP.GROUP_DESC: {
      const groups = [];
      while (r.pos < r.end) {
        const start = r.pos;
        r.need(8, 'group desc');
        const len = r.u16();
        const groupType = r.u8();
        r.skip(1);
        const groupId = r.u32();
        if (len < 8) throw badLength('group desc', len);
        groups.push(r.within(start, len, 'group desc', () => ({ groupType, groupId, buckets: readBuckets(r) })));
      }
      return { kind: 'GROUP_DESC', groups };
    }
    case OFPMP.GROUP_FEATURES: {
      r.need(40, 'group features');
      return {
        kind: 'GROUP_FEATURES',
        features: {
          types: r.u32(),
          capabilities: r.u32(),
          maxGroups: [r.u32(), r.u32(), r.u32(), r.u32()],
          actions: [r.u32(), r.u32(), r.u32(), r.u32()],
        },
      };
    }
    case OFPMP.METER: {
      const meters: MeterStats[] = [];
      while (r.pos < r.end) {
        const start = r.pos;
        r.need(40, 'meter stats');
        const meterId = r.u32();
        const len = r.u16();
        if (len < 40 || ((len - 40) & 15) !== 0) throw badLength('meter stats', len);
        r.skip(6);
        meters.push(
          r.within(start, len, 'meter stats', () => {
            const flowCount = r.u32();
            const packetInCount = r.u64();
            const byteInCount = r.u64();
            const durationSec = r.u32();
            const durationNsec = r.u32();
            const bandStats = [];
            while (r.pos < r.end) bandStats.push({ packetBandCount: r.u64(), byteBandCount: r.u64() });
            return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bandStats };
          }),
        );
      }
      return { kind: 'METER', meters };
    }
    case OFPMP.METER_CONFIG: {
      const meters: MeterConfig[] = [];
      while (r.pos < r.end) {
        const start = r.pos;
        r.need(8, 'meter config');
        const len = r.u16();
        const flags = r.u16();
        const meterId = r.u32();
        if (len < 8) throw badLength('meter config', len);
        meters.push(
          r.within(start, len, 'meter config', () => {
            const bands: MeterBand[] = [];
            while (r.pos < r.end) bands.push(readMeterBand(r));
            return { flags, meterId, bands };
          }),
        );
      }
      return { kind: 'METER_CONFIG', meters };
    }
    case OFPMP.METER_FEATURES: {
      r.need(16, 'meter features');
      const maxMeter = r.u32();
      const bandTypes = r.u32();
      const capabilities = r.u32();
      const maxBands = r.u8();
      const maxColor = r.u8();
      r.skip(2);
      return { kind: 'METER_FEATURES', features: { maxMeter, bandTypes, capabilities, maxBands, maxColor } };
    }
    case OFPMP.TABLE_FEATURES:
      return { kind: 'TABLE_FEATURES', tables: readTableFeaturesList(r) };
    case OFPMP.PORT_DESC: {
      const ports: Port[] = [];
      while (r.pos < r.end) ports.push(readPort(r));
      return { kind: 'PORT_DESC', ports };
    }
    case OFPMP.EXPERIMENTER:
      r.need(8, 'experimenter multipart');
      return { kind: 'EXPERIMENTER', experimenter: r.u32(), expType: r.u32(), data: r.rest() };
    default:
      throw new ScoreError('OF_UNKNOWN_TYPE', `unknown multipart type ${mpType}`, { multipartType: mpType });
  }
}

function readFlowStats(r: Reader): FlowStats {
  const start = r.pos;
  r.need(48, 'flow stats');
  const len = r.u16();
  if (len < 56) throw badLength('flow stats', len);
  if (start + len > r.end) throw badLength('flow stats', len, { available: r.end - start });
  const tableId = r.u8();
  r.skip(1);
  const durationSec = r.u32();
  const durationNsec = r.u32();
  const priority = r.u16();
  const idleTimeout = r.u16();
  const hardTimeout = r.u16();
  const flags = r.u16();
  r.skip(4);
  const cookie = r.u64();
  const packetCount = r.u64();
  const byteCount = r.u64();
  const saved = r.end;
  r.end = start + len;
  const match = readMatch(r);
  const instructions = readInstructions(r);
  r.end = saved;
  r.pos = start + len;
  return {
    tableId,
    durationSec,
    durationNsec,
    priority,
    idleTimeout,
    hardTimeout,
    flags,
    cookie,
    packetCount,
    byteCount,
    match,
    instructions,
  };
}

function readTableFeaturesList(r: Reader): TableFeatures[] {
  const out: TableFeatures[] = [];
  while (r.pos < r.end) {
    const start = r.pos;
    r.need(64, 'table features');
    const len = r.u16();
    if (len < 64) throw badLength('table features', len);
    const tableId = r.u8();
    r.skip(5);
    const name = r.str(32);
    const metadataMatch = r.u64();
    const metadataWrite = r.u64();
    const config = r.u32();
    const maxEntries = r.u32();
    out.push(
      r.within(start, len, 'table features', () => {
        const properties: TableFeatureProperty[] = [];
        while (r.pos < r.end) properties.push(readTableFeatureProperty(r));
        return { tableId, name, metadataMatch, metadataWrite, config, maxEntries, properties };
      }),
    );
  }
  return out;
}

const TFPT_NAMES: string[] = [];
for (const [k, v] of Object.entries(OFPTFPT)) if (v < 16) TFPT_NAMES[v] = k;

function readTableFeatureProperty(r: Reader): TableFeatureProperty {
  const start = r.pos;
  r.need(4, 'table feature property');
  const type = r.u16();
  const len = r.u16();
  if (len < 4) throw badLength('table feature property', len);
  const padded = (len + 7) & ~7;
  if (start + padded > r.end) throw badLength('table feature property', len, { available: r.end - start });
  const prop = r.within(start, len, 'table feature property', (): TableFeatureProperty => {
    const name = TFPT_NAMES[type];
    switch (type) {
      case OFPTFPT.INSTRUCTIONS:
      case OFPTFPT.INSTRUCTIONS_MISS:
        return { type: name as 'INSTRUCTIONS', instructionIds: readFeatureIds(r) };
      case OFPTFPT.NEXT_TABLES:
      case OFPTFPT.NEXT_TABLES_MISS: {
        const tableIds: number[] = [];
        while (r.pos < r.end) tableIds.push(r.u8());
        return { type: name as 'NEXT_TABLES', tableIds };
      }
      case OFPTFPT.WRITE_ACTIONS:
      case OFPTFPT.WRITE_ACTIONS_MISS:
      case OFPTFPT.APPLY_ACTIONS:
      case OFPTFPT.APPLY_ACTIONS_MISS:
        return { type: name as 'WRITE_ACTIONS', actionIds: readFeatureIds(r) };
      case OFPTFPT.MATCH:
      case OFPTFPT.WILDCARDS:
      case OFPTFPT.WRITE_SETFIELD:
      case OFPTFPT.WRITE_SETFIELD_MISS:
      case OFPTFPT.APPLY_SETFIELD:
      case OFPTFPT.APPLY_SETFIELD_MISS: {
        const oxmIds: OxmId[] = [];
        while (r.pos < r.end) {
          r.need(4, 'oxm id');
          const oxmClass = r.u16();
          const fh = r.u8();
          const length = r.u8();
          const id: OxmId = { oxmClass, oxmField: fh >>> 1, hasMask: (fh & 1) === 1, length };
          if (oxmClass === OFPXMC.EXPERIMENTER) {
            r.need(4, 'experimenter oxm id');
            id.experimenter = r.u32();
          }
          oxmIds.push(id);
        }
        return { type: name as 'MATCH', oxmIds };
      }
      case OFPTFPT.EXPERIMENTER:
      case OFPTFPT.EXPERIMENTER_MISS:
        r.need(8, 'experimenter table feature property');
        return {
          type: type === OFPTFPT.EXPERIMENTER ? 'EXPERIMENTER' : 'EXPERIMENTER_MISS',
          experimenter: r.u32(),
          expType: r.u32(),
          data: r.rest(),
        };
      default:
        return { type: 'UNKNOWN', propertyType: type, data: r.rest() };
    }
  });
  r.pos = start + padded;
  return prop;
}

function readFeatureIds(r: Reader): FeatureId[] {
  const out: FeatureId[] = [];
  while (r.pos < r.end) {
    const start = r.pos;
    r.need(4, 'feature id');
    const type = r.u16();
    const len = r.u16();
    if (len < 4 || start + len > r.end) throw badLength('feature id', len);
    out.push({ type, data: r.bytes(len - 4) });
  }
  return out;
}
