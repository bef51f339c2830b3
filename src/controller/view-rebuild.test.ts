import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArpReply, buildArpRequest } from '../packet/index.ts';
import * as ctl from './controller.ts';
import { ROUTE_CACHE_MAX } from './routing.ts';
import type { SwitchPortInfo } from './discovery.ts';

const ports = (dpid: number): SwitchPortInfo[] =>
  [1, 2, 3].map((port) => ({ port, hwAddr: `02:00:00:00:${dpid.toString(16).padStart(2, '0')}:0${port}`, up: true, speedKbps: 0, name: `p${port}` }));
const arp = (n: number): Uint8Array => buildArpRequest({ senderMac: `0a:00:00:00:00:${n.toString(16).padStart(2, '0')}`, senderIp: `10.0.0.${n}`, targetIp: '10.0.0.250' });

test('host view: a switch is a hypervisor from its first host on; more hosts there keep the same view; moving its last host away drops it', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  ctl.switchUp(c, 1n, ports(1), 0);
  ctl.switchUp(c, 2n, ports(2), 0);
  assert.deepEqual([...c.view.hypervisors], []);
  ctl.packetIn(c, 1n, 1, arp(1), 1);
  assert.deepEqual([...c.view.hypervisors], [1n], 'first host makes s1 a hypervisor');
  const view = c.view;
  for (let n = 2; n < 40; n += 1) ctl.packetIn(c, 1n, 1 + (n % 3), arp(n), 1 + n);
  assert.equal(c.hosts.byMac.size, 39);
  assert.equal(c.view, view, 'no rebuild: the set of host-carrying switches did not change');
  ctl.packetIn(c, 2n, 1, arp(50), 100);
  assert.deepEqual(new Set(c.view.hypervisors), new Set([1n, 2n]), 'a new switch with a host: rebuilt');
  ctl.vmMoved(c, '0a:00:00:00:00:32', { dpid: 1n, port: 2 }, 200);
  assert.deepEqual([...c.view.hypervisors], [1n], 's2 lost its only host');
});

test('host view with declared hypervisors: hosts never rebuild it, and it stays what was declared', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8), hypervisors: new Set([2n]) });
  ctl.switchUp(c, 1n, ports(1), 0);
  ctl.switchUp(c, 2n, ports(2), 0);
  const view = c.view;
  for (let n = 1; n < 10; n += 1) ctl.packetIn(c, 2n, 1, arp(n), n);
  assert.equal(c.hosts.byMac.size, 9);
  assert.equal(c.view, view);
  assert.deepEqual([...c.view.hypervisors], [2n]);
});

test('first hosts on many switches only mark the view stale; the next read rebuilds it once with all of them, and a path right after is computed in it', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  for (const d of [1n, 2n, 3n]) ctl.switchUp(c, d, ports(Number(d)), 0);
  const before = c.view;
  assert.equal(c.viewStale, false, 'read: rebuilt');
  ctl.packetIn(c, 1n, 1, arp(1), 1);
  ctl.packetIn(c, 2n, 1, arp(2), 2);
  ctl.packetIn(c, 3n, 1, arp(3), 3);
  ctl.packetIn(c, 1n, 2, arp(4), 4);
  assert.equal(c.viewStale, true, 'three switches got their first host: not rebuilt yet');
  // a unicast frame between two hosts of s1: routing reads the view, which is rebuilt first
  const r = ctl.packetIn(c, 1n, 2, buildArpReply({ senderMac: '0a:00:00:00:00:04', senderIp: '10.0.0.4', targetMac: '0a:00:00:00:00:01', targetIp: '10.0.0.1' }), 5);
  assert.equal(c.viewStale, false, 'routing read the view');
  assert.notEqual(c.view, before);
  assert.deepEqual(new Set(c.view.hypervisors), new Set([1n, 2n, 3n]));
  const path = c.routing.paths.get('0a:00:00:00:00:04>0a:00:00:00:00:01');
  assert.ok(path !== undefined, 'the path of the frame was installed');
  assert.equal(path.computedIn, c.view, 'computed in the rebuilt view');
  assert.ok(r.commands.some((cmd) => cmd.kind === 'flow-add' && cmd.dpid === 1n), 'its rule went to s1');
});

