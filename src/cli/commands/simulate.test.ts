import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from './simulate.ts';
import { ScoreError } from '../../errors/errors.ts';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
