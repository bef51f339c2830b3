/**
 * Messages to bytes. Lengths are computed (written as placeholders, patched at the end), so a
 * message built by hand needs none, and a decoded message re-encodes to the bytes it came from.
 * Bad input (wrong types, out-of-range numbers, unknown names) is an OF_ENCODE ScoreError.
 */
import { ScoreError } from '../errors/errors.ts';
import * as K from './constants.ts';
import { Writer } from './bytes.ts';
import * as bytesMod from './bytes.ts';
import * as actionsMod from './actions.ts';
import * as instructionsMod from './instructions.ts';
import * as oxmMod from './oxm.ts';
import * as decodeMod from './decode.ts';
import type {
  Bucket,
  FeatureId,
  FlowStats,
  FlowStatsRequestBody,
  HelloElement,
  MeterBand,
  MultipartReplyBody,
  MultipartRequestBody,
  OfMessage,
  Port,
  TableFeatureProperty,
  TableFeatures,
} from './messages.ts';

// Under tsx (esbuild), every use of an imported binding is a getter call; the hot paths read
// module-local copies instead.
const { parseMacInto } = bytesMod;
const { writeActions } = actionsMod;
const { writeInstructions } = instructionsMod;
const { writeMatch } = oxmMod;
const { bitmapWords } = decodeMod;
const { OFP_VERSION, OFPET, OFPHET_VERSIONBITMAP, OFPMBT, OFPMP, OFPQT, OFPT, OFPTFPT, OFPXMC, OFP_NO_BUFFER } = K;
const OFPAT_OUTPUT = K.OFPAT.OUTPUT;

// One growing buffer reused by every call: encoding is synchronous, so it is never shared
// between two messages, and most messages then cost one allocation (the returned copy).
const shared = new Writer(4096);

function fail(message: string, details: Record<string, unknown> = {}): ScoreError {
  return new ScoreError('OF_ENCODE', message, details);
}

export function encodeMessage(msg: OfMessage): Uint8Array {
  const w = shared;
  w.reset();
  encodeInto(w, msg);
  return w.result();
}

/**
 * Appends a PACKET_OUT of `frame` (no buffer id) with one OUTPUT action per port (max_len 0), xid
 * 0: the bytes `encodeInto` writes for `packetOut({ inPort, actions: ports.map((p) =>
 * act.output(p, 0)), data: frame })` (OpenFlow 1.3.5 section 7.3.7), written straight from the
 * fields, with no message object, action objects or generic encoder between. A packet-in's answer
 * is one of these; the controller sends one per packet-in. `inPort` and each port: unsigned
 * 32-bit port numbers; OF_ENCODE when one is not, or when the message would pass 65,535 bytes.
 */
export function encodePacketOutInto(w: Writer, inPort: number, ports: readonly number[], frame: Uint8Array): void {
  if (!(inPort >>> 0 === inPort)) throw fail(`PACKET_OUT inPort ${String(inPort)} is not an unsigned 32-bit number`, { field: 'inPort', value: inPort });
  if (!(frame instanceof Uint8Array)) throw fail('PACKET_OUT data must be a Uint8Array', { field: 'data' });
  const actionsLen = ports.length * 16;
  const length = 24 + actionsLen + frame.length;
  if (length > 0xffff) throw fail(`PACKET_OUT of ${length} bytes does not fit the 16-bit length`, { field: 'message length', length });
  w.ensure(length);
  const at = w.pos;
  const b = w.buf;
  const dv = w.dv;
  b[at] = OFP_VERSION;
  b[at + 1] = OFPT.PACKET_OUT;
  dv.setUint16(at + 2, length);
  dv.setUint32(at + 4, 0);
  dv.setUint32(at + 8, OFP_NO_BUFFER);
  dv.setUint32(at + 12, inPort);
  dv.setUint16(at + 16, actionsLen);
  dv.setUint16(at + 18, 0); // 6 pad bytes
  dv.setUint32(at + 20, 0);
  let off = at + 24;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i] as number;
    if (!(port >>> 0 === port)) throw fail(`OUTPUT port ${String(port)} is not an unsigned 32-bit number`, { field: 'OUTPUT port', value: port });
    dv.setUint16(off, OFPAT_OUTPUT);
    dv.setUint16(off + 2, 16);
    dv.setUint32(off + 4, port);
    dv.setUint32(off + 8, 0); // max_len 0 and 2 of the 6 pad bytes
    dv.setUint32(off + 12, 0);
    off += 16;
  }
  b.set(frame, off);
  w.pos = at + length;
}

