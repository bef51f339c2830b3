import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildLldpProbe, decodeEthernet, decodeLldp } from '../packet/index.ts';
import { authTlv, checkProbe } from './probe-auth.ts';

const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const secret = new Uint8Array(32).fill(3);

function probe(dpid: bigint, port: number, at: number, key = secret): Uint8Array {
  return buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid, port, nonce, extraTlvs: [authTlv(key, { nonce, dpid, port }, at)] });
}

const lldpOf = (frame: Uint8Array) => decodeLldp(decodeEthernet(frame).payload);

test('a probe is believed within its window only: fresh yes, stale, from the future, another key, unsigned no', () => {
  const f = probe(7n, 3, 10_000);
  assert.deepEqual(checkProbe(lldpOf(f), secret, 10_500, 2000), { ok: true, sentAt: 10_000 });
  assert.deepEqual(checkProbe(lldpOf(f), secret, 12_001, 2000), { ok: false, reason: 'stale', sentAt: 10_000 });
  assert.deepEqual(checkProbe(lldpOf(f), secret, 9_000, 2000), { ok: false, reason: 'from-the-future' });
  assert.deepEqual(checkProbe(lldpOf(probe(7n, 3, 10_000, new Uint8Array(32).fill(4))), secret, 10_000, 2000), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(checkProbe(lldpOf(buildLldpProbe({ srcMac: '02:00:00:00:00:01', dpid: 7n, port: 3, nonce })), secret, 10_000, 2000), { ok: false, reason: 'unsigned' });
});

test('property: changing any byte of the probe TLV or the authenticator (claimed dpid, port, time, MAC) breaks it', () => {
  const f = probe(0x1234n, 9, 50_000);
  const lldp = lldpOf(f);
  const body = decodeEthernet(f).payload;
  // offsets of the two S-CORE TLVs inside the LLDPDU: the probe's value starts after its OUI+subtype
  const start = body.length - 2 - 30 - 26; // End (2), auth TLV (2 + 28), probe TLV (2 + 24)
  fc.assert(
    fc.property(fc.integer({ min: start + 2 + 4 + 8, max: body.length - 3 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      // skip the TLV header of the auth TLV and the OUI/subtype bytes, which only make it unrecognised
      const authHeader = start + 26;
      if (i >= authHeader && i < authHeader + 2 + 4) return;
      const copy = body.slice();
      copy[i] = copy[i]! ^ x;
      let tampered;
      try {
        tampered = decodeLldp(copy);
      } catch {
        return; // not even LLDP any more
      }
      const r = checkProbe(tampered, secret, 50_000, 2000);
      assert.equal(r.ok, false, `byte ${i}`);
    }),
  );
  assert.equal(checkProbe(lldp, secret, 50_000, 2000).ok, true);
});
