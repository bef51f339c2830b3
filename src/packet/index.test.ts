// The controller's two uses of this folder, through the public entry point only: discover a
// link with a probe, and notice a migrated VM from its announcement.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as packet from './index.ts';

describe('packet public API', () => {
  const nonce = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);

  it('turns a probe sent on (dpid, port) into an accepted link end, and a replayed foreign one into a rejection', () => {
    const out = packet.buildLldpProbe({ srcMac: '0a:00:00:00:00:03', dpid: 0x10n, port: 3, nonce });
    const seen = packet.parseFrame(out, { lldpNonce: nonce });
    assert.ok(seen.net.type === 'lldp', 'seen.net.type === \'lldp\'');
    assert.deepEqual(seen.net.probe, { accepted: true, dpid: 0x10n, port: 3 });

    const stale = packet.parseFrame(out, { lldpNonce: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1) });
    assert.ok(stale.net.type === 'lldp', 'stale.net.type === \'lldp\'');
    assert.equal(stale.net.probe?.accepted, false);
  });

  it('recognises the announcement of a migrated VM', () => {
    const vm = '00:00:00:00:00:0A';
    const f = packet.parseFrame(packet.buildRarpAnnouncement(vm));
    assert.deepEqual(packet.findAnnouncement(f), { mac: packet.normalizeMac(vm), via: 'rarp' });
    assert.equal(packet.announcesMac(f, vm), true);
  });

  it('reports garbage with the stable error code', () => {
    assert.throws(
      () => packet.parseFrame(Uint8Array.of(1, 2, 3)),
      (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'PACKET_MALFORMED',
    );
  });
});