/** Appends one message to `w` (for callers batching many messages into one buffer). */
export function encodeInto(w: Writer, msg: OfMessage): void {
  if (msg === null || typeof msg !== 'object') throw fail('message must be an object');
  const type = OFPT[msg.type];
  if (type === undefined) throw fail(`unknown message type ${String(msg.type)}`, { type: msg.type });
  const start = w.pos;
  w.ensure(64);
  const version = msg.type === 'HELLO' && msg.version !== undefined ? msg.version : OFP_VERSION;
  w.u8(version, 'version');
  w.u8(type, 'type');
  w.u16(0, 'length');
  w.u32(msg.xid ?? 0, 'xid');
  encodeBody(w, msg);
  w.patch16(start + 2, w.pos - start, 'message length');
}

function data(w: Writer, d: Uint8Array | undefined): void {
  if (d !== undefined) w.bytes(d, 'data');
}

function encodeBody(w: Writer, m: OfMessage): void {
  switch (m.type) {
    case 'HELLO':
      for (const e of m.elements) writeHelloElement(w, e);
      return;
    case 'ERROR':
      w.u16(m.errType, 'errType');
      w.u16(m.code, 'code');
      if (m.errType === OFPET.EXPERIMENTER) {
        if (m.experimenter === undefined) throw fail('experimenter ERROR needs experimenter');
        w.u32(m.experimenter, 'experimenter');
      }
      data(w, m.data);
      return;
    case 'ECHO_REQUEST':
    case 'ECHO_REPLY':
      data(w, m.data);
      return;
    case 'EXPERIMENTER':
      w.u32(m.experimenter, 'experimenter');
      w.u32(m.expType, 'expType');
      data(w, m.data);
      return;
    case 'FEATURES_REQUEST':
    case 'GET_CONFIG_REQUEST':
    case 'BARRIER_REQUEST':
    case 'BARRIER_REPLY':
    case 'GET_ASYNC_REQUEST':
      return;
    case 'FEATURES_REPLY':
      w.u64(m.datapathId, 'datapathId');
      w.u32(m.nBuffers, 'nBuffers');
      w.u8(m.nTables, 'nTables');
      w.u8(m.auxiliaryId, 'auxiliaryId');
      w.zeros(2);
      w.u32(m.capabilities, 'capabilities');
      w.u32(m.reserved ?? 0, 'reserved');
      return;
    case 'GET_CONFIG_REPLY':
    case 'SET_CONFIG':
      w.u16(m.flags, 'flags');
      w.u16(m.missSendLen, 'missSendLen');
      return;
    case 'PACKET_IN':
      w.u32(m.bufferId, 'bufferId');
      w.u16(m.totalLen, 'totalLen');
      w.u8(m.reason, 'reason');
      w.u8(m.tableId, 'tableId');
      w.u64(m.cookie, 'cookie');
      writeMatch(w, m.match);
      w.zeros(2);
      data(w, m.data);
      return;
    case 'FLOW_REMOVED':
      w.u64(m.cookie, 'cookie');
      w.u16(m.priority, 'priority');
      w.u8(m.reason, 'reason');
      w.u8(m.tableId, 'tableId');
      w.u32(m.durationSec, 'durationSec');
      w.u32(m.durationNsec, 'durationNsec');
      w.u16(m.idleTimeout, 'idleTimeout');
      w.u16(m.hardTimeout, 'hardTimeout');
      w.u64(m.packetCount, 'packetCount');
      w.u64(m.byteCount, 'byteCount');
      writeMatch(w, m.match);
      return;
    case 'PORT_STATUS':
      w.u8(m.reason, 'reason');
      w.zeros(7);
      writePort(w, m.desc);
      return;
    case 'PACKET_OUT': {
      w.u32(m.bufferId, 'bufferId');
      w.u32(m.inPort, 'inPort');
      const at = w.pos;
      w.u16(0, 'actionsLen');
      w.zeros(6);
      writeActions(w, m.actions);
      w.patch16(at, w.pos - at - 8, 'actions length');
      data(w, m.data);
      return;
    }
    case 'FLOW_MOD':
      w.ensure(48);
      w.u64(m.cookie, 'cookie');
      w.u64(m.cookieMask, 'cookieMask');
      w.u8(m.tableId, 'tableId');
      w.u8(m.command, 'command');
      w.u16(m.idleTimeout, 'idleTimeout');
      w.u16(m.hardTimeout, 'hardTimeout');
      w.u16(m.priority, 'priority');
      w.u32(m.bufferId, 'bufferId');
      w.u32(m.outPort, 'outPort');
      w.u32(m.outGroup, 'outGroup');
      w.u16(m.flags, 'flags');
      w.zeros(2);
      writeMatch(w, m.match);
      writeInstructions(w, m.instructions);
      return;
    case 'GROUP_MOD':
      w.u16(m.command, 'command');
      w.u8(m.groupType, 'groupType');
      w.zeros(1);
      w.u32(m.groupId, 'groupId');
      writeBuckets(w, m.buckets);
      return;
    case 'PORT_MOD':
      w.u32(m.portNo, 'portNo');
      w.zeros(4);
      writeMac(w, m.hwAddr, 'hwAddr');
      w.zeros(2);
      w.u32(m.config, 'config');
      w.u32(m.mask, 'mask');
      w.u32(m.advertise, 'advertise');
      w.zeros(4);
      return;
    case 'TABLE_MOD':
      w.u8(m.tableId, 'tableId');
      w.zeros(3);
      w.u32(m.config, 'config');
      return;
    case 'MULTIPART_REQUEST':
      writeMultipartHeader(w, m.body, m.flags);
      writeMultipartRequest(w, m.body);
      return;
    case 'MULTIPART_REPLY':
      writeMultipartHeader(w, m.body, m.flags);
      writeMultipartReply(w, m.body);
      return;
    case 'QUEUE_GET_CONFIG_REQUEST':
      w.u32(m.port, 'port');
      w.zeros(4);
      return;
    case 'QUEUE_GET_CONFIG_REPLY':
      w.u32(m.port, 'port');
      w.zeros(4);
      for (const q of m.queues) {
        const qs = w.pos;
        w.u32(q.queueId, 'queueId');
        w.u32(q.port, 'queue port');
        w.u16(0, 'queue length');
        w.zeros(6);
        for (const p of q.properties) {
          const ps = w.pos;
          const ptype =
            p.type === 'MIN_RATE' ? OFPQT.MIN_RATE : p.type === 'MAX_RATE' ? OFPQT.MAX_RATE : p.type === 'EXPERIMENTER' ? OFPQT.EXPERIMENTER : p.propertyType;
          w.u16(ptype, 'queue property type');
          w.u16(0, 'queue property length');
          w.zeros(4);
          if (p.type === 'MIN_RATE' || p.type === 'MAX_RATE') {
            w.u16(p.rate, 'rate');
            w.zeros(6);
          } else if (p.type === 'EXPERIMENTER') {
            w.u32(p.experimenter, 'experimenter');
            w.zeros(4);
            w.bytes(p.data, 'queue property data');
          } else w.bytes(p.data, 'queue property data');
          w.patch16(ps + 2, w.pos - ps, 'queue property length');
        }
        w.patch16(qs + 8, w.pos - qs, 'queue length');
      }
      return;
    case 'ROLE_REQUEST':
    case 'ROLE_REPLY':
      w.u32(m.role, 'role');
      w.zeros(4);
      w.u64(m.generationId, 'generationId');
      return;
    case 'GET_ASYNC_REPLY':
    case 'SET_ASYNC':
      for (const pair of [m.packetInMask, m.portStatusMask, m.flowRemovedMask]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw fail('async masks are pairs');
        w.u32(pair[0], 'async mask');
        w.u32(pair[1], 'async mask');
      }
      return;
    case 'METER_MOD':
      w.u16(m.command, 'command');
      w.u16(m.flags, 'flags');
      w.u32(m.meterId, 'meterId');
      for (const b of m.bands) writeMeterBand(w, b);
      return;
    default: {
      const never: never = m;
      throw fail('unknown message type', { type: (never as { type: unknown }).type });
    }
  }
}

