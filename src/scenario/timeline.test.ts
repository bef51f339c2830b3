import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildTimeline, changeTimes, checkTraceVms, flowsAt, parseTrafficTrace, segmentIndexAt } from './timeline.ts';
import { loadScenarioFile } from './load.ts';
import { isScoreError } from '../errors/errors.ts';

const f = (src: string, dst: string, rate: number) => ({ src, dst, rate });

test('a timeline yields, for any t, the flows of the last change at or before t', () => {
  const tl = buildTimeline([f('a', 'b', 10), f('c', 'd', 5)], [
    { atSec: 10, set: [f('a', 'b', 20), f('e', 'f', 1)] },
    { atSec: 20, stop: [{ src: 'c', dst: 'd' }] },
    { atSec: 30, replace: [f('x', 'y', 3)] },
    { atSec: 30, set: [f('a', 'b', 0), f('x', 'z', 4)] },
  ]);
  assert.deepEqual(changeTimes(tl), [10, 20, 30]);
  assert.deepEqual(flowsAt(tl, 0), [f('a', 'b', 10), f('c', 'd', 5)]);
  assert.deepEqual(flowsAt(tl, 9.999), [f('a', 'b', 10), f('c', 'd', 5)]);
  assert.deepEqual(flowsAt(tl, 10), [f('a', 'b', 20), f('c', 'd', 5), f('e', 'f', 1)]);
  assert.deepEqual(flowsAt(tl, 25), [f('a', 'b', 20), f('e', 'f', 1)]);
  // two changes at one time apply in order; rate 0 stops a flow
  assert.deepEqual(flowsAt(tl, 1e9), [f('x', 'y', 3), f('x', 'z', 4)]);
  assert.equal(segmentIndexAt(tl, -5), 0);
  assert.throws(() => buildTimeline([], [{ atSec: 5 }, { atSec: 4 }]), (e: unknown) => isScoreError(e) && e.code === 'TIMELINE_INVALID');
});

test('a trace CSV is parsed into timed changes; bad lines name the file and line', () => {
  const changes = parseTrafficTrace('time,src,dst,rate\n# comment\n0,a,b,100\n0,c,d,8kbps\n\n5,a,b,0\n', 't.csv');
  assert.deepEqual(changes, [
    { atSec: 0, set: [f('a', 'b', 100), f('c', 'd', 1000)], lines: [3, 4] },
    { atSec: 5, set: [f('a', 'b', 0)], lines: [6] },
  ]);
  const bad = (text: string, line: number) =>
    assert.throws(() => parseTrafficTrace(text, 't.csv'), (e: unknown) => isScoreError(e) && e.code === 'TIMELINE_PARSE' && e.message.includes(`t.csv:${line}:`));
  bad('src,dst,rate\n', 1);
  bad('time,src,dst,rate\n1,a,b\n', 2);
  bad('time,src,dst,rate\n5,a,b,1\n4,a,b,1\n', 3);
  bad('time,src,dst,rate\n1,a,a,1\n', 2);
  bad('time,src,dst,rate\n1,a,b,fast\n', 2);
  bad('time,src,dst,rate\n-1,a,b,1\n', 2);
  bad('time,src,dst,rate\n1,a,b,1e999\n', 2);
  bad(`time,src,dst,rate\n1,a,b,${'9'.repeat(400)}kbps\n`, 2);
});

test('two trace lines for one time and pair are refused naming both lines (the last won silently)', () => {
  assert.throws(
    () => parseTrafficTrace('time,src,dst,rate\n10,vm1,vm23,1000\n10,vm1,vm13,600\n\n10,vm1,vm23,600\n', 't.csv'),
    (e: unknown) => isScoreError(e) && e.code === 'TIMELINE_PARSE' && e.message.startsWith('t.csv:5:') && /lines 2 and 5 both give vm1 -> vm23 at 10 s/.test(e.message),
  );
  // the same pair at another time, and the other direction at the same time, are changes
  assert.equal(parseTrafficTrace('time,src,dst,rate\n10,a,b,1\n10,b,a,1\n20,a,b,2\n', 't.csv').length, 2);
});

test('a trace VM that is not one names file:line and the name meant', () => {
  const changes = parseTrafficTrace('time,src,dst,rate\n0,vm001,vm002,1\n\n5,vm67,vm002,1\n', 'tr.csv');
  const vms = Array.from({ length: 256 }, (_, i) => `vm${String(i + 1).padStart(3, '0')}`);
  assert.throws(
    () => checkTraceVms(changes, vms, 'tr.csv', 'the workload'),
    (e: unknown) => isScoreError(e) && e.code === 'TIMELINE_INVALID' && e.message.startsWith('tr.csv:4: ') && e.message.includes('did you mean "vm067"?'),
  );
  assert.throws(
    () => checkTraceVms(parseTrafficTrace('time,src,dst,rate\n0,web1,vm002,1\n', 'tr.csv'), vms, 'tr.csv', 'the workload'),
    (e: unknown) => isScoreError(e) && e.message.startsWith('tr.csv:2: ') && e.message.includes('"vm001" .. "vm256"'),
  );
  checkTraceVms(changes.slice(0, 1), vms, 'tr.csv', 'the workload');
});

