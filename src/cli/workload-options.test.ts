import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelParams, workloadFromOptions } from './workload-options.ts';
import { topologyFromSpec } from '../topologies/spec.ts';
import { build } from '../core/build.ts';
import { isScoreError } from '../errors/errors.ts';

const topology = build(topologyFromSpec('fat-tree:4')).topology;
const base = { model: 'onoff', vms: 32, slots: 4, placement: 'random', seed: 3 } as const;

test('model parameters from the command line reach the generator and are checked by name', () => {
  assert.deepEqual(parseModelParams('onoff', ['rackLocalFraction=0.5', 'rateSigma=1']), { rackLocalFraction: 0.5, rateSigma: 1 });
  const w = workloadFromOptions(topology, { ...base, params: ['rackLocalFraction=0.5'] });
  assert.equal(w.params.rackLocalFraction, 0.5);
  for (const bad of [['rackLocal=0.5'], ['rackLocalFraction'], ['rateSigma=abc']]) {
    assert.throws(() => parseModelParams('onoff', bad), (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE', bad.join());
  }
  assert.throws(() => workloadFromOptions(topology, { ...base, model: 'magic' }), (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE');
});

test('csv workloads and placement files are read from disk; unreadable files are WORKLOAD_INVALID', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-wl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'traffic.csv'), 'src,dst,rate\na,b,1000\nb,c,2MB/s\n');
  writeFileSync(join(dir, 'place.csv'), 'vm,hypervisor\na,h1\nb,h2\nc,h16\n');
  const w = workloadFromOptions(topology, { ...base, model: 'csv', trafficFile: join(dir, 'traffic.csv'), placement: join(dir, 'place.csv') });
  assert.deepEqual([...w.placement], [['a', 'h1'], ['b', 'h2'], ['c', 'h16']]);
  assert.equal(w.flows.length, 2);
  assert.throws(() => workloadFromOptions(topology, { ...base, model: 'csv', trafficFile: join(dir, 'missing.csv') }), (e: unknown) => isScoreError(e) && e.code === 'WORKLOAD_INVALID');
  assert.throws(() => workloadFromOptions(topology, { ...base, model: 'csv' }), (e: unknown) => isScoreError(e) && e.code === 'CLI_USAGE');
});

test('too many VMs for the slots: CAPACITY_EXCEEDED, with a hint when --vms was the default; a bad --param is named first', () => {
  const over = { ...base, vms: 4096 };
  assert.throws(() => workloadFromOptions(topology, { ...over, vmsGiven: false }), (e: unknown) => isScoreError(e, 'CAPACITY_EXCEEDED') && /--vms defaults to 4096; give --vms N with N at most 64/.test(e.message));
  assert.throws(() => workloadFromOptions(topology, { ...over, vmsGiven: true }), (e: unknown) => isScoreError(e, 'CAPACITY_EXCEEDED') && !/defaults/.test(e.message));
  assert.throws(() => workloadFromOptions(topology, { ...over, params: ['nosuch=1'] }), (e: unknown) => isScoreError(e, 'CLI_USAGE') && /nosuch/.test(e.message));
});