function writeMac(w: Writer, mac: string, what: string): void {
  w.ensure(6);
  if (!parseMacInto(mac, w.buf, w.pos)) throw fail(`${what}: not a MAC address`, { value: mac });
  w.pos += 6;
}

function writeHelloElement(w: Writer, e: HelloElement): void {
  const start = w.pos;
  if (e.type === 'VERSIONBITMAP') {
    const needed = bitmapWords(e.versions);
    if (e.words !== undefined && !(Number.isInteger(e.words) && e.words >= needed)) throw fail('bitmap words fewer than the versions need', { words: e.words });
    const words = new Array<number>(e.words ?? needed).fill(0);
    for (const v of e.versions) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw fail('bad version in bitmap', { version: v });
      words[v >>> 5] = ((words[v >>> 5] as number) | (1 << (v & 31))) >>> 0;
    }
    w.u16(OFPHET_VERSIONBITMAP, 'hello element type');
    w.u16(4 + 4 * words.length, 'hello element length');
    for (const word of words) w.u32(word, 'bitmap');
  } else {
    w.u16(e.elementType, 'hello element type');
    w.u16(4 + e.data.length, 'hello element length');
    w.bytes(e.data, 'hello element data');
  }
  w.pad8(start);
}

function writePort(w: Writer, p: Port): void {
  w.ensure(64);
  w.u32(p.portNo, 'portNo');
  w.zeros(4);
  writeMac(w, p.hwAddr, 'hwAddr');
  w.zeros(2);
  w.str(p.name, 16, 'port name');
  w.u32(p.config, 'config');
  w.u32(p.state, 'state');
  w.u32(p.curr, 'curr');
  w.u32(p.advertised, 'advertised');
  w.u32(p.supported, 'supported');
  w.u32(p.peer, 'peer');
  w.u32(p.currSpeed, 'currSpeed');
  w.u32(p.maxSpeed, 'maxSpeed');
}

