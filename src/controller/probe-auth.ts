import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LldpPacket, LldpTlv } from '../packet/index.ts';
import { SCORE_LLDP_OUI } from '../packet/index.ts';

/**
 * Authenticated LLDP probes. The probe TLV says "sent by switch dpid out of port"; anyone can
 * write that, and a host that received one of our probes can send it again from its own port.
 * So every probe carries a second S-CORE TLV: the controller's clock reading when it was made
 * and an HMAC-SHA-256 (RFC 2104), truncated to 128 bits, over (nonce, dpid, port, timestamp),
 * keyed by a per-controller secret that never leaves the process. A probe is believed only when
 * the HMAC matches (nobody without the secret can make one for another port) and it is at most
 * `maxAgeMs` old (a capture cannot be replayed later). A replay inside the window is caught one
 * level up (discovery wants both directions of a link, and no link where a host lives).
 * ONOS signs its LLDP the same way (HMAC plus timestamp, "maxDiscoveryDelayMs"); the TLV layout
 * here is our own.
 *
 * TLV value: OUI (3) | subtype 2 (1) | timestamp ms, unsigned 64-bit (8) | HMAC[0..16) (16).
 */
export const SCORE_LLDP_SUBTYPE_AUTH = 2;
const AUTH_TLV_LENGTH = 28;
const MAC_LENGTH = 16;

export interface ProbeClaim {
  readonly nonce: Uint8Array;
  readonly dpid: bigint;
  readonly port: number;
}

function mac(secret: Uint8Array, claim: ProbeClaim, timestampMs: bigint): Uint8Array {
  const msg = new Uint8Array(claim.nonce.length + 20);
  const v = new DataView(msg.buffer);
  msg.set(claim.nonce, 0);
  v.setBigUint64(claim.nonce.length, claim.dpid);
  v.setUint32(claim.nonce.length + 8, claim.port);
  v.setBigUint64(claim.nonce.length + 12, timestampMs);
  return new Uint8Array(createHmac('sha256', secret).update(msg).digest().subarray(0, MAC_LENGTH));
}

/** The authenticator TLV for a probe made at `nowMs` (ms on the controller's clock, >= 0). */
export function authTlv(secret: Uint8Array, claim: ProbeClaim, nowMs: number): LldpTlv {
  const ts = BigInt(Math.max(0, Math.floor(nowMs)));
  const value = new Uint8Array(AUTH_TLV_LENGTH);
  const v = new DataView(value.buffer);
  value[0] = SCORE_LLDP_OUI >>> 16;
  value[1] = (SCORE_LLDP_OUI >>> 8) & 0xff;
  value[2] = SCORE_LLDP_OUI & 0xff;
  value[3] = SCORE_LLDP_SUBTYPE_AUTH;
  v.setBigUint64(4, ts);
  value.set(mac(secret, claim, ts), 12);
  return { type: 127, value };
}

export type ProbeCheck =
  | { readonly ok: true; readonly sentAt: number }
  /** stale: authentic but old; `sentAt` still tells when the claim was true */
  | { readonly ok: false; readonly reason: 'stale'; readonly sentAt: number }
  | { readonly ok: false; readonly reason: 'unsigned' | 'bad-signature' | 'from-the-future' };

function isAuthTlv(t: LldpTlv): boolean {
  return (
    t.type === 127 &&
    t.value.length === AUTH_TLV_LENGTH &&
    ((t.value[0]! << 16) | (t.value[1]! << 8) | t.value[2]!) === SCORE_LLDP_OUI &&
    t.value[3] === SCORE_LLDP_SUBTYPE_AUTH
  );
}

/**
 * Checks a decoded probe against the secret and the clock. `maxAgeMs`: how old a probe may be
 * (its round trip through two switches and the controller's queue); `skewMs`: how far in the
 * future a timestamp may be (0 on one clock; a little for safety against rounding).
 */
export function checkProbe(lldp: LldpPacket, secret: Uint8Array, nowMs: number, maxAgeMs: number, skewMs = 50): ProbeCheck {
  const probe = lldp.probe;
  const tlv = lldp.extraTlvs.find(isAuthTlv);
  if (probe === undefined || tlv === undefined) return { ok: false, reason: 'unsigned' };
  const ts = new DataView(tlv.value.buffer, tlv.value.byteOffset, tlv.value.byteLength).getBigUint64(4);
  const expected = mac(secret, probe, ts);
  if (!timingSafeEqual(expected, tlv.value.subarray(12))) return { ok: false, reason: 'bad-signature' };
  const sentAt = Number(ts);
  if (sentAt > nowMs + skewMs) return { ok: false, reason: 'from-the-future' };
  if (nowMs - sentAt > maxAgeMs) return { ok: false, reason: 'stale', sentAt };
  return { ok: true, sentAt };
}
