/**
 * The controller's pure core under cbench's new-flow load, in process (no sockets, no OpenFlow
 * encoding): what a new path and a new host cost in CPU and in heap, for this checkout and,
 * alternating in the same process, for others (`--baseline DIR`, e.g. a `git worktree` of main).
 *
 * The load is cbench-gen.c's: SWITCHES switches of 4 ports, each announcing a destination host
 * 02:ss:ss:ff:ff:ff on port 1 (an IPv4/UDP frame to broadcast), then packet-ins of 64-byte
 * IPv4/UDP frames from MACS fresh sources 02:ss:ss:nn:nn:nn per switch on ports 2-4, round-robin
 * over the switches: every packet-in is a new host and two new paths (forward and backward) until
 * each switch has sent MACS. Every 32 packet-ins the switches accept the rules sent (flowsAccepted,
 * as the runtime does on a BARRIER_REPLY), so the install tracker drains as in a live run.
 *
 * Per variant and round: CPU time (process.cpuUsage, user + system) of the packet-ins alone, as
 * packet-ins per CPU-second; the same for the same packet-ins sent again once all are in
 * (`knownPerCpuSecond`: hosts known, paths in place, cbench's steady state); time in GC over both
 * passes (PerformanceObserver 'gc' entries); and the heap after a full collection (node --expose-gc) with the controller alive, less the heap before it was made:
 * bytes per path. JSON on stdout.
 *
 *   node [--expose-gc] --import tsx bench/path-core.bench.ts [--switches 256] [--macs 1000]
 *     [--rounds 5] [--baseline DIR[,DIR2]]
 * Run it pinned and alone (flock /tmp/score-bench.lock taskset -c 1 ...): it is a timed measurement.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { frame as cbenchFrame, mac } from './cbench/generator.ts';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : def;
};
const SWITCHES = Number(arg('switches', '256'));
const MACS = Number(arg('macs', '1000'));
const ROUNDS = Number(arg('rounds', '5'));
const ROOTS = [resolve(new URL('..', import.meta.url).pathname), ...arg('baseline', '').split(',').filter((d) => d !== '').map((d) => resolve(d))];

type Ctl = typeof import('../src/controller/controller.ts');
interface Port { port: number; hwAddr: string; up: boolean; speedKbps: number; name: string }

// `npm run bench` starts every bench without --expose-gc: the flag can be set now, and a new
// context then has the gc function
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

/** cbench-gen.c's frame() (the Node generator's): Ethernet + IPv4 (checksummed) + UDP, 64 bytes */
function frame(sw: number, srcN: number, dstMac: 'host' | 'broadcast', srcIp: number, dstIp: number): Uint8Array {
  const dst = dstMac === 'broadcast' ? new Uint8Array(6).fill(0xff) : mac(sw, 0xffffff);
  return cbenchFrame(mac(sw, srcN), dst, 0, srcIp, dstIp);
}

const ports = (sw: number): Port[] =>
  [1, 2, 3, 4].map((port) => ({ port, hwAddr: `02:ff:${(sw >> 8).toString(16).padStart(2, '0')}:${(sw & 0xff).toString(16).padStart(2, '0')}:00:0${port}`, up: true, speedKbps: 0, name: `p${port}` }));

interface Sample { root: string; round: number; packetIns: number; paths: number; hosts: number; cpuMs: number; perCpuSecond: number; knownPerCpuSecond: number; gcMs: number; heapPerPathBytes: number; heapMiB: number }