function writeBuckets(w: Writer, buckets: readonly Bucket[]): void {
  for (const b of buckets) {
    const start = w.pos;
    w.u16(0, 'bucket length');
    w.u16(b.weight, 'weight');
    w.u32(b.watchPort, 'watchPort');
    w.u32(b.watchGroup, 'watchGroup');
    w.zeros(4);
    writeActions(w, b.actions);
    w.patch16(start, w.pos - start, 'bucket length');
  }
}

function writeMeterBand(w: Writer, b: MeterBand): void {
  const start = w.pos;
  const type = OFPMBT[b.type];
  if (type === undefined) throw fail('unknown meter band type', { band: b.type });
  w.u16(type, 'band type');
  w.u16(16, 'band length');
  w.u32(b.rate, 'rate');
  w.u32(b.burstSize, 'burstSize');
  if (b.type === 'DROP') w.zeros(4);
  else if (b.type === 'DSCP_REMARK') {
    w.u8(b.precLevel, 'precLevel');
    w.zeros(3);
  } else {
    w.u32(b.experimenter, 'experimenter');
    w.bytes(b.data, 'band data');
    if (((w.pos - start) & 7) !== 0) throw fail('experimenter band length must be a multiple of 8');
    w.patch16(start + 2, w.pos - start, 'band length');
  }
}

