import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchScenario, missingWarning, strangerWarning } from './scenario-match.ts';

const expected = new Map<string, bigint>([
  ['t1', 0xb01n],
  ['hv16', 0x116n],
]);

test('switches that are not the scenario\'s, and scenario switches that never came, are named both ways', () => {
  const m = matchScenario(expected, [3n, 0x116n, 1n]);
  assert.deepEqual(m.strangers, [1n, 3n]);
  assert.deepEqual(m.missing, [{ name: 't1', dpid: 0xb01n }]);
  assert.equal(
    strangerWarning('paper', 1n, expected),
    'switch 00:00:00:00:00:00:00:01 is not in scenario paper, which expects t1 (00:00:00:00:00:00:0b:01), hv16 (00:00:00:00:00:00:01:16): ' +
      "it gets no name, its hosts no hypervisor and its links are refused (undeclared). Give the switches the scenario's datapath ids, or run without --scenario",
  );
  assert.equal(
    missingWarning('paper', m, 2),
    '1 of 2 switches of scenario paper are not connected: t1 (00:00:00:00:00:00:0b:01); connected instead: 00:00:00:00:00:00:00:01, 00:00:00:00:00:00:00:03',
  );
  assert.equal(missingWarning('paper', matchScenario(expected, [0xb01n, 0x116n]), 2), null);
  assert.match(missingWarning('paper', matchScenario(expected, []), 2) ?? '', /2 of 2 .*; no other switch connected$/);
});
