import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SwitchCommand } from '../../controller/commands.ts';
import { isScoreError } from '../../errors/errors.ts';
import { Writer } from '../bytes.ts';
import { OFPP } from '../constants.ts';
import { decodeMessage } from '../decode.ts';
import { encodeMessage } from '../encode.ts';
import { commandToMessage, describeCommand, describeSummary, encodeCommandInto, summarizeCommand } from './translate.ts';

const commands: SwitchCommand[] = [
  { kind: 'flow-add', dpid: 1n, rule: { priority: 100, match: { inPort: 1 }, actions: [{ type: 'output', port: 2 }], cookie: 0x2an, idleTimeout: 0, hardTimeout: 0 } },
  { kind: 'flow-delete', dpid: 1n, cookie: 0x10n, cookieMask: 0xf0n },
  { kind: 'packet-out', dpid: 1n, ports: [1, 3], frame: new Uint8Array(60) },
];

test('a sent command is remembered as a summary without its frame or rule, and described the same from it', () => {
  const summaries = commands.map(summarizeCommand);
  assert.deepEqual(
    summaries.map(describeSummary),
    ['FLOW_MOD add priority 100 cookie 0x2a', 'FLOW_MOD delete cookie 0x10/0xf0', 'PACKET_OUT to port(s) 1,3 (60 bytes)'],
  );
  assert.deepEqual(summaries.map(describeSummary), commands.map(describeCommand));
  for (const s of summaries) {
    assert.equal('frame' in s, false, `${s.kind}: no frame kept`);
    assert.equal('rule' in s, false, `${s.kind}: no rule kept`);
  }
});

test('a packet-out is written straight as the bytes of its PACKET_OUT message; a flow-delete is left to commandToMessage', () => {
  fc.assert(
    fc.property(
      fc.option(fc.nat(0xffffffff), { nil: undefined }),
      fc.array(fc.nat(0xffffffff), { maxLength: 40 }),
      fc.uint8Array({ maxLength: 1500 }),
      fc.nat(0xffffffff),
      (inPort, ports, frame, xid) => {
        const c: SwitchCommand = { kind: 'packet-out', dpid: 1n, ports, frame, ...(inPort === undefined ? {} : { inPort }) };
        const w = new Writer(16);
        w.zeros(3); // not at the buffer's start
        assert.equal(encodeCommandInto(w, c), 'PACKET_OUT');
        assert.deepEqual(w.buf.slice(3, w.pos), encodeMessage(commandToMessage(c)));
        // and what postEach then sees: the message decodes as the command's
        w.dv.setUint32(3 + 4, xid);
        const m = decodeMessage(w.buf.slice(3, w.pos));
        assert.equal(m.type, 'PACKET_OUT');
        if (m.type === 'PACKET_OUT') {
          assert.equal(m.xid, xid);
          assert.equal(m.inPort, inPort ?? OFPP.CONTROLLER);
          assert.deepEqual(m.actions.map((a) => (a.type === 'OUTPUT' ? a.port : -1)), ports);
          assert.deepEqual(m.data, frame);
        }
      },
    ),
  );
  for (const c of commands.filter((x) => x.kind === 'flow-delete')) {
    const w = new Writer(16);
    assert.equal(encodeCommandInto(w, c), undefined);
    assert.equal(w.pos, 0, `${c.kind}: nothing written`);
  }
});

test('a packet-out that cannot be encoded is refused (OF_ENCODE) as commandToMessage refuses it', () => {
  const bad: SwitchCommand[] = [
    { kind: 'packet-out', dpid: 1n, ports: [-1], frame: new Uint8Array(60) },
    { kind: 'packet-out', dpid: 1n, ports: [2 ** 32], frame: new Uint8Array(60) },
    { kind: 'packet-out', dpid: 1n, inPort: 1.5, ports: [1], frame: new Uint8Array(60) },
    { kind: 'packet-out', dpid: 1n, ports: [1], frame: new Uint8Array(70_000) },
  ];
  for (const c of bad) {
    assert.throws(() => encodeMessage(commandToMessage(c)), (e: unknown) => isScoreError(e, 'OF_ENCODE'), `${JSON.stringify(c.kind)} refused by the encoder`);
    assert.throws(() => encodeCommandInto(new Writer(16), c), (e: unknown) => isScoreError(e, 'OF_ENCODE'), 'refused when written straight');
  }
});

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
const ruleArb = fc.record({
  priority: fc.nat(0xffff),
  match: fc.record({ inPort: fc.nat(0xffffffff), ethSrc: macArb, ethDst: macArb, ethType: fc.nat(0xffff) }, { requiredKeys: [] }),
  actions: fc.array(fc.oneof(fc.record({ type: fc.constant('output' as const), port: fc.nat(0xffffffff) }), fc.constant({ type: 'controller' as const })), { maxLength: 4 }),
  cookie: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
  idleTimeout: fc.nat(0xffff),
  hardTimeout: fc.nat(0xffff),
});

test('a flow-add is written straight as the bytes of its FLOW_MOD message', () => {
  fc.assert(
    fc.property(ruleArb, fc.nat(7), (rule, lead) => {
      const c: SwitchCommand = { kind: 'flow-add', dpid: 1n, rule };
      const w = new Writer(16);
      w.zeros(lead); // anywhere in the buffer
      assert.equal(encodeCommandInto(w, c), 'FLOW_MOD');
      assert.deepEqual(w.buf.slice(lead, w.pos), encodeMessage(commandToMessage(c)));
    }),
  );
});

test('a flow-add with a field the encoder refuses is left to it (nothing written): it refuses it as before', () => {
  const ok = { priority: 100, match: { inPort: 1, ethDst: '02:00:00:00:00:01' }, actions: [{ type: 'output' as const, port: 2 }], cookie: 1n, idleTimeout: 0, hardTimeout: 0 };
  const bad = [
    { ...ok, priority: 0x10000 },
    { ...ok, idleTimeout: -1 },
    { ...ok, cookie: -1n },
    { ...ok, cookie: 2n ** 64n },
    { ...ok, match: { inPort: 2 ** 32 } },
    { ...ok, match: { ethType: 0x10000 } },
    { ...ok, match: { ethDst: 'not a mac' } },
    { ...ok, match: { inPort: 3, ethDst: '02:00:00:00:00:01', ethSrc: '02:00:00:00:00:0g' } },
    { ...ok, actions: [{ type: 'output' as const, port: 1.5 }] },
    // wrongly typed (a BigInt where a number belongs): left to the generic encoder, not a TypeError
    { ...ok, match: { inPort: 3n as unknown as number } },
    { ...ok, match: { ethType: 0x800n as unknown as number } },
  ];
  for (const rule of bad) {
    const c: SwitchCommand = { kind: 'flow-add', dpid: 1n, rule };
    const w = new Writer(16);
    assert.equal(encodeCommandInto(w, c), undefined, JSON.stringify(rule, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(w.pos, 0, 'nothing written');
    assert.throws(() => encodeMessage(commandToMessage(c)), (e: unknown) => isScoreError(e, 'OF_ENCODE'), 'the encoder refuses it');
  }
});