function writeMultipartHeader(w: Writer, body: { kind: string }, flags: number): void {
  const mp = (OFPMP as Record<string, number>)[body.kind];
  if (mp === undefined) throw fail('unknown multipart kind', { kind: body.kind });
  w.u16(mp, 'multipart type');
  w.u16(flags ?? 0, 'multipart flags');
  w.zeros(4);
}

function writeFlowStatsRequest(w: Writer, b: FlowStatsRequestBody): void {
  w.u8(b.tableId, 'tableId');
  w.zeros(3);
  w.u32(b.outPort, 'outPort');
  w.u32(b.outGroup, 'outGroup');
  w.zeros(4);
  w.u64(b.cookie, 'cookie');
  w.u64(b.cookieMask, 'cookieMask');
  writeMatch(w, b.match);
}

function writeMultipartRequest(w: Writer, b: MultipartRequestBody): void {
  switch (b.kind) {
    case 'DESC':
    case 'TABLE':
    case 'GROUP_DESC':
    case 'GROUP_FEATURES':
    case 'METER_FEATURES':
    case 'PORT_DESC':
      return;
    case 'FLOW':
    case 'AGGREGATE':
      writeFlowStatsRequest(w, b);
      return;
    case 'PORT_STATS':
      w.u32(b.portNo, 'portNo');
      w.zeros(4);
      return;
    case 'QUEUE':
      w.u32(b.portNo, 'portNo');
      w.u32(b.queueId, 'queueId');
      return;
    case 'GROUP':
      w.u32(b.groupId, 'groupId');
      w.zeros(4);
      return;
    case 'METER':
    case 'METER_CONFIG':
      w.u32(b.meterId, 'meterId');
      w.zeros(4);
      return;
    case 'TABLE_FEATURES':
      for (const t of b.tables) writeTableFeatures(w, t);
      return;
    case 'EXPERIMENTER':
      w.u32(b.experimenter, 'experimenter');
      w.u32(b.expType, 'expType');
      w.bytes(b.data, 'data');
      return;
    default: {
      const never: never = b;
      throw fail('unknown multipart kind', { kind: (never as { kind: unknown }).kind });
    }
  }
}

function writeFlowStats(w: Writer, f: FlowStats): void {
  const start = w.pos;
  w.ensure(56);
  w.u16(0, 'flow stats length');
  w.u8(f.tableId, 'tableId');
  w.zeros(1);
  w.u32(f.durationSec, 'durationSec');
  w.u32(f.durationNsec, 'durationNsec');
  w.u16(f.priority, 'priority');
  w.u16(f.idleTimeout, 'idleTimeout');
  w.u16(f.hardTimeout, 'hardTimeout');
  w.u16(f.flags, 'flags');
  w.zeros(4);
  w.u64(f.cookie, 'cookie');
  w.u64(f.packetCount, 'packetCount');
  w.u64(f.byteCount, 'byteCount');
  writeMatch(w, f.match);
  writeInstructions(w, f.instructions);
  w.patch16(start, w.pos - start, 'flow stats length');
}

