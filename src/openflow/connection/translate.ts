/**
 * The controller's decisions (SwitchCommand) as OpenFlow 1.3 messages, and switch answers as the
 * controller's entries. Pure: the data plane sends what this returns.
 */
import type { FlowAction, FlowMatch, FlowRule, SwitchCommand } from '../../controller/commands.ts';
import type { FlowStatEntry, PortStatEntry } from '../../controller/controller.ts';
import type { SwitchPortInfo } from '../../controller/discovery.ts';
import type { Action } from '../actions.ts';
import { act, flowMod, oxm, packetOut } from '../builders.ts';
import { type Writer, parseMacInto } from '../bytes.ts';
import { OFP_NO_BUFFER, OFP_VERSION, OFPAT, OFPCML, OFPFC, OFPFF, OFPG, OFPIT, OFPMT_OXM, OFPP, OFPPC, OFPPR, OFPPS, OFPT, OFPTT } from '../constants.ts';
import { encodePacketOutInto } from '../encode.ts';
import type { FlowStats, OfMessage, Port, PortStats } from '../messages.ts';
import type { Match } from '../oxm.ts';

/** Ports a switch may have links and hosts on; LOCAL, CONTROLLER and the other reserved ones are not. */
export function isSwitchPort(portNo: number): boolean {
  return portNo > 0 && portNo <= OFPP.MAX;
}

export function portInfo(p: Port): SwitchPortInfo {
  return {
    port: p.portNo,
    hwAddr: p.hwAddr,
    up: (p.config & OFPPC.PORT_DOWN) === 0 && (p.state & OFPPS.LINK_DOWN) === 0,
    speedKbps: p.currSpeed,
    name: p.name,
  };
}

export function portStatusReason(reason: number): 'add' | 'delete' | 'modify' {
  return reason === OFPPR.ADD ? 'add' : reason === OFPPR.DELETE ? 'delete' : 'modify';
}

export function toMatch(m: FlowMatch): Match {
  const out: Match = [];
  if (m.inPort !== undefined) out.push(oxm('in_port', m.inPort));
  if (m.ethDst !== undefined) out.push(oxm('eth_dst', m.ethDst));
  if (m.ethSrc !== undefined) out.push(oxm('eth_src', m.ethSrc));
  if (m.ethType !== undefined) out.push(oxm('eth_type', m.ethType));
  return out;
}

function toActions(rule: FlowRule): Action[] {
  return rule.actions.map((a) => (a.type === 'controller' ? act.output(OFPP.CONTROLLER, OFPCML.NO_BUFFER) : act.output(a.port, 0)));
}

export function commandToMessage(c: SwitchCommand): OfMessage {
  switch (c.kind) {
    case 'flow-add': {
      const r = c.rule;
      return flowMod({
        command: OFPFC.ADD,
        tableId: 0,
        priority: r.priority,
        cookie: r.cookie,
        idleTimeout: r.idleTimeout,
        hardTimeout: r.hardTimeout,
        // An idle rule that expires must tell us, or the controller keeps a path that is gone.
        flags: r.idleTimeout > 0 ? OFPFF.SEND_FLOW_REM : 0,
        match: toMatch(r.match),
        // No instruction at all is OpenFlow's drop.
        instructions: r.actions.length === 0 ? [] : [{ type: 'APPLY_ACTIONS', actions: toActions(r) }],
      });
    }
    case 'flow-delete':
      return flowMod({
        command: OFPFC.DELETE,
        tableId: OFPTT.ALL,
        cookie: c.cookie,
        cookieMask: c.cookieMask,
        outPort: OFPP.ANY,
        outGroup: OFPG.ANY,
      });
    case 'packet-out':
      return packetOut({
        inPort: c.inPort ?? OFPP.CONTROLLER,
        actions: c.ports.map((p) => act.output(p, 0)),
        data: c.frame,
      });
  }
}

/**
 * A packet-out's PACKET_OUT, or a flow-add's FLOW_MOD, written straight into `w`: the bytes
 * `encodeInto(w, commandToMessage(c))` writes (any xid), without the message, match, instruction
 * and action objects or the generic encoder. Returns the type written, or undefined, `w.pos`
 * unchanged, for a flow-delete, or a flow-add with a field out of range or a MAC that is not
 * one, which the generic encoder then refuses (OF_ENCODE) as before. For postEach.
 */
