import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArpRequest } from '../packet/index.ts';
import { portKey } from './commands.ts';
import * as ctl from './controller.ts';
import type { SwitchPortInfo } from './discovery.ts';
import { type EdgePorts, createFloodState, expireFloods, flood, isEcho } from './flood.ts';
import { edgePorts } from './routing.ts';

const ports = (dpid: number, up = true): SwitchPortInfo[] =>
  [1, 2, 3].map((port) => ({ port, hwAddr: `02:00:00:00:${dpid.toString(16).padStart(2, '0')}:0${port}`, up, speedKbps: 0, name: `p${port}` }));
let n = 0;
/** a broadcast from a new sender on s1 port 1: flooded to every other edge port */
const broadcast = (c: ctl.Controller, now: number): Map<bigint, readonly number[]> => {
  n += 1;
  const frame = buildArpRequest({ senderMac: `0a:00:00:00:01:${n.toString(16).padStart(2, '0')}`, senderIp: `10.0.1.${n}`, targetIp: '10.0.9.9' });
  const out = new Map<bigint, readonly number[]>();
  for (const cmd of ctl.packetIn(c, 1n, 1, frame, now).commands) if (cmd.kind === 'packet-out') out.set(cmd.dpid, [...cmd.ports].sort());
  return out;
};

test('floods follow the edge ports as they change: a port down, a switch up or down (the per-version cache is never stale)', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  ctl.switchUp(c, 1n, ports(1), 0);
  ctl.switchUp(c, 2n, ports(2), 0);
  assert.deepEqual(broadcast(c, 10), new Map([[1n, [2, 3]], [2n, [1, 2, 3]]]));
  ctl.portStatus(c, 2n, { ...ports(2)[1]!, up: false }, false, 20);
  assert.deepEqual(broadcast(c, 30), new Map([[1n, [2, 3]], [2n, [1, 3]]]), 's2 port 2 is down');
  ctl.switchUp(c, 3n, ports(3), 40);
  assert.deepEqual(broadcast(c, 50), new Map([[1n, [2, 3]], [2n, [1, 3]], [3n, [1, 2, 3]]]), 's3 came up');
  ctl.switchDown(c, 2n, 60);
  assert.deepEqual(broadcast(c, 70), new Map([[1n, [2, 3]], [3n, [1, 2, 3]]]), 's2 went away');
});

test('edge ports are computed once per change of the switches or links, and shared by switches with the same list', () => {
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  ctl.switchUp(c, 1n, ports(1), 0);
  ctl.switchUp(c, 2n, ports(2), 0);
  const routingCtx = { view: c.view, disc: c.disc, hosts: c.hosts, now: 0 };
  const first = edgePorts(c.routing, routingCtx);
  assert.equal(edgePorts(c.routing, routingCtx), first, 'nothing changed: the same result');
  assert.equal(first.perSwitch.get(1n), first.perSwitch.get(2n), 'one array for the same list');
  assert.equal(first.keys.size, 6);
  ctl.portStatus(c, 1n, { ...ports(1)[0]!, up: false }, false, 10);
  const after = edgePorts(c.routing, routingCtx);
  assert.notEqual(after, first, 'a port went down: computed again');
  assert.deepEqual(after.perSwitch.get(1n), [2, 3]);
});

test('echo detection hashes only frames of a length flooded in the window, and forgets the lengths with the floods', () => {
  const s = createFloodState(1_000);
  const edges: EdgePorts = { from: {}, version: 1, perSwitch: new Map([[1n, [1, 2]], [2n, [1, 2]]]), keys: new Set(['1:1', '1:2', '2:1', '2:2'].map((k) => portKey({ dpid: BigInt(k[0]!), port: Number(k[2]) }))) };
  const a = new Uint8Array(42).fill(7);
  flood(s, edges, { dpid: 1n, port: 1 }, a, 0);
  flood(s, edges, { dpid: 1n, port: 1 }, a, 10); // a retransmission: the same entry
  assert.deepEqual([...s.lengths], [[42, 1]], 'one flooded frame of 42 bytes');
  assert.equal(isEcho(s, a, { dpid: 2n, port: 2 }, 20), true, 'our copy back at another edge port');
  assert.equal(isEcho(s, a, { dpid: 1n, port: 1 }, 20), false, 'the sender at its own port');
  assert.equal(isEcho(s, new Uint8Array(60).fill(7), { dpid: 2n, port: 2 }, 20), false, 'another length: not ours');
  assert.equal(isEcho(s, new Uint8Array(42).fill(8), { dpid: 2n, port: 2 }, 20), false, 'same length, other bytes: not ours');
  const b = new Uint8Array(42).fill(9);
  flood(s, edges, { dpid: 2n, port: 1 }, b, 500);
  assert.deepEqual([...s.lengths], [[42, 2]], 'two frames of 42 bytes');
  expireFloods(s, 1_200);
  assert.deepEqual([...s.lengths], [[42, 1]], 'the first one expired');
  assert.equal(isEcho(s, b, { dpid: 1n, port: 2 }, 1_200), true, 'the second still detected');
  expireFloods(s, 2_000);
  assert.equal(s.recent.size, 0, 'all expired');
  assert.equal(s.lengths.size, 0, 'no lengths left');
});
