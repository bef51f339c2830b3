import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catchUpLatch, readiness, type ReadinessInput } from './readiness.ts';

const sw = (role: 'MASTER' | 'SLAVE' | 'EQUAL', active = role === 'MASTER') => ({ dpid: '1', role, ports: 3, active });
const base: ReadinessInput = { memberId: 'c2', role: 'leader', generation: 42n, switches: [sw('MASTER'), sw('MASTER')], runtimeSwitches: 2, links: 2, expected: { switches: 2, links: 2 } };

test('readiness: a leader MASTER everywhere with its predecessor\'s switches and links is ready', () => {
  const r = readiness(base);
  assert.equal(r.ready, true);
  assert.equal(r.reason, '');
  assert.equal(r.generation, '42');
  assert.deepEqual(r.switches, { master: 2, connected: 2, discovered: 2, expected: 2 });
});

test('readiness: not ready as follower, while reading the old view, before every ROLE_REPLY, or before the links are back', () => {
  assert.match(readiness({ ...base, role: 'follower' }).reason, /not the leader/);
  assert.match(readiness({ ...base, expected: 'pending' }).reason, /previous leader/);
  assert.match(readiness({ ...base, switches: [] }).reason, /no switch/);
  assert.match(readiness({ ...base, switches: [sw('MASTER'), sw('SLAVE')] }).reason, /MASTER on 1 of 2/);
  assert.match(readiness({ ...base, switches: [sw('MASTER'), sw('MASTER', false)] }).reason, /MASTER on 1 of 2/);
  assert.match(readiness({ ...base, runtimeSwitches: 1 }).reason, /1 of 2 switches/);
  assert.match(readiness({ ...base, links: 1 }).reason, /1 of 2 links/);
  // a cluster's first leader has no predecessor's view to match
  assert.equal(readiness({ ...base, links: 0, expected: { switches: 0, links: 0 } }).ready, true);
});

test('readiness: once the catch-up is over (latched or bounded), a stale or unreachable previous view no longer holds it back; MASTER on the connected switches still does', () => {
  // the previous view names 3 switches and 5 links; one switch and its links are gone for good
  const stale: ReadinessInput = { ...base, expected: { switches: 3, links: 5 } };
  assert.equal(readiness(stale).ready, false);
  assert.equal(readiness(stale).caughtUp, false);
  const over = readiness({ ...stale, caughtUp: true });
  assert.equal(over.ready, true, over.reason);
  assert.equal(over.caughtUp, true);
  assert.equal(readiness({ ...stale, expected: 'pending', caughtUp: true }).ready, true, 'the view not read in time');
  assert.match(readiness({ ...stale, caughtUp: true, switches: [sw('MASTER'), sw('SLAVE')] }).reason, /MASTER on 1 of 2/);
  assert.match(readiness({ ...stale, caughtUp: true, role: 'follower' }).reason, /not the leader/);
  // reached without the bound: reported caught up, which the caller latches for the term
  assert.equal(readiness(base).caughtUp, true);
});

test('catchUpLatch: over once caught up in a term (a link lost later does not undo it), or after the bound; an election starts over', () => {
  let t = 0;
  const l = catchUpLatch(5000, () => t);
  const input = (): ReadinessInput => ({ ...base, caughtUp: l.over() });
  assert.equal(l.over(), false);
  l.saw(readiness(input()), true);
  assert.equal(l.over(), true, 'latched');
  // a link lost after the catch-up: still ready
  const r = readiness({ ...input(), links: 1 });
  assert.equal(r.ready, true, r.reason);
  l.elected();
  assert.equal(l.over(), false, 'a new term');
  assert.equal(readiness({ ...input(), links: 1 }).ready, false);
  l.saw(readiness({ ...input(), links: 1 }), true);
  assert.equal(l.over(), false, 'not caught up: not latched');
  l.saw(readiness(input()), false);
  assert.equal(l.over(), false, 'a follower latches nothing');
  t = 5000;
  assert.equal(l.over(), true, 'the bound');
  assert.equal(readiness({ ...input(), links: 1, runtimeSwitches: 1 }).ready, true);
});
