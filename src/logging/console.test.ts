import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { consoleOut, splitLine, wantJson } from './console.ts';

test('JSON when stdout is not a terminal, lines on a terminal; SCORE_LOG_FORMAT overrides', () => {
  assert.equal(wantJson({}, false), true);
  assert.equal(wantJson({}, true), false);
  assert.equal(wantJson({ SCORE_LOG_FORMAT: 'text' }, false), false);
  assert.equal(wantJson({ SCORE_LOG_FORMAT: 'json' }, true), true);
});

test('readable lines become level + message', () => {
  assert.deepEqual(splitLine('12:00:01.250 WARN openflow: dpid 1 slow'), { level: 'warn', msg: 'openflow: dpid 1 slow' });
  assert.deepEqual(splitLine('12:00:01.250 switch up s1'), { level: 'info', msg: 'switch up s1' });
  assert.deepEqual(splitLine('   layer 1: 4 links'), { level: 'info', msg: '   layer 1: 4 links' });
});

test('JSON mode writes one pino object per line', () => {
  const chunks: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  });
  const out = consoleOut('score-controller', true, pino({ name: 'score-controller', level: 'debug' }, sink));
  out('12:00:01.250 ERROR cluster: lost');
  out('12:00:01.300 cluster: c1 is LEADER, generation 7');
  const objs = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; name: string });
  assert.deepEqual(objs.map((o) => [o.level, o.msg, o.name]), [
    [50, 'cluster: lost', 'score-controller'],
    [30, 'cluster: c1 is LEADER, generation 7', 'score-controller'],
  ]);
});
