import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectivityOf, longestLossMs, longestSilence, longestWait, parsePing } from './probe.ts';

const out = (lines: string[]): string => `PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n${lines.join('\n')}\n\n--- 10.0.0.1 ping statistics ---\n9 packets transmitted, 6 received, 33.3333% packet loss, time 80ms\n`;
const reply = (t: number, seq: number, extra = ''): string => `[${t.toFixed(6)}] 64 bytes from 10.0.0.1: icmp_seq=${seq} ttl=64 time=0.4${seq} ms${extra}`;

test('parsePing reads receive times, sequence numbers and the summary; a duplicate counts once', () => {
  const t = parsePing(out([reply(1000.0, 1), reply(1000.01, 2), reply(1000.01, 2, ' (DUP!)'), reply(1000.02, 3), reply(1000.08, 7), reply(1000.09, 8), reply(1000.1, 9)]));
  assert.equal(t.sent, 9);
  assert.equal(t.received, 6);
  assert.deepEqual(t.replies.map((r) => r.seq), [1, 2, 3, 7, 8, 9]);
  assert.equal(t.replies[0]!.atMs, 1_000_000);
  assert.equal(t.replies[1]!.rttMs, 0.42);
});

test('losses: the longest run of unanswered sequence numbers × the interval', () => {
  const t = parsePing(out([reply(1000.0, 1), reply(1000.01, 2), reply(1000.02, 3), reply(1000.08, 7), reply(1000.09, 8), reply(1000.1, 9)]));
  assert.equal(longestLossMs(t), 30);
  assert.deepEqual(connectivityOf(t), { sent: 9, received: 6, blackoutMs: 30 });
});

test('silence: answers that came late and in a burst lose nothing, but the peer heard nothing meanwhile', () => {
  // seq 4-6 were held (a queue) and answered together with 7: no loss, 50 ms of silence
  const t = parsePing(out([reply(1000.0, 1), reply(1000.01, 2), reply(1000.02, 3), reply(1000.08, 4), reply(1000.08, 5), reply(1000.081, 6), reply(1000.082, 7)]));
  assert.equal(longestLossMs(t), 0);
  const s = longestSilence(t);
  assert.ok(Math.abs(s.ms - 50) < 1e-6, `silence ${s.ms}`);
  assert.equal(s.fromMs, 1_000_020);
  assert.equal(s.toMs, 1_000_080);
});

test('silence of a steady stream is 0; fewer than two answers give 0 and no place', () => {
  assert.equal(longestSilence(parsePing(out([reply(1, 1), reply(1.01, 2), reply(1.02, 3)]))).ms, 0);
  const none = longestSilence(parsePing(out([reply(1, 1)])));
  assert.equal(none.ms, 0);
  assert.ok(Number.isNaN(none.fromMs), 'Number.isNaN(none.fromMs)');
});

test('wait: a queued probe waits until its late answer; lost ones until the next answer; a ping that sent nothing waits for nothing', () => {
  // seq 4 lost, 5 and 6 held and answered at 1000.10; seq 7 answered promptly
  const late = parsePing(out([reply(1000.0, 1), reply(1000.01, 2), reply(1000.02, 3).replace('time=0.43', 'time=1'), `[1000.100000] 64 bytes from 10.0.0.1: icmp_seq=5 ttl=64 time=50 ms`, `[1000.100000] 64 bytes from 10.0.0.1: icmp_seq=6 ttl=64 time=40 ms`, `[1000.101000] 64 bytes from 10.0.0.1: icmp_seq=7 ttl=64 time=1 ms`]));
  const w = longestWait(late);
  // seq 4 was sent between seq 3 (1000.019) and seq 5 (1000.050): at 1000.0345, heard at 1000.100
  assert.ok(Math.abs(w.ms - 65.5) < 0.01, `wait ${w.ms}`);
  assert.ok(Math.abs(w.answeredAtMs - 1_000_100) < 1e-6, 'Math.abs(w.answeredAtMs - 1_000_100) < 1e-6');
  // 185 ms with nothing sent (a starved ping), every probe answered at once: silence, no wait
  const starved = parsePing(out([reply(1000.0, 1), `[1000.186000] 64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=1 ms`]));
  assert.ok(longestSilence(starved).ms > 170, 'longestSilence(starved).ms > 170');
  assert.ok(longestWait(starved).ms < 1.1, `wait ${longestWait(starved).ms}`);
  assert.ok(Number.isNaN(longestWait(parsePing(out([]))).sentAtMs), 'Number.isNaN(longestWait(parsePing(out([]))).sentAtMs)');
});
