import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { buildEthernet, encodeIpv4, encodeUdp, ETHERTYPE, IP_PROTOCOL } from '../packet/index.ts';
import * as ctl from './controller.ts';
import { connectAll, harnessFromModel } from './fabric-harness.ts';
import { isPath, pairKey, WantedTable, type WantedDirection } from './routing.ts';
import type { PortRef } from './commands.ts';

/** mulberry32: a small seeded generator, so a failing sequence can be replayed from its seed */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

test('WantedTable: a walk yields the directions wanted when it began, whatever the walker changes meanwhile (a snapshot)', () => {
  const t = new WantedTable();
  const a = '02:00:00:00:00:0a';
  const dsts = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03'];
  for (const d of dsts) t.put({ src: a, dst: d });
  t.put({ src: '02:00:00:00:00:0b', dst: a });
  const before = [...t.keys()];
  assert.equal(before.length, 4, 'four directions wanted');
  const seen: string[] = [];
  for (const w of t.values()) {
    seen.push(pairKey(w.src, w.dst));
    if (seen.length === 1) {
      // inside source a's directions: one not yet reached goes, a new one comes
      assert.ok(t.remove(a, dsts[2]!), 'a>3 was wanted');
      t.put({ src: a, dst: '02:00:00:00:00:04' });
    }
  }
  assert.deepEqual(seen, before, 'the walk saw the table as it was at its start');
  assert.equal(t.size, 4, 'a>3 out, a>4 in');
  assert.ok(t.find(a, '02:00:00:00:00:04') !== undefined && t.find(a, dsts[2]!) === undefined, 'the changes themselves are in the table');
});

test('WantedTable: find, get, put, remove, size and iteration agree with a Map by `src>dst` over random operations', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const macs = Array.from({ length: 6 }, (_, i) => `02:00:00:00:00:0${i}`);
    const pick = (): string => macs[Math.floor(r() * macs.length)]!;
    const t = new WantedTable();
    const model = new Map<string, WantedDirection>();
    for (let step = 0; step < 400; step++) {
      const src = pick();
      const dst = pick();
      const k = pairKey(src, dst);
      if (r() < 0.6) {
        const w = { src, dst };
        t.put(w);
        model.set(k, w);
      } else {
        assert.equal(t.remove(src, dst), model.delete(k), `seed ${seed} step ${step}: remove ${k} says whether it was there`);
      }
      assert.equal(t.size, model.size, `seed ${seed} step ${step}: size`);
      assert.deepEqual(new Set(t.keys()), new Set(model.keys()), `seed ${seed} step ${step}: keys`);
      for (const a of macs) {
        for (const b of macs) {
          assert.equal(t.find(a, b), model.get(pairKey(a, b)), `seed ${seed} step ${step}: find ${a}>${b}`);
          assert.equal(t.get(pairKey(a, b)), model.get(pairKey(a, b)), `seed ${seed} step ${step}: get ${a}>${b}`);
        }
      }
      for (const [key, w] of t) assert.equal(key, pairKey(w.src, w.dst), `seed ${seed} step ${step}: entry key`);
    }
  }
});

test('WantedTable: a key without ">" names no direction', () => {
  const t = new WantedTable();
  t.put({ src: 'a', dst: 'b' });
  assert.equal(t.get('ab'), undefined);
  assert.equal(t.has('a>b'), true, 'the key pairKey makes is found');
});

/** A UDP datagram from `src` to `dst`, as a real frame (the controller refuses malformed IPv4). */
function ipFrame(src: string, dst: string, ip: { src: string; dst: string }): Uint8Array {
  const udp = encodeUdp({ srcPort: 4000, dstPort: 5000, checksum: 0, payload: new Uint8Array(18) }, ip);
  const packet = encodeIpv4({ dscp: 0, ecn: 0, identification: 1, reservedFlag: false, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTOCOL.UDP, ...ip, options: new Uint8Array(0), payload: udp });
  return buildEthernet({ src, dst }, ETHERTYPE.IPV4, packet);
}

/**
 * The routing tables after every step agree with each other and with a model of which directions
 * are wanted: a packet-in between two placed hosts (or a takeover's routePairs) wants both (one)
 * directions, a rule removed for idleness takes its direction out, nothing else does (a host gone,
 * a move, a view change, a refused path keep the direction, without its path).
 */
function checkTables(c: ctl.Controller, model: ReadonlySet<string>, where: string): void {
  const { wanted, paths, byId } = c.routing;
  const entries = [...wanted];
  assert.equal(wanted.size, entries.length, `${where}: wanted.size is its entries`);
  assert.deepEqual(new Set(entries.map(([k]) => k)), model, `${where}: the wanted directions are the model's`);
  let live = 0;
  for (const [k, w] of entries) {
    assert.equal(k, pairKey(w.src, w.dst), `${where}: ${k} is its direction's key`);
    assert.equal(wanted.find(w.src, w.dst), w, `${where}: ${k} found by its MACs`);
    assert.equal(wanted.get(k), w, `${where}: ${k} found by its key`);
    if (!isPath(w)) continue;
    live += 1;
    assert.equal(w.key, k, `${where}: path ${k} has its direction's key`);
    assert.equal(byId.get(w.id), w, `${where}: path ${k} is in byId`);
    assert.equal(paths.get(k), w, `${where}: path ${k} is in paths`);
    assert.equal(paths.find(w.src, w.dst), w, `${where}: path ${k} found in paths by its MACs`);
  }
  assert.equal(paths.size, live, `${where}: paths.size counts the live paths`);
  assert.equal(byId.size, live, `${where}: byId holds the live paths and no other`);
  assert.equal([...paths.values()].length, live, `${where}: paths iterates the live paths`);
}

