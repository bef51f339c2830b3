import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTool, systemTestsRequired } from '../emulation/system-gate.ts';

const bin = fileURLToPath(new URL('../../bin/score.js', import.meta.url));

function score(args: string[], cwd: string, timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('score demo prints the step tables and costs and writes JSON, CSV, SVG and PNG', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['demo', '--out', 'out'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /== round-robin: 6 migration\(s\) in \d round\(s\), cost 25000 -> 0/);
  assert.match(r.stdout, /== load-aware: 6 migration\(s\) in \d round\(s\), cost 25000 -> 0/);
  assert.match(r.stdout, /Load-Aware's cost is never above Round-Robin's/);
  // the gain-ordered policy takes the largest saving first (issue 14)
  assert.match(r.stdout, /Gain-ordered \(largest saving first\): cost 0 after 6 migrations, along 50,38,26,14,8,2,0 /);
  assert.match(r.stdout, /Cross-check: the live system's migrations match/);
  for (const f of ['runs.json', 'timeline.csv', 'steps.csv', 'fig3-utilisation.svg', 'fig3-utilisation.png', 'fig4-cost.svg', 'fig4-cost.png']) {
    assert.ok(existsSync(join(dir, 'out', f)), f);
  }
  const runs = JSON.parse(readFileSync(join(dir, 'out', 'runs.json'), 'utf8')) as { runs: { policy: string; finalCost: number; migrations: number }[] };
  assert.deepEqual(runs.runs.map((x) => [x.policy, x.finalCost, x.migrations]), [['round-robin', 0, 6], ['load-aware', 0, 6], ['gain-order', 0, 6]]);
  const svg = readFileSync(join(dir, 'out', 'fig4-cost.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /Round-Robin/);
  const png = readFileSync(join(dir, 'out', 'fig4-cost.png'));
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const csv = readFileSync(join(dir, 'out', 'timeline.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 7 + 7 + 7);
  assert.match(csv[0]!, /^policy,step,time_s,total_cost,layer1_mean_utilisation/);
  // one traffic phase: no phase column, the files as before phases existed
  assert.match(csv[0]!, /,layer3_active_links$/);
  assert.match(readFileSync(join(dir, 'out', 'steps.csv'), 'utf8').split('\n')[0]!, /,reason$/);
  // flows of different rates: the gain-ordered path in C_A, not in "units of one flow's rate"
  const swap = await score(['demo', '--scenario', 'swap', '--out', 'swap', '--no-png'], dir);
  assert.equal(swap.code, 0, swap.stderr);
  assert.match(swap.stdout, /Gain-ordered \(largest saving first\): cost \d+ after \d+ migrations, along [\d,.]+ \(C_A\)\./);
});

test('score simulate refuses a broken scenario with its code, file and field, and writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.yaml'), 'name: bad\nswitches: []\nhypervisors: [{ id: h1 }]\nlinks: [{ a: h1, b: s9, capacity: 1Mbps }]\nvms: []\ntraffic: []\n');
  const r = await score(['simulate', '--scenario', 'bad.yaml', '--out', 'out'], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error SCENARIO_INVALID: .*bad\.yaml: 1 problem/);
  assert.match(r.stderr, /\/links\/0\/b: expected a switch or hypervisor id, got "s9"/);
  assert.equal(existsSync(join(dir, 'out')), false);
  const u = await score(['simulate', '--scenario', 'paper', '--policy', 'zz'], dir);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /error CLI_USAGE: --policy/);
});

test('score demo --every: continuous orchestration over the scenario\'s phases, stopped once settled after the last; a phase line per policy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['demo', '--scenario', 'paper-phases', '--every', '5s', '--no-png', '--out', 'out'], dir, 240_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /continuous orchestration every 5 s over 2 traffic phase\(s\)/);
  // Load-Aware re-converges after the partner change with the fewest migrations (issue #12)
  assert.match(r.stdout, /\nload-aware: phase 1 from 0 s: 6 migration\(s\); phase 2 from 120 s: 6 migration\(s\); the fewest that make its flows local: 6; cost at the end 0\n/);
  // the gain-ordered policy runs in continuous mode too (it needs the hypervisors' capacity)
  assert.match(r.stdout, /\ngain-order: phase 1 from 0 s: 6 migration\(s\); phase 2 from 120 s: \d migration\(s\)/);
  const runs = JSON.parse(readFileSync(join(dir, 'out', 'runs.json'), 'utf8')) as { runs: { policy: string; phases?: { phase: number; startSec: number; costAtStart: number; costAfter: number; migrations: number; firstStep: number; fewestMigrations?: number; converged: boolean }[]; steps: { time: number; phase?: number }[]; timeline: { step: number; phase?: number; totalCost: number }[] }[] };
  const la = runs.runs.find((x) => x.policy === 'load-aware')!;
  assert.equal(la.steps.filter((x) => x.time >= 120).length, 6, 'runs.json has the second phase\'s migrations');
  // the phases in the shape score simulate writes them (src/sim/run.ts PhaseRecord), measured
  for (const run of runs.runs) {
    assert.deepEqual(run.phases?.map((p) => [p.phase, p.startSec]), [[0, 0], [1, 120]], `${run.policy}: ${JSON.stringify(run.phases)}`);
    const [p1, p2] = run.phases ?? [];
    assert.ok(p1 !== undefined && p2 !== undefined, `${run.policy}: two phases`);
    assert.deepEqual([p1.firstStep, p2.firstStep], [1, p1.migrations + 1], `${run.policy}: steps numbered on across phases`);
    assert.ok(p1.fewestMigrations === 6 && p2.fewestMigrations !== undefined, `${run.policy}: the fewest per phase (the paper's 6 first): ${JSON.stringify(run.phases)}`);
    assert.deepEqual(run.steps.map((x) => x.phase), [...Array.from({ length: p1.migrations }, () => 0), ...Array.from({ length: p2.migrations }, () => 1)], `${run.policy}: each step's phase`);
    assert.equal(run.steps.length, p1.migrations + p2.migrations);
    // the reading at the change: the first phase's placement on the second phase's traffic
    const at = run.timeline.findIndex((p) => p.phase === 1);
    assert.ok(at > 0 && run.timeline[at]?.step === run.timeline[at - 1]?.step, `${run.policy}: a point at the change repeats the step before it`);
    assert.ok(p2.costAtStart > 0 && run.timeline[at]?.totalCost === p2.costAtStart, `${run.policy}: the cost jumps at the change`);
  }
  assert.deepEqual(la.phases?.map((p) => [p.firstStep, p.migrations, p.fewestMigrations, p.costAfter, p.converged]), [[1, 6, 6, 0, true], [7, 6, 6, 0, true]]);
  const stepsCsv = readFileSync(join(dir, 'out', 'steps.csv'), 'utf8').trim().split('\n');
  assert.match(stepsCsv[0]!, /,reason,phase$/);
  assert.equal(stepsCsv.filter((l) => l.startsWith('load-aware,') && l.endsWith(',1')).length, 6, 'steps.csv: phase 2\'s migrations');
  assert.match(readFileSync(join(dir, 'out', 'timeline.csv'), 'utf8'), /^policy,step,time_s,.*,phase\n/);
  // score report shows the phases as it does for simulate's
  const rep = await score(['report', 'out', '--out', 'report.html'], dir);
  assert.equal(rep.code, 0, rep.stderr);
  const page = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(page, />6 \(phase 2 starts\)</);
  assert.match(page, /<h3>Traffic phases<\/h3>/);
  assert.equal((page.match(/<tr class="phase-row">/g) ?? []).length, 2 * 3, 'two phases per policy');
  // without --every the scenario's later phases are named, and how to follow them
  const once = await score(['demo', '--scenario', 'paper-phases', '--no-png', '--out', 'once'], dir);
  assert.equal(once.code, 0, once.stderr);
  assert.match(once.stdout, /traffic changes at 120 s: a one-shot run plans on the first phase only; --every 5s follows every phase/);
  const waiting = await score(['demo', '--scenario', 'paper-phases', '--every', '5s', '--wait', '1'], dir);
  assert.equal(waiting.code, 2, waiting.stderr);
  assert.match(waiting.stderr, /^score: error CLI_USAGE: --wait lets the virtual clock run past the phases/);
  const stray = await score(['demo', '--stable-rounds', '2'], dir);
  assert.equal(stray.code, 2, stray.stderr);
  assert.match(stray.stderr, /^score: error CLI_USAGE: --stable-rounds needs --every DURATION/);
});

