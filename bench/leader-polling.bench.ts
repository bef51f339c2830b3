/**
 * The leader's cost of watching a large fabric: `score controller` (its own process) with
 * fat-tree(16) = 320 emulated switches (bench/cbench/generator.ts startFabric: cabled per the
 * topology, answering statistics and forwarding LLDP probes), statistics polled every second.
 * Every second for `--seconds` (default 30): the controller's CPU (% of one core) and RSS from
 * /proc; its V8 heap (used, total; external and array buffers) through bench/heap-probe.mjs,
 * preloaded into it; every `--gc-every` seconds (default 10; 0: never) the heap used right after a
 * forced full collection, the live heap, which is what a leak grows (heap used between collections
 * also counts garbage not yet collected); `--snapshot-dir DIR` writes a V8 heap snapshot there after
 * discovery and at the end, for a diff in Chrome DevTools (at k = 16 writing one stalls the
 * controller for longer than the switches' 15 s silence limit and they disconnect: use a smaller
 * --k, or take the figures after a snapshot as void). From its /metrics: switches, links
 * discovered, statistics rounds and their duration. JSON on stdout; with TRACE_DISCOVERY=1 set,
 * the switches and links found every 0.5 s until discovery is done, on stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fatTree } from '../src/topologies/generate.ts';
import { freePort } from '../src/cluster/etcd-process.ts';
import { type Wiring, startFabric } from './cbench/generator.ts';
import { median } from './support.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const K = Number(arg('k', '16'));
const SECONDS = Number(arg('seconds', '30'));
const GC_EVERY = Number(arg('gc-every', '10'));
const SNAPSHOT_DIR = arg('snapshot-dir', '');
if (!Number.isInteger(SECONDS) || SECONDS < 1 || !Number.isInteger(GC_EVERY) || GC_EVERY < 0) {
  console.error('--seconds must be an integer >= 1 and --gc-every an integer >= 0');
  process.exit(2);
}
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-op-token'; // the operator token reads /metrics

const topo = fatTree(K);
const switchIds = topo.nodes.filter((n) => n.kind === 'switch').map((n) => n.id);
const idOf = new Map(switchIds.map((s, i) => [s, i + 1]));
const ports = new Map<number, { peer?: { sw: number; port: number } }[]>();
for (const s of switchIds) ports.set(idOf.get(s) as number, []);
const switchLinks = topo.links.filter((l) => idOf.has(l.a) && idOf.has(l.b));
for (const l of topo.links) {
  const a = idOf.get(l.a);
  const b = idOf.get(l.b);
  if (a !== undefined && b === undefined) ports.get(a)?.push({});
  if (b !== undefined && a === undefined) ports.get(b)?.push({});
}
for (const l of switchLinks) {
  const a = idOf.get(l.a) as number;
  const b = idOf.get(l.b) as number;
  const pa = ports.get(a) as { peer?: { sw: number; port: number } }[];
  const pb = ports.get(b) as { peer?: { sw: number; port: number } }[];
  pa.push({ peer: { sw: b, port: pb.length + 1 } });
  pb.push({ peer: { sw: a, port: pa.length } });
}
const wiring: Wiring = {
  portCount: (id) => ports.get(id)?.length ?? 0,
  peer: (id, port) => ports.get(id)?.[port - 1]?.peer,
};

function procUsage(pid: number): { ticks: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ticks: Number(f[11]) + Number(f[12]), rssMiB: (Number(f[21]) * 4096) / 1048576 };
}

async function metrics(apiPort: number): Promise<Map<string, number>> {
  const r = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const out = new Map<string, number>();
  for (const line of (await r.text()).split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
    if (m !== null) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

const ofPort = await freePort();
const apiPort = await freePort();
const child = spawn(process.execPath, ['--expose-gc', '--import', `${ROOT}bench/heap-probe.mjs`, `${ROOT}bin/score.js`, 'controller', '--port', String(ofPort), '--host', '127.0.0.1', '--api-port', String(apiPort), '--poll-ms', '1000', '--report-ms', '3600000'], {
  stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  env: { ...process.env, SCORE_OPERATOR_TOKEN: TOKEN },
});
const pid = child.pid as number;
const MiB = (b: number): number => Math.round((b / 1048576) * 10) / 10;

interface HeapReply {
  readonly type: string;
  readonly id: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly path?: string;
}
let nextId = 0;
const waiting = new Map<number, (r: HeapReply) => void>();
child.on('message', (r: HeapReply) => {
  waiting.get(r.id)?.(r);
  waiting.delete(r.id);
});
/** asks the probe in the controller; 60 s bound (a snapshot of a few hundred MiB takes a while) */
function ask(msg: { type: 'heap'; gc: boolean } | { type: 'snapshot'; path: string }): Promise<HeapReply> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the controller's heap probe did not answer ${msg.type}`)), 60_000);
    waiting.set(id, (r) => {
      clearTimeout(t);
      resolve(r);
    });
    child.send({ ...msg, id });
  });
}
try {
  const t0 = Date.now();
  for (;;) {
    try {
      await metrics(apiPort);
      break;
    } catch {
      if (Date.now() - t0 > 30_000) throw new Error('the controller did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const fabric = await startFabric({ host: '127.0.0.1', port: ofPort, switches: switchIds.length, wiring });
  const connectStart = Date.now();
  let m = await metrics(apiPort);
  while ((m.get('score_switches_connected') !== switchIds.length || m.get('score_links_discovered') !== switchLinks.length) && Date.now() - connectStart < 60_000) {
    await new Promise((r) => setTimeout(r, 500));
    m = await metrics(apiPort);
    if (process.env.TRACE_DISCOVERY) console.error(`# ${Date.now() - connectStart} ms: ${m.get('score_switches_connected')} switches, ${m.get('score_links_discovered')} links`);
  }
  const discoveredMs = Date.now() - connectStart;
  const startMetrics = m;
  const snapshots: string[] = [];
  if (SNAPSHOT_DIR !== '') snapshots.push((await ask({ type: 'snapshot', path: `${SNAPSHOT_DIR}/leader-start.heapsnapshot` })).path ?? '');
  const samples: { second: number; cpuPercent: number; rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number; arrayBuffersMiB: number; liveHeapMiB?: number }[] = [];
  let prev = procUsage(pid);
  let prevAt = performance.now();
  for (let i = 0; i < SECONDS; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const u = procUsage(pid);
    const at = performance.now();
    const h = await ask({ type: 'heap', gc: false });
    const sample: (typeof samples)[number] = {
      second: i + 1,
      cpuPercent: Math.round(((u.ticks - prev.ticks) / 100 / ((at - prevAt) / 1000)) * 1000) / 10,
      rssMiB: Math.round(u.rssMiB),
      heapUsedMiB: MiB(h.heapUsed),
      heapTotalMiB: MiB(h.heapTotal),
      externalMiB: MiB(h.external),
      arrayBuffersMiB: MiB(h.arrayBuffers),
    };
    // after the CPU and RSS reading: the forced collection's CPU lands in the next second's figure
    if (GC_EVERY > 0 && (i + 1) % GC_EVERY === 0) sample.liveHeapMiB = MiB((await ask({ type: 'heap', gc: true })).heapUsed);
    samples.push(sample);
    prev = procUsage(pid);
    prevAt = performance.now();
  }
  if (SNAPSHOT_DIR !== '') snapshots.push((await ask({ type: 'snapshot', path: `${SNAPSHOT_DIR}/leader-end.heapsnapshot` })).path ?? '');
  const end = await metrics(apiPort);
  fabric.stop();
  const polls = (end.get('score_stats_poll_duration_seconds_count') ?? 0) - (startMetrics.get('score_stats_poll_duration_seconds_count') ?? 0);
  const pollSeconds = (end.get('score_stats_poll_duration_seconds_sum') ?? 0) - (startMetrics.get('score_stats_poll_duration_seconds_sum') ?? 0);
  const cpu = samples.map((s) => s.cpuPercent);
  const rss = samples.map((s) => s.rssMiB);
  const live = samples.filter((s) => s.liveHeapMiB !== undefined).map((s) => ({ second: s.second, mib: s.liveHeapMiB as number }));
  // least-squares slope, MiB per minute, over the second half (past the warm-up)
  const slope = (pts: readonly { x: number; y: number }[]): number | null => {
    if (pts.length < 2) return null;
    const mx = pts.reduce((a, p) => a + p.x, 0) / pts.length;
    const my = pts.reduce((a, p) => a + p.y, 0) / pts.length;
    const sxx = pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
    return sxx === 0 ? null : Math.round((pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx) * 60 * 10) / 10;
  };
  const half = Math.floor(SECONDS / 2);
  const tenths = (xs: readonly number[]): number[] => Array.from({ length: 10 }, (_, d) => xs.slice(Math.floor((d * xs.length) / 10), Math.floor(((d + 1) * xs.length) / 10))).filter((c) => c.length > 0).map((c) => median(c));
  console.log(
    JSON.stringify({
      bench: 'leader-polling',
      node: process.version,
      topology: topo.name,
      switches: switchIds.length,
      links: switchLinks.length,
      connected: end.get('score_switches_connected') ?? 0,
      linksDiscovered: end.get('score_links_discovered') ?? 0,
      discoveredWithinMs: discoveredMs,
      pollMs: 1000,
      seconds: SECONDS,
      statisticsRounds: polls,
      meanRoundMs: polls > 0 ? Math.round((pollSeconds / polls) * 1000 * 10) / 10 : null,
      pollFailures: (end.get('score_stats_poll_failures_total') ?? 0) - (startMetrics.get('score_stats_poll_failures_total') ?? 0),
      cpuPercentOfOneCore: { median: median(cpu), max: Math.max(...cpu) },
      rssMiB: { median: median(rss), max: Math.max(...rss), mediansByTenth: tenths(rss), slopeSecondHalfMiBPerMin: slope(samples.filter((s) => s.second > half).map((s) => ({ x: s.second, y: s.rssMiB }))) },
      heapUsedMiB: { median: median(samples.map((s) => s.heapUsedMiB)), max: Math.max(...samples.map((s) => s.heapUsedMiB)), mediansByTenth: tenths(samples.map((s) => s.heapUsedMiB)) },
      liveHeapMiB: { gcEverySeconds: GC_EVERY, points: live, slopeSecondHalfMiBPerMin: slope(live.filter((p) => p.second > half).map((p) => ({ x: p.second, y: p.mib }))) },
      snapshots,
      perSecond: samples,
    }),
  );
} finally {
  child.kill('SIGKILL');
}
