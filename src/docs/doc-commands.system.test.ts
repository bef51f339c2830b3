/**
 * The root-only examples of README.md and docs/*.md (`<!-- doc-test: root -->`: score emulate),
 * run as written from a copy of the repository with nothing beside it, as doc-commands.test.ts
 * does for the rest. Needs root and Open vSwitch: skipped with a reason otherwise, mandatory
 * under SCORE_REQUIRE_SYSTEM_TESTS=1 (CI). The tests run as root, so a leading `sudo ` is dropped.
 * An identical command in two docs (README and docs/emulation.md both show the paper's
 * experiment) runs once and is checked against both.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { systemTestGate } from '../emulation/system-gate.ts';
import { missingKeyLines } from './doc-commands.ts';
import { type CommandResult, type RepoCopy, checkResult, copyRepository, readDocs, runShell } from './doc-run.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'nping', 'ping', 'tc', 'ethtool'] });
const skip = gate.skip === false ? false : gate.skip;

const blocks = readDocs().blocks.filter((b) => b.root && b.mode !== 'skip');

test('the docs have root-only examples (score emulate)', () => {
  assert.ok(blocks.some((b) => b.commands.some((c) => c.text.includes('score emulate'))), 'blocks.some((b) => b.commands.some((c) => c.text.includes(\'score emulate\')))');
});

let copy: RepoCopy | undefined;
before(() => {
  if (skip === false) copy = copyRepository();
});
after(() => copy?.remove());

const results = new Map<string, CommandResult>();

for (const block of blocks) {
  const first = block.commands[0]?.text.replace(/\s+#.*$/, '') ?? '';
  test(`${block.file}:${block.line} (root, ${block.mode}): ${first}`, { skip }, async () => {
    const cwd = copy?.root;
    assert.ok(cwd !== undefined, 'cwd !== undefined');
    const problems: string[] = [];
    const server = block.mode === 'long-running';
    for (const cmd of block.commands) {
      const text = cmd.text.replace(/^sudo\s+/, '').replace(/\s+#.*$/, '');
      const key = `${block.mode} ${text}`;
      let r = results.get(key);
      if (r === undefined) {
        r = await runShell(text, {
          cwd,
          timeoutMs: server ? 120_000 : 600_000,
          ...(server ? { until: (out: string) => missingKeyLines(cmd.expect, out, cwd).length === 0 } : {}),
        });
        results.set(key, r);
      }
      problems.push(...checkResult(block.file, cmd, block.exit, r, cwd, server));
      if (problems.length > 0) break;
    }
    assert.ok(problems.length === 0, problems.join('\n'));
  });
}
