/**
 * Every command README.md and docs/*.md show that needs no root, run as written from a copy of
 * the repository with nothing beside it (issue 15). The convention for doc authors is in
 * docs/architecture.md ("Documented commands are tested"); root-only blocks run in
 * doc-commands.system.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { startSimExperiment, type SimExperiment } from '../system/sim-experiment.ts';
import { missingKeyLines, normalise, parseDocCommands } from './doc-commands.ts';
import { type CommandResult, type RepoCopy, checkResult, commandEnv, copyRepository, readDocs, runShell } from './doc-run.ts';

// ---- the convention itself ----

const SAMPLE = [
  '```sh',
  '$ npx score simulate --scenario paper \\',
  '    --policy la',
  'Cost 25000 -> 0 in 2.5 s',
  '...',
  '$ echo done',
  '```',
  '',
  '<!-- doc-test: exit 2 -->',
  '<!-- doc-test: skip needs your own file -->',
  '```console',
  '$ npx score simulate --scenario mine.yaml',
  '```',
  '```',
  '$ not run',
  '```',
  '```sh',
  'npm test',
  '```',
  '```json',
  '{ "a": 1 }',
  '```',
].join('\n');

test('parser: commands, continuations, key lines, elisions and directives', () => {
  const p = parseDocCommands('x.md', SAMPLE);
  assert.equal(p.blocks.length, 2);
  const [a, b] = p.blocks;
  assert.equal(a?.line, 1);
  assert.deepEqual(a?.commands, [
    { line: 2, text: 'npx score simulate --scenario paper  --policy la', expect: [{ line: 4, text: 'Cost 25000 -> 0 in 2.5 s' }] },
    { line: 6, text: 'echo done', expect: [] },
  ]);
  assert.equal(a?.mode, 'run');
  assert.equal(a?.exit, 0);
  assert.equal(b?.mode, 'skip');
  assert.equal(b?.skipReason, 'needs your own file');
  assert.equal(b?.exit, 2);
  assert.equal(b?.root, false);
  // A "$ " line in an unlabelled block, and a sh block with no "$ " line, are convention errors.
  assert.deepEqual(
    p.errors.map((e) => e.split(':').slice(0, 2).join(':')),
    ['x.md:14', 'x.md:17'],
  );
});

test('key lines: volatile parts masked, everything else compared', () => {
  const out = 'Done in 1.93 s.\n  la: API at http://127.0.0.1:40213/api/v1 (operator token abc_DEF-1)\nerror at /tmp/q/s-core/x.yaml';
  assert.deepEqual(missingKeyLines([{ text: 'Done in 2.01 s.' }], out), []);
  assert.deepEqual(missingKeyLines([{ text: '  la:   API at http://127.0.0.1:8080/api/v1 (operator token zz)' }], out), []);
  assert.deepEqual(missingKeyLines([{ text: 'error at /path/to/s-core/x.yaml' }], out, '/tmp/q/s-core'), []);
  // A number that is not a duration still has to be right.
  assert.deepEqual(missingKeyLines([{ text: 'Done in 2.01 s!' }, { text: 'la: API at http://127.0.0.1:1/api/v2' }], out), [
    'Done in 2.01 s!',
    'la: API at http://127.0.0.1:1/api/v2',
  ]);
  assert.equal(normalise('│ 3    │ 15000 │'), '│ 3 │ 15000 │');
  // "..." inside a key line is any text within one output line, never across lines.
  const probes = 'load-aware: vm1 -> hv19: 7 of 125 probes lost, longest gap 70 ms\nnext line';
  assert.deepEqual(missingKeyLines([{ text: 'load-aware: vm1 -> hv19: ... probes lost, longest gap ...' }], probes), []);
  assert.deepEqual(missingKeyLines([{ text: 'Wrote a.json, ...' }], 'Wrote a.json, b.csv, c.svg'), []);
  assert.equal(missingKeyLines([{ text: 'vm1 -> hv19: ... next line' }], probes).length, 1);
  assert.equal(missingKeyLines([{ text: 'vm1 -> hv20: ... probes lost' }], probes).length, 1);
});

// ---- the docs ----

const docs = readDocs();

test('README.md and docs/*.md follow the doc-test convention (docs/architecture.md)', () => {
  assert.deepEqual(docs.errors, []);
  assert.ok(docs.blocks.length >= 10, `only ${docs.blocks.length} runnable blocks found`);
});

let copy: RepoCopy | undefined;
let live: SimExperiment | undefined;

before(() => {
  copy = copyRepository();
});

after(async () => {
  await live?.stop();
  copy?.remove();
});

/** A controller with the paper's data centre on the simulated data plane, for `live` blocks. */
async function liveEnv(): Promise<Record<string, string>> {
  if (live === undefined) {
    const { model, file } = loadScenarioFile('paper');
    live = await startSimExperiment({ model, file, policy: 'load-aware' });
  }
  const { apiUrl, tokens, credentials } = live.stack;
  // The docs' agent examples act as hv17, so $AG is hv17's own credential.
  const { token } = await credentials.issue('hv17');
  return { C: apiUrl, S: `${apiUrl}/api/v1`, OP: tokens.operator, AG: token };
}

const blocks = docs.blocks.filter((b) => !b.root);
// The live controller's clock pump keeps a core busy: stop it after the last block that uses it.
const lastLive = blocks.findLastIndex((b) => b.mode === 'live');

for (const [index, block] of blocks.entries()) {
  const first = block.commands[0]?.text.replace(/\s+#.*$/, '') ?? '';
  const name = `${block.file}:${block.line} (${block.mode}): ${first.length > 70 ? `${first.slice(0, 67)}...` : first}${block.commands.length > 1 ? ` (+${block.commands.length - 1})` : ''}`;
  if (block.mode === 'skip') {
    test(name, { skip: `doc-test: skip ${block.skipReason ?? ''}` }, () => {});
    continue;
  }
  test(name, async () => {
    const cwd = copy?.root;
    assert.ok(cwd !== undefined, 'cwd !== undefined');
    const env = commandEnv(block.mode === 'live' ? await liveEnv() : {});
    const problems: string[] = [];
    for (const cmd of block.commands) {
      const server = block.mode === 'long-running';
      const run = (): Promise<CommandResult> =>
        runShell(cmd.text, {
          cwd,
          env,
          timeoutMs: server ? 60_000 : 180_000,
          ...(server ? { until: (out: string) => missingKeyLines(cmd.expect, out, cwd).length === 0 } : {}),
        });
      let r = await run();
      // A documented fixed port (6653, 8080) may be held a moment by another test on this machine.
      for (let retry = 0; server && retry < 3 && r.output.includes('EADDRINUSE'); retry++) {
        await new Promise((done) => setTimeout(done, 3000));
        r = await run();
      }
      problems.push(...checkResult(block.file, cmd, block.exit, r, cwd, server));
      // An API example answers JSON; an error body means the example is wrong.
      const code = /"error":\s*\{\s*"code":\s*"([A-Z_]+)"/.exec(r.output)?.[1];
      if (block.mode === 'live' && code !== undefined && !block.allowErrors.includes(code)) {
        problems.push(`${block.file}:${cmd.line}: \`${cmd.text}\` answered an error:\n${r.output.slice(0, 600)}`);
      }
      if (problems.length > 0) break;
    }
    if (index === lastLive) {
      await live?.stop();
      live = undefined;
    }
    assert.ok(problems.length === 0, problems.join('\n'));
  });
}