test('random learn, move, port down, link down, packet-in, idle removal, refusal, retry, weights, takeover: wanted, paths and byId stay consistent', () => {
  const { model } = loadScenarioFile('paper');
  for (let seed = 1; seed <= 12; seed++) {
    const r = rng(seed);
    const h = harnessFromModel(model);
    connectAll(h);
    const c = h.controller;
    const vms = model.vms.map((v) => model.vmInfo.get(v)!);
    const placeOf = new Map<string, PortRef>(vms.map((v) => [v.mac, h.fabric.hosts.get(v.mac)!]));
    const hostPorts = [...new Set(placeOf.values())];
    const linkPorts = [...c.disc.links.values()].map((l) => l.link.a);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const expect = new Set<string>();
    let now = 10;
    for (let step = 0; step < 300; step++) {
      now += 1 + Math.floor(r() * 500);
      const x = r();
      const a = pick(vms);
      const b = pick(vms);
      let what: string;
      if (x < 0.45) {
        what = `packet-in ${a.mac} -> ${b.mac}`;
        const at = placeOf.get(a.mac)!;
        const routed = a.mac === b.mac || c.hosts.byMac.has(b.mac);
        ctl.packetIn(c, at.dpid, at.port, ipFrame(a.mac, b.mac, { src: a.ip, dst: b.ip }), now);
        if (routed) expect.add(pairKey(a.mac, b.mac)).add(pairKey(b.mac, a.mac));
      } else if (x < 0.55) {
        // a VM move, told by the agent or seen in a frame from its new port
        const to = pick(hostPorts);
        what = `move ${a.mac} to ${to.dpid}:${to.port}`;
        placeOf.set(a.mac, to);
        if (r() < 0.5) ctl.vmMoved(c, a.mac, to, now);
        else {
          const routed = a.mac === b.mac || c.hosts.byMac.has(b.mac);
          ctl.packetIn(c, to.dpid, to.port, ipFrame(a.mac, b.mac, { src: a.ip, dst: b.ip }), now);
          if (routed) expect.add(pairKey(a.mac, b.mac)).add(pairKey(b.mac, a.mac));
        }
      } else if (x < 0.6) {
        // a host port down (its hosts forgotten), and up again
        const p = pick(hostPorts);
        what = `host port ${p.dpid}:${p.port} down and up`;
        const info = { port: p.port, hwAddr: '02:ff:00:00:00:01', speedKbps: 0, name: `p${p.port}` };
        ctl.portStatus(c, p.dpid, { ...info, up: false }, false, now);
        ctl.portStatus(c, p.dpid, { ...info, up: true }, false, now);
      } else if (x < 0.63) {
        // a link down: a new view, paths through it replaced or (partitioned) removed
        const p = pick(linkPorts);
        what = `link port ${p.dpid}:${p.port} down`;
        ctl.portStatus(c, p.dpid, { port: p.port, hwAddr: '02:ff:00:00:00:02', up: false, speedKbps: 0, name: `p${p.port}` }, false, now);
      } else if (x < 0.73) {
        const live = [...c.routing.paths.values()];
        what = 'flow removed';
        if (live.length > 0) {
          const p = pick(live);
          what = `flow removed ${p.key}`;
          ctl.flowRemoved(c, p.cookie);
          expect.delete(p.key);
        }
      } else if (x < 0.8) {
        const live = [...c.routing.paths.values()];
        what = 'flow rejected';
        if (live.length > 0) {
          const p = pick(live);
          what = `flow rejected ${p.key}`;
          ctl.flowRejected(c, p.hops[0]!.dpid, p.cookie, 'TABLE_FULL', now);
        }
      } else if (x < 0.88) {
        what = 'tick (retries)';
        now += 5_000;
        ctl.tick(c, now);
      } else if (x < 0.92) {
        what = 'weights';
        ctl.setWeights(c, { layers: { 1: 1 + Math.floor(r() * 3), 2: 1 + Math.floor(r() * 3), 3: 3 } });
      } else {
        // a takeover: the previous leader's directions routed, its quiet hosts placed
        const pairs = [{ src: a.mac, dst: b.mac }];
        what = `routePairs ${a.mac} -> ${b.mac}`;
        if (r() < 0.5) {
          const to = pick(hostPorts);
          placeOf.set(b.mac, to);
          ctl.placeHosts(c, [{ mac: b.mac, at: to }], now);
          what += ` after placing ${b.mac}`;
        }
        const routed = a.mac !== b.mac && c.hosts.byMac.has(a.mac) && c.hosts.byMac.has(b.mac);
        ctl.routePairs(c, pairs, now);
        if (routed) expect.add(pairKey(a.mac, b.mac));
      }
      checkTables(c, expect, `seed ${seed} step ${step} (${what})`);
    }
    assert.ok(c.routing.paths.size > 0, `seed ${seed}: some paths live at the end`);
  }
});
