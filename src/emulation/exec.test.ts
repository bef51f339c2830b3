import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../errors/errors.ts';
import { run } from './exec.ts';
import { parseProcStat } from './procs.ts';

test('a missing tool is EMULATION_MISSING_TOOL', async () => {
  await assert.rejects(run('score-no-such-tool-xyz', []), (e: unknown) => isScoreError(e, 'EMULATION_MISSING_TOOL'));
});

test('a failing command is EMULATION_COMMAND with command, exit code and stderr', async () => {
  await assert.rejects(run('sh', ['-c', 'echo bad thing >&2; exit 3']), (e: unknown) => {
    assert.ok(isScoreError(e, 'EMULATION_COMMAND'), 'isScoreError(e, \'EMULATION_COMMAND\')');
    assert.deepEqual(e.details.command, ['sh', '-c', 'echo bad thing >&2; exit 3']);
    assert.equal(e.details.exitCode, 3);
    assert.equal(e.details.stderr, 'bad thing');
    assert.match(e.message, /exited with 3: bad thing/);
    return true;
  });
});

test('arguments are passed verbatim, never through a shell', async () => {
  const r = await run('printf', ['%s|', '$(id)', 'a b;c']);
  assert.equal(r.stdout, '$(id)|a b;c|');
});

test('a command past its timeout is killed and reported', async () => {
  await assert.rejects(run('sleep', ['5'], { timeoutMs: 100 }), (e: unknown) => {
    assert.ok(isScoreError(e, 'EMULATION_COMMAND'), 'isScoreError(e, \'EMULATION_COMMAND\')');
    assert.equal(e.details.signal, 'SIGKILL');
    return true;
  });
});

test('/proc stat parsing survives spaces and parens in the command name', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'Z';
  const st = parseProcStat(`42 (a) b (c)) ${fields.join(' ')}`);
  assert.deepEqual(st, { state: 'Z', startTime: '22' });
  assert.equal(parseProcStat('garbage'), undefined);
});
