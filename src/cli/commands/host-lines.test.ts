import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostLineLimiter } from './host-lines.ts';
import type { ControllerEvent } from '../../controller/controller.ts';

const added = (n: number): ControllerEvent => ({ type: 'host-added', mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`, at: { dpid: 1n, port: 1 } });
const moved: ControllerEvent = { type: 'host-moved', mac: '02:00:00:00:00:01', from: { dpid: 1n, port: 1 }, to: { dpid: 2n, port: 1 }, via: 'rarp' };

test('host-added lines: up to the limit per window printed, the rest summed up once the window is over; other events always printed', () => {
  const l = hostLineLimiter(2, 1000);
  assert.deepEqual(l.lines(added(1), 'h1', 0), ['h1']);
  assert.deepEqual(l.lines(added(2), 'h2', 10), ['h2']);
  assert.deepEqual(l.lines(added(3), 'h3', 20), []);
  assert.deepEqual(l.lines(added(4), 'h4', 30), []);
  assert.deepEqual(l.lines(moved, 'm', 40), ['m'], 'a move is never held back');
  assert.equal(l.flush(500), null, 'window not over yet');
  const next = l.lines(added(5), 'h5', 1000);
  assert.equal(next.length, 2);
  assert.match(next[0] ?? '', /^2 more hosts learned/);
  assert.equal(next[1], 'h5');
  assert.deepEqual(l.lines(added(6), 'h6', 1001), ['h6']);
  assert.deepEqual(l.lines(added(7), 'h7', 1002), []);
  assert.match(l.flush(2000) ?? '', /^1 more hosts learned/, 'a timer says it when no further host comes');
  assert.equal(l.flush(3000), null, 'said once');
});

test('host-added lines: a line given as a function is built only when printed', () => {
  const l = hostLineLimiter(1, 1000);
  let built = 0;
  const text = (t: string) => () => {
    built += 1;
    return t;
  };
  assert.deepEqual(l.lines(added(1), text('h1'), 0), ['h1']);
  assert.deepEqual(l.lines(added(2), text('h2'), 1), []);
  assert.deepEqual(l.lines(added(3), text('h3'), 2), []);
  assert.equal(built, 1, 'the held-back lines were never built');
  assert.deepEqual(l.lines(moved, text('m'), 3), ['m']);
  assert.equal(built, 2);
});

test('a port over its host limit prints its reported refusals only, not the quiet ones between', () => {
  const l = hostLineLimiter(2, 1000);
  const refused = (quiet: boolean): ControllerEvent => ({ type: 'host-refused', mac: '02:00:00:00:00:09', at: { dpid: 1n, port: 1 }, limit: 4096, count: 1, quiet });
  assert.deepEqual(l.lines(refused(false), 'r', 0), ['r'], 'the report is printed');
  assert.deepEqual(l.lines(refused(true), 'q', 1), [], 'a quiet refusal is not');
  assert.deepEqual(l.lines(refused(true), 'q', 5000), [], 'nor later in another window');
});
