import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dpid, SwitchCommand } from '../controller/commands.ts';
import type { DataPlaneEvents, SwitchChannel } from './dataplane.ts';
import { virtualClock } from './clock.ts';
import { startRuntime } from './controller-runtime.ts';

/** n switches of 4 up ports each, recording what the runtime sends and which statistics it asks for */
function fakeSwitches(n: number, now: () => number = () => 0) {
  const sent: { dpid: Dpid; c: SwitchCommand }[] = [];
  /** port statistics requests: which switch, when (the clock's ms) */
  const asked: { dpid: Dpid; at: number }[] = [];
  const channels: SwitchChannel[] = Array.from({ length: n }, (_, i) => {
    const dpid = BigInt(i + 1);
    return {
      dpid,
      ports: [1, 2, 3, 4].map((port) => ({ port, hwAddr: `02:00:00:00:${(i + 1).toString(16).padStart(2, '0')}:0${port}`, up: true, speedKbps: 10_000_000, name: `s${i + 1}-p${port}` })),
      send: (cs) => cs.forEach((c) => sent.push({ dpid, c })),
      flowStats: () => Promise.resolve([]),
      portStats: () => {
        asked.push({ dpid, at: now() });
        return Promise.resolve([]);
      },
    };
  });
  let events: DataPlaneEvents | undefined;
  return {
    sent,
    asked,
    dataPlane: {
      start: (ev: DataPlaneEvents) => {
        events = ev;
        return Promise.resolve();
      },
      stop: () => Promise.resolve(),
    },
    connect: () => channels.forEach((ch) => events?.switchUp(ch)),
  };
}

const probesOf = (sent: { dpid: Dpid; c: SwitchCommand }[]): string[] =>
  sent.filter((s) => s.c.kind === 'packet-out').map((s) => (s.c.kind === 'packet-out' ? `${s.dpid}:${s.c.ports.join(',')}` : ''));

test('probeShares: the probes of a period go out in parts, each port of each switch probed once a period', async () => {
  const clock = virtualClock();
  const f = fakeSwitches(12);
  const rt = await startRuntime({ controller: { nonce: new Uint8Array(8) }, dataPlane: f.dataPlane, clock, pollMs: 3_600_000, probeMs: 1000, probeShares: 4 });
  f.connect();
  f.sent.length = 0;
  await clock.advance(250);
  const first = probesOf(f.sent);
  assert.ok(first.length > 0 && first.length < 48, `a part, not all 48 ports at once (${first.length})`);
  await clock.advance(750);
  const period = probesOf(f.sent).sort();
  assert.equal(period.length, 48);
  assert.equal(new Set(period).size, 48, 'each port once');
  f.sent.length = 0;
  await clock.advance(1000);
  assert.deepEqual(probesOf(f.sent).sort(), period, 'and again the next period');
  await rt.stop();
});

test('probeShares default: every port probed at once, once a period', async () => {
  const clock = virtualClock();
  const f = fakeSwitches(3);
  const rt = await startRuntime({ controller: { nonce: new Uint8Array(8) }, dataPlane: f.dataPlane, clock, pollMs: 3_600_000, probeMs: 1000 });
  f.connect();
  f.sent.length = 0;
  await clock.advance(999);
  assert.equal(probesOf(f.sent).length, 0);
  await clock.advance(1);
  assert.equal(probesOf(f.sent).length, 12);
  await rt.stop();
});

test('pollShares: a statistics round asks its switches in parts over the first half of the period, each once', async () => {
  const clock = virtualClock();
  const f = fakeSwitches(8, () => clock.now());
  const rt = await startRuntime({ controller: { nonce: new Uint8Array(8) }, dataPlane: f.dataPlane, clock, pollMs: 1000, probeMs: 3_600_000, pollShares: 4 });
  f.connect();
  await clock.advance(1000);
  const atStart = f.asked.filter((a) => a.at === 1000).map((a) => a.dpid);
  assert.deepEqual(atStart, [1n, 5n], `the first part only, when the round starts (asked: ${JSON.stringify(f.asked.map((a) => [String(a.dpid), a.at]))})`);
  assert.equal(rt.stats.polls, 0, 'the round is not over after its first part');
  await clock.advance(500);
  const round = f.asked.map((a) => a.dpid).sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(round, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n], 'every switch asked once in the round');
  assert.deepEqual([...new Set(f.asked.map((a) => a.at))], [1000, 1125, 1250, 1375], 'four parts, 125 ms apart: the first half of the period');
  assert.equal(rt.stats.polls, 1, 'one round over');
  f.asked.length = 0;
  await clock.advance(500);
  assert.equal(f.asked.length, 2, 'the next round starts a period later, in parts again');
  await rt.stop();
});

test('pollShares default: every switch asked at once', async () => {
  const clock = virtualClock();
  const f = fakeSwitches(5, () => clock.now());
  const rt = await startRuntime({ controller: { nonce: new Uint8Array(8) }, dataPlane: f.dataPlane, clock, pollMs: 1000, probeMs: 3_600_000 });
  f.connect();
  await clock.advance(1000);
  assert.deepEqual(f.asked.map((a) => a.at), [1000, 1000, 1000, 1000, 1000]);
  await rt.stop();
});

test('probeShares on a late event loop: the shares follow the clock (overdue ones at once), so a probe cycle still covers every port in its period', async () => {
  const vc = virtualClock();
  // a loaded loop: every timer fires three of its periods late
  const clock = { ...vc, every: (ms: number, fn: () => void) => vc.every(ms * 3, fn) };
  const f = fakeSwitches(12);
  const rt = await startRuntime({ controller: { nonce: new Uint8Array(8) }, dataPlane: f.dataPlane, clock, pollMs: 3_600_000, probeMs: 1000, probeShares: 4 });
  f.connect();
  f.sent.length = 0;
  await vc.advance(1500);
  const probed = new Set(probesOf(f.sent));
  assert.equal(probed.size, 48, `every port probed within a period and a half of a late loop (${probed.size} of 48)`);
  await rt.stop();
});

test('pollShares: a round sleeping between its parts asks nobody and reports nothing after stop()', async () => {
  const clock = virtualClock();
  const f = fakeSwitches(8, () => clock.now());
  let polled = 0;
  const rt = await startRuntime({ controller: { nonce: new Uint8Array(8) }, dataPlane: f.dataPlane, clock, pollMs: 1000, probeMs: 3_600_000, pollShares: 4, onPoll: () => polled++ });
  f.connect();
  await clock.advance(1100);
  assert.equal(f.asked.length, 2, 'the first part was asked');
  await rt.stop();
  await clock.advance(2000);
  assert.equal(f.asked.length, 2, `no part after stop (asked at ${f.asked.map((a) => a.at).join(', ')})`);
  assert.equal(polled, 0, 'no onPoll after stop');
  assert.equal(rt.stats.polls, 0);
});
