/** Instructions (OpenFlow 1.3 section 7.2.4). */
import { ScoreError } from '../errors/errors.ts';
import * as K from './constants.ts';
import { type Reader, type Writer } from './bytes.ts';
import * as bytesMod from './bytes.ts';
import { type Action } from './actions.ts';
import * as actionsMod from './actions.ts';

// Under tsx (esbuild), every use of an imported binding is a getter call; the hot paths read
// module-local copies instead.
const { badLength } = bytesMod;
const { readActions, writeActions } = actionsMod;
const { OFPIT } = K;

export type Instruction =
  | { type: 'GOTO_TABLE'; tableId: number }
  | { type: 'WRITE_METADATA'; metadata: bigint; metadataMask: bigint }
  | { type: 'WRITE_ACTIONS'; actions: Action[] }
  | { type: 'APPLY_ACTIONS'; actions: Action[] }
  | { type: 'CLEAR_ACTIONS' }
  | { type: 'METER'; meterId: number }
  | { type: 'EXPERIMENTER'; experimenter: number; data: Uint8Array };

export type InstructionType = Instruction['type'];

export function readInstruction(r: Reader): Instruction {
  const start = r.pos;
  r.need(4, 'instruction header');
  const type = r.u16();
  const len = r.u16();
  if (len < 8 || (len & 7) !== 0) throw badLength('instruction', len, { instructionType: type, offset: start });
  r.need(len - 4, 'instruction');
  let ins: Instruction;
  let fixed = 8;
  switch (type) {
    case OFPIT.GOTO_TABLE:
      ins = { type: 'GOTO_TABLE', tableId: r.u8() };
      break;
    case OFPIT.WRITE_METADATA:
      fixed = 24;
      if (len !== 24) throw badLength('WRITE_METADATA instruction', len);
      r.skip(4);
      ins = { type: 'WRITE_METADATA', metadata: r.u64(), metadataMask: r.u64() };
      break;
    case OFPIT.WRITE_ACTIONS:
    case OFPIT.APPLY_ACTIONS:
      fixed = len;
      r.skip(4);
      ins = { type: type === OFPIT.WRITE_ACTIONS ? 'WRITE_ACTIONS' : 'APPLY_ACTIONS', actions: readActions(r, len - 8) };
      break;
    case OFPIT.CLEAR_ACTIONS:
      ins = { type: 'CLEAR_ACTIONS' };
      break;
    case OFPIT.METER:
      ins = { type: 'METER', meterId: r.u32() };
      break;
    case OFPIT.EXPERIMENTER:
      fixed = len;
      ins = { type: 'EXPERIMENTER', experimenter: r.u32(), data: r.bytes(start + len - r.pos) };
      break;
    default:
      throw new ScoreError('OF_UNKNOWN_TYPE', `unknown instruction type ${type}`, { instructionType: type, offset: start });
  }
  if (len !== fixed) throw badLength(`${ins.type} instruction`, len);
  r.pos = start + len;
  return ins;
}

export function readInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.pos < r.end) out.push(readInstruction(r));
  return out;
}

export function writeInstruction(w: Writer, ins: Instruction): void {
  const start = w.pos;
  w.ensure(24);
  w.u16(OFPIT[ins.type], 'instruction type');
  w.u16(8, 'instruction length');
  switch (ins.type) {
    case 'GOTO_TABLE':
      w.u8(ins.tableId, 'GOTO_TABLE tableId');
      w.zeros(3);
      return;
    case 'WRITE_METADATA':
      w.zeros(4);
      w.u64(ins.metadata, 'metadata');
      w.u64(ins.metadataMask, 'metadataMask');
      w.patch16(start + 2, 24, 'instruction length');
      return;
    case 'WRITE_ACTIONS':
    case 'APPLY_ACTIONS':
      w.zeros(4);
      writeActions(w, ins.actions);
      w.patch16(start + 2, w.pos - start, 'instruction length');
      return;
    case 'CLEAR_ACTIONS':
      w.zeros(4);
      return;
    case 'METER':
      w.u32(ins.meterId, 'METER meterId');
      return;
    case 'EXPERIMENTER':
      w.u32(ins.experimenter, 'experimenter id');
      w.bytes(ins.data, 'experimenter data');
      if (((w.pos - start) & 7) !== 0) {
        throw new ScoreError('OF_ENCODE', 'experimenter instruction length must be a multiple of 8', { length: w.pos - start });
      }
      w.patch16(start + 2, w.pos - start, 'instruction length');
      return;
    default: {
      const never: never = ins;
      throw new ScoreError('OF_ENCODE', 'unknown instruction type', { instruction: (never as { type: unknown }).type });
    }
  }
}

export function writeInstructions(w: Writer, list: readonly Instruction[]): void {
  if (!Array.isArray(list)) throw new ScoreError('OF_ENCODE', 'instructions must be an array', {});
  for (let i = 0; i < list.length; i++) writeInstruction(w, list[i] as Instruction);
}
