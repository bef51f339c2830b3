import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from './simulate.ts';
import { ScoreError } from '../../errors/errors.ts';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

test('--policy: a comma list in the order given, both = rr,la anywhere in it, each policy once', () => {
  assert.deepEqual(parsePolicies('both'), ['round-robin', 'load-aware']);
  assert.deepEqual(parsePolicies('gain'), ['gain-order']);
  assert.deepEqual(parsePolicies('both,gain'), ['round-robin', 'load-aware', 'gain-order']);
  assert.deepEqual(parsePolicies('gain, both'), ['gain-order', 'round-robin', 'load-aware']);
  assert.deepEqual(parsePolicies('rr,rr,round-robin'), ['round-robin']);
  assert.deepEqual(parsePolicies('load-aware,rr'), ['load-aware', 'round-robin']);
});

test('--policy: any other name is CLI_USAGE naming it', () => {
  for (const bad of ['zz', 'rr,zz', '', 'both,']) {
    assert.throws(() => parsePolicies(bad), (e: unknown) => e instanceof ScoreError && e.code === 'CLI_USAGE' && e.message.includes('--policy'), bad);
  }
});

const bin = fileURLToPath(new URL('../../../bin/score.js', import.meta.url));

function score(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Doc { runs: { policy: string; migrations: number; finalCost: number; phases?: { phase: number; startSec: number; migrations: number; firstStep: number }[]; steps: { step: number; time: number; vm: string; from: string; to: string; phase?: number }[]; timeline: { step: number; time: number; phase?: number }[] }[] }

test('simulate --scenario with phases: runs.json, steps.csv, timeline.csv, --json and score report carry every phase', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-phases-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['simulate', '--scenario', 'paper-phases', '--out', 'out', '--no-png', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const fromStdout = JSON.parse(r.stdout) as Doc;
  const doc = JSON.parse(readFileSync(join(dir, 'out', 'runs.json'), 'utf8')) as Doc;
  assert.deepEqual(fromStdout, doc, '--json prints what runs.json holds');
  for (const run of doc.runs) {
    assert.deepEqual(run.phases?.map((p) => [p.phase, p.startSec, p.migrations, p.firstStep]), [[0, 0, 6, 1], [1, 120, 6, 7]], run.policy);
    assert.equal(run.migrations, 12, `${run.policy}: both phases' migrations`);
    assert.equal(run.finalCost, 0);
    assert.deepEqual(run.steps.map((s) => s.phase), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(run.steps.map((s) => s.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.ok(run.steps.slice(6).every((s) => s.time > 120), `${run.policy}: phase 2 migrations after its start: ${run.steps.map((s) => s.time).join(',')}`);
    // the change shows as a point at 120 s with the old placement on the new traffic
    assert.ok(run.timeline.some((p) => p.time === 120 && p.phase === 1 && p.step === 6), `${run.policy}: a point at the change`);
  }
  const steps = readFileSync(join(dir, 'out', 'steps.csv'), 'utf8').trim().split('\n');
  assert.equal(steps.length, 1 + 2 * 12, 'steps.csv: both policies, both phases');
  assert.ok(readFileSync(join(dir, 'out', 'timeline.csv'), 'utf8').split('\n').some((l) => /^load-aware,12,/.test(l)), 'timeline.csv goes on to step 12');
  const rep = await score(['report', 'out', '--out', 'report.html'], dir);
  assert.equal(rep.code, 0, rep.stderr);
});

test('simulate --scenario with a trace: --mode reaches every phase', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-phases-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const paper = readFileSync(fileURLToPath(new URL('../../../scenarios/paper.yaml', import.meta.url)), 'utf8');
  writeFileSync(join(dir, 'trace.csv'), 'time,src,dst,rate\n10,vm1,vm23,1000\n10,vm1,vm13,600\n10,vm1,vm14,600\n');
  writeFileSync(join(dir, 's.yaml'), `${paper}\ntrace: trace.csv\n`);
  const r = await score(['simulate', '--scenario', 's.yaml', '--policy', 'la', '--mode', 'best', '--out', 'out', '--no-png', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const run = (JSON.parse(r.stdout) as Doc).runs[0]!;
  const vm1 = run.steps.filter((s) => s.phase === 1 && s.vm === 'vm1').map((s) => s.to);
  // best: straight to the hypervisor of vm13 and vm14 (1200 bytes/s) rather than via vm23's (first: hv23, then hv20)
  assert.deepEqual(vm1, ['hv20'], `vm1's moves in phase 2: ${vm1.join(', ')}`);
  const text = await score(['simulate', '--scenario', 's.yaml', '--policy', 'la', '--mode', 'best', '--out', 'out2', '--no-png'], dir);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(!/vm1 hv\d+->hv23, vm1 hv23->hv20/.test(text.stdout), `the phase lines use --mode too: ${text.stdout.split('\n').filter((l) => /phase 2/.test(l)).join('\n')}`);
});

interface ScaleDoc { strategies: { strategy: string; migrations: number; finalCost: number; initialCost: number }[] }

test('simulate --topology --overcommit 1: with every host full, gain-swap and lookahead trade VMs through a temporary extra slot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-overcommit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // fat-tree(4): 16 hypervisors × 2 slots = 32 VMs, no free slot anywhere
  const common = ['simulate', '--topology', 'fat-tree:4', '--vms', '32', '--slots', '2', '--strategies', 'gain,swap,lookahead,staged', '--no-png', '--json'];
  const [without, withOne] = await Promise.all([score([...common, '--out', 'a'], dir), score([...common, '--out', 'b', '--overcommit', '1'], dir)]);
  assert.equal(without.code, 0, without.stderr);
  assert.equal(withOne.code, 0, withOne.stderr);
  const a = (JSON.parse(without.stdout) as ScaleDoc).strategies;
  const b = (JSON.parse(withOne.stdout) as ScaleDoc).strategies;
  assert.deepEqual(a.map((s) => s.migrations), [0, 0, 0, 0], 'no free slot, no overcommit: nothing moves');
  assert.equal(b[0]!.migrations, 0, 'gain-order does not swap: --overcommit does not reach it');
  for (const s of b.slice(1)) {
    assert.ok(s.migrations > 0 && s.finalCost < 0.5 * s.initialCost, `${s.strategy} with --overcommit 1: ${s.migrations} migrations, ${s.initialCost} -> ${s.finalCost}`);
  }
});

test('simulate --overcommit: 0 or 1, only for the strategies that use it, not with --epochs or --scenario (CLI_USAGE)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-overcommit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const scale = ['simulate', '--topology', 'fat-tree:4', '--vms', '16', '--no-png', '--out', 'o'];
  const cases: [string[], RegExp][] = [
    [[...scale, '--overcommit', '2'], /--overcommit: expected 0 or 1/],
    [[...scale, '--overcommit', '0.5'], /--overcommit: expected 0 or 1/],
    [[...scale, '--overcommit', 'one'], /--overcommit: expected 0 or 1/],
    [[...scale, '--overcommit', '1', '--strategies', 'gain,la'], /--overcommit: only gain-swap, lookahead, lookahead-staged use it/],
    [[...scale, '--overcommit', '0', '--strategies', 'rr'], /--overcommit: only gain-swap/],
    [[...scale, '--overcommit', '1', '--epochs', '2'], /--overcommit: not used with --epochs/],
    [['simulate', '--scenario', 'paper', '--overcommit', '1', '--out', 'o'], /--overcommit: scale mode only/],
  ];
  const runs = await Promise.all(cases.map(([args]) => score(args, dir)));
  runs.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /score: error CLI_USAGE: /, cases[i]![0].join(' '));
    assert.match(r.stderr, cases[i]![1], cases[i]![0].join(' '));
  });
});

