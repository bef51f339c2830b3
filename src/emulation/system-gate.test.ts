import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideGate, findTool, systemTestGate, systemTestsRequired } from './system-gate.ts';
import { isScoreError } from '../errors/errors.ts';

test('gate passes when every requirement is met', () => {
  assert.deepEqual(decideGate({ root: true, tools: ['ip'] }, { root: true, missingTools: [], required: true }), {
    skip: false,
  });
});

test('gate skips with a reason naming what is missing', () => {
  const r = decideGate({ root: true, tools: ['ovs-vsctl'] }, { root: false, missingTools: ['ovs-vsctl'], required: false });
  assert.notEqual(r.skip, false);
  assert.match(String(r.skip), /needs root/);
  assert.match(String(r.skip), /ovs-vsctl/);
});

test('gate throws instead of skipping when system tests are required', () => {
  assert.throws(
    () => decideGate({ root: true }, { root: false, missingTools: [], required: true }),
    (e: unknown) => isScoreError(e, 'EMULATION_NOT_ROOT'),
  );
  assert.throws(
    () => decideGate({ tools: ['nping'] }, { root: true, missingTools: ['nping'], required: true }),
    (e: unknown) => isScoreError(e, 'EMULATION_MISSING_TOOL') && /nping/.test(e.message),
  );
});

test('root not asked for is not checked', () => {
  assert.deepEqual(decideGate({ tools: [] }, { root: false, missingTools: [], required: true }), { skip: false });
});

test('SCORE_REQUIRE_SYSTEM_TESTS accepts 1 and true only', () => {
  assert.equal(systemTestsRequired({ SCORE_REQUIRE_SYSTEM_TESTS: '1' }), true);
  assert.equal(systemTestsRequired({ SCORE_REQUIRE_SYSTEM_TESTS: 'true' }), true);
  assert.equal(systemTestsRequired({ SCORE_REQUIRE_SYSTEM_TESTS: '0' }), false);
  assert.equal(systemTestsRequired({}), false);
});

test('findTool finds node itself and not a made-up name', () => {
  assert.equal(findTool(process.execPath), process.execPath);
  assert.equal(findTool('score-no-such-tool-xyz'), undefined);
});

test('systemTestGate probes the real machine for a missing tool', () => {
  const r = systemTestGate({ tools: ['score-no-such-tool-xyz'] }, { PATH: '/nonexistent' });
  assert.match(String(r.skip), /score-no-such-tool-xyz/);
  assert.throws(
    () => systemTestGate({ tools: ['score-no-such-tool-xyz'] }, { PATH: '/nonexistent', SCORE_REQUIRE_SYSTEM_TESTS: '1' }),
    (e: unknown) => isScoreError(e, 'EMULATION_MISSING_TOOL'),
  );
});
