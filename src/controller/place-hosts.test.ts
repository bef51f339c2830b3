import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ctl from './controller.ts';
import { fatTreeHarness } from './fat-tree-fabric.testing.ts';

const placesOf = (h: ReturnType<typeof fatTreeHarness>, shift = 0) =>
  h.hosts.map((mac, i) => ({ mac, at: h.fabric.hosts.get(h.hosts[(i + shift) % h.hosts.length] as string)! }));

const pathsOf = (c: ctl.Controller) =>
  [...c.routing.paths].map(([k, p]) => [k, p.hops.map((x) => `${x.dpid}:${x.inPort}>${x.outPort}`).join(' ')]).sort();

test('placeHosts: the same hosts, view and paths as one vmMoved per host, in one rebuild; new rules before deletes', () => {
  const one = fatTreeHarness(4, 2);
  const all = fatTreeHarness(4, 2);
  assert.equal(one.controller.disc.links.size, 32, 'fat-tree(4): 32 switch-to-switch links discovered');
  const viewBefore = all.controller.view;
  for (const p of placesOf(one)) ctl.vmMoved(one.controller, p.mac, p.at, 10);
  const r = ctl.placeHosts(all.controller, placesOf(all), 10);
  assert.equal(r.placed, 16);
  assert.deepEqual(r.refused, []);
  assert.notEqual(all.controller.view, viewBefore, 'the view was rebuilt');
  assert.deepEqual(new Set(all.controller.view.hypervisors), new Set(one.controller.view.hypervisors));
  assert.deepEqual(
    [...all.controller.hosts.byMac].map(([m, e]) => [m, e.at]),
    [...one.controller.hosts.byMac].map(([m, e]) => [m, e.at]),
  );
  // every direction routed, then every host placed elsewhere: the paths follow in both
  const pairs = one.hosts.flatMap((s, i) => [{ src: s, dst: one.hosts[(i + 5) % one.hosts.length] as string }]);
  ctl.routePairs(one.controller, pairs, 20);
  ctl.routePairs(all.controller, pairs, 20);
  for (const p of placesOf(one, 3)) ctl.vmMoved(one.controller, p.mac, p.at, 30);
  const moved = ctl.placeHosts(all.controller, placesOf(all, 3), 30);
  assert.deepEqual(pathsOf(all.controller), pathsOf(one.controller));
  assert.equal(moved.events.filter((e) => e.type === 'host-moved').length, 16);
  const kinds = moved.commands.map((x) => x.kind);
  assert.ok(kinds.includes('flow-delete') && kinds.lastIndexOf('flow-add') < kinds.indexOf('flow-delete'), 'every new rule before any delete');
});

test('placeHosts: a place on a reserved port is refused (RESERVED_PORT) and the others are placed', () => {
  const h = fatTreeHarness(4, 1);
  const places = placesOf(h);
  const r = ctl.placeHosts(h.controller, [{ mac: 'aa:00:00:00:00:01', at: { dpid: 1n, port: 0xfffffffe } }, ...places], 1);
  assert.equal(r.placed, places.length);
  assert.deepEqual(r.refused.map((x) => [x.mac, x.error.code]), [['aa:00:00:00:00:01', 'RESERVED_PORT']]);
  assert.equal(h.controller.hosts.byMac.has('aa:00:00:00:00:01'), false);
});