function writeMultipartReply(w: Writer, b: MultipartReplyBody): void {
  switch (b.kind) {
    case 'DESC':
      w.str(b.desc.mfrDesc, 256, 'mfrDesc');
      w.str(b.desc.hwDesc, 256, 'hwDesc');
      w.str(b.desc.swDesc, 256, 'swDesc');
      w.str(b.desc.serialNum, 32, 'serialNum');
      w.str(b.desc.dpDesc, 256, 'dpDesc');
      return;
    case 'FLOW':
      for (const f of b.flows) writeFlowStats(w, f);
      return;
    case 'AGGREGATE':
      w.u64(b.stats.packetCount, 'packetCount');
      w.u64(b.stats.byteCount, 'byteCount');
      w.u32(b.stats.flowCount, 'flowCount');
      w.zeros(4);
      return;
    case 'TABLE':
      for (const t of b.tables) {
        w.u8(t.tableId, 'tableId');
        w.zeros(3);
        w.u32(t.activeCount, 'activeCount');
        w.u64(t.lookupCount, 'lookupCount');
        w.u64(t.matchedCount, 'matchedCount');
      }
      return;
    case 'PORT_STATS':
      for (const p of b.ports) {
        w.u32(p.portNo, 'portNo');
        w.zeros(4);
        w.u64(p.rxPackets, 'rxPackets');
        w.u64(p.txPackets, 'txPackets');
        w.u64(p.rxBytes, 'rxBytes');
        w.u64(p.txBytes, 'txBytes');
        w.u64(p.rxDropped, 'rxDropped');
        w.u64(p.txDropped, 'txDropped');
        w.u64(p.rxErrors, 'rxErrors');
        w.u64(p.txErrors, 'txErrors');
        w.u64(p.rxFrameErr, 'rxFrameErr');
        w.u64(p.rxOverErr, 'rxOverErr');
        w.u64(p.rxCrcErr, 'rxCrcErr');
        w.u64(p.collisions, 'collisions');
        w.u32(p.durationSec, 'durationSec');
        w.u32(p.durationNsec, 'durationNsec');
      }
      return;
    case 'QUEUE':
      for (const q of b.queues) {
        w.u32(q.portNo, 'portNo');
        w.u32(q.queueId, 'queueId');
        w.u64(q.txBytes, 'txBytes');
        w.u64(q.txPackets, 'txPackets');
        w.u64(q.txErrors, 'txErrors');
        w.u32(q.durationSec, 'durationSec');
        w.u32(q.durationNsec, 'durationNsec');
      }
      return;
    case 'GROUP':
      for (const g of b.groups) {
        const start = w.pos;
        w.u16(0, 'group stats length');
        w.zeros(2);
        w.u32(g.groupId, 'groupId');
        w.u32(g.refCount, 'refCount');
        w.zeros(4);
        w.u64(g.packetCount, 'packetCount');
        w.u64(g.byteCount, 'byteCount');
        w.u32(g.durationSec, 'durationSec');
        w.u32(g.durationNsec, 'durationNsec');
        for (const s of g.bucketStats) {
          w.u64(s.packetCount, 'bucket packetCount');
          w.u64(s.byteCount, 'bucket byteCount');
        }
        w.patch16(start, w.pos - start, 'group stats length');
      }
      return;
    case 'GROUP_DESC':
      for (const g of b.groups) {
        const start = w.pos;
        w.u16(0, 'group desc length');
        w.u8(g.groupType, 'groupType');
        w.zeros(1);
        w.u32(g.groupId, 'groupId');
        writeBuckets(w, g.buckets);
        w.patch16(start, w.pos - start, 'group desc length');
      }
      return;
    case 'GROUP_FEATURES': {
      const f = b.features;
      w.u32(f.types, 'types');
      w.u32(f.capabilities, 'capabilities');
      if (f.maxGroups.length !== 4 || f.actions.length !== 4) throw fail('group features arrays have 4 entries');
      for (const x of f.maxGroups) w.u32(x, 'maxGroups');
      for (const x of f.actions) w.u32(x, 'actions');
      return;
    }
    case 'METER':
      for (const s of b.meters) {
        const start = w.pos;
        w.u32(s.meterId, 'meterId');
        w.u16(0, 'meter stats length');
        w.zeros(6);
        w.u32(s.flowCount, 'flowCount');
        w.u64(s.packetInCount, 'packetInCount');
        w.u64(s.byteInCount, 'byteInCount');
        w.u32(s.durationSec, 'durationSec');
        w.u32(s.durationNsec, 'durationNsec');
        for (const bs of s.bandStats) {
          w.u64(bs.packetBandCount, 'packetBandCount');
          w.u64(bs.byteBandCount, 'byteBandCount');
        }
        w.patch16(start + 4, w.pos - start, 'meter stats length');
      }
      return;
    case 'METER_CONFIG':
      for (const c of b.meters) {
        const start = w.pos;
        w.u16(0, 'meter config length');
        w.u16(c.flags, 'flags');
        w.u32(c.meterId, 'meterId');
        for (const band of c.bands) writeMeterBand(w, band);
        w.patch16(start, w.pos - start, 'meter config length');
      }
      return;
    case 'METER_FEATURES': {
      const f = b.features;
      w.u32(f.maxMeter, 'maxMeter');
      w.u32(f.bandTypes, 'bandTypes');
      w.u32(f.capabilities, 'capabilities');
      w.u8(f.maxBands, 'maxBands');
      w.u8(f.maxColor, 'maxColor');
      w.zeros(2);
      return;
    }
    case 'TABLE_FEATURES':
      for (const t of b.tables) writeTableFeatures(w, t);
      return;
    case 'PORT_DESC':
      for (const p of b.ports) writePort(w, p);
      return;
    case 'EXPERIMENTER':
      w.u32(b.experimenter, 'experimenter');
      w.u32(b.expType, 'expType');
      w.bytes(b.data, 'data');
      return;
    default: {
      const never: never = b;
      throw fail('unknown multipart kind', { kind: (never as { kind: unknown }).kind });
    }
  }
}

