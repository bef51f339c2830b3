import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { ETHERTYPE, buildEthernet, decodeEthernet, encodeEthernet, ethertypeOf } from './ethernet.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');

describe('Ethernet II', () => {
  it('decodes an untagged header', () => {
    const f = decodeEthernet(arb.hex('ffffffffffff 000000000001 0806 c0ffee'));
    assert.deepEqual(f, {
      dst: 'ff:ff:ff:ff:ff:ff',
      src: '00:00:00:00:00:01',
      vlans: [],
      ethertype: ETHERTYPE.ARP,
      payload: Uint8Array.of(0xc0, 0xff, 0xee),
    });
  });

  it('decodes an 802.1Q tag (PCP 5, DEI, VID 100)', () => {
    // TCI = 101 1 000001100100 = 0xb064
    const f = decodeEthernet(arb.hex('000000000002 000000000001 8100 b064 0800 45'));
    assert.deepEqual(f.vlans, [{ tpid: 0x8100, pcp: 5, dei: true, vid: 100 }]);
    assert.equal(f.ethertype, ETHERTYPE.IPV4);
    assert.deepEqual(f.payload, Uint8Array.of(0x45));
  });

  it('tolerates QinQ: an 0x88a8 S-tag outside an 0x8100 C-tag', () => {
    const f = decodeEthernet(arb.hex('000000000002 000000000001 88a8 0fff 8100 2001 86dd'));
    assert.deepEqual(f.vlans, [
      { tpid: 0x88a8, pcp: 0, dei: false, vid: 4095 },
      { tpid: 0x8100, pcp: 1, dei: false, vid: 1 },
    ]);
    assert.equal(f.ethertype, ETHERTYPE.IPV6);
    assert.equal(f.payload.length, 0);
  });

  it('encodes the same bytes it decodes', () => {
    const bytes = arb.hex('0180c200000e 025343000001 88a8 0fff 8100 b064 88cc 0102');
    assert.deepEqual(encodeEthernet(decodeEthernet(bytes)), bytes);
  });

  it('round-trips any frame (encode then decode equals the input)', () => {
    fc.assert(
      fc.property(arb.ethernet, (frame) => {
        assert.deepEqual(decodeEthernet(encodeEthernet(frame)), frame);
      }),
    );
  });

  it('pads to 60 bytes only when asked, and the padding lands in the payload', () => {
    const short = buildEthernet({ src: '00:00:00:00:00:01' }, 0x0806, Uint8Array.of(1, 2, 3));
    assert.equal(short.length, 17);
    const padded = buildEthernet({ src: '00:00:00:00:00:01' }, 0x0806, Uint8Array.of(1, 2, 3), { pad: true });
    assert.equal(padded.length, 60);
    assert.deepEqual(decodeEthernet(padded).payload, Uint8Array.of(1, 2, 3, ...new Uint8Array(43)));
    assert.equal(decodeEthernet(padded).dst, 'ff:ff:ff:ff:ff:ff');
  });

  it('returns plain Uint8Array views even for a Buffer input', () => {
    const buf = Buffer.from('000000000002000000000001080001020304', 'hex');
    const f = decodeEthernet(buf);
    assert.equal(Object.getPrototypeOf(f.payload), Uint8Array.prototype);
    assert.deepEqual(f.payload, Uint8Array.of(1, 2, 3, 4));
  });

  it('reads the EtherType after the tags without decoding, exactly when decoding would succeed', () => {
    // bytes that are often tag TPIDs, so stacks of tags and frames cut inside one come up
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x81, 0x00, 0x88, 0xa8, 0xcc));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 30 }), (bytes) => {
        const b = Uint8Array.from(bytes);
        let decoded: number | undefined;
        try {
          decoded = decodeEthernet(b).ethertype;
        } catch (e) {
          assert.ok(malformed(e), 'malformed(e)');
        }
        assert.equal(ethertypeOf(b), decoded);
      }),
      { numRuns: 3000 },
    );
    assert.equal(ethertypeOf(arb.hex('0180c200000e 020000000001 8100 0005 88cc 0000')), ETHERTYPE.LLDP);
  });

  it('rejects truncated headers and tags', () => {
    assert.throws(() => decodeEthernet(new Uint8Array(13)), malformed);
    assert.throws(() => decodeEthernet(arb.hex('000000000002 000000000001 8100 0001')), malformed);
    assert.throws(() => decodeEthernet(arb.hex('000000000002 000000000001 8100 0001 81')), malformed);
  });

  it('refuses to encode values its fields cannot hold', () => {
    const base = { dst: '00:00:00:00:00:02', src: '00:00:00:00:00:01', vlans: [], ethertype: 0x0800, payload: new Uint8Array(0) };
    assert.throws(() => encodeEthernet({ ...base, ethertype: 0x8100 }), malformed);
    assert.throws(() => encodeEthernet({ ...base, ethertype: 0x10000 }), malformed);
    assert.throws(() => encodeEthernet({ ...base, dst: 'nope' }), malformed);
    assert.throws(() => encodeEthernet({ ...base, vlans: [{ tpid: 0x8100, pcp: 0, dei: false, vid: 4096 }] }), malformed);
    assert.throws(() => encodeEthernet({ ...base, vlans: [{ tpid: 0x8100, pcp: 8, dei: false, vid: 1 }] }), malformed);
  });
});
