import { checkUint, malformed, need, put16, u16, u8, view } from './bytes.ts';
import { internetChecksum } from './checksum.ts';

export const ICMP_TYPE = {
  ECHO_REPLY: 0,
  ECHO_REQUEST: 8,
} as const;

/**
 * Echo is all the controller needs (reachability checks in the emulated data centre); every
 * other type keeps its bytes after the 4-byte header untouched.
 */
export type IcmpMessage =
  | {
      readonly kind: 'echo-request' | 'echo-reply';
      readonly code: number;
      readonly identifier: number;
      readonly sequence: number;
      readonly data: Uint8Array;
    }
  | { readonly kind: 'other'; readonly type: number; readonly code: number; readonly rest: Uint8Array };

export type IcmpPacket = IcmpMessage & { readonly checksum: number; readonly checksumValid: boolean };

export function decodeIcmp(bytes: Uint8Array): IcmpPacket {
  need(bytes, 0, 4, 'ICMP header');
  const type = u8(bytes, 0);
  const code = u8(bytes, 1);
  const checksum = u16(bytes, 2);
  const checksumValid = internetChecksum(bytes) === 0;
  if (type === ICMP_TYPE.ECHO_REQUEST || type === ICMP_TYPE.ECHO_REPLY) {
    need(bytes, 0, 8, 'ICMP echo');
    return {
      kind: type === ICMP_TYPE.ECHO_REQUEST ? 'echo-request' : 'echo-reply',
      code,
      identifier: u16(bytes, 4),
      sequence: u16(bytes, 6),
      data: view(bytes, 8),
      checksum,
      checksumValid,
    };
  }
  return { kind: 'other', type, code, rest: view(bytes, 4), checksum, checksumValid };
}

/** The checksum is always computed: ICMP has no pseudo-header, so nothing is missing for it. */
export function encodeIcmp(m: IcmpMessage): Uint8Array {
  checkUint(m.code, 8, 'icmp.code');
  let out: Uint8Array;
  if (m.kind === 'other') {
    checkUint(m.type, 8, 'icmp.type');
    if (m.type === ICMP_TYPE.ECHO_REQUEST || m.type === ICMP_TYPE.ECHO_REPLY) {
      // It would decode as an echo, so the caller's object could not round-trip.
      throw malformed(`cannot encode ICMP type ${m.type} as 'other': use kind 'echo-request'/'echo-reply'`, {
        field: 'icmp.type',
      });
    }
    out = new Uint8Array(4 + m.rest.length);
    out[0] = m.type;
    out.set(m.rest, 4);
  } else {
    checkUint(m.identifier, 16, 'icmp.identifier');
    checkUint(m.sequence, 16, 'icmp.sequence');
    out = new Uint8Array(8 + m.data.length);
    out[0] = m.kind === 'echo-request' ? ICMP_TYPE.ECHO_REQUEST : ICMP_TYPE.ECHO_REPLY;
    put16(out, 4, m.identifier);
    put16(out, 6, m.sequence);
    out.set(m.data, 8);
  }
  out[1] = m.code;
  put16(out, 2, internetChecksum(out));
  return out;
}
