import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readiness, type ReadinessInput } from './readiness.ts';

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
