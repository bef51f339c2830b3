import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OFPET, OFPFMFC } from '../constants.ts';
import type { SwitchCommand } from '../../controller/commands.ts';
import { FakeSwitch, startPlane, until } from './fake-switch.testing.ts';

/*
 * Issue 10, item 5 at the wire: a FLOW_MOD the switch refuses is reported with its cookie (the
 * ERROR answers the FLOW_MOD's xid), and the barrier behind the batch confirms the others.
 */

const T = { timeout: 20_000 };

function add(dpid: bigint, cookie: bigint, ethDst: string): SwitchCommand {
  return { kind: 'flow-add', dpid, rule: { priority: 100, match: { inPort: 1, ethSrc: '00:00:00:00:00:01', ethDst }, actions: [{ type: 'output', port: 2 }], cookie, idleTimeout: 60, hardTimeout: 0 } };
}

test('a refused FLOW_MOD becomes flowRejected(cookie, "FLOW_MOD_FAILED/TABLE_FULL"); the barrier reply confirms the rest', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x10n);
  try {
    const ch = await tp.channel(0x10n);
    ch.send([add(0x10n, 0x5c01n, '00:00:00:00:00:02'), add(0x10n, 0x5c02n, '00:00:00:00:00:03'), add(0x10n, 0x5c03n, '00:00:00:00:00:04')]);
    const mods = [await sw.next('FLOW_MOD'), await sw.next('FLOW_MOD'), await sw.next('FLOW_MOD')];
    const barrier = await sw.next('BARRIER_REQUEST');
    // the table is full at the second rule: OVS answers that FLOW_MOD's xid, then the barrier
    const refused = mods.find((m) => m.cookie === 0x5c02n)!;
    sw.send({ type: 'ERROR', xid: refused.xid, errType: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.TABLE_FULL, data: new Uint8Array(0) });
    sw.send({ type: 'BARRIER_REPLY', xid: barrier.xid });
    const accepted = await until(() => tp.events.find((e) => e.type === 'flows-accepted'), 'flows-accepted');
    const rejected = tp.events.filter((e) => e.type === 'flow-rejected');
    assert.deepEqual(rejected.map((e) => (e.type === 'flow-rejected' ? [e.dpid, e.cookie, e.error] : [])), [[0x10n, 0x5c02n, 'FLOW_MOD_FAILED/TABLE_FULL']]);
    assert.ok(accepted.type === 'flows-accepted', 'accepted.type === \'flows-accepted\'');
    assert.deepEqual([...accepted.cookies].sort(), [0x5c01n, 0x5c03n]);
    // a batch of packet-outs only needs no barrier
    ch.send([{ kind: 'packet-out', dpid: 0x10n, ports: [1], frame: new Uint8Array(60) }]);
    await sw.next('PACKET_OUT');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sw.inbox.filter((m) => m.type === 'BARRIER_REQUEST').length, 0);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('an ERROR for another message (not a flow-add of ours) rejects no path', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x11n);
  try {
    const ch = await tp.channel(0x11n);
    ch.send([{ kind: 'flow-delete', dpid: 0x11n, cookie: 0x5c00n, cookieMask: 0xff00n }]);
    const del = await sw.next('FLOW_MOD');
    sw.send({ type: 'ERROR', xid: del.xid, errType: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.UNKNOWN, data: new Uint8Array(0) });
    sw.send({ type: 'ERROR', xid: 0, errType: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.TABLE_FULL, data: new Uint8Array(0) });
    await until(() => tp.logs.some((l) => l.includes('FLOW_MOD_FAILED')), 'the error logged');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(tp.events.filter((e) => e.type === 'flow-rejected').length, 0);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('flow-adds sent in one turn share one barrier; flow-adds sent after it went out wait for the next one', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x12n);
  try {
    const ch = await tp.channel(0x12n);
    // two answers in the same turn (as for two packet-ins of one TCP chunk)
    ch.send([add(0x12n, 0x5d01n, '00:00:00:00:00:02')]);
    ch.send([add(0x12n, 0x5d02n, '00:00:00:00:00:03'), { kind: 'packet-out', dpid: 0x12n, ports: [1], frame: new Uint8Array(60) }]);
    await sw.next('FLOW_MOD');
    await sw.next('FLOW_MOD');
    const first = await sw.next('BARRIER_REQUEST');
    // sent after the first barrier left: the first barrier's reply must not confirm it
    ch.send([add(0x12n, 0x5d03n, '00:00:00:00:00:04')]);
    await sw.next('FLOW_MOD');
    const second = await sw.next('BARRIER_REQUEST');
    assert.notEqual(first.xid, second.xid);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sw.inbox.filter((m) => m.type === 'BARRIER_REQUEST').length, 0, 'two barriers in all');
    sw.send({ type: 'BARRIER_REPLY', xid: first.xid });
    const one = await until(() => tp.events.find((e) => e.type === 'flows-accepted'), 'first flows-accepted');
    assert.ok(one.type === 'flows-accepted', 'one.type === \'flows-accepted\'');
    assert.deepEqual([...one.cookies].sort(), [0x5d01n, 0x5d02n]);
    sw.send({ type: 'BARRIER_REPLY', xid: second.xid });
    const two = await until(() => tp.events.filter((e) => e.type === 'flows-accepted')[1], 'second flows-accepted');
    assert.ok(two.type === 'flows-accepted', 'two.type === \'flows-accepted\'');
    assert.deepEqual([...two.cookies], [0x5d03n]);
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a barrier that times out twice on a connected switch: its flow-adds are handled as refused, not left pending for good; a second barrier reply confirms them; a closed connection rejects none', T, async () => {
  const tp = await startPlane({ requestTimeoutMs: 200, echoIntervalMs: 60_000 });
  const sw = await FakeSwitch.up(tp.port, 0x13n);
  try {
    const ch = await tp.channel(0x13n);
    ch.send([add(0x13n, 0x5e01n, '00:00:00:00:00:02'), add(0x13n, 0x5e02n, '00:00:00:00:00:03')]);
    await sw.next('FLOW_MOD');
    await sw.next('FLOW_MOD');
    await sw.next('BARRIER_REQUEST');
    // a busy switch: no barrier reply within the request timeout
    const rejected = await until(() => {
      const r = tp.events.filter((e) => e.type === 'flow-rejected');
      return r.length >= 2 ? r : undefined;
    }, 'both flow-adds rejected');
    assert.deepEqual(rejected.map((e) => (e.type === 'flow-rejected' ? e.cookie : 0n)).sort(), [0x5e01n, 0x5e02n]);
    assert.ok(rejected.every((e) => e.type === 'flow-rejected' && /no barrier reply/.test(e.error)), 'the reason says so');
    assert.equal(tp.events.filter((e) => e.type === 'flows-accepted').length, 0, 'nothing confirmed');
    assert.equal(sw.inbox.filter((m) => m.type === 'BARRIER_REQUEST').length, 1, 'a second barrier was tried first');
    sw.inbox.length = 0;
    // the first barrier's reply lost, the second one's comes: confirmed, nothing refused
    ch.send([add(0x13n, 0x5e04n, '00:00:00:00:00:05')]);
    await sw.next('FLOW_MOD');
    await sw.next('BARRIER_REQUEST');
    const again = await sw.next('BARRIER_REQUEST', 3000);
    sw.send({ type: 'BARRIER_REPLY', xid: again.xid });
    const ok = await until(() => tp.events.find((e) => e.type === 'flows-accepted'), 'confirmed by the second barrier');
    assert.ok(ok.type === 'flows-accepted' && ok.cookies.includes(0x5e04n), 'ok.type === \'flows-accepted\' && ok.cookies.includes(0x5e04n)');
    assert.equal(tp.events.filter((e) => e.type === 'flow-rejected').length, 2, 'no new rejection');
    // now the switch goes away with a barrier outstanding: no rejection (switch-down handles it)
    ch.send([add(0x13n, 0x5e03n, '00:00:00:00:00:04')]);
    await sw.next('FLOW_MOD');
    await sw.next('BARRIER_REQUEST');
    sw.close();
    await until(() => tp.events.find((e) => e.type === 'down'), 'switch down');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tp.events.filter((e) => e.type === 'flow-rejected').length, 2, 'no rejection for a switch that went away');
  } finally {
    sw.close();
    await tp.stop();
  }
});