test('simulate --scenario refuses scale-mode options, defaulted ones too, naming the mode that takes them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-stray-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const scenario = ['simulate', '--scenario', 'paper', '--no-png', '--out', 'o'];
  // --slots 8, --seed 1 and --strategies all are the defaults: given, they are still refused
  const cases: [string[], RegExp][] = [
    [['--strategies', 'bogus'], /--strategies: scale mode only \(with --topology\)/],
    [['--strategies', 'all'], /--strategies: scale mode only/],
    [['--reference', 'metis'], /--reference: scale mode only/],
    [['--vms', '3'], /--vms: scale mode only/],
    [['--slots', '8'], /--slots: scale mode only/],
    [['--seed', '1', '--workload', 'partners'], /--workload, --seed: scale mode only/],
    [['--no-utilisation'], /--no-utilisation: scale mode only/],
    [['--epochs', '2', '--evolve', 'static'], /--epochs, --evolve: scale mode over time only \(with --topology and --epochs\)/],
    [['--cm', 'precopy'], /--cm precopy: scale mode only/],
  ];
  const runs = await Promise.all(cases.map(([args]) => score([...scenario, ...args], dir)));
  runs.forEach((r, i) => {
    const what = cases[i]![0].join(' ');
    assert.equal(r.code, 2, `--scenario ${what}: ${r.stderr}`);
    assert.match(r.stderr, /score: error CLI_USAGE: /, what);
    assert.match(r.stderr, cases[i]![1], what);
  });
  assert.match(runs[0]!.stderr, /--scenario takes --policy, --cm, --mode, --max-rounds, --out, --no-png, --json/, 'the message says what scenario mode takes');
  // what scenario mode reads is still accepted, and --policy is scenario mode's alone
  const [ok, policy] = await Promise.all([
    score([...scenario, '--policy', 'la', '--cm', '0', '--mode', 'best', '--max-rounds', '5', '--json'], dir),
    score(['simulate', '--topology', 'fat-tree:4', '--vms', '16', '--policy', 'la', '--no-png', '--out', 'o2'], dir),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(policy.code, 2, policy.stderr);
  assert.match(policy.stderr, /CLI_USAGE: --policy: scenario mode only/);
});

test('simulate --help lists every strategy name --strategies accepts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-help-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['simulate', '--help'], dir);
  assert.equal(r.code, 0, r.stderr);
  const flat = r.stdout.replace(/\s+/g, ' ');
  const entry = /--strategies <list> (.*?) --oversubscription/.exec(flat)?.[1] ?? '';
  assert.ok(entry !== '', `--strategies in the help: ${flat.slice(0, 400)}`);
  const { STRATEGY_ALIASES } = await import('../../sim/strategies.ts');
  const { EPOCH_STRATEGIES, EXTRA_EPOCH_STRATEGIES } = await import('../../sim/epochs.ts');
  for (const name of [...Object.keys(STRATEGY_ALIASES), ...EPOCH_STRATEGIES.map((e) => e.name), ...EXTRA_EPOCH_STRATEGIES.map((e) => e.name)]) {
    assert.match(entry, new RegExp(`(^|[ ,(])${name}([ ,;)]|$)`), `${name} in: ${entry}`);
  }
});

