import { spawn } from 'node:child_process';
import { resolveTool } from '../../emulation/exec.ts';
import type { Connectivity } from './driver.ts';

/**
 * Peers' probes while a VM moves: `ping -D -i 0.01` from a peer's namespace, and what its output
 * says. Two views of one run:
 * - the longest run of lost probes × the interval (`blackoutMs`, the agent's `Connectivity`): what
 *   never came back;
 * - the longest wait: how long a probe waited until the peer heard back (its own answer or a
 *   later probe's), from ping -D's receive times and round trips. Probes held in a queue and
 *   answered late are not lost, yet the peer waited; this view counts that too.
 * (longestSilence, the time between consecutive answers, also counts stretches where a starved
 * ping sent nothing, so it is kept for a closer look only.)
 */
export const PROBE_MS = 10;

export interface ProbeReply {
  readonly seq: number;
  /** when the answer arrived, ms since the epoch (ping -D: the host's real-time clock) */
  readonly atMs: number;
  readonly rttMs: number;
}

export interface ProbeTimeline {
  readonly sent: number;
  readonly received: number;
  readonly intervalMs: number;
  /** first answer of each sequence number, in arrival order (duplicates left out) */
  readonly replies: readonly ProbeReply[];
}

/**
 * Reads `ping -n -D` output: `[1733450000.123456] 64 bytes from 10.0.0.1: icmp_seq=5 ttl=64
 * time=0.512 ms` per answer (`(DUP!)` for a duplicate) and the summary `N packets transmitted, M
 * received`. Pure.
 */
export function parsePing(text: string, intervalMs = PROBE_MS): ProbeTimeline {
  const replies: ProbeReply[] = [];
  const seen = new Set<number>();
  for (const m of text.matchAll(/^\[(\d+\.\d+)\][^\n]*?icmp_seq=(\d+)[^\n]*?time=([\d.]+) ms([^\n]*)$/gm)) {
    const seq = Number(m[2]);
    if (seen.has(seq) || m[4]!.includes('DUP')) continue;
    seen.add(seq);
    replies.push({ seq, atMs: Number(m[1]) * 1000, rttMs: Number(m[3]) });
  }
  const s = /(\d+) packets transmitted, (\d+) received/.exec(text);
  return { sent: Number(s?.[1] ?? 0), received: Number(s?.[2] ?? replies.length), intervalMs, replies };
}

/** The longest run of sequence numbers that never got an answer, × the interval, ms. Pure. */
export function longestLossMs(t: ProbeTimeline): number {
  const seqs = t.replies.map((r) => r.seq).sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < seqs.length; i++) gap = Math.max(gap, seqs[i]! - seqs[i - 1]! - 1);
  return gap * t.intervalMs;
}

/**
 * The longest time the peer heard nothing: between two consecutive answers, less one interval
 * (answers a probe interval apart are no silence), ms, with where it was. Pure.
 * @returns ms 0 and from = to = NaN with fewer than two answers
 */
export function longestSilence(t: ProbeTimeline): { readonly ms: number; readonly fromMs: number; readonly toMs: number } {
  let best = { ms: 0, fromMs: NaN, toMs: NaN };
  for (let i = 1; i < t.replies.length; i++) {
    const a = t.replies[i - 1]!.atMs;
    const b = t.replies[i]!.atMs;
    const ms = Math.max(0, b - a - t.intervalMs);
    if (ms > best.ms || Number.isNaN(best.fromMs)) best = { ms, fromMs: a, toMs: b };
  }
  return best;
}

/**
 * The longest a probe waited before the peer heard back (its own answer or any later probe's),
 * ms, and when it was sent. A lost probe's send time lies between its answered neighbours'
 * (recv − rtt), by sequence number. Unlike the silence between answers this does not count a
 * stretch where the peer sent nothing (its ping starved of CPU): only waiting for answers. Pure.
 * @returns ms 0 and sentAtMs NaN without answers
 */
export function longestWait(t: ProbeTimeline): { readonly ms: number; readonly sentAtMs: number; readonly answeredAtMs: number } {
  const answered = [...t.replies].sort((a, b) => a.seq - b.seq);
  const sends: Array<{ seq: number; at: number }> = [];
  answered.forEach((r, i) => {
    sends.push({ seq: r.seq, at: r.atMs - r.rttMs });
    const next = answered[i + 1];
    if (next === undefined) return;
    const a = r.atMs - r.rttMs;
    const b = next.atMs - next.rttMs;
    for (let q = r.seq + 1; q < next.seq; q++) sends.push({ seq: q, at: a + ((q - r.seq) * (b - a)) / (next.seq - r.seq) });
  });
  const answerAt = new Map(answered.map((r) => [r.seq, r.atMs]));
  let heard = Infinity;
  let best = { ms: 0, sentAtMs: NaN, answeredAtMs: NaN };
  for (let i = sends.length - 1; i >= 0; i--) {
    const s = sends[i]!;
    heard = Math.min(heard, answerAt.get(s.seq) ?? Infinity);
    const ms = heard - s.at;
    if (Number.isFinite(ms) && (ms > best.ms || Number.isNaN(best.sentAtMs))) best = { ms, sentAtMs: s.at, answeredAtMs: heard };
  }
  return best;
}

export function connectivityOf(t: ProbeTimeline): Connectivity {
  return { sent: t.sent, received: t.received, blackoutMs: longestLossMs(t) };
}

/** Pings `ip` from namespace `ns` every PROBE_MS until stopped; stop() gives the whole timeline. */
export function probeTimeline(ns: string, ip: string): { stop: () => Promise<ProbeTimeline> } {
  const child = spawn(resolveTool('ip'), ['netns', 'exec', ns, 'ping', '-n', '-D', '-i', String(PROBE_MS / 1000), '-W', '1', ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      return parsePing(text);
    },
  };
}

/** Pings `ip` from namespace `ns` every PROBE_MS until stopped: what a peer lost, and its longest run of losses. */
export function probe(ns: string, ip: string): { stop: () => Promise<Connectivity> } {
  const p = probeTimeline(ns, ip);
  return { stop: async () => connectivityOf(await p.stop()) };
}