test('paper-phases: the pairs change partners at 120 s; a scenario trace adds to the phases', () => {
  const { model } = loadScenarioFile('paper-phases');
  assert.deepEqual(changeTimes(model.timeline), [120]);
  assert.deepEqual(flowsAt(model.timeline, 0), [...model.flows].sort((a, b) => (a.src < b.src ? -1 : a.src > b.src ? 1 : 0)));
  const later = flowsAt(model.timeline, 121);
  assert.equal(later.length, 6);
  assert.ok(later.some((x) => x.src === 'vm21' && x.dst === 'vm6' && x.rate === 500), 'later.some((x) => x.src === \'vm21\' && x.dst === \'vm6\' && x.rate === 500)');
  assert.ok(!later.some((x) => x.src === 'vm1' && x.dst === 'vm6'), '!later.some((x) => x.src === \'vm1\' && x.dst === \'vm6\')');

  const dir = mkdtempSync(join(tmpdir(), 'score-tl-'));
  try {
    const text = loadScenarioFile('paper-phases').file;
    const yaml = (extra: string) => `${readFileSync(text, 'utf8')}\ntrace: trace.csv\n${extra}`;
    writeFileSync(join(dir, 'trace.csv'), 'time,src,dst,rate\n60,vm4,vm7,250\n200,vm4,vm7,0\n');
    writeFileSync(join(dir, 's.yaml'), yaml(''));
    const m = loadScenarioFile(join(dir, 's.yaml')).model;
    assert.deepEqual(changeTimes(m.timeline), [60, 120, 200]);
    assert.ok(flowsAt(m.timeline, 61).some((x) => x.src === 'vm4' && x.dst === 'vm7' && x.rate === 250), 'flowsAt(m.timeline, 61).some((x) => x.src === \'vm4\' && x.dst === \'vm7\' && x.rate === 250)');
    // the phase at 120 s replaces everything, the trace's flow included
    assert.ok(!flowsAt(m.timeline, 130).some((x) => x.src === 'vm4'), '!flowsAt(m.timeline, 130).some((x) => x.src === \'vm4\')');
    writeFileSync(join(dir, 'trace.csv'), 'time,src,dst,rate\n60,vm4,vm99,250\n');
    assert.throws(() => loadScenarioFile(join(dir, 's.yaml')), (e: unknown) => isScoreError(e) && e.code === 'TIMELINE_INVALID' && e.message.includes('vm99') && e.message.includes('trace.csv:2: ') && e.message.includes('"vm1" .. "vm24"'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('phases are checked with the rest of the scenario: order, VM names, rate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'score-tl-'));
  try {
    const base = require_text(loadScenarioFile('paper').file);
    writeFileSync(
      join(dir, 'bad.yaml'),
      `${base}\nphases:\n  - { at: 50, set: [{ src: vm1, dst: vm99, rate: 1kbps }] }\n  - { at: 40, stop: [{ src: vm1, dst: vm6 }] }\n  - { at: 60 }\n  - { at: 70, set: [{ src: vm1, dst: vm2 }] }\n`,
    );
    assert.throws(
      () => loadScenarioFile(join(dir, 'bad.yaml')),
      (e: unknown) =>
        isScoreError(e) &&
        e.code === 'SCENARIO_INVALID' &&
        ['/phases/0/set/0/dst', '/phases/1/at', '/phases/2', '/phases/3/set/0'].every((p) => e.message.includes(p)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function require_text(file: string): string {
  return readFileSync(file, 'utf8').replace(/\nphases:[\s\S]*$/, '\n');
}

test('a phase flow with "rate" and "pps" is refused with the top-level traffic message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'score-tl-'));
  try {
    const base = require_text(loadScenarioFile('paper').file);
    for (const field of ['traffic', 'set']) {
      writeFileSync(join(dir, 'mix.yaml'), `${base}\nphases:\n  - { at: 50, ${field}: [{ src: vm1, dst: vm2, rate: 1kbps, pps: 3 }] }\n`);
      assert.throws(
        () => loadScenarioFile(join(dir, 'mix.yaml')),
        (e: unknown) => isScoreError(e) && e.code === 'SCENARIO_INVALID' && e.message.includes(`/phases/0/${field}/0`) && e.message.includes('give either "rate" or "packetBytes"+"pps", not both'),
        field,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