function writeTableFeatures(w: Writer, t: TableFeatures): void {
  const start = w.pos;
  w.ensure(64);
  w.u16(0, 'table features length');
  w.u8(t.tableId, 'tableId');
  w.zeros(5);
  w.str(t.name, 32, 'table name');
  w.u64(t.metadataMatch, 'metadataMatch');
  w.u64(t.metadataWrite, 'metadataWrite');
  w.u32(t.config, 'config');
  w.u32(t.maxEntries, 'maxEntries');
  for (const p of t.properties) writeTableFeatureProperty(w, p);
  w.patch16(start, w.pos - start, 'table features length');
}

function writeFeatureIds(w: Writer, ids: readonly FeatureId[]): void {
  for (const id of ids) {
    w.u16(id.type, 'id type');
    w.u16(4 + id.data.length, 'id length');
    w.bytes(id.data, 'id data');
  }
}

function writeTableFeatureProperty(w: Writer, p: TableFeatureProperty): void {
  const start = w.pos;
  const type = p.type === 'UNKNOWN' ? p.propertyType : OFPTFPT[p.type];
  if (type === undefined) throw fail('unknown table feature property', { property: p.type });
  w.u16(type, 'property type');
  w.u16(0, 'property length');
  switch (p.type) {
    case 'INSTRUCTIONS':
    case 'INSTRUCTIONS_MISS':
      writeFeatureIds(w, p.instructionIds);
      break;
    case 'NEXT_TABLES':
    case 'NEXT_TABLES_MISS':
      for (const id of p.tableIds) w.u8(id, 'table id');
      break;
    case 'WRITE_ACTIONS':
    case 'WRITE_ACTIONS_MISS':
    case 'APPLY_ACTIONS':
    case 'APPLY_ACTIONS_MISS':
      writeFeatureIds(w, p.actionIds);
      break;
    case 'MATCH':
    case 'WILDCARDS':
    case 'WRITE_SETFIELD':
    case 'WRITE_SETFIELD_MISS':
    case 'APPLY_SETFIELD':
    case 'APPLY_SETFIELD_MISS':
      for (const id of p.oxmIds) {
        if (!(id.oxmField >= 0 && id.oxmField <= 0x7f)) throw fail('oxm id field out of range', { oxmField: id.oxmField });
        w.u16(id.oxmClass, 'oxm class');
        w.u8((id.oxmField << 1) | (id.hasMask ? 1 : 0), 'oxm field');
        w.u8(id.length, 'oxm length');
        if (id.oxmClass === OFPXMC.EXPERIMENTER) {
          if (id.experimenter === undefined) throw fail('experimenter oxm id needs experimenter');
          w.u32(id.experimenter, 'experimenter');
        }
      }
      break;
    case 'EXPERIMENTER':
    case 'EXPERIMENTER_MISS':
      w.u32(p.experimenter, 'experimenter');
      w.u32(p.expType, 'expType');
      w.bytes(p.data, 'data');
      break;
    case 'UNKNOWN':
      w.bytes(p.data, 'data');
      break;
  }
  w.patch16(start + 2, w.pos - start, 'property length');
  w.pad8(start);
}