test('score simulate --json gives the run records on stdout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['simulate', '--scenario', 'paper', '--policy', 'la', '--mode', 'best', '--json', '--no-png', '--out', join(dir, 'o')], dir);
  assert.equal(r.code, 0, r.stderr);
  // an absolute --out is printed as given, not relative to the working directory
  assert.ok(r.stderr.includes(`Wrote ${join(dir, 'o', 'runs.json')}, `), r.stderr);
  const parsed = JSON.parse(r.stdout) as { runs: { policy: string; params: { decisionMode: string }; finalCost: number }[] };
  assert.equal(parsed.runs.length, 1);
  assert.equal(parsed.runs[0]!.policy, 'load-aware');
  assert.equal(parsed.runs[0]!.params.decisionMode, 'best');
  assert.equal(parsed.runs[0]!.finalCost, 0);
  assert.equal(existsSync(join(dir, 'o', 'fig4-cost.png')), false);
  assert.equal(existsSync(join(dir, 'o', 'fig4-cost.svg')), true);
});

test('score simulate --topology runs the scale simulator: a summary per strategy, JSON, CSV and figures; bad options are CLI_USAGE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '32', '--slots', '4', '--seed', '5', '--strategies', 'none,rr,la', '--no-png', '--progress', '--out', 'out'], dir);
  assert.equal(r.code, 0, r.stderr);
  // progress goes to stderr (one line per strategy when it is not a terminal), never into stdout
  assert.match(r.stderr, /^1\/3 none done in [\d.]+ s\n2\/3 round-robin done in [\d.]+ s\n3\/3 load-aware done in [\d.]+ s\n$/);
  assert.doesNotMatch(r.stdout, /done in/);
  assert.match(r.stdout, /\nWrote out\/scale\.json, out\/summary\.csv, /);
  assert.match(r.stdout, /fat-tree\(4\): 16 hypervisors, 20 switches; workload \S+ \(seed 5\): 32 VMs/);
  for (const name of ['none', 'round-robin', 'load-aware']) assert.match(r.stdout, new RegExp(`│ ${name} +│`));
  for (const f of ['scale.json', 'summary.csv', 'rounds.csv', 'cost-per-round.svg', 'migrations-per-round.svg', 'vm-cost-cdf.svg', 'utilisation-per-layer.svg']) {
    assert.ok(existsSync(join(dir, 'out', f)), f);
  }
  const result = JSON.parse(readFileSync(join(dir, 'out', 'scale.json'), 'utf8')) as { strategies: { strategy: string; costReduction: number; migrations: number }[] };
  assert.deepEqual(result.strategies.map((s) => s.strategy), ['none', 'round-robin', 'load-aware']);
  assert.equal(result.strategies[0]!.migrations, 0);
  assert.ok(result.strategies[2]!.costReduction > 0, 'result.strategies[2]!.costReduction > 0');
  const summary = readFileSync(join(dir, 'out', 'summary.csv'), 'utf8').trim().split('\n');
  assert.equal(summary.length, 4);
  // the same seed again writes the same scale.json, byte for byte
  const again = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '32', '--slots', '4', '--seed', '5', '--strategies', 'none,rr,la', '--no-png', '--out', join(dir, 'out2')], dir);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(again.stdout.includes(`Wrote ${join(dir, 'out2', 'scale.json')}, `), again.stdout);
  assert.equal(readFileSync(join(dir, 'out2', 'scale.json'), 'utf8'), readFileSync(join(dir, 'out', 'scale.json'), 'utf8'));
  if (findTool('gpmetis') !== undefined || systemTestsRequired()) {
    // the METIS reference and each strategy's gap to the best known placement (issue 14)
    const ref = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '32', '--slots', '4', '--seed', '5', '--strategies', 'la,gain-order,lookahead', '--reference', 'metis', '--no-png', '--out', 'out3'], dir);
    assert.equal(ref.code, 0, ref.stderr);
    assert.match(ref.stdout, /Reference metis-hierarchical: C_A \S+ \(\d+\.\d% reduction\); best known \S+ \((load-aware|gain-order|lookahead|metis-hierarchical)\)/);
    assert.match(ref.stdout, /Gap to the best known placement \(\(final − best\) \/ initial\): load-aware \d+\.\d%, gain-order \d+\.\d%, lookahead \d+\.\d%/);
    // the slot-capacity lower bound beside it, never above what any strategy or the reference reached
    const bound = /Lower bound \(slot-capacity\): C_A ≥ (\S+): no placement within capacity cuts more than (\d+\.\d)%/.exec(ref.stdout);
    assert.ok(bound !== null, ref.stdout);
    const doc = JSON.parse(readFileSync(join(dir, 'out3', 'scale.json'), 'utf8')) as { reference: { bestKnown: { cost: number }; lowerBound: { cost: number } } };
    assert.ok(doc.reference.lowerBound.cost <= doc.reference.bestKnown.cost, 'doc.reference.lowerBound.cost <= doc.reference.bestKnown.cost');
  }
  for (const bad of [
    ['--topology', 'fat-tree:5'],
    ['--topology', 'fat-tree:4', '--strategies', 'magic'],
    ['--topology', 'fat-tree:4', '--vms', '-3'],
    ['--topology', 'fat-tree:4', '--scenario', 'paper'],
    ['--topology', 'fat-tree:4', '--vms', '1000', '--slots', '2'],
    ['--topology', 'fat-tree:4', '--reference', 'oracle'],
  ]) {
    const e = await score(['simulate', ...bad, '--out', 'bad'], dir);
    assert.equal(e.code, 2, `${bad.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, /score: error [A-Z_]+: /);
  }
});

test("Commander's own errors (unknown option or command, missing argument) are CLI_USAGE with exit 2; --help and --version exit 0", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [args, what] of [
    [['--bogus'], /unknown option '--bogus'/],
    [['simulate', '--bogus-flag', '1'], /unknown option '--bogus-flag'/],
    [['nosuch'], /unknown command 'nosuch'/],
    [['simulate', '--scenario'], /argument missing/],
  ] as const) {
    const r = await score([...args], dir);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^score: error CLI_USAGE: /, args.join(' '));
    assert.match(r.stderr, what, args.join(' '));
    assert.doesNotMatch(r.stderr, /Commands:|Options:/, `${args.join(' ')}: a hint, not the whole help`);
  }
  // a command that needs a subcommand: its help (the list to choose from), then the error line
  const none = await score(['credentials'], dir);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /Commands:[\s\S]*\nscore: error CLI_USAGE: a command is required/);
  // `score help NAME` for a NAME that is no command: the list, then which name was wrong
  const helpOf = await score(['help', 'nosuch'], dir);
  assert.equal(helpOf.code, 2, helpOf.stderr);
  assert.match(helpOf.stderr, /Commands:[\s\S]*\nscore: error CLI_USAGE: unknown command 'nosuch'/);
  const v = await score(['--version'], dir);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version);
  const h = await score(['simulate', '--help'], dir);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /--policy <list>/);
});

test('a controller that does not answer is CONTROLLER_UNREACHABLE, a failure at run time (exit 1), not bad input', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // port 1 on loopback: nothing listens there unprivileged, so the connection is refused at once
  const r = await score(['credentials', 'list', '--controller', 'http://127.0.0.1:1', '--token', 'op'], dir);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^score: error CONTROLLER_UNREACHABLE: --controller http:\/\/127\.0\.0\.1:1: no answer/);
});
