// Test support: reads Ryu's JSON view of a golden vector losslessly and maps it to this codec's
// message shape, so the vector test can compare a decoded message with an independent decoding.
// Parts that are vendor extensions (Nicira actions and fields, ONF multiparts), which this codec
// keeps opaque, map to matchers that check only what an opaque value can show.
import assert from 'node:assert/strict';
import { formatIpv6, parseIpv6Into } from './bytes.ts';
import { EXPERIMENTER_ID, OFPMP, OFPT, OFPTFPT, OFPXMC } from './constants.ts';
import { oxmSpec } from './oxm.ts';

type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** JSON.parse, but integers beyond 2^53 become bigint instead of losing digits. */
export function parseJsonLossless(text: string): Json {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (tok) => {
    if (tok.startsWith('"') || !/^-?\d+$/.test(tok) || Number.isSafeInteger(Number(tok))) return tok;
    return `{"$bigint":"${tok}"}`;
  });
  return JSON.parse(marked, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && '$bigint' in v ? BigInt((v as { $bigint: string }).$bigint) : v,
  ) as Json;
}

// ---- matchers: expected values that accept a family of actual values ----

const MATCHER = Symbol('matcher');
export interface Matcher {
  [MATCHER]: (actual: unknown) => boolean;
  description: string;
}
function matcher(description: string, test: (a: unknown) => boolean): Matcher {
  return { [MATCHER]: test, description };
}
function isMatcher(x: unknown): x is Matcher {
  return typeof x === 'object' && x !== null && MATCHER in x;
}

