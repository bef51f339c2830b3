import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SwitchCommand } from '../../controller/commands.ts';
import { describeCommand, describeSummary, summarizeCommand } from './translate.ts';

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