/** Runs score with its stdout a pipe whose reader is already gone, as `score ... | true`. */
function scoreClosedStdout(args: string[], cwd: string): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test('a closed stdout ends score quietly with its own exit status: no EPIPE trace, the files still written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-epipe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [scenario, scale, help, bad] = await Promise.all([
    scoreClosedStdout(['simulate', '--scenario', 'paper', '--no-png', '--out', 'a'], dir),
    scoreClosedStdout(['simulate', '--topology', 'fat-tree:4', '--vms', '16', '--no-png', '--out', 'b'], dir),
    scoreClosedStdout(['--help'], dir),
    scoreClosedStdout(['simulate', '--scenario', 'paper', '--vms', '3'], dir),
  ]);
  for (const [what, r] of [['simulate --scenario', scenario], ['simulate --topology', scale], ['--help', help]] as const) {
    assert.equal(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''} ${r.stderr}`);
    assert.equal(r.stderr, '', `${what}: nothing on stderr`);
  }
  assert.ok(existsSync(join(dir, 'a', 'runs.json')) && existsSync(join(dir, 'a', 'fig4-cost.svg')), 'scenario mode wrote its files');
  assert.ok(existsSync(join(dir, 'b', 'scale.json')), 'scale mode wrote its files');
  assert.equal(bad.code, 2, `an error keeps its exit status: ${bad.stderr}`);
});
