/**
 * Message builders with the defaults a controller wants, so callers state only what matters
 * (e.g. `flowMod({ match, actions })`). They return plain messages: encodeMessage sends them.
 */
import {
  OFP_DEFAULT_PRIORITY,
  OFP_NO_BUFFER,
  OFP_VERSION,
  OFPCML,
  OFPCR,
  OFPFC,
  OFPG,
  OFPGC,
  OFPMC,
  OFPMPF,
  OFPP,
  OFPTT,
} from './constants.ts';
import type { Action } from './actions.ts';
import type { Instruction } from './instructions.ts';
import type {
  Bucket,
  ErrorMsg,
  FlowMod,
  FlowStatsRequestBody,
  GroupMod,
  Hello,
  MessageOf,
  MeterBand,
  MeterMod,
  MultipartRequest,
  MultipartRequestBody,
  PacketOut,
} from './messages.ts';
import type { OxmBasic, OxmFieldName, OxmValueOf } from './oxm.ts';

/** One basic OXM field, typed by name: `oxm('eth_dst', 'aa:bb:cc:dd:ee:ff')`. */
export function oxm<N extends OxmFieldName>(field: N, value: OxmValueOf<N>, mask?: OxmValueOf<N>): OxmBasic {
  return (mask === undefined ? { field, value } : { field, value, mask }) as OxmBasic;
}

export const act = {
  output: (port: number, maxLen: number = OFPCML.NO_BUFFER): Action => ({ type: 'OUTPUT', port, maxLen }),
  setField: <N extends OxmFieldName>(field: N, value: OxmValueOf<N>): Action => ({ type: 'SET_FIELD', field: oxm(field, value) }),
  pushVlan: (ethertype = 0x8100): Action => ({ type: 'PUSH_VLAN', ethertype }),
  popVlan: (): Action => ({ type: 'POP_VLAN' }),
  group: (groupId: number): Action => ({ type: 'GROUP', groupId }),
  setQueue: (queueId: number): Action => ({ type: 'SET_QUEUE', queueId }),
  decNwTtl: (): Action => ({ type: 'DEC_NW_TTL' }),
};

export const ins = {
  apply: (actions: Action[]): Instruction => ({ type: 'APPLY_ACTIONS', actions }),
  write: (actions: Action[]): Instruction => ({ type: 'WRITE_ACTIONS', actions }),
  clear: (): Instruction => ({ type: 'CLEAR_ACTIONS' }),
  gotoTable: (tableId: number): Instruction => ({ type: 'GOTO_TABLE', tableId }),
  meter: (meterId: number): Instruction => ({ type: 'METER', meterId }),
  writeMetadata: (metadata: bigint, metadataMask = 0xffffffffffffffffn): Instruction => ({
    type: 'WRITE_METADATA',
    metadata,
    metadataMask,
  }),
};

export function hello(xid = 0, versions: number[] = [OFP_VERSION]): Hello {
  return { type: 'HELLO', xid, elements: [{ type: 'VERSIONBITMAP', versions }] };
}

export function simple<T extends 'FEATURES_REQUEST' | 'GET_CONFIG_REQUEST' | 'BARRIER_REQUEST' | 'GET_ASYNC_REQUEST'>(
  type: T,
  xid = 0,
): MessageOf<T> {
  return { type, xid } as MessageOf<T>;
}

export function echoReply(request: MessageOf<'ECHO_REQUEST'>): MessageOf<'ECHO_REPLY'> {
  return { type: 'ECHO_REPLY', xid: request.xid, data: request.data };
}

export function errorMsg(xid: number, errType: number, code: number, offending: Uint8Array): ErrorMsg {
  // The spec asks for at least 64 bytes of the offending message; more is allowed but useless.
  return { type: 'ERROR', xid, errType, code, data: offending.slice(0, 64) };
}