/** Deep comparison where `expected` may hold matchers; reports the first differing path. */
export function assertMatches(actual: unknown, expected: unknown, path = '$'): void {
  if (isMatcher(expected)) {
    assert.ok(expected[MATCHER](actual), `${path}: expected ${expected.description}, got ${show(actual)}`);
    return;
  }
  if (expected instanceof Uint8Array) {
    assert.ok(actual instanceof Uint8Array, `${path}: expected bytes, got ${show(actual)}`);
    assert.deepEqual(Buffer.from(actual).toString('hex'), Buffer.from(expected).toString('hex'), path);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${show(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: array length`);
    expected.forEach((e, i) => assertMatches((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${path}: expected an object, got ${show(actual)}`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys`);
    for (const k of Object.keys(e)) assertMatches(a[k], e[k], `${path}.${k}`);
    return;
  }
  assert.equal(actual, expected, path);
}

function show(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  if (x instanceof Uint8Array) return `bytes(${Buffer.from(x).toString('hex')})`;
  try {
    return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(x);
  } catch {
    return String(x);
  }
}

// ---- the mapper ----

/** Names of Ryu classes or fields that are vendor extensions, met while mapping one vector. */
export interface MapNotes {
  extensions: string[];
}

function only(j: Json, what: string): [string, Obj] {
  assert.ok(j !== null && typeof j === 'object' && !Array.isArray(j) && typeof j !== 'bigint', `${what}: not an object`);
  const keys = Object.keys(j);
  assert.equal(keys.length, 1, `${what}: expected one class wrapper, got ${keys.join(',')}`);
  const key = keys[0] as string;
  return [key, j[key] as Obj];
}

const num = (v: Json | undefined): number => {
  if (typeof v === 'bigint') return Number(v);
  assert.equal(typeof v, 'number', `expected a number, got ${show(v)}`);
  return v as number;
};
const big = (v: Json | undefined): bigint => {
  assert.ok(typeof v === 'number' || typeof v === 'bigint', `expected an integer, got ${show(v)}`);
  return BigInt(v);
};
const b64 = (v: Json | undefined): Uint8Array => {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v === 'object' && !Array.isArray(v) && typeof v !== 'bigint' && 'Packet' in v) return packetFromRyu(v.Packet as Obj);
  assert.equal(typeof v, 'string');
  return new Uint8Array(Buffer.from(v as string, 'base64'));
};
const arr = (v: Json | undefined): Json[] => {
  assert.ok(Array.isArray(v), `expected an array, got ${show(v)}`);
  return v;
};
const u32Words = (v: Json | undefined): Uint8Array => {
  const words = arr(v).map(num);
  const out = new Uint8Array(words.length * 4);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w));
  return out;
};

/**
 * Ryu shows some packet payloads parsed by its packet library (Ethernet / IPv4 / ICMP echo);
 * every header field is there, checksums included, so the bytes can be rebuilt exactly.
 */
function packetFromRyu(p: Obj): Uint8Array {
  const out: number[] = [];
  const u8 = (v: Json | undefined): void => void out.push(num(v) & 0xff);
  const u16 = (v: Json | undefined): void => void out.push((num(v) >>> 8) & 0xff, num(v) & 0xff);
  const mac = (v: Json | undefined): void => void out.push(...(v as string).split(':').map((x) => parseInt(x, 16)));
  const ip = (v: Json | undefined): void => void out.push(...(v as string).split('.').map(Number));
  for (const layer of arr(p.protocols)) {
    const [name, o] = only(layer, 'protocol');
    if (name === 'ethernet') {
      mac(o.dst);
      mac(o.src);
      u16(o.ethertype);
    } else if (name === 'ipv4') {
      assert.equal(o.option, null, 'IPv4 options are not rebuilt');
      u8((num(o.version) << 4) | num(o.header_length));
      u8(o.tos);
      u16(o.total_length);
      u16(o.identification);
      u16((num(o.flags) << 13) | num(o.offset));
      u8(o.ttl);
      u8(o.proto);
      u16(o.csum);
      ip(o.src);
      ip(o.dst);
    } else if (name === 'icmp') {
      u8(o.type);
      u8(o.code);
      u16(o.csum);
      const [kind, body] = only(o.data as Json, 'icmp data');
      assert.equal(kind, 'echo', 'only ICMP echo is rebuilt');
      u16(body.id);
      u16(body.seq);
      out.push(...b64(body.data));
    } else assert.fail(`packet layer ${name} is not rebuilt`);
  }
  return Uint8Array.from(out);
}

function oxmValue(name: string, v: Json): unknown {
  const spec = oxmSpec(name);
  assert.ok(spec, name);
  switch (spec.kind) {
    case 'u64':
      return big(v);
    case 'uint':
      return num(v);
    case 'mac':
    case 'ipv4':
      return v;
    case 'ipv6': {
      const b = new Uint8Array(16);
      assert.ok(parseIpv6Into(v as string, b, 0), `ipv6 ${show(v)}`);
      return formatIpv6(b, 0);
    }
  }
}

/**
 * Non-basic fields whose wire form is documented (Nicira NXM class 1, ONF experimenter class),
 * so the vector test can still check them exactly as raw TLVs.
 */
const EXTRA_OXM: Record<string, { oxmClass: number; oxmField: number; size: number; prefix?: number[] }> = {
  tun_ipv4_src: { oxmClass: OFPXMC.NXM_1, oxmField: 31, size: 4 },
  tun_ipv4_dst: { oxmClass: OFPXMC.NXM_1, oxmField: 32, size: 4 },
  pkt_mark: { oxmClass: OFPXMC.NXM_1, oxmField: 33, size: 4 },
  conj_id: { oxmClass: OFPXMC.NXM_1, oxmField: 37, size: 4 },
  ct_state: { oxmClass: OFPXMC.NXM_1, oxmField: 105, size: 4 },
  ct_mark: { oxmClass: OFPXMC.NXM_1, oxmField: 107, size: 4 },
  ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`reg${i}`, { oxmClass: OFPXMC.NXM_1, oxmField: i, size: 4 }])),
  // ONF extension EXT-256 for 1.3: experimenter id, exp_type 2560, then the value.
  pbb_uca: { oxmClass: OFPXMC.EXPERIMENTER, oxmField: 0, size: 1, prefix: [0x4f, 0x4e, 0x46, 0x00, 0x0a, 0x00] },
};

function beBytes(v: Json | undefined, size: number): number[] {
  if (typeof v === 'string') return v.split('.').map(Number);
  const n = big(v);
  return Array.from({ length: size }, (_, i) => Number((n >> BigInt(8 * (size - 1 - i))) & 0xffn));
}

function mapOxm(j: Json, notes: MapNotes): unknown {
  const [cls, o] = only(j, 'oxm');
  assert.equal(cls, 'OXMTlv');
  const field = o.field as string;
  const extra = EXTRA_OXM[field];
  if (extra !== undefined) {
    const hasMask = o.mask !== null && o.mask !== undefined;
    const payload = [...(extra.prefix ?? []), ...beBytes(o.value, extra.size), ...(hasMask ? beBytes(o.mask, extra.size) : [])];
    return { field: 'raw', oxmClass: extra.oxmClass, oxmField: extra.oxmField, hasMask, payload: Uint8Array.from(payload) };
  }
  if (oxmSpec(field) === undefined) {
    notes.extensions.push(`oxm:${field}`);
    return matcher(`an opaque non-basic OXM (Ryu: ${field})`, (a) => {
      const r = a as { field?: unknown; oxmClass?: unknown };
      return r.field === 'raw' && r.oxmClass !== OFPXMC.OPENFLOW_BASIC;
    });
  }
  const out: Record<string, unknown> = { field, value: oxmValue(field, o.value as Json) };
  if (o.mask !== null && o.mask !== undefined) out.mask = oxmValue(field, o.mask);
  return out;
}

function mapMatch(j: Json, notes: MapNotes): unknown[] {
  const [cls, o] = only(j, 'match');
  assert.equal(cls, 'OFPMatch');
  assert.equal(num(o.type), 1);
  return arr(o.oxm_fields).map((f) => mapOxm(f, notes));
}

const SIMPLE_ACTIONS: Record<string, [string, string?, string?]> = {
  OFPActionCopyTtlOut: ['COPY_TTL_OUT'],
  OFPActionCopyTtlIn: ['COPY_TTL_IN'],
  OFPActionDecMplsTtl: ['DEC_MPLS_TTL'],
  OFPActionPopVlan: ['POP_VLAN'],
  OFPActionDecNwTtl: ['DEC_NW_TTL'],
  OFPActionPopPbb: ['POP_PBB'],
  OFPActionSetMplsTtl: ['SET_MPLS_TTL', 'mpls_ttl', 'mplsTtl'],
  OFPActionSetNwTtl: ['SET_NW_TTL', 'nw_ttl', 'nwTtl'],
  OFPActionPushVlan: ['PUSH_VLAN', 'ethertype', 'ethertype'],
  OFPActionPushMpls: ['PUSH_MPLS', 'ethertype', 'ethertype'],
  OFPActionPopMpls: ['POP_MPLS', 'ethertype', 'ethertype'],
  OFPActionPushPbb: ['PUSH_PBB', 'ethertype', 'ethertype'],
  OFPActionSetQueue: ['SET_QUEUE', 'queue_id', 'queueId'],
  OFPActionGroup: ['GROUP', 'group_id', 'groupId'],
};

function mapAction(j: Json, notes: MapNotes): unknown {
  const [cls, o] = only(j, 'action');
  const simple = SIMPLE_ACTIONS[cls];
  if (simple) {
    const [type, from, to] = simple;
    return from && to ? { type, [to]: num(o[from]) } : { type };
  }
  switch (cls) {
    case 'OFPActionOutput':
      return { type: 'OUTPUT', port: num(o.port), maxLen: num(o.max_len) };
    case 'OFPActionSetField':
      return { type: 'SET_FIELD', field: mapOxm(o.field as Json, notes) };
    case 'OFPActionExperimenterUnknown':
      return { type: 'EXPERIMENTER', experimenter: num(o.experimenter), data: b64(o.data) };
    default:
      if (cls.startsWith('NX')) {
        notes.extensions.push(`action:${cls}`);
        return matcher(`an opaque Nicira experimenter action (Ryu: ${cls})`, (a) => {
          const x = a as { type?: unknown; experimenter?: unknown; data?: unknown };
          return x.type === 'EXPERIMENTER' && x.experimenter === EXPERIMENTER_ID.NICIRA && x.data instanceof Uint8Array;
        });
      }
      assert.fail(`mapper does not know action class ${cls}`);
  }
}

function mapInstruction(j: Json, notes: MapNotes): unknown {
  const [cls, o] = only(j, 'instruction');
  switch (cls) {
    case 'OFPInstructionGotoTable':
      return { type: 'GOTO_TABLE', tableId: num(o.table_id) };
    case 'OFPInstructionWriteMetadata':
      return { type: 'WRITE_METADATA', metadata: big(o.metadata), metadataMask: big(o.metadata_mask) };
    case 'OFPInstructionActions': {
      const t = num(o.type);
      if (t === 5) return { type: 'CLEAR_ACTIONS' };
      return { type: t === 3 ? 'WRITE_ACTIONS' : 'APPLY_ACTIONS', actions: arr(o.actions).map((a) => mapAction(a, notes)) };
    }
    case 'OFPInstructionMeter':
      return { type: 'METER', meterId: num(o.meter_id) };
    default:
      assert.fail(`mapper does not know instruction class ${cls}`);
  }
}

function mapPort(j: Json): unknown {
  const [cls, o] = only(j, 'port');
  assert.equal(cls, 'OFPPort');
  return {
    portNo: num(o.port_no),
    hwAddr: o.hw_addr,
    name: o.name,
    config: num(o.config),
    state: num(o.state),
    curr: num(o.curr),
    advertised: num(o.advertised),
    supported: num(o.supported),
    peer: num(o.peer),
    currSpeed: num(o.curr_speed),
    maxSpeed: num(o.max_speed),
  };
}

function mapBucket(j: Json, notes: MapNotes): unknown {
  const [, o] = only(j, 'bucket');
  return {
    weight: num(o.weight),
    watchPort: num(o.watch_port),
    watchGroup: num(o.watch_group),
    actions: arr(o.actions).map((a) => mapAction(a, notes)),
  };
}

function mapBand(j: Json): unknown {
  const [cls, o] = only(j, 'band');
  const base = { rate: num(o.rate), burstSize: num(o.burst_size) };
  switch (cls) {
    case 'OFPMeterBandDrop':
      return { type: 'DROP', ...base };
    case 'OFPMeterBandDscpRemark':
      return { type: 'DSCP_REMARK', ...base, precLevel: num(o.prec_level) };
    case 'OFPMeterBandExperimenter':
      return { type: 'EXPERIMENTER', ...base, experimenter: num(o.experimenter), data: new Uint8Array(0) };
    default:
      assert.fail(`mapper does not know band class ${cls}`);
  }
}

const TFPT_NAME = new Map<number, string>(Object.entries(OFPTFPT).map(([k, v]) => [v, k]));

function mapFeatureId(j: Json): unknown {
  const [, o] = only(j, 'id');
  assert.equal(num(o.len), 4, 'only plain ids are mapped');
  return { type: num(o.type), data: new Uint8Array(0) };
}

function mapTableFeatureProp(j: Json, notes: MapNotes): unknown {
  const [cls, o] = only(j, 'table feature property');
  const t = num(o.type);
  const type = TFPT_NAME.get(t);
  switch (cls) {
    case 'OFPTableFeaturePropInstructions':
      return { type, instructionIds: arr(o.instruction_ids).map(mapFeatureId) };
    case 'OFPTableFeaturePropNextTables':
      return { type, tableIds: arr(o.table_ids).map(num) };
    case 'OFPTableFeaturePropActions':
      return { type, actionIds: arr(o.action_ids).map(mapFeatureId) };
    case 'OFPTableFeaturePropOxm':
      return {
        type,
        oxmIds: arr(o.oxm_ids).map((x) => {
          const [, id] = only(x, 'oxm id');
          const name = id.type as string;
          const spec = oxmSpec(name);
          if (spec === undefined) {
            notes.extensions.push(`oxm-id:${name}`);
            return matcher(`a non-basic OXM id (Ryu: ${name})`, (a) => (a as { oxmClass?: unknown }).oxmClass !== OFPXMC.OPENFLOW_BASIC);
          }
          // Ryu reports the id's length byte as it is on the wire.
          return { oxmClass: OFPXMC.OPENFLOW_BASIC, oxmField: spec.code, hasMask: num(id.hasmask) === 1, length: num(id.length) };
        }),
      };
    case 'OFPTableFeaturePropExperimenter':
      return { type, experimenter: num(o.experimenter), expType: num(o.exp_type), data: u32Words(o.data) };
    default:
      assert.fail(`mapper does not know table feature property ${cls}`);
  }
}

function mapTableFeatures(j: Json, notes: MapNotes): unknown {
  const [, o] = only(j, 'table features');
  return {
    tableId: num(o.table_id),
    name: o.name,
    metadataMatch: big(o.metadata_match),
    metadataWrite: big(o.metadata_write),
    config: num(o.config),
    maxEntries: num(o.max_entries),
    properties: arr(o.properties).map((p) => mapTableFeatureProp(p, notes)),
  };
}

const flowStatsReq = (o: Obj, notes: MapNotes): Record<string, unknown> => ({
  tableId: num(o.table_id),
  outPort: num(o.out_port),
  outGroup: num(o.out_group),
  cookie: big(o.cookie),
  cookieMask: big(o.cookie_mask),
  match: mapMatch(o.match as Json, notes),
});

function mapMultipartRequest(cls: string, o: Obj, notes: MapNotes): unknown {
  const empty: Record<string, string> = {
    OFPDescStatsRequest: 'DESC',
    OFPTableStatsRequest: 'TABLE',
    OFPGroupDescStatsRequest: 'GROUP_DESC',
    OFPGroupFeaturesStatsRequest: 'GROUP_FEATURES',
    OFPMeterFeaturesStatsRequest: 'METER_FEATURES',
    OFPPortDescStatsRequest: 'PORT_DESC',
  };
  const e = empty[cls];
  if (e !== undefined) return { kind: e };
  switch (cls) {
    case 'OFPFlowStatsRequest':
      return { kind: 'FLOW', ...flowStatsReq(o, notes) };
    case 'OFPAggregateStatsRequest':
      return { kind: 'AGGREGATE', ...flowStatsReq(o, notes) };
    case 'OFPPortStatsRequest':
      return { kind: 'PORT_STATS', portNo: num(o.port_no) };
    case 'OFPQueueStatsRequest':
      return { kind: 'QUEUE', portNo: num(o.port_no), queueId: num(o.queue_id) };
    case 'OFPGroupStatsRequest':
      return { kind: 'GROUP', groupId: num(o.group_id) };
    case 'OFPMeterStatsRequest':
      return { kind: 'METER', meterId: num(o.meter_id) };
    case 'OFPMeterConfigStatsRequest':
      return { kind: 'METER_CONFIG', meterId: num(o.meter_id) };
    case 'OFPTableFeaturesStatsRequest':
      return { kind: 'TABLE_FEATURES', tables: arr(o.body).map((t) => mapTableFeatures(t, notes)) };
    case 'OFPExperimenterStatsRequest':
      return { kind: 'EXPERIMENTER', experimenter: num(o.experimenter), expType: num(o.exp_type), data: b64(o.data) };
    case 'ONFFlowMonitorStatsRequest':
      notes.extensions.push(`multipart:${cls}`);
      return matcher('an opaque ONF experimenter multipart', (a) => {
        const x = a as { kind?: unknown; experimenter?: unknown };
        return x.kind === 'EXPERIMENTER' && x.experimenter === EXPERIMENTER_ID.ONF;
      });
    default:
      return undefined;
  }
}

function one(body: Json | undefined, what: string): Obj {
  const b = Array.isArray(body) ? (assert.equal(body.length, 1, what), body[0] as Json) : (body as Json);
  return only(b, what)[1];
}

function mapMultipartReply(cls: string, o: Obj, notes: MapNotes): unknown {
  const body = o.body;
  switch (cls) {
    case 'OFPDescStatsReply': {
      const d = one(body, 'desc');
      return {
        kind: 'DESC',
        desc: { mfrDesc: d.mfr_desc, hwDesc: d.hw_desc, swDesc: d.sw_desc, serialNum: d.serial_num, dpDesc: d.dp_desc },
      };
    }
    case 'OFPFlowStatsReply':
      return {
        kind: 'FLOW',
        flows: arr(body).map((f) => {
          const [, s] = only(f, 'flow stats');
          return {
            tableId: num(s.table_id),
            durationSec: num(s.duration_sec),
            durationNsec: num(s.duration_nsec),
            priority: num(s.priority),
            idleTimeout: num(s.idle_timeout),
            hardTimeout: num(s.hard_timeout),
            flags: num(s.flags),
            cookie: big(s.cookie),
            packetCount: big(s.packet_count),
            byteCount: big(s.byte_count),
            match: mapMatch(s.match as Json, notes),
            instructions: arr(s.instructions).map((i) => mapInstruction(i, notes)),
          };
        }),
      };
    case 'OFPAggregateStatsReply': {
      const s = one(body, 'aggregate');
      return { kind: 'AGGREGATE', stats: { packetCount: big(s.packet_count), byteCount: big(s.byte_count), flowCount: num(s.flow_count) } };
    }
    case 'OFPTableStatsReply':
      return {
        kind: 'TABLE',
        tables: arr(body).map((t) => {
          const [, s] = only(t, 'table stats');
          return { tableId: num(s.table_id), activeCount: num(s.active_count), lookupCount: big(s.lookup_count), matchedCount: big(s.matched_count) };
        }),
      };
    case 'OFPPortStatsReply':
      return {
        kind: 'PORT_STATS',
        ports: arr(body).map((p) => {
          const [, s] = only(p, 'port stats');
          return {
            portNo: num(s.port_no),
            rxPackets: big(s.rx_packets),
            txPackets: big(s.tx_packets),
            rxBytes: big(s.rx_bytes),
            txBytes: big(s.tx_bytes),
            rxDropped: big(s.rx_dropped),
            txDropped: big(s.tx_dropped),
            rxErrors: big(s.rx_errors),
            txErrors: big(s.tx_errors),
            rxFrameErr: big(s.rx_frame_err),
            rxOverErr: big(s.rx_over_err),
            rxCrcErr: big(s.rx_crc_err),
            collisions: big(s.collisions),
            durationSec: num(s.duration_sec),
            durationNsec: num(s.duration_nsec),
          };
        }),
      };
    case 'OFPQueueStatsReply':
      return {
        kind: 'QUEUE',
        queues: arr(body).map((q) => {
          const [, s] = only(q, 'queue stats');
          return {
            portNo: num(s.port_no),
            queueId: num(s.queue_id),
            txBytes: big(s.tx_bytes),
            txPackets: big(s.tx_packets),
            txErrors: big(s.tx_errors),
            durationSec: num(s.duration_sec),
            durationNsec: num(s.duration_nsec),
          };
        }),
      };
    case 'OFPGroupStatsReply':
      return {
        kind: 'GROUP',
        groups: arr(body).map((g) => {
          const [, s] = only(g, 'group stats');
          return {
            groupId: num(s.group_id),
            refCount: num(s.ref_count),
            packetCount: big(s.packet_count),
            byteCount: big(s.byte_count),
            durationSec: num(s.duration_sec),
            durationNsec: num(s.duration_nsec),
            bucketStats: arr(s.bucket_stats).map((c) => {
              const [, x] = only(c, 'bucket counter');
              return { packetCount: big(x.packet_count), byteCount: big(x.byte_count) };
            }),
          };
        }),
      };
    case 'OFPGroupDescStatsReply':
      return {
        kind: 'GROUP_DESC',
        groups: arr(body).map((g) => {
          const [, s] = only(g, 'group desc');
          return { groupType: num(s.type), groupId: num(s.group_id), buckets: arr(s.buckets).map((b) => mapBucket(b, notes)) };
        }),
      };
    case 'OFPGroupFeaturesStatsReply': {
      const s = one(body, 'group features');
      return {
        kind: 'GROUP_FEATURES',
        features: { types: num(s.types), capabilities: num(s.capabilities), maxGroups: arr(s.max_groups).map(num), actions: arr(s.actions).map(num) },
      };
    }
    case 'OFPMeterStatsReply':
      return {
        kind: 'METER',
        meters: arr(body).map((m) => {
          const [, s] = only(m, 'meter stats');
          return {
            meterId: num(s.meter_id),
            flowCount: num(s.flow_count),
            packetInCount: big(s.packet_in_count),
            byteInCount: big(s.byte_in_count),
            durationSec: num(s.duration_sec),
            durationNsec: num(s.duration_nsec),
            bandStats: arr(s.band_stats).map((c) => {
              const [, x] = only(c, 'band stats');
              return { packetBandCount: big(x.packet_band_count), byteBandCount: big(x.byte_band_count) };
            }),
          };
        }),
      };
    case 'OFPMeterConfigStatsReply':
      return {
        kind: 'METER_CONFIG',
        meters: arr(body).map((m) => {
          const [, s] = only(m, 'meter config');
          return { flags: num(s.flags), meterId: num(s.meter_id), bands: arr(s.bands).map(mapBand) };
        }),
      };
    case 'OFPMeterFeaturesStatsReply': {
      const s = one(body, 'meter features');
      return {
        kind: 'METER_FEATURES',
        features: {
          maxMeter: num(s.max_meter),
          bandTypes: num(s.band_types),
          capabilities: num(s.capabilities),
          maxBands: num(s.max_bands),
          maxColor: num(s.max_color),
        },
      };
    }
    case 'OFPTableFeaturesStatsReply':
      return { kind: 'TABLE_FEATURES', tables: arr(body).map((t) => mapTableFeatures(t, notes)) };
    case 'OFPPortDescStatsReply':
      return { kind: 'PORT_DESC', ports: arr(body).map(mapPort) };
    case 'OFPExperimenterStatsReply': {
      const s = one(body, 'experimenter multipart');
      return { kind: 'EXPERIMENTER', experimenter: num(s.experimenter), expType: num(s.exp_type), data: b64(s.data) };
    }
    default:
      return undefined;
  }
}

const MP_KIND_BY_NUMBER = new Map<number, string>(Object.entries(OFPMP).map(([k, v]) => [v, k]));

/** Ryu's view of one message mapped to this codec's shape; xid comes from the wire header. */
export function fromRyu(json: Json, xid: number, notes: MapNotes = { extensions: [] }): unknown {
  const [cls, o] = only(json, 'message');
  const x = { xid };
  const req = mapMultipartRequest(cls, o, notes);
  if (req !== undefined) {
    if (!isMatcher(req)) assert.equal(MP_KIND_BY_NUMBER.get(num(o.type)), (req as { kind: string }).kind, 'multipart type');
    return { type: 'MULTIPART_REQUEST', ...x, flags: num(o.flags), body: req };
  }
  const rep = mapMultipartReply(cls, o, notes);
  if (rep !== undefined) {
    assert.equal(MP_KIND_BY_NUMBER.get(num(o.type)), (rep as { kind: string }).kind, 'multipart type');
    return { type: 'MULTIPART_REPLY', ...x, flags: num(o.flags), body: rep };
  }
  switch (cls) {
    case 'OFPHello':
      return {
        type: 'HELLO',
        ...x,
        elements: arr(o.elements).map((e) => {
          const [ecls, eo] = only(e, 'hello element');
          assert.equal(ecls, 'OFPHelloElemVersionBitmap');
          return { type: 'VERSIONBITMAP', versions: arr(eo.versions).map(num) };
        }),
      };
    case 'OFPErrorMsg': {
      const errType = num(o.type);
      if (errType === 0xffff) {
        return { type: 'ERROR', ...x, errType, code: num(o.exp_type), experimenter: num(o.experimenter), data: b64(o.data) };
      }
      return { type: 'ERROR', ...x, errType, code: num(o.code), data: b64(o.data) };
    }
    case 'OFPEchoRequest':
      return { type: 'ECHO_REQUEST', ...x, data: b64(o.data) };
    case 'OFPEchoReply':
      return { type: 'ECHO_REPLY', ...x, data: b64(o.data) };
    case 'OFPExperimenter':
      return { type: 'EXPERIMENTER', ...x, experimenter: num(o.experimenter), expType: num(o.exp_type), data: b64(o.data) };
    case 'OFPFeaturesRequest':
      return { type: 'FEATURES_REQUEST', ...x };
    case 'OFPGetConfigRequest':
      return { type: 'GET_CONFIG_REQUEST', ...x };
    case 'OFPBarrierRequest':
      return { type: 'BARRIER_REQUEST', ...x };
    case 'OFPBarrierReply':
      return { type: 'BARRIER_REPLY', ...x };
    case 'OFPGetAsyncRequest':
      return { type: 'GET_ASYNC_REQUEST', ...x };
    case 'OFPSwitchFeatures':
      // Ryu does not show the reserved word; every vector has it zero.
      return {
        type: 'FEATURES_REPLY',
        ...x,
        datapathId: big(o.datapath_id),
        nBuffers: num(o.n_buffers),
        nTables: num(o.n_tables),
        auxiliaryId: num(o.auxiliary_id),
        capabilities: num(o.capabilities),
        reserved: 0,
      };
    case 'OFPGetConfigReply':
      return { type: 'GET_CONFIG_REPLY', ...x, flags: num(o.flags), missSendLen: num(o.miss_send_len) };
    case 'OFPSetConfig':
      return { type: 'SET_CONFIG', ...x, flags: num(o.flags), missSendLen: num(o.miss_send_len) };
    case 'OFPPacketIn':
      return {
        type: 'PACKET_IN',
        ...x,
        bufferId: num(o.buffer_id),
        totalLen: num(o.total_len),
        reason: num(o.reason),
        tableId: num(o.table_id),
        cookie: big(o.cookie),
        match: mapMatch(o.match as Json, notes),
        data: b64(o.data),
      };
    case 'OFPFlowRemoved':
      return {
        type: 'FLOW_REMOVED',
        ...x,
        cookie: big(o.cookie),
        priority: num(o.priority),
        reason: num(o.reason),
        tableId: num(o.table_id),
        durationSec: num(o.duration_sec),
        durationNsec: num(o.duration_nsec),
        idleTimeout: num(o.idle_timeout),
        hardTimeout: num(o.hard_timeout),
        packetCount: big(o.packet_count),
        byteCount: big(o.byte_count),
        match: mapMatch(o.match as Json, notes),
      };
    case 'OFPPortStatus':
      return { type: 'PORT_STATUS', ...x, reason: num(o.reason), desc: mapPort(o.desc as Json) };
    case 'OFPPacketOut':
      return {
        type: 'PACKET_OUT',
        ...x,
        bufferId: num(o.buffer_id),
        inPort: num(o.in_port),
        actions: arr(o.actions).map((a) => mapAction(a, notes)),
        data: b64(o.data),
      };
    case 'OFPFlowMod':
      return {
        type: 'FLOW_MOD',
        ...x,
        cookie: big(o.cookie),
        cookieMask: big(o.cookie_mask),
        tableId: num(o.table_id),
        command: num(o.command),
        idleTimeout: num(o.idle_timeout),
        hardTimeout: num(o.hard_timeout),
        priority: num(o.priority),
        bufferId: num(o.buffer_id),
        outPort: num(o.out_port),
        outGroup: num(o.out_group),
        flags: num(o.flags),
        match: mapMatch(o.match as Json, notes),
        instructions: arr(o.instructions).map((i) => mapInstruction(i, notes)),
      };
    case 'OFPGroupMod':
      return {
        type: 'GROUP_MOD',
        ...x,
        command: num(o.command),
        groupType: num(o.type),
        groupId: num(o.group_id),
        buckets: arr(o.buckets).map((b) => mapBucket(b, notes)),
      };
    case 'OFPPortMod':
      return {
        type: 'PORT_MOD',
        ...x,
        portNo: num(o.port_no),
        hwAddr: o.hw_addr,
        config: num(o.config),
        mask: num(o.mask),
        advertise: num(o.advertise),
      };
    case 'OFPTableMod':
      return { type: 'TABLE_MOD', ...x, tableId: num(o.table_id), config: num(o.config) };
    case 'OFPQueueGetConfigRequest':
      return { type: 'QUEUE_GET_CONFIG_REQUEST', ...x, port: num(o.port) };
    case 'OFPQueueGetConfigReply':
      return {
        type: 'QUEUE_GET_CONFIG_REPLY',
        ...x,
        port: num(o.port),
        queues: arr(o.queues).map((q) => {
          const [, qo] = only(q, 'queue');
          return {
            queueId: num(qo.queue_id),
            port: num(qo.port),
            properties: arr(qo.properties).map((p) => {
              const [pcls, po] = only(p, 'queue property');
              if (pcls === 'OFPQueuePropMinRate') return { type: 'MIN_RATE', rate: num(po.rate) };
              if (pcls === 'OFPQueuePropMaxRate') return { type: 'MAX_RATE', rate: num(po.rate) };
              assert.equal(pcls, 'OFPQueuePropExperimenter');
              return { type: 'EXPERIMENTER', experimenter: num(po.experimenter), data: Uint8Array.from(arr(po.data).map(num)) };
            }),
          };
        }),
      };
    case 'OFPRoleRequest':
      return { type: 'ROLE_REQUEST', ...x, role: num(o.role), generationId: big(o.generation_id) };
    case 'OFPRoleReply':
      return { type: 'ROLE_REPLY', ...x, role: num(o.role), generationId: big(o.generation_id) };
    case 'OFPGetAsyncReply':
    case 'OFPSetAsync':
      return {
        type: cls === 'OFPSetAsync' ? 'SET_ASYNC' : 'GET_ASYNC_REPLY',
        ...x,
        packetInMask: arr(o.packet_in_mask).map(num),
        portStatusMask: arr(o.port_status_mask).map(num),
        flowRemovedMask: arr(o.flow_removed_mask).map(num),
      };
    case 'OFPMeterMod':
      return { type: 'METER_MOD', ...x, command: num(o.command), flags: num(o.flags), meterId: num(o.meter_id), bands: arr(o.bands).map(mapBand) };
    default:
      assert.fail(`mapper does not know message class ${cls}`);
  }
}

/** True when `m` holds no matcher anywhere, i.e. it is a complete message that can be encoded. */
export function isConcrete(m: unknown): boolean {
  if (isMatcher(m)) return false;
  if (Array.isArray(m)) return m.every(isConcrete);
  if (m !== null && typeof m === 'object' && !(m instanceof Uint8Array)) return Object.values(m).every(isConcrete);
  return true;
}

export const MESSAGE_TYPE_NUMBERS: Readonly<Record<string, number>> = OFPT;