async function once(ctl: Ctl, root: string, round: number): Promise<Sample> {
  gc();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  let now = 1;
  const c = ctl.createController({ nonce: new Uint8Array(8) });
  for (let s = 1; s <= SWITCHES; s++) ctl.switchUp(c, BigInt(s), ports(s), now);
  for (let s = 1; s <= SWITCHES; s++) ctl.packetIn(c, BigInt(s), 1, frame(s, 0xffffff, 'broadcast', 0x0a000000 | s, 0x0a0000ff), now);
  const templates = Array.from({ length: SWITCHES }, (_, i) => frame(i + 1, 0, 'host', 0x0b000000, 0x0a000000 | (i + 1)));
  const accepted = new Map<bigint, bigint[]>();
  const total = SWITCHES * MACS;
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  /** packet-in i: switch s, source n of it, a fresh copy of the frame (as the OpenFlow decoder hands the core a view of a new chunk) */
  const packetIn = (i: number): ReturnType<Ctl['packetIn']> => {
    const s = (i % SWITCHES) + 1;
    const n = Math.floor(i / SWITCHES);
    const f = templates[s - 1]!.slice();
    f[9] = (n >> 16) & 0xff;
    f[10] = (n >> 8) & 0xff;
    f[11] = n & 0xff;
    new DataView(f.buffer).setUint32(26, 0x0b000000 | n);
    if (i % 1000 === 0) now += 1;
    return ctl.packetIn(c, BigInt(s), 2 + (n % 3), f, now);
  };
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < total; i++) {
    const r = packetIn(i);
    for (const cmd of r.commands) {
      if (cmd.kind !== 'flow-add') continue;
      let list = accepted.get(cmd.dpid);
      if (list === undefined) accepted.set(cmd.dpid, (list = []));
      list.push(cmd.rule.cookie);
    }
    if (i % 32 === 31) {
      for (const [dpid, cookies] of accepted) ctl.flowsAccepted(c, dpid, cookies, now);
      accepted.clear();
    }
  }
  const cpu = process.cpuUsage(cpu0);
  for (const [dpid, cookies] of accepted) ctl.flowsAccepted(c, dpid, cookies, now);
  accepted.clear();
  // the same packet-ins again: every host known and both paths in place, as in cbench's steady
  // state once each switch has sent its sources (its throughput mode, after the warm-up)
  const known0 = process.cpuUsage();
  for (let i = 0; i < total; i++) packetIn(i);
  const known = process.cpuUsage(known0);
  // GC entries are delivered on a later turn of the event loop
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const knownCpuMs = (known.user + known.system) / 1000;
  gc();
  gc();
  const heap = process.memoryUsage().heapUsed - heap0;
  const paths = c.routing.paths.size;
  const sample = {
    root,
    round,
    packetIns: total,
    paths,
    hosts: c.hosts.byMac.size,
    cpuMs: Math.round(cpuMs),
    perCpuSecond: Math.round(total / (cpuMs / 1000)),
    knownPerCpuSecond: Math.round(total / (knownCpuMs / 1000)),
    gcMs: Math.round(gcMs),
    heapPerPathBytes: Math.round(heap / paths),
    heapMiB: Math.round(heap / 2 ** 20),
  };
  return sample;
}

const ctls: Ctl[] = [];
for (const root of ROOTS) ctls.push((await import(pathToFileURL(join(root, 'src/controller/controller.ts')).href)) as Ctl);
const samples: Sample[] = [];
const t0 = performance.now();
for (let round = 1; round <= ROUNDS; round++) {
  // alternate the order: each variant goes first in every other round
  const order = round % 2 === 1 ? ROOTS.map((_, i) => i) : ROOTS.map((_, i) => ROOTS.length - 1 - i);
  for (const i of order) {
    const s = await once(ctls[i]!, ROOTS[i]!, round);
    samples.push(s);
    process.stderr.write(`${JSON.stringify(s)}\n`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summary = ROOTS.map((root) => {
  const mine = samples.filter((s) => s.root === root);
  return {
    root,
    perCpuSecond: median(mine.map((s) => s.perCpuSecond)),
    knownPerCpuSecond: median(mine.map((s) => s.knownPerCpuSecond)),
    gcMs: median(mine.map((s) => s.gcMs)),
    heapPerPathBytes: median(mine.map((s) => s.heapPerPathBytes)),
    heapMiB: median(mine.map((s) => s.heapMiB)),
  };
});
console.log(JSON.stringify({ switches: SWITCHES, macs: MACS, rounds: ROUNDS, node: process.version, wallS: Math.round((performance.now() - t0) / 1000), samples, summary }, null, 2));