export type FlowModOptions = Partial<Omit<FlowMod, 'type' | 'instructions'>> & {
  /** Shorthand for one APPLY_ACTIONS instruction (ignored when `instructions` is given). */
  actions?: Action[];
  instructions?: Instruction[];
};

export function flowMod(o: FlowModOptions = {}): FlowMod {
  return {
    type: 'FLOW_MOD',
    xid: o.xid ?? 0,
    cookie: o.cookie ?? 0n,
    cookieMask: o.cookieMask ?? 0n,
    tableId: o.tableId ?? 0,
    command: o.command ?? OFPFC.ADD,
    idleTimeout: o.idleTimeout ?? 0,
    hardTimeout: o.hardTimeout ?? 0,
    priority: o.priority ?? OFP_DEFAULT_PRIORITY,
    bufferId: o.bufferId ?? OFP_NO_BUFFER,
    outPort: o.outPort ?? OFPP.ANY,
    outGroup: o.outGroup ?? OFPG.ANY,
    flags: o.flags ?? 0,
    match: o.match ?? [],
    instructions: o.instructions ?? (o.actions === undefined ? [] : [{ type: 'APPLY_ACTIONS', actions: o.actions }]),
  };
}

/** Deletes every flow, in every table, whose cookie equals `cookie` (a path's flows together). */
export function deleteFlowsByCookie(cookie: bigint, xid = 0): FlowMod {
  return flowMod({ xid, command: OFPFC.DELETE, tableId: OFPTT.ALL, cookie, cookieMask: 0xffffffffffffffffn });
}

export function packetOut(o: { xid?: number; inPort?: number; bufferId?: number; actions: Action[]; data?: Uint8Array }): PacketOut {
  return {
    type: 'PACKET_OUT',
    xid: o.xid ?? 0,
    bufferId: o.bufferId ?? OFP_NO_BUFFER,
    inPort: o.inPort ?? OFPP.CONTROLLER,
    actions: o.actions,
    data: o.data ?? new Uint8Array(0),
  };
}

export function multipartRequest(body: MultipartRequestBody, xid = 0, more = false): MultipartRequest {
  return { type: 'MULTIPART_REQUEST', xid, flags: more ? OFPMPF.REQ_MORE : 0, body };
}

/** Flow (or aggregate) statistics, by default of every flow in every table. */
export function flowStatsRequest(
  o: Partial<FlowStatsRequestBody> & { xid?: number; aggregate?: boolean } = {},
): MultipartRequest {
  return multipartRequest(
    {
      kind: o.aggregate === true ? 'AGGREGATE' : 'FLOW',
      tableId: o.tableId ?? OFPTT.ALL,
      outPort: o.outPort ?? OFPP.ANY,
      outGroup: o.outGroup ?? OFPG.ANY,
      cookie: o.cookie ?? 0n,
      cookieMask: o.cookieMask ?? 0n,
      match: o.match ?? [],
    },
    o.xid ?? 0,
  );
}

export function portStatsRequest(portNo: number = OFPP.ANY, xid = 0): MultipartRequest {
  return multipartRequest({ kind: 'PORT_STATS', portNo }, xid);
}

export function roleRequest(role: number = OFPCR.ROLE_MASTER, generationId = 0n, xid = 0): MessageOf<'ROLE_REQUEST'> {
  return { type: 'ROLE_REQUEST', xid, role, generationId };
}

export function groupMod(o: { xid?: number; command?: number; groupType: number; groupId: number; buckets: Bucket[] }): GroupMod {
  return {
    type: 'GROUP_MOD',
    xid: o.xid ?? 0,
    command: o.command ?? OFPGC.ADD,
    groupType: o.groupType,
    groupId: o.groupId,
    buckets: o.buckets,
  };
}

export function meterMod(o: { xid?: number; command?: number; flags: number; meterId: number; bands: MeterBand[] }): MeterMod {
  return { type: 'METER_MOD', xid: o.xid ?? 0, command: o.command ?? OFPMC.ADD, flags: o.flags, meterId: o.meterId, bands: o.bands };
}
