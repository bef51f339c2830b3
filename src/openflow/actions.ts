/** Actions (OpenFlow 1.3 section 7.2.5). Experimenter actions keep their bytes untouched. */
import { ScoreError } from '../errors/errors.ts';
import * as K from './constants.ts';
import { type Reader, type Writer } from './bytes.ts';
import * as bytesMod from './bytes.ts';
import { type OxmField } from './oxm.ts';
import * as oxmMod from './oxm.ts';

// Under tsx (esbuild), every use of an imported binding is a getter call; the hot paths read
// module-local copies instead.
const { badLength } = bytesMod;
const { readOxm, writeOxm } = oxmMod;
const { OFPAT } = K;

export type Action =
  | { type: 'OUTPUT'; port: number; maxLen: number }
  | { type: 'COPY_TTL_OUT' }
  | { type: 'COPY_TTL_IN' }
  | { type: 'SET_MPLS_TTL'; mplsTtl: number }
  | { type: 'DEC_MPLS_TTL' }
  | { type: 'PUSH_VLAN'; ethertype: number }
  | { type: 'POP_VLAN' }
  | { type: 'PUSH_MPLS'; ethertype: number }
  | { type: 'POP_MPLS'; ethertype: number }
  | { type: 'SET_QUEUE'; queueId: number }
  | { type: 'GROUP'; groupId: number }
  | { type: 'SET_NW_TTL'; nwTtl: number }
  | { type: 'DEC_NW_TTL' }
  | { type: 'SET_FIELD'; field: OxmField }
  | { type: 'PUSH_PBB'; ethertype: number }
  | { type: 'POP_PBB' }
  /** `data` is everything after the experimenter id, padding included. */
  | { type: 'EXPERIMENTER'; experimenter: number; data: Uint8Array };

export type ActionType = Action['type'];

export function readAction(r: Reader): Action {
  const start = r.pos;
  r.need(4, 'action header');
  const type = r.u16();
  const len = r.u16();
  if (len < 8 || (len & 7) !== 0) throw badLength('action', len, { actionType: type, offset: start });
  r.need(len - 4, 'action');
  const end = start + len;
  let a: Action;
  switch (type) {
    case OFPAT.OUTPUT:
      if (len !== 16) throw badLength('OUTPUT action', len);
      a = { type: 'OUTPUT', port: r.u32(), maxLen: r.u16() };
      break;
    case OFPAT.COPY_TTL_OUT:
      a = { type: 'COPY_TTL_OUT' };
      break;
    case OFPAT.COPY_TTL_IN:
      a = { type: 'COPY_TTL_IN' };
      break;
    case OFPAT.SET_MPLS_TTL:
      a = { type: 'SET_MPLS_TTL', mplsTtl: r.u8() };
      break;
    case OFPAT.DEC_MPLS_TTL:
      a = { type: 'DEC_MPLS_TTL' };
      break;
    case OFPAT.PUSH_VLAN:
      a = { type: 'PUSH_VLAN', ethertype: r.u16() };
      break;
    case OFPAT.POP_VLAN:
      a = { type: 'POP_VLAN' };
      break;
    case OFPAT.PUSH_MPLS:
      a = { type: 'PUSH_MPLS', ethertype: r.u16() };
      break;
    case OFPAT.POP_MPLS:
      a = { type: 'POP_MPLS', ethertype: r.u16() };
      break;
    case OFPAT.SET_QUEUE:
      a = { type: 'SET_QUEUE', queueId: r.u32() };
      break;
    case OFPAT.GROUP:
      a = { type: 'GROUP', groupId: r.u32() };
      break;
    case OFPAT.SET_NW_TTL:
      a = { type: 'SET_NW_TTL', nwTtl: r.u8() };
      break;
    case OFPAT.DEC_NW_TTL:
      a = { type: 'DEC_NW_TTL' };
      break;
    case OFPAT.SET_FIELD: {
      const saved = r.end;
      r.end = end;
      const field: OxmField = readOxm(r);
      r.end = saved;
      // The spec pads set-field to the next multiple of 8 and no further; anything else would
      // not survive re-encoding.
      if (((r.pos - start + 7) & ~7) !== len) throw badLength('SET_FIELD action', len);
      a = { type: 'SET_FIELD', field };
      break;
    }
    case OFPAT.PUSH_PBB:
      a = { type: 'PUSH_PBB', ethertype: r.u16() };
      break;
    case OFPAT.POP_PBB:
      a = { type: 'POP_PBB' };
      break;
    case OFPAT.EXPERIMENTER:
      a = { type: 'EXPERIMENTER', experimenter: r.u32(), data: r.bytes(end - r.pos) };
      break;
    default:
      throw new ScoreError('OF_UNKNOWN_TYPE', `unknown action type ${type}`, { actionType: type, offset: start });
  }
  if (type !== OFPAT.SET_FIELD && type !== OFPAT.EXPERIMENTER && len !== 8 && type !== OFPAT.OUTPUT) {
    throw badLength(`${a.type} action`, len);
  }
  r.pos = end;
  return a;
}