export function encodeCommandInto(w: Writer, c: SwitchCommand): 'PACKET_OUT' | 'FLOW_MOD' | undefined {
  if (c.kind === 'packet-out') {
    encodePacketOutInto(w, c.inPort ?? OFPP.CONTROLLER, c.ports, c.frame);
    return 'PACKET_OUT';
  }
  if (c.kind === 'flow-add' && encodeFlowAddInto(w, c.rule)) return 'FLOW_MOD';
  return undefined;
}

// Under tsx every use of an imported binding is a getter call: the per-message constants are read once.
const ADD = OFPFC.ADD;
const FLOW_MOD = OFPT.FLOW_MOD;
const SEND_FLOW_REM = OFPFF.SEND_FLOW_REM;
const PORT_ANY = OFPP.ANY;
const PORT_CONTROLLER = OFPP.CONTROLLER;
const GROUP_ANY = OFPG.ANY;
const NO_BUFFER = OFP_NO_BUFFER;
const VERSION = OFP_VERSION;
const MATCH_OXM = OFPMT_OXM;
const APPLY_ACTIONS = OFPIT.APPLY_ACTIONS;
const OUTPUT = OFPAT.OUTPUT;
const NO_BUFFER_LEN = OFPCML.NO_BUFFER;
const parseMac = parseMacInto;

// typeof first: a wrongly typed value (a BigInt) must fall back to the generic encoder's OF_ENCODE, not throw a TypeError here
const u16ok = (v: number): boolean => typeof v === 'number' && (v & 0xffff) === v;
const u32ok = (v: number): boolean => typeof v === 'number' && v >>> 0 === v;
/** OXM header words (class OPENFLOW_BASIC, field, no mask, length), OpenFlow 1.3.5 section 7.2.3.2 */
const OXM_IN_PORT = 0x80000004;
const OXM_ETH_DST = 0x80000606;
const OXM_ETH_SRC = 0x80000806;
const OXM_ETH_TYPE = 0x80000a02;

/**
 * A flow-add as commandToMessage makes it (table 0, OFPFC_ADD, no buffer, out port and group ANY,
 * SEND_FLOW_REM when it has an idle timeout; one APPLY_ACTIONS of OUTPUT actions, none for a
 * drop), OpenFlow 1.3.5 section 7.3.4.2. False, `w.pos` unchanged, when a field does not fit.
 */
function encodeFlowAddInto(w: Writer, r: FlowRule): boolean {
  const m = r.match;
  const cookie = r.cookie;
  if (typeof cookie !== 'bigint' || cookie < 0n || cookie > 0xffffffffffffffffn) return false;
  if (!u16ok(r.priority) || !u16ok(r.idleTimeout) || !u16ok(r.hardTimeout)) return false;
  if (m.inPort !== undefined && !u32ok(m.inPort)) return false;
  if (m.ethType !== undefined && !u16ok(m.ethType)) return false;
  const actions = r.actions;
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i] as FlowAction;
    if (a.type !== 'controller' && !u32ok(a.port)) return false;
  }
  const matchLen = 4 + (m.inPort === undefined ? 0 : 8) + (m.ethDst === undefined ? 0 : 10) + (m.ethSrc === undefined ? 0 : 10) + (m.ethType === undefined ? 0 : 6);
  const matchPadded = (matchLen + 7) & ~7;
  const length = 48 + matchPadded + (actions.length === 0 ? 0 : 8 + 16 * actions.length);
  w.ensure(length);
  const at = w.pos;
  const b = w.buf;
  const dv = w.dv;
  // the MACs first: one that is not a MAC leaves nothing behind (w.pos is not moved)
  let off = at + 52;
  if (m.inPort !== undefined) off += 8;
  if (m.ethDst !== undefined) {
    if (!parseMac(m.ethDst, b, off + 4)) return false;
    off += 10;
  }
  if (m.ethSrc !== undefined && !parseMac(m.ethSrc, b, off + 4)) return false;
  b[at] = VERSION;
  b[at + 1] = FLOW_MOD;
  dv.setUint16(at + 2, length);
  dv.setUint32(at + 4, 0);
  dv.setBigUint64(at + 8, cookie);
  dv.setUint32(at + 16, 0); // cookie mask
  dv.setUint32(at + 20, 0);
  b[at + 24] = 0; // table
  b[at + 25] = ADD;
  dv.setUint16(at + 26, r.idleTimeout);
  dv.setUint16(at + 28, r.hardTimeout);
  dv.setUint16(at + 30, r.priority);
  dv.setUint32(at + 32, NO_BUFFER);
  dv.setUint32(at + 36, PORT_ANY);
  dv.setUint32(at + 40, GROUP_ANY);
  dv.setUint16(at + 44, r.idleTimeout > 0 ? SEND_FLOW_REM : 0);
  dv.setUint16(at + 46, 0);
  dv.setUint16(at + 48, MATCH_OXM);
  dv.setUint16(at + 50, matchLen);
  off = at + 52;
  if (m.inPort !== undefined) {
    dv.setUint32(off, OXM_IN_PORT);
    dv.setUint32(off + 4, m.inPort);
    off += 8;
  }
  if (m.ethDst !== undefined) {
    dv.setUint32(off, OXM_ETH_DST);
    off += 10;
  }
  if (m.ethSrc !== undefined) {
    dv.setUint32(off, OXM_ETH_SRC);
    off += 10;
  }
  if (m.ethType !== undefined) {
    dv.setUint32(off, OXM_ETH_TYPE);
    dv.setUint16(off + 4, m.ethType);
    off += 6;
  }
  for (const end = at + 48 + matchPadded; off < end; off++) b[off] = 0;
  if (actions.length > 0) {
    dv.setUint16(off, APPLY_ACTIONS);
    dv.setUint16(off + 2, 8 + 16 * actions.length);
    dv.setUint32(off + 4, 0);
    off += 8;
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i] as FlowAction;
      dv.setUint16(off, OUTPUT);
      dv.setUint16(off + 2, 16);
      dv.setUint32(off + 4, a.type === 'controller' ? PORT_CONTROLLER : a.port);
      dv.setUint16(off + 8, a.type === 'controller' ? NO_BUFFER_LEN : 0);
      dv.setUint16(off + 10, 0); // 6 pad bytes
      dv.setUint32(off + 12, 0);
      off += 16;
    }
  }
  w.pos = at + length;
  return true;
}

