/**
 * The controller's decisions (SwitchCommand) as OpenFlow 1.3 messages, and switch answers as the
 * controller's entries. Pure: the data plane sends what this returns.
 */
import type { FlowMatch, FlowRule, SwitchCommand } from '../../controller/commands.ts';
import type { FlowStatEntry, PortStatEntry } from '../../controller/controller.ts';
import type { SwitchPortInfo } from '../../controller/discovery.ts';
import type { Action } from '../actions.ts';
import { act, flowMod, oxm, packetOut } from '../builders.ts';
import type { Writer } from '../bytes.ts';
import { OFPCML, OFPFC, OFPFF, OFPG, OFPP, OFPPC, OFPPR, OFPPS, OFPTT } from '../constants.ts';
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
 * A packet-out command's PACKET_OUT written straight into `w` (the bytes of commandToMessage's,
 * without building it); undefined, nothing written, for the other commands. For postEach.
 */
export function encodeCommandInto(w: Writer, c: SwitchCommand): 'PACKET_OUT' | undefined {
  if (c.kind !== 'packet-out') return undefined;
  encodePacketOutInto(w, c.inPort ?? OFPP.CONTROLLER, c.ports, c.frame);
  return 'PACKET_OUT';
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
