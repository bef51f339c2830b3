/**
 * OpenFlow 1.3 codec: bytes in, typed messages out, and back. Pure (no sockets, no clock); the
 * connection layer frames a TCP stream with OfStreamParser and sends what encodeMessage returns.
 */
export * from './constants.ts';
export type { Action, ActionType } from './actions.ts';
export type { Instruction, InstructionType } from './instructions.ts';
export type { Match, OxmBasic, OxmField, OxmFieldName, OxmRaw, OxmValueOf } from './oxm.ts';
export { OXM_FIELDS } from './oxm.ts';
export type * from './messages.ts';
export { decodeHeader, decodeMessage, type OfHeader } from './decode.ts';
export { encodeMessage, encodeInto, encodePacketOutInto } from './encode.ts';
export { Writer } from './bytes.ts';
export { OfStreamParser, type StreamItem } from './stream.ts';
export * from './builders.ts';
