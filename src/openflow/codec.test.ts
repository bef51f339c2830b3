import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import {
  OFPCR,
  OFPET,
  OFPFC,
  OFPBMC,
  OFPP,
  OFPTT,
  act,
  decodeHeader,
  decodeMessage,
  deleteFlowsByCookie,
  describeError,
  encodeMessage,
  flowMod,
  flowStatsRequest,
  hello,
  ins,
  oxm,
  packetOut,
  roleRequest,
  type OfMessage,
} from './index.ts';
import { formatIpv6, parseIpv4, parseIpv6Into, parseMacInto } from './bytes.ts';
import * as arb from './arbitraries.testing.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const RUNS = Number(process.env.SCORE_PROPERTY_RUNS ?? (process.env.CI === 'true' ? 3000 : 1000));

test('decode(encode(m)) equals m for generated messages of every type', () => {
  fc.assert(
    fc.property(arb.message, (m) => {
      const bytes = encodeMessage(m);
      assert.deepStrictEqual(decodeMessage(bytes), m);
      // and the encoding is stable: the decoded message gives the same bytes
      assert.equal(hex(encodeMessage(decodeMessage(bytes))), hex(bytes));
    }),
    { numRuns: RUNS },
  );
});

test('round trip of flow-mods, packet-ins and flow-stats replies (focused)', () => {
  fc.assert(
    fc.property(fc.oneof(arb.flowMod, arb.packetIn), (m) => {
      assert.deepStrictEqual(decodeMessage(encodeMessage(m)), m);
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.array(arb.flowStats, { maxLength: 12 }), arb.u32, (flows, xid) => {
      const m: OfMessage = { type: 'MULTIPART_REPLY', xid, flags: 1, body: { kind: 'FLOW', flows } };
      assert.deepStrictEqual(decodeMessage(encodeMessage(m)), m);
    }),
    { numRuns: Math.ceil(RUNS / 4) },
  );
});

test('length fields are written by the encoder and checked by the decoder', () => {
  const bytes = encodeMessage(flowMod({ match: [oxm('in_port', 1)], actions: [act.output(2)] }));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(dv.getUint16(2), bytes.length);
  // ofp_match: type 1, length 4 + 8 (one in_port TLV), then 4 bytes of padding
  assert.equal(dv.getUint16(48), 1);
  assert.equal(dv.getUint16(50), 12);
  assert.equal(bytes.length, 48 + 16 + 24);
});

test('a flow-mod built by the helper has the layout of the specification', () => {
  const m = flowMod({
    xid: 7,
    cookie: 0x1122334455667788n,
    priority: 100,
    match: [oxm('eth_type', 0x0800), oxm('ipv4_dst', '10.0.0.0', '255.0.0.0')],
    instructions: [ins.apply([act.setField('eth_dst', '02:00:00:00:00:01'), act.output(3)]), ins.gotoTable(1)],
  });
  const b = encodeMessage(m);
  assert.equal(
    hex(b.subarray(0, 48)),
    '040e0078' + '00000007' + '1122334455667788' + '0000000000000000' + '00' + '00' + '0000' + '0000' + '0064' + 'ffffffff' + 'ffffffff' + 'ffffffff' + '0000' + '0000',
  );
  // 48 fixed + match 24 + apply-actions (8 + set-field 16 + output 16) + goto-table 8 = 120
  // match: eth_type (4 + 2) and masked ipv4_dst (4 + 8) = 4 + 6 + 12 = 22, padded to 24
  assert.equal(hex(b.subarray(48, 72)), '00010016' + '80000a020800' + '800019080a000000ff000000' + '0000');
  assert.deepStrictEqual(decodeMessage(b), m);
});

test('deleteFlowsByCookie removes by exact cookie in every table', () => {
  const m = decodeMessage(encodeMessage(deleteFlowsByCookie(42n, 9)));
  assert.equal(m.type, 'FLOW_MOD');
  if (m.type !== 'FLOW_MOD') return;
  assert.equal(m.command, OFPFC.DELETE);
  assert.equal(m.tableId, OFPTT.ALL);
  assert.equal(m.cookie, 42n);
  assert.equal(m.cookieMask, 0xffffffffffffffffn);
  assert.equal(m.outPort, OFPP.ANY);
});

test('hello carries a version bitmap; another version is readable for negotiation', () => {
  assert.equal(hex(encodeMessage(hello(1))), '040000100000000100010008000000' + '10');
  const of15 = encodeMessage({ type: 'HELLO', xid: 2, version: 6, elements: [{ type: 'VERSIONBITMAP', versions: [1, 4, 6] }] });
  const m = decodeMessage(of15);
  assert.deepStrictEqual(m, { type: 'HELLO', xid: 2, version: 6, elements: [{ type: 'VERSIONBITMAP', versions: [1, 4, 6] }] });
  assert.deepStrictEqual(decodeHeader(of15), { version: 6, type: 0, length: 16, xid: 2 });
  // a bitmap with a trailing zero word is kept as sent
  const wide = Uint8Array.from([4, 0, 0, 24, 0, 0, 0, 3, 0, 1, 0, 12, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]);
  const wideMsg = decodeMessage(wide);
  assert.deepStrictEqual(wideMsg, { type: 'HELLO', xid: 3, elements: [{ type: 'VERSIONBITMAP', versions: [4], words: 2 }] });
  assert.equal(hex(encodeMessage(wideMsg)), hex(wide));
  // a 1.0-style hello: header only
  assert.deepStrictEqual(decodeMessage(Uint8Array.from([1, 0, 0, 8, 0, 0, 0, 5])), { type: 'HELLO', xid: 5, version: 1, elements: [] });
});

test('other messages of another version are OF_BAD_VERSION, with the header in details', () => {
  const b = encodeMessage({ type: 'BARRIER_REQUEST', xid: 3 });
  b[0] = 1;
  assert.throws(() => decodeMessage(b), (e) => isScoreError(e, 'OF_BAD_VERSION') && e.details.version === 1 && e.details.xid === 3);
});

test('malformed input gives stable codes', () => {
  const codeOf = (b: number[]): string => {
    try {
      decodeMessage(Uint8Array.from(b));
    } catch (e) {
      assert.ok(isScoreError(e), 'isScoreError(e)');
      return e.code;
    }
    return 'ok';
  };
  assert.equal(codeOf([4, 20, 0, 8]), 'OF_TRUNCATED');
  assert.equal(codeOf([4, 20, 0, 4, 0, 0, 0, 0]), 'OF_BAD_LENGTH');
  assert.equal(codeOf([4, 20, 0, 8, 0, 0, 0, 0, 0]), 'OF_BAD_LENGTH');
  assert.equal(codeOf([4, 20, 0, 9, 0, 0, 0, 0]), 'OF_TRUNCATED');
  assert.equal(codeOf([4, 99, 0, 8, 0, 0, 0, 0]), 'OF_UNKNOWN_TYPE');
  assert.equal(codeOf([4, 20, 0, 12, 0, 0, 0, 0, 1, 2, 3, 4]), 'OF_BAD_LENGTH'); // barrier with a body
  assert.equal(codeOf([4, 18, 0, 16, 0, 0, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0]), 'OF_UNKNOWN_TYPE'); // multipart 77
  // packet-out whose actions_len runs past the message
  assert.equal(codeOf([4, 13, 0, 24, 0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0]), 'OF_BAD_LENGTH');
  // an action whose length is not a multiple of 8
  const po = encodeMessage(packetOut({ actions: [act.output(1)] }));
  po[26] = 0;
  po[27] = 12;
  assert.equal(codeOf([...po]), 'OF_BAD_LENGTH');
  // an OXM whose length does not fit its field
  const fm = encodeMessage(flowMod({ match: [oxm('in_port', 1)] }));
  fm[55] = 3;
  assert.equal(codeOf([...fm]), 'OF_BAD_LENGTH');
  assert.throws(() => decodeMessage('x' as unknown as Uint8Array), (e) => isScoreError(e, 'OF_BAD_VALUE'));
});

test('encoding rejects bad values with OF_ENCODE', () => {
  const bad: unknown[] = [
    flowMod({ priority: 70000 }),
    flowMod({ cookie: -1n }),
    flowMod({ cookie: 1 as unknown as bigint }),
    flowMod({ match: [oxm('eth_dst', 'not-a-mac')] }),
    flowMod({ match: [oxm('ipv4_src', '1.2.3.256')] }),
    flowMod({ match: [oxm('ipv6_src', '1::2::3')] }),
    flowMod({ match: [oxm('vlan_pcp', 256)] }),
    flowMod({ match: [{ field: 'nope', value: 1 } as never] }),
    flowMod({ actions: [{ type: 'EXPERIMENTER', experimenter: 1, data: new Uint8Array(3) }] }),
    flowMod({ actions: [{ type: 'NOPE' } as never] }),
    { type: 'NOPE', xid: 0 },
    { type: 'BARRIER_REQUEST', xid: -1 },
    { type: 'ECHO_REQUEST', xid: 0, data: [1, 2] },
    { type: 'ECHO_REQUEST', xid: 0, data: new Uint8Array(70000) },
    null,
  ];
  for (const m of bad) assert.throws(() => encodeMessage(m as OfMessage), (e) => isScoreError(e, 'OF_ENCODE'), JSON.stringify(m, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
});

test('builders give the defaults a controller wants', () => {
  const po = packetOut({ actions: [act.output(OFPP.FLOOD)], data: Uint8Array.of(1, 2, 3) });
  assert.equal(po.inPort, OFPP.CONTROLLER);
  assert.equal(po.bufferId, 0xffffffff);
  assert.deepStrictEqual(decodeMessage(encodeMessage(po)), po);
  const fs = flowStatsRequest({ xid: 4 });
  assert.deepStrictEqual(decodeMessage(encodeMessage(fs)), fs);
  assert.equal(fs.body.kind, 'FLOW');
  const rr = roleRequest(OFPCR.ROLE_MASTER, 5n, 6);
  assert.deepStrictEqual(decodeMessage(encodeMessage(rr)), rr);
});

test('error names', () => {
  assert.equal(describeError(OFPET.BAD_MATCH, OFPBMC.BAD_PREREQ), 'BAD_MATCH/BAD_PREREQ');
  assert.equal(describeError(77, 3), '77/3');
});

test('address text forms', () => {
  const b = new Uint8Array(16);
  const cases: [string, string][] = [
    ['fe80::f00b:a4ff:fe48:28a5', 'fe80::f00b:a4ff:fe48:28a5'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
  ];
  for (const [input, canonical] of cases) {
    assert.ok(parseIpv6Into(input, b, 0), input);
    assert.equal(formatIpv6(b, 0), canonical);
  }
  for (const bad of ['1::2::3', '12345::', ':', '1:2:3:4:5:6:7:8:9', 'g::']) assert.equal(parseIpv6Into(bad, b, 0), false, bad);
  assert.equal(parseIpv4('10.0.0.1'), 0x0a000001);
  for (const bad of ['10.0.0', '10.0.0.1.2', '256.0.0.0', '1..2.3', '']) assert.equal(parseIpv4(bad), -1, bad);
  assert.ok(parseMacInto('AA-bb-cc-dd-ee-ff', b, 0), 'parseMacInto(\'AA-bb-cc-dd-ee-ff\', b, 0)');
  assert.equal(parseMacInto('aa:bb:cc:dd:ee', b, 0), false);
});

test('a Node Buffer as input: decoded bytes are copies, not views of the buffer', () => {
  const buf = Buffer.from(encodeMessage({ type: 'ECHO_REQUEST', xid: 1, data: Uint8Array.of(5, 6, 7) }));
  const m = decodeMessage(buf);
  buf.fill(0);
  assert.ok(m.type === 'ECHO_REQUEST', 'm.type === \'ECHO_REQUEST\'');
  assert.deepStrictEqual(m.data, Uint8Array.of(5, 6, 7));
});

test('encoded messages stay intact when many are encoded after them', () => {
  const first = encodeMessage(flowMod({ xid: 1, match: [oxm('in_port', 1)] }));
  const copy = hex(first);
  for (let i = 0; i < 5000; i++) encodeMessage(flowMod({ xid: i, match: [oxm('eth_dst', '02:00:00:00:00:01')] }));
  assert.equal(hex(first), copy);
  assert.equal(first.byteLength, first.length);
});
