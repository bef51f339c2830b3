import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/score.js', import.meta.url));

function score(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('score simulate --epochs: every strategy on one timeline, JSON/CSV/figures; a trace replays; bad options are CLI_USAGE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-epochs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '4', '--evolve', 'churn:0.2', '--out', 'out', '--no-png'], dir);
  assert.equal(r.code, 0, r.stderr);
  for (const s of ['never', 'one-shot', 'continuous-rr', 'continuous-rr-hyst', 'continuous-la', 'continuous-la-hyst', 'clairvoyant']) assert.match(r.stdout, new RegExp(`│ ${s} `));
  for (const f of ['epochs.json', 'epochs.csv', 'cumulative-cost.svg', 'cost-per-epoch.svg', 'migrations-per-epoch.svg']) assert.ok(existsSync(join(dir, 'out', f)), f);
  const doc = JSON.parse(readFileSync(join(dir, 'out', 'epochs.json'), 'utf8')) as { epochs: number; strategies: { strategy: string; perEpoch: unknown[]; oscillations: number; hysteresis: boolean; kind: string }[] };
  assert.equal(doc.epochs, 4);
  assert.ok(doc.strategies.every((s) => s.perEpoch.length === 4), 'doc.strategies.every((s) => s.perEpoch.length === 4)');
  assert.ok(doc.strategies.filter((s) => s.hysteresis && s.kind === 'continuous').every((s) => s.oscillations === 0), 'doc.strategies.filter((s) => s.hysteresis && s.kind === \'continuous\').every((s) => s.os...');
  assert.equal(readFileSync(join(dir, 'out', 'epochs.csv'), 'utf8').trim().split('\n').length, 1 + 7 * 4);

  writeFileSync(join(dir, 'trace.csv'), 'time,src,dst,rate\n0,vm01,vm64,1MB/s\n3600,vm01,vm64,0\n3600,vm02,vm63,1MB/s\n');
  const tr = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '3', '--evolve', 'trace:trace.csv', '--out', 'tr', '--no-png', '--json'], dir);
  assert.equal(tr.code, 0, tr.stderr);
  const never = (JSON.parse(tr.stdout) as { strategies: { strategy: string; perEpoch: { cost: number }[] }[] }).strategies.find((s) => s.strategy === 'never')!;
  assert.equal(never.perEpoch.length, 3);
  assert.ok(never.perEpoch.every((p) => p.cost >= 0), 'never.perEpoch.every((p) => p.cost >= 0)');
  // workload.flows: the pairs over the whole horizon; flowsAtStart: those at t = 0
  assert.deepEqual((JSON.parse(tr.stdout) as { workload: { flows: number; flowsAtStart: number } }).workload, { name: 'trace', seed: 1, vms: 64, flows: 2, flowsAtStart: 1 });
  writeFileSync(join(dir, 'late.csv'), 'time,src,dst,rate\n3600,vm01,vm64,1MB/s\n3600,vm64,vm01,1MB/s\n7200,vm02,vm63,1MB/s\n');
  const late = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '3', '--evolve', 'trace:late.csv', '--strategies', 'never', '--out', 'late', '--no-png', '--json'], dir);
  assert.equal(late.code, 0, late.stderr);
  const lateW = (JSON.parse(late.stdout) as { workload: { flows: number; flowsAtStart: number } }).workload;
  assert.deepEqual([lateW.flows, lateW.flowsAtStart], [2, 0], `a trace that starts later has its flows, none at t = 0 (a pair counts once in both directions): ${JSON.stringify(lateW)}`);

  // --strategies picks the timeline's strategies; --max-rounds bounds each plan (one round moves fewer VMs here)
  const picked = async (rounds: string) => {
    const p = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '3', '--evolve', 'churn:0.2', '--strategies', 'one-shot,continuous-la', '--max-rounds', rounds, '--out', `mr${rounds}`, '--no-png', '--json'], dir);
    assert.equal(p.code, 0, p.stderr);
    return (JSON.parse(p.stdout) as { strategies: { strategy: string; migrations: number }[] }).strategies;
  };
  const one = await picked('1');
  const twenty = await picked('20');
  assert.deepEqual(one.map((s) => s.strategy), ['one-shot', 'continuous-la'], 'only the strategies asked for');
  assert.ok(one[0]!.migrations < twenty[0]!.migrations, `one round moves fewer than twenty: ${one[0]!.migrations} vs ${twenty[0]!.migrations}`);

  for (const bad of [['--evolve', 'churn:2'], ['--evolve', 'onoff'], ['--planner', 'scratch'], ['--cm', '3'], ['--max-migrations', '10'], ['--reference', 'metis'], ['--strategies', 'greedy']]) {
    const b = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', ...bad, '--out', 'bad'], dir);
    assert.equal(b.code, 2, `${bad.join(' ')}: ${b.stderr}`);
    assert.match(b.stderr, /CLI_USAGE/);
  }
  // a trace: the header says trace, not the generated model; an unknown VM names file:line and the name meant
  const trHead = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', '--evolve', 'trace:trace.csv', '--out', 'trh', '--no-png'], dir);
  assert.equal(trHead.code, 0, trHead.stderr);
  assert.match(trHead.stdout.split('\n')[0]!, /^fat-tree\(4\), 64 VMs, trace:trace\.csv, 2 epochs/);
  writeFileSync(join(dir, 'unknown.csv'), 'time,src,dst,rate\n0,vm01,vm64,1MB/s\n5,vm1,vm64,1MB/s\n');
  const unknown = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', '--evolve', 'trace:unknown.csv', '--out', 'unk'], dir);
  assert.equal(unknown.code === 0, false, 'an unknown VM is refused');
  assert.match(unknown.stderr, /TIMELINE_INVALID: unknown\.csv:3: at 5 s: "vm1" is not a VM of the workload; did you mean "vm01"\?/);

  // a period longer than an epoch changed only when the moves counted: refused
  const longPeriod = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', '--period', '7200', '--out', 'lp'], dir);
  assert.equal(longPeriod.code, 2, longPeriod.stderr);
  assert.match(longPeriod.stderr, /CLI_USAGE: --period 7200: longer than an epoch/);
  const onePeriod = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', '--period', '3600', '--strategies', 'continuous-rr,one-shot-rr', '--out', 'op', '--no-png', '--json'], dir);
  assert.equal(onePeriod.code, 0, onePeriod.stderr);
  assert.deepEqual((JSON.parse(onePeriod.stdout) as { strategies: { strategy: string }[] }).strategies.map((s) => s.strategy), ['continuous-rr', 'one-shot-rr'], 'one-shot-rr is named');
  // ... but only where a continuous strategy reads it: --epoch-seconds 30 under the default --period 60, no continuous strategy
  const noContinuous = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', '--epoch-seconds', '30', '--strategies', 'never,one-shot,clairvoyant', '--out', 'nc', '--no-png', '--json'], dir);
  assert.equal(noContinuous.code, 0, `a period no strategy reads is not refused: ${noContinuous.stderr}`);
  const shortEpochs = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--epochs', '2', '--epoch-seconds', '30', '--strategies', 'one-shot,continuous-la', '--out', 'se'], dir);
  assert.match(shortEpochs.stderr, /CLI_USAGE: --period 60: longer than an epoch/, 'refused where continuous mode reads it');

  // --vms defaults to 4096 with --epochs as without (it was undefined: WORKLOAD_INVALID)
  const defaults = await score(['simulate', '--topology', 'fat-tree:16', '--epochs', '1', '--strategies', 'never', '--out', 'dv', '--no-png', '--json'], dir);
  assert.equal(defaults.code, 0, defaults.stderr);
  assert.equal((JSON.parse(readFileSync(join(dir, 'dv', 'epochs.json'), 'utf8')) as { workload: { vms: number } }).workload.vms, 4096);

  // and an --epochs option without --epochs is not silently dropped
  const noEpochs = await score(['simulate', '--topology', 'fat-tree:4', '--vms', '64', '--strategies', 'none', '--planner', 'full', '--out', 'ne'], dir);
  assert.equal(noEpochs.code, 2, noEpochs.stderr);
  assert.match(noEpochs.stderr, /CLI_USAGE: --planner: only with --epochs/);
});
