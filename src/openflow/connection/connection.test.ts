import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../../errors/errors.ts';
import { encodeMessage } from '../encode.ts';
import { decodeMessage } from '../decode.ts';
import { OFPBRC, OFPCML, OFPET, OFPFC, OFPFF, OFPG, OFPHFC, OFPMP, OFPMPF, OFPP, OFPPC, OFPPR, OFPPS, OFPTT, OFPT, OFPRR, OFPR } from '../constants.ts';
import { FakeSwitch, flow, port, startPlane, until } from './fake-switch.testing.ts';
import { DPID_FLAP_REPLACEMENTS } from './server.ts';
import { commandToMessage, flowStatEntry, portInfo } from './translate.ts';
import { openflowDataPlane } from './dataplane.ts';
import type { SwitchChannel } from '../../runtime/dataplane.ts';
import type { SwitchCommand } from '../../controller/commands.ts';
import { oxm } from '../builders.ts';
import { MAX_REPLY_PARTS, RequestTracker } from './requests.ts';

const T = { timeout: 20_000 };

test('handshake: HELLO, FEATURES, SET_CONFIG no-buffer, PORT_DESC in parts; reserved ports hidden, up/down mapped', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.connect(tp.port);
  try {
    const hello = await sw.next('HELLO');
    assert.deepEqual(hello.elements, [{ type: 'VERSIONBITMAP', versions: [4] }]);
    sw.send({ type: 'HELLO', xid: 7, elements: [{ type: 'VERSIONBITMAP', versions: [1, 4, 5] }], version: 5 });
    const fr = await sw.next('FEATURES_REQUEST');
    assert.ok(fr.xid !== 0, 'fr.xid !== 0');
    assert.equal(tp.events.length, 0, 'not up before the handshake is done');
    sw.send({ type: 'FEATURES_REPLY', xid: fr.xid, datapathId: 0xabcn, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0, reserved: 0 });
    const cfg = await sw.next('SET_CONFIG');
    assert.equal(cfg.missSendLen, OFPCML.NO_BUFFER);
    const pd = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_DESC');
    // Two parts: the data plane must wait for the last one.
    sw.send({ type: 'MULTIPART_REPLY', xid: pd.xid, flags: OFPMPF.REPLY_MORE, body: { kind: 'PORT_DESC', ports: [port(1), port(OFPP.LOCAL)] } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(tp.events.length, 0, 'not up before the last PORT_DESC part');
    sw.send({
      type: 'MULTIPART_REPLY',
      xid: pd.xid,
      flags: 0,
      body: { kind: 'PORT_DESC', ports: [port(2, { config: OFPPC.PORT_DOWN }), port(3, { state: OFPPS.LINK_DOWN, currSpeed: 1_000_000 })] },
    });
    const ch = await tp.channel(0xabcn);
    assert.deepEqual(
      ch.ports.map((p) => [p.port, p.up, p.speedKbps, p.name]),
      [
        [1, true, 10_000, 'p1'],
        [2, false, 10_000, 'p2'],
        [3, false, 1_000_000, 'p3'],
      ],
    );
    assert.equal(tp.plane.connection(0xabcn)?.state, 'ready');
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('version negotiation: a 1.0-only switch gets HELLO_FAILED/INCOMPATIBLE in its own version and is closed; a bitmap without 1.3 too', T, async () => {
  const tp = await startPlane();
  try {
    const old = await FakeSwitch.connect(tp.port);
    old.send({ type: 'HELLO', xid: 3, version: 1, elements: [] });
    await until(() => old.closed, 'close of the 1.0 switch');
    // The fake's parser refuses non-1.3 headers except HELLO, so read the raw ERROR from the log of bytes instead.
    assert.ok(tp.logs.some((l) => l.includes('OF_HANDSHAKE') && l.includes('version 0x1')), tp.logs.join('\n'));

    const raw: Buffer[] = [];
    const other = await FakeSwitch.connect(tp.port);
    other.socket.on('data', (b: Buffer) => raw.push(b));
    other.send({ type: 'HELLO', xid: 3, version: 5, elements: [{ type: 'VERSIONBITMAP', versions: [5, 6] }] });
    await until(() => other.closed, 'close of the 1.4+ switch');
    const bytes = Buffer.concat(raw);
    // Our HELLO (16 bytes) then the ERROR.
    const err = decodeMessage(bytes.subarray(16));
    assert.equal(err.type, 'ERROR');
    if (err.type !== 'ERROR') return;
    assert.equal(err.errType, OFPET.HELLO_FAILED);
    assert.equal(err.code, OFPHFC.INCOMPATIBLE);
    assert.match(Buffer.from(err.data).toString(), /1\.3.*0x5, 0x6/);
    assert.equal(tp.events.length, 0);
  } finally {
    await tp.stop();
  }
});

test('version negotiation: the 1.0 switch sees an ERROR whose header says version 1', T, async () => {
  const tp = await startPlane();
  try {
    const raw: Buffer[] = [];
    const sw = await FakeSwitch.connect(tp.port);
    sw.socket.on('data', (b: Buffer) => raw.push(b));
    sw.send({ type: 'HELLO', xid: 3, version: 1, elements: [] });
    await until(() => sw.closed, 'close');
    const err = Buffer.concat(raw).subarray(16);
    assert.equal(err[0], 1, 'version byte');
    assert.equal(err[1], OFPT.ERROR);
    assert.equal(err.readUInt16BE(8), OFPET.HELLO_FAILED);
  } finally {
    await tp.stop();
  }
});

test('keep-alive: echo requests go out and are answered; the switch’s echo is answered; silence closes with OF_TIMEOUT', T, async () => {
  const tp = await startPlane({ echoIntervalMs: 40, echoTimeoutMs: 300 });
  const sw = await FakeSwitch.up(tp.port, 1n);
  try {
    await tp.channel(1n);
    await until(() => (tp.plane.connectionStats(1n)?.echoReplies ?? 0) >= 2, 'two echo replies');
    assert.ok((tp.plane.connectionStats(1n)?.lastEchoRttMs ?? -1) >= 0, '(tp.plane.connectionStats(1n)?.lastEchoRttMs ?? -1) >= 0');
    sw.send({ type: 'ECHO_REQUEST', xid: 0x1234, data: new Uint8Array([1, 2, 3]) });
    const rep = await sw.next('ECHO_REPLY');
    assert.equal(rep.xid, 0x1234);
    assert.deepEqual([...rep.data], [1, 2, 3]);
    // Still alive well past the timeout while echoes are answered.
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(tp.events.filter((e) => e.type === 'down').length, 0);
    sw.autoEcho = false;
    sw.socket.pause();
    await until(() => tp.events.some((e) => e.type === 'down'), 'switch down after silence', 2000);
    assert.ok(tp.logs.some((l) => /OF_TIMEOUT.*nothing from the switch for 300 ms/.test(l)), tp.logs.join('\n'));
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('handshake timeout: a switch that says HELLO and then nothing is closed with OF_HANDSHAKE', T, async () => {
  const tp = await startPlane({ handshakeTimeoutMs: 150 });
  const sw = await FakeSwitch.connect(tp.port);
  try {
    sw.send({ type: 'HELLO', xid: 1, elements: [] });
    await until(() => sw.closed, 'close');
    assert.ok(tp.logs.some((l) => l.includes('OF_HANDSHAKE')), tp.logs.join('\n'));
  } finally {
    await tp.stop();
  }
});

test('xid correlation: concurrent requests answered out of order; unanswered one times out with OF_TIMEOUT; switch ERROR -> OF_SWITCH_ERROR', T, async () => {
  const tp = await startPlane({ requestTimeoutMs: 200 });
  const sw = await FakeSwitch.up(tp.port, 2n);
  try {
    const ch = await tp.channel(2n);
    const a = ch.flowStats();
    const b = ch.flowStats();
    const ra = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    const rb = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    assert.notEqual(ra.xid, rb.xid);
    if (ra.body.kind === 'FLOW') {
      assert.equal(ra.body.tableId, OFPTT.ALL);
      assert.equal(ra.body.outPort, OFPP.ANY);
    }
    sw.send({ type: 'MULTIPART_REPLY', xid: rb.xid, flags: 0, body: { kind: 'FLOW', flows: [flow(0xbn)] } });
    sw.send({ type: 'MULTIPART_REPLY', xid: ra.xid, flags: 0, body: { kind: 'FLOW', flows: [flow(0xan)] } });
    assert.deepEqual((await a).map((f) => f.cookie), [0xan]);
    assert.deepEqual((await b).map((f) => f.cookie), [0xbn]);

    const lost = ch.portStats();
    const rq = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_STATS');
    await assert.rejects(lost, (e: unknown) => isScoreError(e, 'OF_TIMEOUT') && e.details.xid === rq.xid);
    // The late reply is dropped quietly and the connection carries on.
    sw.send({ type: 'MULTIPART_REPLY', xid: rq.xid, flags: 0, body: { kind: 'PORT_STATS', ports: [] } });

    const refused = ch.flowStats();
    const rr = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    sw.send({ type: 'ERROR', xid: rr.xid, errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_MULTIPART, data: new Uint8Array(8) });
    await assert.rejects(refused, (e: unknown) => isScoreError(e, 'OF_SWITCH_ERROR') && /BAD_REQUEST\/BAD_MULTIPART/.test(e.message));

    const ok = ch.flowStats();
    await sw.answerFlowStats([]);
    assert.deepEqual(await ok, []);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('multipart: a FLOW reply in several REPLY_MORE parts, written in odd TCP chunks, is reassembled in order', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 3n);
  try {
    const ch = await tp.channel(3n);
    const p = ch.flowStats();
    const rq = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    const flows = Array.from({ length: 10 }, (_, i) => flow(BigInt(i + 1), BigInt(1000 * i)));
    const parts = [flows.slice(0, 3), flows.slice(3, 4), flows.slice(4, 9), flows.slice(9)];
    const bytes = Buffer.concat(
      parts.map((fl, i) => encodeMessage({ type: 'MULTIPART_REPLY', xid: rq.xid, flags: i < parts.length - 1 ? OFPMPF.REPLY_MORE : 0, body: { kind: 'FLOW', flows: fl } })),
    );
    // Chunks of 1, 7, 13, ... bytes, cutting headers and flow entries anywhere.
    let at = 0;
    for (let size = 1; at < bytes.length; size = (size * 7 + 6) % 97 || 1) {
      sw.sendRaw(bytes.subarray(at, at + size));
      at += size;
      if (at % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    const got = await p;
    assert.deepEqual(got.map((f) => f.cookie), flows.map((f) => f.cookie));
    assert.deepEqual(got.map((f) => f.byteCount), flows.map((f) => f.byteCount));
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('malformed but framed messages get OFPT_ERROR back, are logged as hex, and the connection survives', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 4n);
  try {
    const ch = await tp.channel(4n);
    // Unknown message type 99.
    const unknown = Uint8Array.from([0x04, 99, 0x00, 0x0c, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
    sw.sendRaw(unknown);
    const e1 = await sw.next('ERROR');
    assert.deepEqual([e1.xid, e1.errType, e1.code], [0xdeadbeef, OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE]);
    assert.deepEqual([...e1.data], [...unknown]);
    // A PORT_STATUS cut short (message length says 16, the body needs 72).
    const short = Uint8Array.from([0x04, OFPT.PORT_STATUS, 0x00, 0x10, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    sw.sendRaw(short);
    const e2 = await sw.next('ERROR');
    assert.deepEqual([e2.xid, e2.errType, e2.code], [9, OFPET.BAD_REQUEST, OFPBRC.BAD_LEN]);
    // A message a switch must not send.
    sw.send({ type: 'BARRIER_REQUEST', xid: 77 });
    const e3 = await sw.next('ERROR');
    assert.deepEqual([e3.xid, e3.errType, e3.code], [77, OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE]);
    // An undecodable ERROR is logged, never answered with another ERROR.
    sw.sendRaw(Uint8Array.from([0x04, OFPT.ERROR, 0x00, 0x0a, 0xff, 0xff, 0xff, 0xf0, 0, 1]));
    await until(() => tp.plane.connectionStats(4n)?.malformed === 3, "third malformed message seen");
    assert.ok(tp.logs.some((l) => l.includes('malformed HELLO') === false && l.includes('04630') && l.includes('deadbeef')), tp.logs.join('\n'));
    const stats = ch.flowStats();
    await sw.answerFlowStats([flow(5n)]);
    assert.deepEqual((await stats).map((f) => f.cookie), [5n]);
    assert.equal(sw.inbox.filter((m) => m.type === 'ERROR').length, 0, 'no ERROR in reply to an ERROR');
    assert.equal(tp.plane.connectionStats(4n)?.malformed, 3);
    assert.equal(tp.events.filter((e) => e.type === 'down').length, 0);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('an undecodable reply fails its request at once instead of timing out', T, async () => {
  const tp = await startPlane({ requestTimeoutMs: 5000 });
  const sw = await FakeSwitch.up(tp.port, 5n);
  try {
    const ch = await tp.channel(5n);
    const p = ch.portStats();
    const rq = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_STATS');
    // A PORT_STATS reply with 8 bytes of an entry that needs 112.
    const b = Buffer.alloc(24);
    b.writeUInt8(4, 0);
    b.writeUInt8(OFPT.MULTIPART_REPLY, 1);
    b.writeUInt16BE(24, 2);
    b.writeUInt32BE(rq.xid, 4);
    b.writeUInt16BE(4, 8);
    const t0 = Date.now();
    sw.sendRaw(b);
    await assert.rejects(p, (e: unknown) => isScoreError(e, 'OF_TRUNCATED') || isScoreError(e, 'OF_BAD_LENGTH'));
    assert.ok(Date.now() - t0 < 2000, 'Date.now() - t0 < 2000');
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('fatal framing (length below 8) closes only that switch; another keeps working', T, async () => {
  const tp = await startPlane();
  const bad = await FakeSwitch.up(tp.port, 6n);
  const good = await FakeSwitch.up(tp.port, 7n);
  try {
    const ch7 = await tp.channel(7n);
    await tp.channel(6n);
    bad.sendRaw(Uint8Array.from([0x04, OFPT.ECHO_REQUEST, 0x00, 0x04, 0, 0, 0, 1]));
    await until(() => bad.closed, 'close of the bad switch');
    await until(() => tp.events.some((e) => e.type === 'down' && e.dpid === 6n), 'switch 6 down');
    assert.ok(tp.logs.some((l) => l.includes('OF_BAD_LENGTH')), tp.logs.join('\n'));
    const p = ch7.flowStats();
    await good.answerFlowStats([flow(7n)]);
    assert.deepEqual((await p).map((f) => f.cookie), [7n]);
    assert.ok(!tp.events.some((e) => e.type === 'down' && e.dpid === 7n), '!tp.events.some((e) => e.type === \'down\' && e.dpid === 7n)');
  } finally {
    bad.close();
    good.close();
    await tp.stop();
  }
});

test('reconnect with the same dpid: old closed and reported down before the new one is up; never two channels', T, async () => {
  const tp = await startPlane();
  const first = await FakeSwitch.up(tp.port, 8n);
  let second: FakeSwitch | undefined;
  try {
    const ch1 = await tp.channel(8n);
    second = await FakeSwitch.up(tp.port, 8n, [port(1), port(2), port(3)]);
    await until(() => tp.events.filter((e) => e.type === 'up').length === 2, 'second up');
    assert.deepEqual(tp.events.map((e) => e.type), ['up', 'down', 'up']);
    await until(() => first.closed, 'old socket closed');
    const ch2 = await tp.channel(8n);
    assert.notEqual(ch1, ch2);
    assert.equal(ch2.ports.length, 3);
    assert.throws(() => ch1.send([{ kind: 'flow-delete', dpid: 8n, cookie: 1n, cookieMask: 1n }]), (e: unknown) => isScoreError(e, 'OF_DISCONNECTED'));
    ch2.send([{ kind: 'flow-delete', dpid: 8n, cookie: 1n, cookieMask: 1n }]);
    const fm = await second.next('FLOW_MOD');
    assert.equal(fm.command, OFPFC.DELETE);
    // The old connection going away late must not take the new one down.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(tp.events.map((e) => e.type), ['up', 'down', 'up']);
  } finally {
    first.close();
    second?.close();
    await tp.stop();
  }
});

test('one datapath id taken over again and again (two switches sharing it) is said once as OF_DPID_CONFLICT; a single reconnect is not', T, async () => {
  const tp = await startPlane();
  const switches: FakeSwitch[] = [];
  const conflicts = (): string[] => tp.logs.filter((l) => l.includes('OF_DPID_CONFLICT'));
  try {
    switches.push(await FakeSwitch.up(tp.port, 12n));
    switches.push(await FakeSwitch.up(tp.port, 12n));
    await until(() => switches[0]!.closed, 'the first connection replaced');
    assert.deepEqual(conflicts(), [], 'one replacement is a switch reconnecting: no conflict said');
    // the two switches keep reconnecting, each connection closing the other's
    for (let k = 0; k < DPID_FLAP_REPLACEMENTS + 2; k++) {
      switches.push(await FakeSwitch.up(tp.port, 12n));
      await until(() => switches.at(-2)!.closed, `replacement ${k + 2}`);
    }
    await until(() => conflicts().length > 0, 'the conflict said');
    assert.equal(conflicts().length, 1, `said once in the window: ${conflicts().join(' | ')}`);
    assert.match(conflicts()[0]!, /^warn OF_DPID_CONFLICT: switch 0*c connected 3 times in \d+ s/);
    assert.match(conflicts()[0]!, /127\.0\.0\.1:\d+/);
  } finally {
    for (const s of switches) s.close();
    await tp.stop();
  }
});

test('back-pressure: with the switch not reading, messages wait for drain and arrive complete and in order', T, async () => {
  const tp = await startPlane({ maxQueueBytes: 256 * 1024 * 1024, echoIntervalMs: 60_000 });
  const sw = await FakeSwitch.up(tp.port, 9n);
  try {
    const ch = await tp.channel(9n);
    sw.socket.pause();
    const n = 400;
    for (let i = 0; i < n; i++) {
      const frame = new Uint8Array(60_000);
      new DataView(frame.buffer).setUint32(0, i);
      ch.send([{ kind: 'packet-out', dpid: 9n, ports: [1], frame }]);
    }
    assert.ok((tp.plane.connectionStats(9n)?.maxQueuedBytes ?? 0) > 0, 'the queue was used');
    sw.socket.resume();
    const got = await until(() => {
      const outs = sw.inbox.filter((m) => m.type === 'PACKET_OUT');
      return outs.length === n ? outs : undefined;
    }, 'all packet-outs', 10_000);
    got.forEach((m, i) => {
      if (m.type === 'PACKET_OUT') assert.equal(new DataView(m.data.buffer, m.data.byteOffset).getUint32(0), i);
    });
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('back-pressure: a switch that never reads is disconnected once the bounded queue overflows', T, async () => {
  const tp = await startPlane({ maxQueueBytes: 1024 * 1024, echoIntervalMs: 60_000 });
  const sw = await FakeSwitch.up(tp.port, 10n);
  try {
    const ch = await tp.channel(10n);
    sw.socket.pause();
    let sent = 0;
    let error: unknown;
    for (; sent < 4000; sent++) {
      try {
        ch.send([{ kind: 'packet-out', dpid: 10n, ports: [1], frame: new Uint8Array(60_000) }]);
      } catch (e) {
        error = e;
        break;
      }
    }
    assert.ok(isScoreError(error, 'OF_DISCONNECTED'), String(error));
    assert.ok(sent > 17, `only ${sent} sent before the queue was full`);
    await until(() => tp.events.some((e) => e.type === 'down' && e.dpid === 10n), 'down');
    assert.ok(tp.logs.some((l) => l.includes('send queue over 1048576 bytes')), tp.logs.join('\n'));
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('asynchronous messages become data-plane events: packet-in (in_port from the match), port status, flow removed', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 11n);
  try {
    const ch = await tp.channel(11n);
    const frame = Uint8Array.from({ length: 60 }, (_, i) => i);
    sw.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: 60, reason: OFPR.NO_MATCH, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 2 }], data: frame });
    sw.send({ type: 'PORT_STATUS', xid: 0, reason: OFPPR.ADD, desc: port(5) });
    sw.send({ type: 'PORT_STATUS', xid: 0, reason: OFPPR.MODIFY, desc: port(1, { state: OFPPS.LINK_DOWN }) });
    sw.send({ type: 'PORT_STATUS', xid: 0, reason: OFPPR.ADD, desc: port(OFPP.LOCAL) });
    sw.send({ type: 'PORT_STATUS', xid: 0, reason: OFPPR.DELETE, desc: port(2) });
    sw.send({
      type: 'FLOW_REMOVED', xid: 0, cookie: 0x5c00000000000042n, priority: 10, reason: OFPRR.IDLE_TIMEOUT, tableId: 0,
      durationSec: 1, durationNsec: 0, idleTimeout: 5, hardTimeout: 0, packetCount: 0n, byteCount: 0n, match: [],
    });
    await until(() => tp.events.some((e) => e.type === 'flow-removed'), 'flow removed');
    const rest = tp.events.slice(1).map((e) => {
      if (e.type === 'packet-in') return `pi ${e.inPort} ${e.frame.length}`;
      if (e.type === 'port-status') return `ps ${e.reason} ${e.port.port} ${e.port.up}`;
      if (e.type === 'flow-removed') return `fr ${e.cookie.toString(16)}`;
      return e.type;
    });
    assert.deepEqual(rest, ['pi 2 60', 'ps add 5 true', 'ps modify 1 false', 'ps delete 2 true', 'fr 5c00000000000042']);
    assert.deepEqual(ch.ports.map((p) => p.port).sort(), [1, 5]);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a packet-in sent during the handshake, before the PORT_DESC reply, is delivered once the switch is up', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.connect(tp.port);
  try {
    sw.send({ type: 'HELLO', xid: 1, elements: [] });
    const fr = await sw.next('FEATURES_REQUEST');
    sw.send({ type: 'FEATURES_REPLY', xid: fr.xid, datapathId: 14n, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0, reserved: 0 });
    const pd = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_DESC');
    sw.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 1 }], data: new Uint8Array(60) });
    await new Promise((r) => setTimeout(r, 30));
    sw.send({ type: 'MULTIPART_REPLY', xid: pd.xid, flags: 0, body: { kind: 'PORT_DESC', ports: [port(1)] } });
    await tp.channel(14n);
    await until(() => tp.events.find((e) => e.type === 'packet-in'), 'the packet-in delivered');
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('port status right behind the PORT_DESC reply (same TCP chunk) is kept; one before it is covered by the reply', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.connect(tp.port);
  try {
    sw.send({ type: 'HELLO', xid: 1, elements: [] });
    const fr = await sw.next('FEATURES_REQUEST');
    sw.send({ type: 'FEATURES_REPLY', xid: fr.xid, datapathId: 13n, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0, reserved: 0 });
    const pd = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_DESC');
    sw.sendRaw(
      Buffer.concat([
        encodeMessage({ type: 'PORT_STATUS', xid: 0, reason: OFPPR.ADD, desc: port(1) }),
        encodeMessage({ type: 'MULTIPART_REPLY', xid: pd.xid, flags: 0, body: { kind: 'PORT_DESC', ports: [port(1)] } }),
        encodeMessage({ type: 'PORT_STATUS', xid: 0, reason: OFPPR.ADD, desc: port(2) }),
      ]),
    );
    const ch = await tp.channel(13n);
    await until(() => tp.events.some((e) => e.type === 'port-status'), 'port status event');
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(
      tp.events.map((e) => (e.type === 'port-status' ? `ps ${e.reason} ${e.port.port}` : e.type)),
      ['up', 'ps add 2'],
    );
    assert.deepEqual(ch.ports.map((p) => p.port).sort(), [1, 2]);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a switch ERROR for one of our FLOW_MODs is logged with its type/code names and what we sent', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 12n);
  try {
    const ch = await tp.channel(12n);
    ch.send([{ kind: 'flow-add', dpid: 12n, rule: { priority: 5, match: { ethType: 0x800 }, actions: [{ type: 'output', port: 3 }], cookie: 0x77n, idleTimeout: 0, hardTimeout: 0 } }]);
    const fm = await sw.next('FLOW_MOD');
    sw.send({ type: 'ERROR', xid: fm.xid, errType: OFPET.BAD_MATCH, code: 9, data: encodeMessage(fm).slice(0, 64) });
    await until(() => tp.logs.find((l) => l.includes('BAD_MATCH/BAD_PREREQ') && l.includes('FLOW_MOD add priority 5 cookie 0x77')), 'error log line');
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('SwitchCommand -> FLOW_MOD / PACKET_OUT as the spec and the controller want them', () => {
  const add = commandToMessage({
    kind: 'flow-add',
    dpid: 1n,
    rule: {
      priority: 100,
      match: { inPort: 1, ethSrc: '00:00:00:00:00:01', ethDst: '00:00:00:00:00:02', ethType: 0x0800 },
      actions: [{ type: 'output', port: 2 }, { type: 'controller' }],
      cookie: 0x5c00000000000001n,
      idleTimeout: 10,
      hardTimeout: 0,
    },
  });
  const back = decodeMessage(encodeMessage(add));
  assert.equal(back.type, 'FLOW_MOD');
  if (back.type !== 'FLOW_MOD') return;
  assert.equal(back.command, OFPFC.ADD);
  assert.equal(back.flags, OFPFF.SEND_FLOW_REM);
  assert.equal(back.bufferId, 0xffffffff);
  assert.deepEqual(back.match.map((f) => f.field).sort(), ['eth_dst', 'eth_src', 'eth_type', 'in_port']);
  assert.deepEqual(back.instructions, [
    { type: 'APPLY_ACTIONS', actions: [{ type: 'OUTPUT', port: 2, maxLen: 0 }, { type: 'OUTPUT', port: OFPP.CONTROLLER, maxLen: OFPCML.NO_BUFFER }] },
  ]);
  const drop = commandToMessage({ kind: 'flow-add', dpid: 1n, rule: { priority: 1, match: {}, actions: [], cookie: 0n, idleTimeout: 0, hardTimeout: 0 } });
  assert.ok(drop.type === 'FLOW_MOD' && drop.instructions.length === 0 && drop.flags === 0, 'drop.type === \'FLOW_MOD\' && drop.instructions.length === 0 && drop.flags === 0');
  const del = commandToMessage({ kind: 'flow-delete', dpid: 1n, cookie: 0x5c00000000000000n, cookieMask: 0xff00000000000000n });
  assert.ok(del.type === 'FLOW_MOD', 'del.type === \'FLOW_MOD\'');
  if (del.type !== 'FLOW_MOD') return;
  assert.deepEqual([del.command, del.tableId, del.outPort, del.outGroup, del.cookie, del.cookieMask], [OFPFC.DELETE, OFPTT.ALL, OFPP.ANY, 0xffffffff, 0x5c00000000000000n, 0xff00000000000000n]);
  const po = commandToMessage({ kind: 'packet-out', dpid: 1n, ports: [3, 4], frame: new Uint8Array(20) });
  assert.ok(po.type === 'PACKET_OUT', 'po.type === \'PACKET_OUT\'');
  if (po.type !== 'PACKET_OUT') return;
  assert.deepEqual([po.bufferId, po.inPort, po.actions.length], [0xffffffff, OFPP.CONTROLLER, 2]);
  const po2 = commandToMessage({ kind: 'packet-out', dpid: 1n, inPort: 7, ports: [3], frame: new Uint8Array(20) });
  assert.ok(po2.type === 'PACKET_OUT' && po2.inPort === 7, 'po2.type === \'PACKET_OUT\' && po2.inPort === 7');
  assert.deepEqual(portInfo(port(4, { config: 0, state: OFPPS.LIVE, currSpeed: 5 })), { port: 4, hwAddr: '02:00:00:00:00:04', up: true, speedKbps: 5, name: 'p4' });
});

test('xids: never 0, skip ones in use, wrap at 2^32', async () => {
  const t = new RequestTracker(1000);
  (t as unknown as { nextXid: number }).nextXid = 0xffffffff;
  assert.equal(t.allocate(), 0xffffffff);
  assert.equal(t.allocate(), 1);
  const p = t.expect(2, 'x', ['BARRIER_REPLY'], 1000);
  assert.equal(t.allocate(), 3);
  t.offer({ type: 'BARRIER_REPLY', xid: 2 });
  assert.deepEqual(await p, [{ type: 'BARRIER_REPLY', xid: 2 }]);
});

test('a multipart reply that never ends fails OF_REPLY_TOO_LARGE after MAX_REPLY_PARTS parts; a long one under the bound is merged', async () => {
  const t = new RequestTracker(1000);
  const part = (xid: number, more: boolean) => ({ type: 'MULTIPART_REPLY' as const, xid, flags: more ? OFPMPF.REPLY_MORE : 0, body: { kind: 'PORT_DESC' as const, ports: [] } });
  const endless = t.expect(9, 'FLOW stats', ['MULTIPART_REPLY'], 1000);
  let taken = 0;
  for (let i = 0; i < MAX_REPLY_PARTS + 5; i++) if (t.offer(part(9, true))) taken += 1;
  await assert.rejects(endless, (e) => isScoreError(e, 'OF_REPLY_TOO_LARGE'));
  assert.equal(taken, MAX_REPLY_PARTS, 'parts after the failure are not this request\'s any more');
  const long = t.expect(10, 'PORT_DESC', ['MULTIPART_REPLY'], 1000);
  for (let i = 0; i < 100; i++) t.offer(part(10, true));
  t.offer(part(10, false));
  assert.equal((await long).length, 101);
});

test('remembered messages: a describe function is called with its argument, only when asked', () => {
  const t = new RequestTracker(1000);
  const calls: number[] = [];
  const describe = (n: number): string => {
    calls.push(n);
    return `message ${n}`;
  };
  t.remember(5, describe, 41);
  t.remember(6, describe, 42);
  t.remember(7, 'a string');
  assert.deepEqual(calls, [], 'nothing described while nothing was refused');
  assert.equal(t.describe(6), 'message 42');
  assert.equal(t.describe(7), 'a string');
  assert.deepEqual(calls, [42]);
});

const flowAdd = commandToMessage({
  kind: 'flow-add',
  dpid: 0x31n,
  rule: { priority: 100, match: { inPort: 1, ethSrc: '02:00:00:00:00:01', ethDst: '02:00:00:00:00:02' }, actions: [{ type: 'output', port: 2 }], cookie: 0n, idleTimeout: 60, hardTimeout: 0 },
});

test('postEach: the messages go out in order, a refused one is reported with its own description; a big batch does not keep its buffer', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x31n);
  try {
    await tp.channel(0x31n);
    const conn = tp.plane.connection(0x31n)!;
    const described: number[] = [];
    const cookies = [1n, 2n, 3n];
    const xids = conn.postEach(
      cookies,
      (cookie) => ({ ...flowAdd, cookie }),
      (cookie) => {
        described.push(Number(cookie));
        return `flow ${cookie}`;
      },
    );
    const got = [await sw.next('FLOW_MOD'), await sw.next('FLOW_MOD'), await sw.next('FLOW_MOD')];
    assert.deepEqual(got.map((m) => [m.xid, m.cookie]), xids.map((x, i) => [x, cookies[i]]));
    sw.send({ type: 'ERROR', xid: xids[1]!, errType: OFPET.FLOW_MOD_FAILED, code: 1, data: new Uint8Array(0) });
    await until(() => tp.logs.find((l) => l.includes('for flow 2')), 'the refusal, described');
    assert.deepEqual(described, [2], 'only the refused message was described');
    // 2,000 flow-adds in one batch: about 170 KiB, over a turn's 64 KiB, so sent at once; the
    // buffer it grew (to 256 KiB) is not kept
    conn.postEach(Array.from({ length: 2000 }, (_, i) => BigInt(i + 10)), (cookie) => ({ ...flowAdd, cookie }), () => 'bulk');
    assert.ok(conn.turnBufferBytes <= 128 * 1024, `dropped once sent (${conn.turnBufferBytes})`);
    await until(() => sw.inbox.filter((m) => m.type === 'FLOW_MOD').length >= 2000 || undefined, 'the batch at the switch', 5000);
    // with `keep`, what is remembered for the error report is keep(item), not the item (a command
    // with its frame): describe is called with that
    const kept: unknown[] = [];
    const items = [{ cookie: 7n, frame: new Uint8Array(1000) }];
    const [x] = conn.postEach(
      items,
      (i) => ({ ...flowAdd, cookie: i.cookie }),
      (k: { cookie: bigint }) => {
        kept.push(k);
        return `kept ${k.cookie}`;
      },
      (i) => ({ cookie: i.cookie }),
    );
    await sw.next('FLOW_MOD');
    sw.send({ type: 'ERROR', xid: x!, errType: OFPET.FLOW_MOD_FAILED, code: 1, data: new Uint8Array(0) });
    await until(() => tp.logs.find((l) => l.includes('for kept 7')), 'the refusal, described from what was kept');
    assert.deepEqual(kept, [{ cookie: 7n }], 'describe got the kept summary, not the item');
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('flow statistics with a cookie filter: the request carries cookie and cookie_mask (the switch selects the flows); without one, every flow', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x21n);
  try {
    const raw: Buffer[] = [];
    sw.socket.on('data', (b: Buffer) => raw.push(b));
    const ch = await tp.channel(0x21n);
    const filtered = ch.flowStats({ cookie: 0x5c00_0000_0000_0000n, cookieMask: 0xff00_0000_0000_0000n });
    const rq = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    // the bytes on the wire, not our decoder's reading of them (OpenFlow 1.3.5 §7.3.5.2: ofp_header,
    // ofp_multipart_request, ofp_flow_stats_request, then the ofp_match)
    const frames: Buffer[] = [];
    for (let all = Buffer.concat(raw), at = 0; at + 8 <= all.length; at += all.readUInt16BE(at + 2)) frames.push(all.subarray(at, at + all.readUInt16BE(at + 2)));
    const m = frames.find((f) => f[1] === OFPT.MULTIPART_REQUEST && f.readUInt32BE(4) === rq.xid);
    assert.ok(m !== undefined, 'the request among the bytes the switch received');
    assert.equal(m[0], 4, 'version 1.3');
    assert.equal(m.readUInt16BE(8), OFPMP.FLOW, 'multipart type');
    assert.equal(m[16], OFPTT.ALL, 'table_id at 16');
    assert.equal(m.readUInt32BE(20), OFPP.ANY, 'out_port at 20');
    assert.equal(m.readUInt32BE(24), OFPG.ANY, 'out_group at 24');
    assert.equal(m.readBigUInt64BE(32), 0x5c00_0000_0000_0000n, 'cookie at 32');
    assert.equal(m.readBigUInt64BE(40), 0xff00_0000_0000_0000n, 'cookie_mask at 40');
    assert.deepEqual([m.readUInt16BE(48), m.readUInt16BE(50)], [1, 4], 'match at 48: OFPMT_OXM (1), length 4: empty');
    assert.equal(m.length, 56);
    assert.ok(rq.body.kind === 'FLOW', 'rq.body.kind === \'FLOW\'');
    assert.equal(rq.body.cookie, 0x5c00_0000_0000_0000n);
    assert.equal(rq.body.cookieMask, 0xff00_0000_0000_0000n);
    assert.equal(rq.body.tableId, OFPTT.ALL);
    sw.send({ type: 'MULTIPART_REPLY', xid: rq.xid, flags: 0, body: { kind: 'FLOW', flows: [flow(0x5c00_0000_0000_0007n)] } });
    assert.deepEqual((await filtered).map((f) => f.cookie), [0x5c00_0000_0000_0007n]);
    const all = ch.flowStats();
    const rq2 = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    assert.ok(rq2.body.kind === 'FLOW' && rq2.body.cookieMask === 0n, 'rq2.body.kind === \'FLOW\' && rq2.body.cookieMask === 0n');
    sw.send({ type: 'MULTIPART_REPLY', xid: rq2.xid, flags: 0, body: { kind: 'FLOW', flows: [] } });
    assert.deepEqual(await all, []);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a flow statistics entry carries the rule\'s cookie and counters (the cookie says whose rule it is)', () => {
  const e = flowStatEntry({ ...flow(0x5cn), byteCount: 1234n, packetCount: 12n, durationSec: 7, durationNsec: 5, match: [oxm('in_port', 3), oxm('eth_dst', '02:00:00:00:00:02')] });
  assert.deepEqual(e, { cookie: 0x5cn, byteCount: 1234n, packetCount: 12n, durationSec: 7, durationNsec: 5 });
});

type Writes = { own: number; other: number };

/**
 * A data plane with switches 1 and 2 up; switch 1 sends one PACKET_IN, `onPacketIn` handles it
 * (`writes`: socket writes so far to switch 1, `own`, and to switch 2, `other`), then `then` checks.
 */
async function onePacketIn(
  onPacketIn: (channels: ReadonlyMap<bigint, SwitchChannel>, writes: () => Writes, inPort: number, frame: Uint8Array) => void,
  then: (a: FakeSwitch, b: FakeSwitch) => Promise<void>,
): Promise<void> {
  const channels = new Map<bigint, SwitchChannel>();
  const plane = openflowDataPlane({ port: 0, host: '127.0.0.1' });
  const writes = (): Writes => ({ own: plane.connectionStats(1n)!.txWrites, other: plane.connectionStats(2n)!.txWrites });
  await plane.start({
    switchUp: (ch) => channels.set(ch.dpid, ch),
    switchDown: () => undefined,
    packetIn: (_dpid, inPort, frame) => onPacketIn(channels, writes, inPort, frame),
    portStatus: () => undefined,
    flowRemoved: () => undefined,
    flowRejected: () => undefined,
    flowsAccepted: () => undefined,
  });
  const a = await FakeSwitch.up(plane.address().port, 1n);
  const b = await FakeSwitch.up(plane.address().port, 2n);
  try {
    await until(() => channels.size === 2, 'both switches up');
    a.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: 60, reason: OFPR.NO_MATCH, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 2 }], data: new Uint8Array(60) });
    await then(a, b);
  } finally {
    a.close();
    b.close();
    await plane.stop();
  }
}

/** the writes since `before`, read by a process.nextTick queued now (after the end-of-turn writes queued so far) */
function writesAtNextTick(writes: () => Writes, into: (w: Writes) => void): void {
  const before = writes();
  process.nextTick(() => {
    const w = writes();
    into({ own: w.own - before.own, other: w.other - before.other });
  });
}

test('writes to another switch while a switch\'s chunk is handled (a flood) leave after the poll phase; the answers to the chunk at the end of its turn', T, async () => {
  let seen: Writes | undefined;
  await onePacketIn(
    (channels, writes, inPort, frame) => {
      // the controller's answer to the packet-in's switch, and a flood's copy to the other one
      for (const d of [1n, 2n]) channels.get(d)?.send([{ kind: 'packet-out', dpid: d, ports: [d === 1n ? inPort : 1], frame }]);
      writesAtNextTick(writes, (w) => (seen = w));
    },
    async (a, b) => {
      await until(() => seen, 'the packet-in handled');
      assert.deepEqual(seen, { own: 1, other: 0 }, 'the answer left at the end of the turn, the copy to the other switch not yet');
      const out = await b.next('PACKET_OUT');
      assert.equal(out.data.length, 60, 'the other switch still got its copy');
      await a.next('PACKET_OUT');
    },
  );
});

test('a FLOW_MOD to another switch while a switch\'s chunk is handled is not held back: it leaves at the end of the turn, before the chunk\'s own answers (a path downstream switch first)', T, async () => {
  let seen: Writes | undefined;
  const rule = (d: bigint): SwitchCommand => ({ kind: 'flow-add', dpid: d, rule: { priority: 10, match: { ethDst: '02:00:00:00:00:02' }, actions: [{ type: 'output', port: 1 }], cookie: 0x5c00000000000001n, idleTimeout: 0, hardTimeout: 0 } });
  await onePacketIn(
    (channels, writes, inPort, frame) => {
      // as routing sends a new path 1 -> 2: the downstream switch's rule first, then the first hop's rule and the packet
      channels.get(2n)?.send([rule(2n)]);
      // read after switch 2's end-of-turn write and before switch 1's
      writesAtNextTick(writes, (w) => (seen = w));
      channels.get(1n)?.send([rule(1n), { kind: 'packet-out', dpid: 1n, ports: [inPort], frame }]);
    },
    async (a, b) => {
      await until(() => seen, 'the packet-in handled');
      assert.deepEqual(seen, { own: 0, other: 1 }, 'the downstream switch\'s FLOW_MOD left first, at the end of the turn');
      await b.next('FLOW_MOD');
      await a.next('PACKET_OUT');
    },
  );
});