export function readActions(r: Reader, len: number): Action[] {
  const out: Action[] = [];
  const start = r.pos;
  if (start + len > r.end) throw badLength('action list', len, { available: r.end - start });
  const saved = r.end;
  r.end = start + len;
  while (r.pos < r.end) out.push(readAction(r));
  r.end = saved;
  return out;
}

export function writeAction(w: Writer, a: Action): void {
  const start = w.pos;
  w.ensure(16);
  w.u16(OFPAT[a.type], 'action type');
  w.u16(8, 'action length');
  switch (a.type) {
    case 'OUTPUT':
      w.u32(a.port, 'OUTPUT port');
      w.u16(a.maxLen, 'OUTPUT maxLen');
      w.zeros(6);
      w.patch16(start + 2, 16, 'action length');
      return;
    case 'COPY_TTL_OUT':
    case 'COPY_TTL_IN':
    case 'DEC_MPLS_TTL':
    case 'POP_VLAN':
    case 'DEC_NW_TTL':
    case 'POP_PBB':
      w.zeros(4);
      return;
    case 'SET_MPLS_TTL':
      w.u8(a.mplsTtl, 'SET_MPLS_TTL mplsTtl');
      w.zeros(3);
      return;
    case 'SET_NW_TTL':
      w.u8(a.nwTtl, 'SET_NW_TTL nwTtl');
      w.zeros(3);
      return;
    case 'PUSH_VLAN':
    case 'PUSH_MPLS':
    case 'POP_MPLS':
    case 'PUSH_PBB':
      w.u16(a.ethertype, `${a.type} ethertype`);
      w.zeros(2);
      return;
    case 'SET_QUEUE':
      w.u32(a.queueId, 'SET_QUEUE queueId');
      return;
    case 'GROUP':
      w.u32(a.groupId, 'GROUP groupId');
      return;
    case 'SET_FIELD':
      writeOxm(w, a.field);
      w.pad8(start);
      w.patch16(start + 2, w.pos - start, 'action length');
      return;
    case 'EXPERIMENTER':
      w.u32(a.experimenter, 'experimenter id');
      w.bytes(a.data, 'experimenter data');
      if (((w.pos - start) & 7) !== 0) {
        throw new ScoreError('OF_ENCODE', 'experimenter action length must be a multiple of 8', { length: w.pos - start });
      }
      w.patch16(start + 2, w.pos - start, 'action length');
      return;
    default: {
      const never: never = a;
      throw new ScoreError('OF_ENCODE', 'unknown action type', { action: (never as { type: unknown }).type });
    }
  }
}

export function writeActions(w: Writer, actions: readonly Action[]): void {
  if (!Array.isArray(actions)) throw new ScoreError('OF_ENCODE', 'actions must be an array', {});
  for (let i = 0; i < actions.length; i++) writeAction(w, actions[i] as Action);
}
