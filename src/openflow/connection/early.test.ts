import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeSwitch, port, startPlane, until } from './fake-switch.testing.ts';

/*
 * A peer that starts the handshake and floods packet-ins before finishing it: they are held (a
 * host's first frame must not be lost) but within a byte bound, so a fake switch cannot make the
 * controller hold hundreds of megabytes per connection.
 */
/** A fake switch whose handshake stops at the FEATURES_REQUEST; `finish` completes it as `dpid`. */
async function halfway(dpid: bigint): Promise<{ tp: Awaited<ReturnType<typeof startPlane>>; sw: FakeSwitch; finish: () => Promise<void> }> {
  const tp = await startPlane({ echoIntervalMs: 60_000 });
  const sw = await FakeSwitch.connect(tp.port);
  sw.send({ type: 'HELLO', xid: 1, elements: [{ type: 'VERSIONBITMAP', versions: [1, 4] }] });
  await sw.next('HELLO');
  const fr = await sw.next('FEATURES_REQUEST');
  return {
    tp,
    sw,
    finish: async () => {
      sw.send({ type: 'FEATURES_REPLY', xid: fr.xid, datapathId: dpid, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f, reserved: 0 });
      const pd = await sw.next('MULTIPART_REQUEST', 5000, (m) => m.body.kind === 'PORT_DESC');
      sw.send({ type: 'MULTIPART_REPLY', xid: pd.xid, flags: 0, body: { kind: 'PORT_DESC', ports: [port(1)] } });
      await tp.channel(dpid);
    },
  };
}

test('packet-ins before the handshake ends are held within 4 MiB; the rest are dropped with a warning, the first ones delivered once ready', { timeout: 30_000 }, async () => {
  const { tp, sw, finish } = await halfway(0x77n);
  try {
    // 200 packet-ins of 60,000 bytes (12 MB) while the features reply is outstanding
    const frame = new Uint8Array(60_000);
    for (let i = 0; i < 200; i++) sw.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: frame.length, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 1 }], data: frame });
    await until(() => tp.logs.some((l) => /PACKET_IN before ready dropped/.test(l)), 'the drop warned', 10_000);
    await finish();
    await new Promise((r) => setTimeout(r, 200));
    const delivered = tp.events.filter((e) => e.type === 'packet-in').length;
    assert.ok(delivered > 0, 'the first ones are not lost');
    assert.ok(delivered * (frame.length + 64) <= 4 * 1024 * 1024, `held within 4 MiB: ${delivered} packet-ins of 60 kB`);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a held packet-in keeps only its own frame, not the decoder\'s shared slab (the 4 MiB bound counts frame bytes)', { timeout: 30_000 }, async () => {
  const { tp, sw, finish } = await halfway(0x78n);
  try {
    // small frames, the kind the decoder copies into a slab of its own
    const frame = new Uint8Array(60).fill(7);
    for (let i = 0; i < 20; i++) sw.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: frame.length, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 1 }], data: frame });
    await new Promise((r) => setTimeout(r, 200));
    await finish();
    await until(() => tp.events.filter((e) => e.type === 'packet-in').length === 20, 'the 20 held packet-ins delivered', 5000);
    for (const e of tp.events) {
      if (e.type !== 'packet-in') continue;
      assert.deepEqual([...e.frame], [...frame], 'the frame as sent');
      assert.ok(e.frame.buffer.byteLength <= 4 * frame.length, `a held frame of ${frame.length} bytes keeps ${e.frame.buffer.byteLength} bytes alive`);
    }
  } finally {
    sw.close();
    await tp.stop();
  }
});