/**
 * What a switch error report says about a command we sent, without the command: a connection
 * remembers its last 1,024 sent messages for those reports, and whole commands kept their frames
 * (every LLDP probe's) and rules alive, ~150 MiB at 320 switches.
 */
export type CommandSummary =
  | { readonly kind: 'flow-add'; readonly priority: number; readonly cookie: bigint }
  | { readonly kind: 'flow-delete'; readonly cookie: bigint; readonly cookieMask: bigint }
  | { readonly kind: 'packet-out'; readonly ports: readonly number[]; readonly bytes: number };

export function summarizeCommand(c: SwitchCommand): CommandSummary {
  switch (c.kind) {
    case 'flow-add':
      return { kind: 'flow-add', priority: c.rule.priority, cookie: c.rule.cookie };
    case 'flow-delete':
      return { kind: 'flow-delete', cookie: c.cookie, cookieMask: c.cookieMask };
    case 'packet-out':
      return { kind: 'packet-out', ports: c.ports, bytes: c.frame.length };
  }
}

/** A short description of a sent command, from its summary, for switch error reports. */
export function describeSummary(s: CommandSummary): string {
  switch (s.kind) {
    case 'flow-add':
      return `FLOW_MOD add priority ${s.priority} cookie 0x${s.cookie.toString(16)}`;
    case 'flow-delete':
      return `FLOW_MOD delete cookie 0x${s.cookie.toString(16)}/0x${s.cookieMask.toString(16)}`;
    case 'packet-out':
      return `PACKET_OUT to port(s) ${s.ports.join(',')} (${s.bytes} bytes)`;
  }
}

/** A short description for logs and switch error reports. */
export function describeCommand(c: SwitchCommand): string {
  return describeSummary(summarizeCommand(c));
}

export function flowStatEntry(f: FlowStats): FlowStatEntry {
  return { cookie: f.cookie, byteCount: f.byteCount, packetCount: f.packetCount, durationSec: f.durationSec, durationNsec: f.durationNsec };
}

export function portStatEntries(ports: readonly PortStats[]): PortStatEntry[] {
  return ports
    .filter((p) => isSwitchPort(p.portNo))
    .map((p) => ({ port: p.portNo, txBytes: p.txBytes, rxBytes: p.rxBytes, durationSec: p.durationSec, durationNsec: p.durationNsec }));
}