test('paths are the wanted directions that have a path: counted, read and walked from the one table; a removed path leaves its direction wanted, a rule gone idle takes both', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  ctl.switchUp(c, 1n, ports(1), 0);
  for (let n = 1; n <= 3; n += 1) ctl.packetIn(c, 1n, n, arp(n), n);
  const mac = (n: number): string => `0a:00:00:00:00:0${n}`;
  const unicast = (from: number, to: number): Uint8Array => buildArpReply({ senderMac: mac(from), senderIp: `10.0.0.${from}`, targetMac: mac(to), targetIp: `10.0.0.${to}` });
  ctl.packetIn(c, 1n, 1, unicast(1, 2), 10);
  ctl.packetIn(c, 1n, 1, unicast(1, 3), 11);
  const r = c.routing;
  assert.equal(r.paths.size, 4, 'both directions of two pairs');
  assert.equal(r.wanted.size, 4);
  assert.deepEqual([...r.paths.keys()], [...r.wanted.keys()]);
  const p12 = r.paths.get(`${mac(1)}>${mac(2)}`);
  assert.ok(p12 !== undefined, 'the path 1>2 is read by its key');
  assert.equal(r.wanted.get(p12.key), p12, 'the wanted entry is the path itself');
  // a switch refuses the rule: the path goes, the direction stays wanted with its ends only
  ctl.flowRejected(c, 1n, p12.cookie, 'table full', 20);
  assert.equal(r.paths.size, 3);
  assert.equal(r.paths.get(p12.key), undefined, 'no path while refused');
  assert.equal(r.paths.has(p12.key), false);
  assert.deepEqual(r.wanted.get(p12.key), { src: mac(1), dst: mac(2) }, 'still wanted, without the old path');
  assert.deepEqual([...r.paths.values()].map((p) => p.key).sort(), [...r.wanted.keys()].filter((k) => k !== p12.key).sort(), 'walking paths skips it');
  let walked = 0;
  r.paths.forEach((p, k) => {
    assert.equal(p.key, k, 'forEach gives each path with its own key');
    walked += 1;
  });
  assert.equal(walked, 3);
  // an idle rule removed: its path and its direction go
  const p13 = r.paths.get(`${mac(1)}>${mac(3)}`)!;
  ctl.flowRemoved(c, p13.cookie);
  assert.equal(r.paths.size, 2);
  assert.equal(r.wanted.has(p13.key), false, 'no longer wanted');
});

test('paths between the same two ports in one view share one route (hops and links); a new view computes it again', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  ctl.switchUp(c, 1n, ports(1), 0);
  const mac = (n: number): string => `0a:00:00:00:00:0${n}`;
  const unicast = (from: number, to: number): Uint8Array => buildArpReply({ senderMac: mac(from), senderIp: `10.0.0.${from}`, targetMac: mac(to), targetIp: `10.0.0.${to}` });
  ctl.packetIn(c, 1n, 2, arp(3), 1); // b on port 2
  ctl.packetIn(c, 1n, 1, unicast(1, 3), 2); // a1 on port 1
  ctl.packetIn(c, 1n, 1, unicast(2, 3), 3); // a2 on port 1 too
  const a1b = c.routing.paths.get(`${mac(1)}>${mac(3)}`)!;
  const a2b = c.routing.paths.get(`${mac(2)}>${mac(3)}`)!;
  const ba1 = c.routing.paths.get(`${mac(3)}>${mac(1)}`)!;
  assert.deepEqual(a1b.hops, [{ dpid: 1n, inPort: 1, outPort: 2 }]);
  assert.equal(a2b.hops, a1b.hops, 'one hops array for both paths from port 1 to port 2');
  assert.equal(a2b.links, a1b.links);
  assert.deepEqual(ba1.hops, [{ dpid: 1n, inPort: 2, outPort: 1 }], 'the other direction is its own route');
  assert.notEqual(a1b.cookie, a2b.cookie, 'still two paths, each with its own cookie');
  ctl.switchUp(c, 2n, ports(2), 4);
  ctl.packetIn(c, 1n, 1, unicast(4, 3), 5); // a4 on port 1, after the view changed
  const a4b = c.routing.paths.get(`${mac(4)}>${mac(3)}`)!;
  assert.equal(a4b.computedIn, c.view);
  assert.notEqual(a4b.hops, a1b.hops, 'computed again in the new view');
  assert.deepEqual(a4b.hops, a1b.hops);
  assert.equal(c.routing.routes.view, c.view);
  assert.equal(c.routing.routes.size, 2, 'the routes of the old view are gone: port 1 to 2 and back, of the new view');
  // at its bound the cache starts again empty instead of growing
  c.routing.routes.size = ROUTE_CACHE_MAX;
  ctl.packetIn(c, 1n, 3, unicast(5, 3), 6); // a5 on port 3
  assert.equal(c.routing.routes.size, 2, 'emptied at ROUTE_CACHE_MAX, then the two new routes');
  assert.deepEqual(c.routing.paths.get(`${mac(5)}>${mac(3)}`)?.hops, [{ dpid: 1n, inPort: 3, outPort: 2 }]);
});

test('hosts with no route between them (a partitioned fabric) leave nothing in the route cache', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  ctl.switchUp(c, 1n, ports(1), 0);
  ctl.switchUp(c, 2n, ports(2), 0);
  const mac = (n: number): string => `0a:00:00:00:00:0${n}`;
  const unicast = (from: number, to: number): Uint8Array => buildArpReply({ senderMac: mac(from), senderIp: `10.0.0.${from}`, targetMac: mac(to), targetIp: `10.0.0.${to}` });
  ctl.packetIn(c, 2n, 2, arp(3), 1); // b on switch 2, no link to switch 1
  ctl.packetIn(c, 1n, 1, unicast(1, 3), 2); // a on switch 1 sends to b
  assert.equal(c.routing.paths.get(`${mac(1)}>${mac(3)}`), undefined, 'no path without a route');
  assert.equal(c.routing.routes.size, 0, 'no route cached');
  assert.equal(c.routing.routes.byEnds.size, 0, 'and no empty inner maps left behind');
});
